"""The back office's heavy reads on a MariaDB read replica (READ_DATABASE_URL), everything else on
the primary.

`run(work, *args)` runs `work` with this thread's (or task's) queries on the replica, when one is
configured and fit to serve: lists, exports, statistics and dashboards call it
(admin/handlers.py, admin/venue_pages.py). Writes, and the reads that must see a write just made
(scans, actions, sign-in, detail and edit pages), never do: they run outside it, on the primary.
The routing is a context variable read by the models' database proxy (`models.db.RoutingProxy`),
so one request's replica reads never move another thread's or task's queries.

The primary serves instead, for that call, when the replica
- is known to be down (its pool's `Outage`: it failed to connect or passed a deadline, until a
  probe finds it back), or failed within the call: `work` runs again on the primary (it only
  reads, so running it twice is harmless);
- lags: `SHOW SLAVE STATUS` says Seconds_Behind_Master is above READ_REPLICA_MAX_LAG seconds, or
  NULL (replication stopped or broken: how stale it is cannot be known). The answer is kept for
  LAG_CHECK_SECONDS;
- failed in the last COOL_DOWN_SECONDS for another reason (the status statement itself).
Each fall-back is logged as a warning, at most once per WARN_INTERVAL_SECONDS per cause.

A statement that is not a read, sent to the replica, is refused (RuntimeError): work passed to
`run` must not write, and a replica's root could write despite read_only.
"""

from __future__ import annotations

import logging
import threading
import time

import peewee

from models import db as database
from models.db_outage import connection_failed

log = logging.getLogger("healthcode.db")

LAG_CHECK_SECONDS = 2.0
COOL_DOWN_SECONDS = 5.0
WARN_INTERVAL_SECONDS = 60.0
_READS = ("select", "show", "with", "(select", "explain")


class _State:
    """The configured replica and what is known of it (shared by the threads of a process)."""

    def __init__(self) -> None:
        self.replica: peewee.Database | None = None
        self.max_lag = 30.0
        self.lock = threading.Lock()
        self.lag_checked_at = float("-inf")
        self.lag_ok = True
        self.avoid_until = float("-inf")
        self.warned: dict[str, float] = {}


_state = _State()


def _refuse_writes(execute_sql):
    def execute(sql, params=None, *args, **kwargs):
        if not sql.lstrip().lower().startswith(_READS):
            raise RuntimeError("a write was sent to the read replica: run it outside read_replica.run")
        return execute_sql(sql, params, *args, **kwargs)
    return execute


def configure(url: str, max_connections: int = 20, deadlines: database.Deadlines = database.UNBOUNDED,
              max_lag: float = 30.0) -> peewee.Database | None:
    """Open (not connect) the replica `url` names, or none for an empty `url`."""
    close()
    _state.__init__()
    _state.max_lag = max_lag
    if not url:
        return None
    replica = database.open_database(url, max_connections, deadlines)
    replica.execute_sql = _refuse_writes(replica.execute_sql)
    _state.replica = replica
    return replica


def close() -> None:
    """Close the replica's connections (a test's end, a re-configuration)."""
    replica = _state.replica
    if replica is not None:
        if not replica.is_closed():
            replica.close()
        close_all = getattr(replica, "close_all", None)
        if close_all is not None:
            close_all()
    _state.replica = None


def replica() -> peewee.Database | None:
    """The configured replica, if any."""
    return _state.replica


def _warn(cause: str, message: str, *args) -> None:
    now = time.monotonic()
    if now - _state.warned.get(cause, float("-inf")) >= WARN_INTERVAL_SECONDS:
        _state.warned[cause] = now
        log.warning(message, *args)


def _lag_ok(replica: peewee.Database) -> bool:
    """Whether the replica is close enough behind the primary (asked at most every LAG_CHECK_SECONDS)."""
    if not isinstance(replica, peewee.MySQLDatabase):
        return True
    now = time.monotonic()
    if now - _state.lag_checked_at < LAG_CHECK_SECONDS:
        return _state.lag_ok
    with _state.lock:
        if time.monotonic() - _state.lag_checked_at < LAG_CHECK_SECONDS:
            return _state.lag_ok
        cursor = replica.execute_sql("SHOW SLAVE STATUS")
        try:
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description or ()]
        finally:
            cursor.close()
        if row is None:
            ok = True  # not replicating by itself (a managed read endpoint): nothing to measure
        else:
            lag = dict(zip(columns, row)).get("Seconds_Behind_Master")
            ok = lag is not None and lag <= _state.max_lag
            if not ok:
                _warn("lag", "read replica %s (limit %s s): reading from the primary",
                      "not replicating" if lag is None else f"{lag} s behind", _state.max_lag)
        _state.lag_ok, _state.lag_checked_at = ok, time.monotonic()
        return ok


def _usable() -> peewee.Database | None:
    """The replica when it may serve now, else None (and why is logged)."""
    replica = _state.replica
    if replica is None:
        return None
    outage = getattr(replica, "outage", None)
    if outage is not None and outage.down:
        _warn("unavailable", "read replica unreachable: reading from the primary until it answers again")
        return None
    if time.monotonic() < _state.avoid_until:
        return None
    try:
        replica.connect(reuse_if_open=True)  # any failure here is the replica's, whatever its words
        with database.reading_from(replica):
            if _lag_ok(replica):
                return replica
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        _failed(exc)
    _release(replica)
    return None


def _failed(exc: Exception) -> None:
    _state.avoid_until = time.monotonic() + COOL_DOWN_SECONDS
    _state.lag_checked_at = float("-inf")
    _warn("unavailable", "read replica failed (%s: %s): reading from the primary", type(exc).__name__, exc)


def _release(replica: peewee.Database) -> None:
    """Hand this thread's replica connection back to its pool (a read holds no transaction)."""
    try:
        if not replica.is_closed():
            replica.close()
    except Exception:  # a broken connection: the pool drops it, nothing else to do
        pass


def run(work, *args, **kwargs):
    """`work(*args, **kwargs)` with its queries on the replica when it may serve, else (or if
    the replica fails meanwhile) on the primary. `work` must only read, and return what it read
    (not a lazy query: it would run later, on the primary)."""
    if database._reads_from.get() is not None:
        return work(*args, **kwargs)  # already reading from the replica (a nested call)
    replica = _usable()
    if replica is None:
        return work(*args, **kwargs)
    try:
        with database.reading_from(replica):
            return work(*args, **kwargs)
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        outage = getattr(replica, "outage", None)
        if not (connection_failed(exc) or (outage is not None and outage.down)):
            raise  # the statement's own error: the primary would answer the same
        _failed(exc)
    finally:
        _release(replica)
    return work(*args, **kwargs)
