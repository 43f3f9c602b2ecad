"""One module per environment. Each defines ``ENVIRONMENT`` and states only what differs from the defaults in
``infra/settings.py``; ``infra/registry.py`` finds them (files starting with ``_`` are skipped)."""
