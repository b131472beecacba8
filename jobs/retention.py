"""I4: entry records and temperatures older than RETENTION_DAYS (default 28) are deleted, every
night at 03:30; the hourly statistics stay.

- Entry records older than the cutoff go, in batches of a few thousand rows, one short
  transaction each, so scans keep being written meanwhile. They are found place by place through
  the (place, created_at) index: the table has no index on the time alone, and a late scan (an
  older time under a newer id) is found as surely as the others.
- An entry is never deleted before the hourly job has counted its hour: the cutoff is also
  capped at the job's last completed hour, so the statistics always hold what was deleted.
- Temperatures older than the cutoff go too, except while a colour rule on temperatures still
  looks that far back (a rule's window can be set up to 366 days): the colour must not change
  because its evidence was deleted.

Safe to run twice: a second run finds nothing old enough. `now` is injectable for tests.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.triggers.cron import CronTrigger
from peewee import fn

from jobs import holding_connection
from models.colour import ColourRule
from models.fields import utcnow
from models.places import EntryRecord, Place
from models.risk_inputs import TemperatureRecord
from services.accounts import sign_in_limits
from services.back_office import statistics
from services.common.timefmt import CHINA

log = logging.getLogger("healthcode.jobs.retention")

JOB_ID = "retention"
BATCH = 5000


def trigger(config, timezone: str = "Asia/Shanghai") -> CronTrigger:
    """Every night at 03:30; a RETENTION_DAYS below 1 stops the start-up."""
    if config.retention_days < 1:
        raise SystemExit(f"RETENTION_DAYS 应为不小于1的天数，当前为 {config.retention_days!r}")
    return CronTrigger(hour=3, minute=30, timezone=timezone)


def run(now: dt.datetime | None = None, days: int | None = None, batch: int = BATCH) -> dict:
    """Delete what is older than `days` (default RETENTION_DAYS) before `now` (naive UTC)."""
    if days is None:
        from config import Config

        days = Config.from_env().retention_days
    if days < 1:
        raise ValueError("retention days must be at least 1")
    now = now or utcnow()
    result = holding_connection(_run, now, days, batch)
    log.info("retention: %(entries)s entry records and %(temperatures)s temperatures before %(cutoff)s deleted",
             result)
    return result


def _run(now: dt.datetime, days: int, batch: int) -> dict:
    cutoff = now - dt.timedelta(days=days)
    state = statistics.state(fresh=True)
    counted = state.completed_hour if state and state.completed_hour else None
    entry_cutoff = min(cutoff, counted) if counted else None
    entries = _delete_entries(entry_cutoff, batch) if entry_cutoff else 0
    temperature_cutoff = min(cutoff, _oldest_needed_by_rules(now))
    temperatures = _delete_in_batches(TemperatureRecord, TemperatureRecord.measured_at < temperature_cutoff, batch)
    # Sign-in failures only count for a window of minutes; a day's are kept for looking into.
    sign_in_failures = sign_in_limits.purge(now - dt.timedelta(days=1))
    return {"cutoff": statistics.local_text(cutoff), "entries": entries, "temperatures": temperatures,
            "sign_in_failures": sign_in_failures,
            "entries_up_to": statistics.local_text(entry_cutoff) if entry_cutoff else "尚未统计，未删除"}


def _oldest_needed_by_rules(now: dt.datetime) -> dt.datetime:
    """The earliest time an enabled temperature rule still reads (its window, plus a day)."""
    longest = (ColourRule.select(fn.MAX(ColourRule.window_days))
               .where((ColourRule.input == "temperature") & (ColourRule.enabled == True)).scalar())  # noqa: E712
    unlimited = (ColourRule.select().where((ColourRule.input == "temperature") & (ColourRule.enabled == True)
                                           & ColourRule.window_days.is_null()).exists())  # noqa: E712
    if unlimited:
        return dt.datetime.min
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(CHINA).date()
    first_day = today - dt.timedelta(days=(longest or 0) + 1)
    return dt.datetime(first_day.year, first_day.month, first_day.day)


def _delete_entries(cutoff: dt.datetime, batch: int) -> int:
    """Old entry records, place by place through the (place, created_at) index."""
    deleted = 0
    place_ids = [pid for (pid,) in Place.select(Place.id).order_by(Place.id).tuples()]
    for place_id in place_ids:
        deleted += _delete_in_batches(EntryRecord, (EntryRecord.place == place_id) & (EntryRecord.created_at < cutoff),
                                      batch)
    return deleted


def _delete_in_batches(model, condition, batch: int) -> int:
    from services.scanning.entry_writer import write_transaction  # BEGIN IMMEDIATE on SQLite

    deleted = 0
    while True:
        ids = [i for (i,) in model.select(model.id).where(condition).limit(batch).tuples()]
        if not ids:
            return deleted
        with write_transaction():
            deleted += model.delete().where(model.id.in_(ids)).execute()
