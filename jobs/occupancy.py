"""N8: every 10 minutes, whoever was counted into a place more than OCCUPANCY_EXPIRE_HOURS
(default 12) ago and never scanned out is counted out, so a place's count does not grow with
the people who forget to leave; then any place whose count differs from the people recorded inside
it (a presence deleted with its person) is set right. Safe to run twice: a second run finds nobody
that old and nothing to correct."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.triggers.cron import CronTrigger

from jobs import every_ten_minutes, holding_connection
from services.venues import occupancy

log = logging.getLogger("healthcode.jobs.occupancy")

JOB_ID = "occupancy_expiry"


def trigger(config, timezone: str = "Asia/Shanghai") -> CronTrigger:
    """Every 10 minutes; an OCCUPANCY_EXPIRE_HOURS below 1 stops the start-up."""
    if config.occupancy_expire_hours < 1:
        raise SystemExit(f"OCCUPANCY_EXPIRE_HOURS 应为不小于1的小时数，当前为 {config.occupancy_expire_hours!r}")
    return every_ten_minutes(timezone)


def run(now: dt.datetime | None = None, hours: int | None = None) -> dict:
    """Count out the presences older than `hours` (default OCCUPANCY_EXPIRE_HOURS) before `now`
    (naive UTC, default now)."""
    if hours is None:
        from config import Config

        hours = Config.from_env().occupancy_expire_hours
    expired, corrected = holding_connection(_count_out, now, hours)
    log.info("occupancy: %s stale presences counted out, %s counts corrected", expired, corrected)
    return {"expired": expired, "corrected": corrected}


def _count_out(now: dt.datetime | None, hours: int) -> tuple[int, int]:
    """The stale presences counted out, then the counts that differ set right: how many of each."""
    return occupancy.expire(now, hours), occupancy.reconcile()
