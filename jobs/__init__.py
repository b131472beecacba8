"""Scheduled jobs (APScheduler): the scheduler and its job list (scheduler.py), the one runner of
a deployment (`python -m jobs`, __main__.py), one run per job per deployment through a database
lock and lease (runner_lock.py), pacing for the long jobs (pacing.py), and one module per job:
colour_recompute, hourly_stats, not_reported, retention, overseas_alerts, appeal_escalation,
partner_nonces, occupancy. This module holds what the jobs share: a held database connection and
the every-ten-minutes trigger."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger

from models.db import request_connections


def holding_connection(work, *args, **kwargs):
    """`work(*args, **kwargs)` with this thread's database connection open, released after
    whatever happens (a job runs outside any request, so nothing else opens it)."""
    request_connections.opened()
    try:
        return work(*args, **kwargs)
    finally:
        request_connections.closed()


def every_ten_minutes(timezone: str = "Asia/Shanghai") -> CronTrigger:
    """The trigger of the jobs that run every 10 minutes: what they act on is at most 10 minutes late."""
    return CronTrigger(minute="*/10", timezone=timezone)
