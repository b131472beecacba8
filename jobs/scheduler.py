"""The APScheduler set-up: one scheduler, each job a module-level function with an explicit id,
coalesced and never run twice at once."""

from __future__ import annotations

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.tornado import TornadoScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs import colour_recompute

TIMEZONE = "Asia/Shanghai"

# (job id, function, trigger) — a new job is one line here and one module in jobs/.
JOBS = [
    # Every hour at :05, so day 15 turns green in the first hour of the day.
    (colour_recompute.JOB_ID, colour_recompute.run, CronTrigger(minute=5, timezone=TIMEZONE)),
]


def make_scheduler() -> TornadoScheduler:
    """A scheduler holding every job; the blocking jobs run on a small thread pool."""
    scheduler = TornadoScheduler(timezone=TIMEZONE, executors={"default": ThreadPoolExecutor(2)})
    for job_id, func, trigger in JOBS:
        scheduler.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True, coalesce=True,
                          max_instances=1, misfire_grace_time=600)
    return scheduler
