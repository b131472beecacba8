"""D9: appeals still open 24 hours after they were filed move from the community's queue to the
district's (every 10 minutes). Safe to run twice: an appeal moves once."""

from __future__ import annotations

import datetime as dt
import logging

from jobs import holding_connection
from services.colours import appeals

log = logging.getLogger("healthcode.jobs.appeal_escalation")

JOB_ID = "appeal_escalation"


def run(now: dt.datetime | None = None) -> dict:
    """Escalate what is overdue at `now` (naive UTC, default now); returns how many moved."""
    moved = holding_connection(appeals.escalate_overdue, now)
    if moved:
        log.info("overdue appeals moved to their district: %s", moved)
    return {"escalated": moved}
