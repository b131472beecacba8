"""Group commit for the rows a common scan writes: its entry record and a normal temperature.

A scan that only has to store its entry (and maybe a normal temperature) hands the rows to the
writer and awaits the outcome; concurrent scans share one transaction (and one commit) instead
of paying one each. Nothing waits on purpose: a lone scan is written at once.

    earlier = await entry_writer.writer.write(entry_row, temperature_row)
    # None: stored and committed. An EntryRecord: that request id was stored first (before, or
    # earlier in the same batch); nothing was written and its answer is the one to give again.

Where the batch is written:
- On SQLite, on the event loop itself: the scans handled in one pass of the loop are written
  together at the end of it. A commit there costs a fraction of a millisecond (WAL, no fsync,
  and no checkpoint: see models/sqlite_checkpoints.py), far less than handing the rows to
  another thread (the two threads then take the GIL from each other at every system call).
  The loop never waits for SQLite's write lock: when another
  connection holds it (an import, a job), the batch goes to the writer's thread, which waits.
- On MySQL, from the loop too, but without waiting: the batch goes to a connection of the
  loop's own (models/mysql_loop.py, asyncmy) as BEGIN, its INSERTs and COMMIT in one round trip,
  and the loop serves other requests meanwhile; a batch unanswered within the loop's deadline
  fails (its scans get 503 and retry with their request ids). Up to
  WRITE_CONNECTIONS batches are in flight per loop; the next takes whatever accumulated
  meanwhile. (On a thread, every round trip ended with that thread waiting for the GIL the
  busy loop held.)
- For `submit` (any thread), and for a batch that SQLite's lock or MySQL's unique index turned
  away from the loop, on the writer's thread, which stores whatever accumulated while it was
  writing the previous batch.

- A scan is answered only after its batch is committed: an acknowledged scan is never lost.
- A batch that fails is rolled back whole and every scan waiting on it gets
  `ApiError("scan_not_saved", ..., 503)`; the client retries with the same request id. When the
  failure is the unique index on `request_id` (another process stored that id meanwhile), the
  batch is tried once more, and the duplicate then answers its first record.
- peewee keeps one connection per thread: the writer's thread opens its own when work arrives,
  keeps it while batches keep coming, and closes it (back to the pool, on MySQL) after
  `idle_seconds` without work, after a failed batch, or when the database is rebound. On the
  loop, a SQLite batch uses the loop's connection (see models.db.RequestConnections), a MySQL
  batch one of the loop's WRITE_CONNECTIONS (models.mysql_loop.pool), kept for the loop's life.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading

import peewee

from models import mysql_loop
from models.db import SQLITE_BUSY_TIMEOUT_MS, db, insert_rows, insert_statements, is_mysql
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from services.common.errors import RETRY_AFTER_SECONDS, ApiError
from services.operations import metrics

log = logging.getLogger("healthcode.entry_writer")


def write_transaction():
    """A transaction that takes SQLite's write lock up-front (BEGIN IMMEDIATE).

    Two threads write now: a deferred transaction that has read could not upgrade to a write
    once the other committed (SQLite answers "database is locked" at once, without waiting)."""
    return db.atomic() if is_mysql() else db.atomic("IMMEDIATE")


class _Busy(Exception):
    """Another connection holds SQLite's write lock: the batch cannot be written without waiting."""


@contextlib.contextmanager
def _transaction_without_waiting():
    """BEGIN IMMEDIATE on the loop's connection, or _Busy at once if the write lock is taken."""
    db.execute_sql("PRAGMA busy_timeout = 0")
    try:
        transaction = db.atomic("IMMEDIATE")
        transaction.__enter__()
    except peewee.OperationalError as exc:
        raise _Busy() from exc
    finally:
        db.execute_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    with contextlib.ExitStack() as stack:
        stack.push(transaction)
        yield


def _writes_on_loop() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


# MySQL: batches in flight at once per event loop, each on a connection of its own. With two,
# a scan seldom waits for a whole batch before its own begins: medians of 5 runs, 1,664 against
# 1,488 scans/s with one.
WRITE_CONNECTIONS = 2


class _Line:
    """MySQL: one event loop's scans waiting for a batch, and its batches in flight."""

    __slots__ = ("scans", "in_flight", "called")

    def __init__(self) -> None:
        self.scans: list[_Pending] = []
        self.in_flight = 0
        self.called = False  # _next_on_loop is due at the end of this pass


class _Pending:
    """One scan's rows, and where its outcome goes: the awaiting coroutine's `waiter`, served on
    its own loop (`_settle`), and / or the `future` of a `submit` caller. An awaited scan gets no
    future: on the hot path a thread-safe future costs more than its INSERT."""

    __slots__ = ("entry", "temperature", "waiter", "future", "outcome")

    def __init__(self, entry: dict, temperature: dict | None, waiter: asyncio.Future | None = None,
                 future: concurrent.futures.Future | None = None) -> None:
        self.entry = entry  # EntryRecord fields, foreign keys as ids
        self.temperature = temperature  # TemperatureRecord fields, or None
        self.waiter = waiter
        self.future = future
        self.outcome = None  # (the first record or None, the error or None), once the batch is done

    def wanted(self) -> bool:
        """Claim the scan for a batch: False when its caller went away before the batch began;
        once claimed it is written even if its caller goes away meanwhile."""
        if self.future is None:
            # Read from the writer's thread too: a caller that goes away just after this is
            # claimed all the same, as it would be a moment later.
            return not self.waiter.cancelled()
        return self.future.running() or self.future.set_running_or_notify_cancel()

    def resolve(self, result: EntryRecord | None = None, error: Exception | None = None) -> None:
        """Keep the outcome for the waiter (see `_settle`) and hand it to the future, if any."""
        self.outcome = (result, error)
        if self.future is not None:
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)


class EntryWriter:
    """Stores entry records (and their normal temperatures) in shared transactions."""

    def __init__(self, max_batch: int = 200, idle_seconds: float = 1.0) -> None:
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.transactions = 0  # committed batches, for tests and monitoring
        self._queue: list[_Pending] = []
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None
        self._bound = None  # the Database the writer's connection belongs to
        self._on_loop: dict = {}  # event loop -> the scans of its current pass (SQLite)
        self._mysql_queues: dict = {}  # event loop -> its _Line (MySQL)

    def submit(self, entry: dict, temperature: dict | None = None) -> concurrent.futures.Future:
        """Queue the rows for the writer's thread (from any thread); the future resolves after
        the commit (see the module docstring)."""
        pending = _Pending(entry, temperature, future=concurrent.futures.Future())
        if isinstance(db.obj, peewee.SqliteDatabase) and db.obj.database in ("", ":memory:"):
            # Each connection to ":memory:" is a database of its own: write on the caller's.
            self._write_batch(self._claim([pending]))
        else:
            self._enqueue([pending])
        return pending.future

    def _enqueue(self, pendings: list[_Pending]) -> None:
        with self._wakeup:
            self._queue.extend(pendings)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="entry-writer", daemon=True)
                self._thread.start()
            self._wakeup.notify()

    async def write(self, entry: dict, temperature: dict | None = None) -> EntryRecord | None:
        """Await the rows' commit from a coroutine: None once stored, or the first record of the
        id (see the module docstring for where the batch is written)."""
        loop = asyncio.get_running_loop()
        pending = _Pending(entry, temperature, loop.create_future())
        if _writes_on_loop():
            this_pass = self._on_loop.setdefault(loop, [])
            this_pass.append(pending)
            if len(this_pass) == 1:
                loop.call_soon(self._write_on_loop, loop)
        else:
            line = self._mysql_queues.get(loop)
            if line is None:
                line = self._mysql_queues[loop] = _Line()
            line.scans.append(pending)
            if line.in_flight < WRITE_CONNECTIONS and not line.called:  # this pass's scans go at its end
                line.called = True
                loop.call_soon(self._next_on_loop, loop, line)
        return await pending.waiter

    def _write_on_loop(self, loop) -> None:
        """At the end of a loop's pass: its scans in one transaction, on the loop's connection;
        handed to the writer's thread if the write lock is taken."""
        batch = self._claim(self._on_loop.pop(loop, []))
        if not batch:
            return
        db.connect(reuse_if_open=True)
        try:
            self._write_batch(batch, _transaction_without_waiting)
        except _Busy:
            self._enqueue(batch)
            return
        _settle(batch)

    def _next_on_loop(self, loop, line: _Line) -> None:
        """MySQL: the loop's next batches, of the scans queued meanwhile, while fewer than
        WRITE_CONNECTIONS are in flight; once none is in flight or queued, the next scan starts."""
        line.called = False
        while line.scans and line.in_flight < WRITE_CONNECTIONS:
            batch = self._claim(line.scans[:self.max_batch])
            del line.scans[:self.max_batch]
            if batch:
                line.in_flight += 1
                self._send_on_loop(loop, line, batch)
        if not line.in_flight and not line.scans:
            self._mysql_queues.pop(loop, None)

    def _send_on_loop(self, loop, line: _Line, batch: list[_Pending]) -> None:
        """MySQL: `_store`'s transaction on a connection of the loop's, in one round trip: BEGIN,
        the INSERTs and COMMIT as one text (the server stops at the first statement that fails),
        then ROLLBACK when one did. Every step is within mysql_loop's deadline."""
        results, entries, temperatures = _plan(batch)
        pool = mysql_loop.pool(db.obj, "write", WRITE_CONNECTIONS)

        def statements(connection) -> list[str]:
            literals = connection.literals
            return ["BEGIN", *insert_statements(EntryRecord, entries, literals),
                    *insert_statements(TemperatureRecord, temperatures, literals), "COMMIT"]

        def committed(connection, replies, error) -> None:
            if error is not None:  # nothing was committed, or it is in doubt: the scans retry
                if connection is not None:
                    pool.release(connection)
                finished(error)
                return
            failed = next((reply for reply in replies if isinstance(reply, Exception)), None)
            if failed is None:
                pool.release(connection)
                finished(None)
                return
            connection.send(["ROLLBACK"], lambda replies, error: rolled_back(connection, failed, replies, error))

        def rolled_back(connection, failed, replies, error) -> None:
            if error is not None or isinstance(replies[0], Exception):
                connection.close()  # a transaction in doubt: the server ends it with the session
            pool.release(connection)
            finished(failed)

        def finished(error) -> None:
            try:
                self._finish_on_loop(batch, results, error and mysql_loop.as_peewee(error))
            finally:
                line.in_flight -= 1
                self._next_on_loop(loop, line)

        pool.send(statements, committed)

    def _finish_on_loop(self, batch: list[_Pending], results: list, error: BaseException | None) -> None:
        if isinstance(error, peewee.IntegrityError):
            # A request id stored meanwhile (a retry that raced its first scan, maybe in another
            # process): the writer's thread tries again with the ids looked up first.
            self._enqueue(batch)
            return
        if error is not None:
            _not_saved(batch, error)
        else:
            self._stored(batch, results)
        _settle(batch)

    def _run(self) -> None:
        """The writer's thread: a batch of whatever is queued, again and again."""
        while True:
            with self._wakeup:
                if not self._queue and not self._wakeup.wait_for(lambda: self._queue, self.idle_seconds):
                    batch = None
                else:
                    batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            if batch is None:
                self._close()  # idle: give the connection back, then sleep until work comes
                with self._wakeup:
                    self._wakeup.wait_for(lambda: self._queue)
                continue
            if self._bound is not db.obj:
                self._close()  # rebound (tests switch databases): the old one's connection goes
                self._bound = db.obj
            batch = self._claim(batch)
            written = self._write_batch(batch)
            _wake(batch)
            if not written:
                self._close()  # a connection in doubt is not reused

    def _close(self) -> None:
        try:
            if self._bound is not None and not self._bound.is_closed():
                self._bound.close()
        except Exception as exc:  # the thread must live on: the next batch opens a new one
            log.warning("entry writer could not close its connection: %s", type(exc).__name__)
        self._bound = None

    @staticmethod
    def _claim(batch: list[_Pending]) -> list[_Pending]:
        """The scans of the batch still wanted: one whose caller went away before its batch
        began (its future cancelled) is left out; the others can no longer be cancelled."""
        return [pending for pending in batch if pending.wanted()]

    def _write_batch(self, batch: list[_Pending], begin=write_transaction) -> bool:
        """Store one claimed batch and resolve its scans (a caller with futures wakes their waiters);
        False when it failed. `begin` opens the transaction; its _Busy leaves the batch as it was.

        Scans check their request id before the verdict, so the first try only removes the
        duplicates inside the batch. If the unique index still objects (a retry that raced its
        first scan, maybe in another process), the batch is rolled back and tried again with the
        request ids looked up in the table first."""
        if not batch:
            return True
        for look_up in (False, True):
            try:
                results = self._store(batch, look_up, begin)
                break
            except _Busy:
                raise
            except Exception as exc:  # every waiting scan must hear of it, whatever it was
                if not look_up and isinstance(exc, peewee.IntegrityError):
                    continue
                _not_saved(batch, exc)
                return False
        self._stored(batch, results)
        return True

    def _stored(self, batch: list[_Pending], results: list) -> None:
        """A committed batch: each scan takes its outcome (None, or its request id's first record)."""
        self.transactions += 1
        _batch_size().observe(len(batch))
        for pending, result in zip(batch, results):
            pending.resolve(result)

    def _store(self, batch: list[_Pending], look_up: bool, begin) -> list[EntryRecord | None]:
        """One transaction: skip the request ids stored before (when `look_up`) or earlier in the
        batch, insert the rest; [None or the first record, per pending scan]."""
        db.connect(reuse_if_open=True)
        with begin():
            first = {}
            if look_up:
                ids = list({p.entry["request_id"] for p in batch})
                first = {e.request_id: e for e in EntryRecord.select().where(EntryRecord.request_id.in_(ids))}
            results, entries, temperatures = _plan(batch, first)
            insert_rows(EntryRecord, entries)
            insert_rows(TemperatureRecord, temperatures)
        return results


def _plan(batch: list[_Pending], first: dict | None = None) -> tuple[list, list[dict], list[dict]]:
    """What a batch writes: (per scan, None or the first record of its request id; the entry
    rows; the temperature rows). `first`: request id -> the record stored before (looked up);
    a request id met earlier in the batch answers that scan's record."""
    first = dict(first or {})
    results, entries, temperatures = [], [], []
    for pending in batch:
        earlier = first.get(pending.entry["request_id"])
        if isinstance(earlier, dict):  # stored earlier in this batch
            earlier = first[pending.entry["request_id"]] = EntryRecord(**earlier)
        results.append(earlier)
        if earlier is None:
            first[pending.entry["request_id"]] = pending.entry
            entries.append(pending.entry)
            if pending.temperature is not None:
                temperatures.append(pending.temperature)
    return results, entries, temperatures


def _batch_size():
    """The batch-size histogram's child of the bound database's kind."""
    backend = "mysql" if is_mysql() else "sqlite"
    child = _BATCH_SIZES.get(backend)
    if child is None:
        child = _BATCH_SIZES[backend] = metrics.BATCH_SIZE.labels(backend)
    return child


_BATCH_SIZES: dict = {}


def _not_saved(batch: list[_Pending], exc: Exception) -> None:
    """Every scan of a batch that could not be stored hears so (503: the client retries)."""
    log.error("entry batch of %d not saved: %s: %s", len(batch), type(exc).__name__, exc)
    for pending in batch:
        error = ApiError("scan_not_saved", "登记未能保存，请稍后重试", 503, retry_after=RETRY_AFTER_SECONDS)
        error.__cause__ = exc
        pending.resolve(error=error)


def _wake(batch: list[_Pending]) -> None:
    """From the writer's thread, hand the outcomes to the coroutines awaiting them: one call per
    event loop."""
    by_loop: dict = {}
    for pending in batch:
        if pending.waiter is not None:
            by_loop.setdefault(pending.waiter.get_loop(), []).append(pending)
    for loop, pendings in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pendings)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _settle(pendings: list[_Pending]) -> None:
    """On the waiters' loop: each waiter takes its scan's outcome."""
    for pending in pendings:
        if pending.waiter is None or pending.waiter.done():  # a submit caller's, or cancelled meanwhile
            continue
        result, error = pending.outcome
        if error is not None:
            pending.waiter.set_exception(error)
        else:
            pending.waiter.set_result(result)


writer = EntryWriter()
