"""Pacing for the long jobs (the hourly statistics, the full colour recompute).

The job runner shares a few cores, and the database server, with the servers answering scans.
A job left to run flat out keeps a core (its own, or the database server's) busy for seconds,
and on a small machine the scans lose a third or more of their rate meanwhile, whatever its
locks: in bench/admin_lists.py's set-up, a plain busy loop in the runner's place costs the
scans about as much. `nice` helps only where the runner really ranks below the servers (not
under autogroup scheduling unless its session is reniced too, and never for the database
server's work on the job's behalf). So a long job works in chunks and, between two, sleeps in
proportion to the chunk it has just done (database time included): it then takes at most SHARE
of the time, and 1 / SHARE as long as flat out, which an hourly job can afford. A pause never
falls inside a transaction.
"""

from __future__ import annotations

import time

# The part of the time a paced job works: it sleeps (1 - SHARE) / SHARE seconds per second worked.
# The runner runs up to two jobs at once (jobs/scheduler.py): 0.4 of a core at most.
SHARE = 0.2
# The longest single pause: a slow chunk (a big first run) is not followed by a long idle gap.
MAX_PAUSE = 1.0


class Pacer:
    """Call it between two chunks of a job's work: it sleeps for the share of idle time the
    work since the previous call earned. Counts what it slept, for the job's log line."""

    def __init__(self, share: float = SHARE, max_pause: float = MAX_PAUSE, clock=time.monotonic,
                 sleep=time.sleep) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share, self.max_pause = share, max_pause
        self._clock, self._sleep = clock, sleep
        self._since = clock()
        self.paused = 0.0  # seconds slept so far

    def __call__(self) -> None:
        """Pause after a chunk of work (the time since the previous call is the work)."""
        worked = self._clock() - self._since
        pause = min(self.max_pause, worked * (1 - self.share) / self.share)
        if pause > 0:
            self._sleep(pause)
            self.paused += pause
        self._since = self._clock()
