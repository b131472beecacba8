"""The APScheduler set-up: one scheduler, each job a module-level function with an explicit id,
coalesced and never run twice at once."""

from __future__ import annotations

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.tornado import TornadoScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs import colour_recompute, not_reported

TIMEZONE = "Asia/Shanghai"

# (job id, function, trigger) — a new job is one line here and one module in jobs/. A trigger that
# depends on a setting is given as a function of the Config.
JOBS = [
    # Every hour at :05, so day 15 turns green in the first hour of the day.
    (colour_recompute.JOB_ID, colour_recompute.run, CronTrigger(minute=5, timezone=TIMEZONE)),
    # Daily at NOT_REPORTED_AT (default 10:00).
    (not_reported.JOB_ID, not_reported.run, lambda config: not_reported.trigger(config, TIMEZONE)),
]


def make_scheduler(config=None) -> TornadoScheduler:
    """A scheduler holding every job; the blocking jobs run on a small thread pool. Settings come
    from `config` (default: the environment)."""
    if config is None:
        from config import Config

        config = Config.from_env()
    scheduler = TornadoScheduler(timezone=TIMEZONE, executors={"default": ThreadPoolExecutor(2)})
    for job_id, func, trigger in JOBS:
        if callable(trigger):
            trigger = trigger(config)
        scheduler.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True, coalesce=True,
                          max_instances=1, misfire_grace_time=600)
    return scheduler
