"""I3: each enterprise's daily list of members who had not reported by NOT_REPORTED_AT
(default 10:00, Asia/Shanghai). Safe to run twice: a run replaces that day's lists."""

from __future__ import annotations

import logging
import re

from apscheduler.triggers.cron import CronTrigger

from jobs import holding_connection
from services.enterprises import enterprise

log = logging.getLogger("healthcode.jobs.not_reported")

JOB_ID = "not_reported"
_AT_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def trigger(config, timezone: str = "Asia/Shanghai") -> CronTrigger:
    """Every day at the configured NOT_REPORTED_AT; a malformed setting stops the start-up."""
    match = _AT_RE.fullmatch(config.not_reported_at.strip())
    if match is None:
        raise SystemExit(f"NOT_REPORTED_AT 应为 HH:MM（例如 10:00），当前为 {config.not_reported_at!r}")
    return CronTrigger(hour=int(match.group(1)), minute=int(match.group(2)), timezone=timezone)


def run(today=None) -> dict:
    """Build (or rebuild) the lists of `today` (default: today in China); returns the counts."""
    result = holding_connection(enterprise.build_not_reported, today)
    log.info("not-reported lists of %(report_date)s: %(enterprises)s enterprises, %(not_reported)s people", result)
    return result
