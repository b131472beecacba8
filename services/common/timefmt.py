"""Times are stored in UTC and shown in Asia/Shanghai (+08:00)."""

from __future__ import annotations

import datetime as dt
import re

# A date as the API and the partner feed state it; Python's fromisoformat also takes "20261201".
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
CHINA_OFFSET = dt.timedelta(hours=8)
CHINA = dt.timezone(CHINA_OFFSET, "Asia/Shanghai")


def local_iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 in +08:00, e.g. "2026-11-22T12:00:00+08:00"."""
    if value is None:
        return None
    if value.tzinfo is None:  # China keeps no daylight saving: +8 hours is the local time
        return (value + CHINA_OFFSET).isoformat(timespec="seconds") + "+08:00"
    return value.astimezone(CHINA).isoformat(timespec="seconds")


def china_today() -> dt.date:
    """Today's date in China, whatever the server's zone."""
    return dt.datetime.now(CHINA).date()


def china_day_start(day: dt.date | None = None) -> dt.datetime:
    """Midnight of `day` (default today) in China, as naive UTC: how times are stored."""
    day = day or china_today()
    start = dt.datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)
