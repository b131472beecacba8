"""I3: the overdue alert of the overseas returnee list (H6). Every 10 minutes, records still
待反馈 4 hours after their expected arrival are flagged (shown as 超时未反馈 on the lists, with a
line in their history). Safe to run twice: a flagged record is not flagged again."""

from __future__ import annotations

import datetime as dt
import logging

from jobs import holding_connection
from services.investigations import workflow

log = logging.getLogger("healthcode.jobs.overseas_alerts")

JOB_ID = "overseas_alerts"


def run(now: dt.datetime | None = None) -> dict:
    """Flag what is due at `now` (naive UTC, default now); returns how many were flagged."""
    flagged = holding_connection(workflow.raise_overdue_alerts, now)
    if flagged:
        log.info("overseas returnees still pending 4 hours after arrival: %s flagged", flagged)
    return {"flagged": flagged}
