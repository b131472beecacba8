"""Every 10 minutes: the nonces of partners' signed requests (services/risk_data/partner_feed.py) that no
request could reuse any more (their timestamps are out of the 5-minute window) are deleted, so
the table holds only the last quarter of an hour or so. Safe to run twice."""

from __future__ import annotations

import datetime as dt
import logging

from jobs import holding_connection
from services.risk_data import partner_feed

log = logging.getLogger("healthcode.jobs.partner_nonces")

JOB_ID = "partner_nonces"


def run(now: dt.datetime | None = None) -> dict:
    """Delete the nonces older than the replay window before `now` (naive UTC, default now)."""
    purged = holding_connection(partner_feed.purge_nonces, now)
    log.info("partner nonces purged: %s", purged)
    return {"purged": purged}
