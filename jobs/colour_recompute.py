"""I1: recompute every colour, so that windows expire (day 15 turns green) without anybody
scanning, and rule or risk-area changes reach everyone. Safe to run twice: a second run finds
nothing to change."""

from __future__ import annotations

import logging

from models.db import request_connections
from services import colour

log = logging.getLogger("healthcode.jobs.colour")

JOB_ID = "colour_recompute"


def run(today=None) -> dict:
    """Recompute everyone now; returns the counts the log line shows."""
    request_connections.opened()
    try:
        result = colour.recompute(None, why="scheduled_recompute", today=today)
    finally:
        request_connections.closed()
    log.info("colour recompute: %(evaluated)s people evaluated, %(changed)s changed", result)
    return result
