"""Shared building blocks (cdktf constructs) that every environment is composed from.

Named ``building_blocks`` rather than ``constructs`` on purpose: a top-level package called ``constructs``
shadows the ``constructs`` library that cdktf itself imports. This ``__init__`` imports nothing, so
``building_blocks.naming`` stays cheap for code that only needs names (settings validation, the CLI).
"""
