"""What a MySQL database does while its server does not answer: fail at once, and notice alone
when the server is back.

Every PyMySQL call has a deadline (connect, read and write timeouts, `models.db.open_database`),
so a frozen server costs the first request that meets it one deadline. Without more, every later
request would wait its own deadline in turn (on the event loop's thread, one after another), and
the pool would ping each idle connection it holds before handing it out. So the first
connection-level failure marks the database down: from then on every connect, statement and
transaction fails at once with an OperationalError (answered 503 `service_unavailable`, see
`handlers.failures`), the pool's idle connections are dropped unpinged, and one thread tries a new
connection every PROBE_INTERVAL_SECONDS. The first that works marks the database up again; the
connections that timed out were closed by the driver and the pool discards them, so nothing stale
is reused.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

import peewee

log = logging.getLogger("healthcode.db")
PROBE_INTERVAL_SECONDS = 0.25
# MySQL client errors that mean the connection, not the statement, failed.
_CONNECTION_ERRORS = ("2003", "2006", "2013", "2055")


def connection_failed(exc: Exception) -> bool:
    """True when `exc` says the server could not be reached or the connection broke (as opposed
    to an error of the statement itself: a duplicate key, a lock wait timeout, a syntax error)."""
    if isinstance(exc, peewee.InterfaceError):
        return True
    if not isinstance(exc, peewee.OperationalError) or not exc.args:
        return False
    first = exc.args[0]
    if isinstance(first, int):
        return str(first) in _CONNECTION_ERRORS
    return str(first).lstrip("(").split(",")[0] in _CONNECTION_ERRORS


def timed_out(exc: Exception) -> bool:
    """True when a connection-level failure was a deadline passing (a frozen or unreachable
    server), not a connection the server closed (a restart, its wait_timeout)."""
    return connection_failed(exc) and "timed out" in str(exc).lower()


class Outage:
    """Whether one database's server is known not to answer, and the thread that watches for its
    return (see the module docstring). `probe` (a method of the database) raises when the server
    cannot be reached; `drop_idle` (another) closes the pool's idle connections. They are held
    weakly: a database dropped while down (a test's) takes its watcher with it."""

    def __init__(self, probe, drop_idle) -> None:
        self._probe, self._drop_idle = weakref.WeakMethod(probe), weakref.WeakMethod(drop_idle)
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.cause: Exception | None = None  # what the server answered last (shown by a fast failure)

    @property
    def down(self) -> bool:
        """True while the server is known not to answer."""
        return self.down_since is not None

    def check(self) -> None:
        """Raise at once while the server is known not to answer."""
        if self.down_since is not None:
            raise peewee.OperationalError(f"database unreachable: waiting for it to answer again ({self.cause})")

    def trip(self, exc: Exception) -> None:
        """The server did not answer (`exc`): mark it down and start watching for its return."""
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since, self.cause = time.monotonic(), exc
        log.warning("database unreachable (%s): failing at once until it answers again", type(exc).__name__)
        self._drop_idle()()
        threading.Thread(target=self._watch, name="database-outage", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(PROBE_INTERVAL_SECONDS)
            answered = self._answers()
            if answered is None:
                return  # the database is gone
            if answered:
                break
        drop_idle = self._drop_idle()
        if drop_idle is not None:
            drop_idle()  # connections kept from before the outage may be broken
        with self._lock:
            lasted, self.down_since = time.monotonic() - self.down_since, None
        log.warning("database answers again after %.1f s", lasted)

    def _answers(self) -> bool | None:
        """Whether the server answers a fresh connection now; None when the database is gone.
        (A method of its own: the database is held only while it runs.)"""
        probe = self._probe()
        if probe is None:
            return None
        try:
            probe()
        except Exception:  # still down: any failure of a fresh connection counts
            return False
        return True
