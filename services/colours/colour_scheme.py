"""The colour scheme shown to people and places (D1): 4 colours (green / yellow / orange / red) or
3 (orange shown as yellow). The city admin chooses it in the back office (a two-person change,
`services/colours/rule_changes.py`); until then the configuration's COLOUR_SCHEME holds.

Every verdict shown reads it, the scan's among them, so each process keeps the stored value for
CACHE_SECONDS: a change reaches every server process within that time, and a scan costs no
extra statement. The server refreshes its copy from a pool thread every REFRESH_SECONDS
(`keep_fresh`), so the event loop does not wait on this read either."""

from __future__ import annotations

import time

import tornado.ioloop

from models.rule_versions import ColourSetting
from models.fields import utcnow

SCHEMES = {4: "四色（绿、黄、橙、红）", 3: "三色（绿、黄、红；橙码显示为黄码）"}
KEY = "scheme"
CACHE_SECONDS = 10.0
REFRESH_SECONDS = 4.0
_cache: dict = {}  # {"value": int | None, "until": monotonic seconds}


def refresh() -> None:
    """Read the stored choice into this process's copy."""
    row = ColourSetting.get_or_none(ColourSetting.key == KEY)
    _cache.update(value=int(row.value) if row else None, until=time.monotonic() + CACHE_SECONDS)


def current(config) -> int:
    """The scheme in force: the stored choice, else the configuration's."""
    if _cache.get("until", 0.0) < time.monotonic():
        refresh()
    return _cache["value"] or config.colour_scheme


def keep_fresh(loop, run_blocking) -> tornado.ioloop.PeriodicCallback:
    """Refresh the copy every REFRESH_SECONDS through `run_blocking(refresh)` (a pool thread with
    a connection of its own), for a server whose event loop must not read it; started here."""
    def tick():
        loop.run_in_executor(None, run_blocking, refresh)

    callback = tornado.ioloop.PeriodicCallback(tick, REFRESH_SECONDS * 1000)
    callback.start()
    return callback


def forget() -> None:
    """Drop this process's copy (after a change, or when the database is another one)."""
    _cache.clear()


def store(scheme: int, admin) -> None:
    """Keep `scheme` as the choice (inside the caller's transaction)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown colour scheme {scheme!r}")
    updated = (ColourSetting.update(value=str(scheme), updated_by=admin, updated_at=utcnow())
               .where(ColourSetting.key == KEY).execute())
    if not updated:
        ColourSetting.create(key=KEY, value=str(scheme), updated_by=admin)
    forget()
