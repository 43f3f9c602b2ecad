"""Maintenance windows shared by the blocks that have one (AKS upgrades, PostgreSQL): one weekday list, one check."""

from __future__ import annotations

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_maintenance_window(owner: str, day: str, start_hour: int) -> None:
    """Raise ValueError naming ``owner`` unless ``day`` is a weekday name and ``start_hour`` an int 0-23 (UTC)."""
    if day not in WEEKDAYS:
        raise ValueError(f"{owner} maintenance_day = {day!r}; allowed: {', '.join(WEEKDAYS)}")
    if isinstance(start_hour, bool) or not isinstance(start_hour, int) or not 0 <= start_hour <= 23:
        raise ValueError(f"{owner} maintenance_start_hour = {start_hour!r}; allowed: 0 to 23")


def sunday_first_index(day: str) -> int:
    """The day's number where Sunday is 0 (Azure PostgreSQL's ``day_of_week``)."""
    return (WEEKDAYS.index(day) + 1) % 7
