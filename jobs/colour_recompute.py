"""I1: recompute every colour, so that windows expire (day 15 turns green) without anybody
scanning, and rule or risk-area changes reach everyone. Safe to run twice: a second run finds
nothing to change, and then takes no write lock at all. Paced (jobs/pacing.py) between its rule
queries, its reads and its short writes."""

from __future__ import annotations

import logging

from jobs import holding_connection
from jobs.pacing import Pacer
from services.colours import colour

log = logging.getLogger("healthcode.jobs.colour")

JOB_ID = "colour_recompute"


def run(today=None, pace: bool = True) -> dict:
    """Recompute everyone now; returns the counts the log line shows. Paced (jobs/pacing.py)
    unless `pace` is false (nothing else to make room for: a load, a test)."""
    pacer = Pacer() if pace else None
    result = holding_connection(colour.recompute, None, why="scheduled_recompute", today=today, pause=pacer)
    result["paused_s"] = round(pacer.paused, 2) if pacer else 0.0
    log.info("colour recompute: %(evaluated)s people evaluated, %(changed)s changed, %(paused_s)s s paused", result)
    return result
