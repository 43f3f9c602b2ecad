"""Disaster recovery commands (``infra secrets ...``). See docs/disaster-recovery.md."""
