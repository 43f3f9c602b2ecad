"""The platform's application layer: settings model, environment registry, stacks, app and CLI.

Shared constructs live in ``building_blocks``; environment definitions in ``environments``.
"""
