"""Which MySQL statements would run on the serving event loop, and a way to try work there first.

The server's one event loop must never wait on PyMySQL (issue "the event loop never waits"):
peewee work belongs on the DB pool (services/operations/pools.py). Two tools keep it so:

- `check(sql)`, called by the MySQL database before every statement, records a statement made on
  a loop that serves requests (`serving_here`) in `loop_statements`, and logs the first of each
  kind with the project line that made it. The tests fail when any was recorded (tests/conftest.py).
- `no_queries()`: within it, the first statement raises `QueryNeeded` before it is sent. The scan
  decides on the loop from what it has read already (its one statement of reads) and only when
  that decision needs one more query does it go again on the pool: the common scan pays no pool hop.

SQLite is not checked: its scan runs on the loop's own connection by design (a local file, no
network wait), and its other work goes through the same pool hops as MySQL's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import traceback
import weakref

log = logging.getLogger("healthcode.db")
_serving: weakref.WeakSet = weakref.WeakSet()
_refusing = threading.local()
_PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP = (os.path.join(_PROJECT, "models", "db.py"), os.path.abspath(__file__), os.path.join(_PROJECT, ".venv"))
# The statements made on a serving loop since the last `forget` (kept for the tests' check; bounded).
loop_statements: list[str] = []
_reported: set[str] = set()


class QueryNeeded(BaseException):
    """Raised inside `no_queries()` by the first statement, before it is sent: redo the work on the
    pool. A BaseException, so that no `except Exception` on the way (a fallback) takes it for a failure."""


def serving_here() -> None:
    """Mark the running event loop (if any) as one that serves requests."""
    try:
        _serving.add(asyncio.get_running_loop())
    except RuntimeError:
        pass


@contextlib.contextmanager
def no_queries():
    """Within the block, a MySQL statement raises QueryNeeded instead of running."""
    _refusing.active = True
    try:
        yield
    finally:
        _refusing.active = False


def check(sql: str) -> None:
    """Before a MySQL statement: refuse it within `no_queries`, record it when on a serving loop."""
    if getattr(_refusing, "active", False):
        raise QueryNeeded(sql)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop in _serving:
        _record(sql)


def _record(sql: str) -> None:
    kind = " ".join(str(sql).split()[:4])
    if len(loop_statements) < 1000:
        loop_statements.append(kind)
    if kind not in _reported:
        _reported.add(kind)
        caller = next((f"{frame.filename}:{frame.lineno}" for frame in reversed(traceback.extract_stack())
                       if frame.filename.startswith(_PROJECT) and not frame.filename.startswith(_SKIP)), "?")
        log.warning("a database statement ran on the event loop (%s...) from %s", kind, caller)


def forget() -> list[str]:
    """The statements recorded so far, and forget them (the tests, after each)."""
    found = list(loop_statements)
    loop_statements.clear()
    return found
