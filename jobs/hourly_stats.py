"""I2: hourly scan statistics per place (and so per type and region).

Every hour (at :02) the job rebuilds, from the entry records:

- the last STATS_WINDOW_HOURS completed hours (default 3), and every hour since the previous run:
  scans still being written when the previous run read them, and entries committed out of id
  order, land there;
- every hour that an entry stored since the previous run belongs to (a late or offline scan, a
  paper form typed in days later): found from the ids above the previous run's last one;
- on the first run, that is every hour with entries: the backfill.

Each hour is deleted and inserted again (services.back_office.statistics.recompute), so a re-run, a late hour
or two runners racing never count a scan twice. Hours older than the retention period are only
computed when they have no statistics yet: their entries may be gone already (jobs/retention.py),
and statistics are what survives them. The back office's "每小时更新" time is the end of the last
completed hour, kept in `stat_run`.

The run is paced (jobs/pacing.py): it pauses between its aggregate queries and between days,
never inside a write, so that the scans written meanwhile keep their rate.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import fn

from jobs import holding_connection
from jobs.pacing import Pacer
from models.db import db
from models.fields import utcnow
from models.places import EntryRecord
from models.statistics import StatRun
from services.back_office import statistics

log = logging.getLogger("healthcode.jobs.hourly_stats")

JOB_ID = statistics.JOB_ID


def _settings() -> tuple[int, int]:
    from config import Config

    config = Config.from_env()
    return config.stats_window_hours, config.retention_days


def run(now: dt.datetime | None = None, window_hours: int | None = None, retention_days: int | None = None,
        pace: bool = True) -> dict:
    """Aggregate the hours due (see the module docstring); `now` is naive UTC (tests move it).
    Paced (jobs/pacing.py) unless `pace` is false (nothing else to make room for: a load, a test)."""
    if window_hours is None or retention_days is None:
        configured_window, configured_retention = _settings()
        window_hours = configured_window if window_hours is None else window_hours
        retention_days = configured_retention if retention_days is None else retention_days
    now = now or utcnow()
    pacer = Pacer() if pace else None
    result = holding_connection(_run, now, max(1, window_hours), max(1, retention_days), pacer)
    result["paused_s"] = round(pacer.paused, 2) if pacer else 0.0
    log.info("hourly statistics: %(hours)s hours, %(days)s days, %(rows)s rows, through %(completed_hour)s, "
             "%(paused_s)s s paused", result)
    return result


def _run(now: dt.datetime, window_hours: int, retention_days: int, pause: Pacer | None) -> dict:
    current = statistics.hour_floor(now)  # the hour under way: not complete, not counted yet
    state = StatRun.get_or_none(StatRun.job_id == JOB_ID)
    if state is None:
        StatRun.insert(job_id=JOB_ID, last_entry_id=0).on_conflict_ignore().execute()
        state = StatRun.get(StatRun.job_id == JOB_ID)
    up_to_id = EntryRecord.select(fn.MAX(EntryRecord.id)).scalar() or 0

    # The window, and every hour since the previous run (the hour under way then was not complete).
    start = current - window_hours * statistics.HOUR
    if state.completed_hour is not None:
        start = min(start, max(state.completed_hour, current - dt.timedelta(days=retention_days)))
    due = {start + i * statistics.HOUR for i in range(int((current - start) / statistics.HOUR))}
    due |= {h for h in statistics.hours_touched(state.last_entry_id, up_to_id) if h < current}
    horizon = statistics.hour_floor(now - dt.timedelta(days=retention_days)) + statistics.HOUR
    old = {h for h in due if h < horizon}
    if old:
        due -= statistics.hours_with_statistics(old)

    result = statistics.recompute(due, pause)
    # Only forwards: a run with an older `now` (a test, a clock step) must not rewind.
    completed = max(filter(None, (state.completed_hour, current)))
    if completed != state.completed_hour or result["rows"]:
        # (A re-run within the hour that changed nothing writes nothing, not even its progress:
        # the ids it saw are looked at again next time, which finds the same hours.)
        with db.atomic():
            StatRun.update(completed_hour=completed, last_entry_id=max(state.last_entry_id, up_to_id),
                           finished_at=utcnow()).where(StatRun.id == state.id).execute()
    statistics.forget_summaries()  # this process's pages see the new run at once
    result["completed_hour"] = statistics.local_text(completed)
    return result

