"""Group commit for the rows a common scan writes: its entry record and a normal temperature.

A scan that only has to store its entry (and maybe a normal temperature) hands the rows to the
writer and awaits the outcome. The writer's thread stores whatever accumulated while it was
writing the previous batch, in one transaction, so concurrent scans share one commit (and one
fsync) instead of paying one each. Nothing waits on purpose: a lone scan is written at once.

    earlier = await entry_writer.writer.write(entry_row, temperature_row)
    # None: stored and committed. An EntryRecord: that request id was stored first (before, or
    # earlier in the same batch); nothing was written and its answer is the one to give again.

- A scan's future resolves only after its batch is committed: an acknowledged scan is never lost.
- A batch that fails is rolled back whole and every scan waiting on it gets
  `ApiError("scan_not_saved", ..., 503)`; the client retries with the same request id. When the
  failure is the unique index on `request_id` (another process stored that id meanwhile), the
  batch is tried once more, and the duplicate then answers its first record.
- peewee keeps one connection per thread: the writer's thread opens its own when work arrives,
  keeps it while batches keep coming, and closes it (back to the pool, on MySQL) after
  `idle_seconds` without work, after a failed batch, or when the database is rebound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from dataclasses import dataclass, field

import peewee

from models.db import db, insert_rows, is_mysql
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from services.errors import ApiError

log = logging.getLogger("healthcode.entry_writer")


def write_transaction():
    """A transaction that takes SQLite's write lock up-front (BEGIN IMMEDIATE).

    Two threads write now: a deferred transaction that has read could not upgrade to a write
    once the other committed (SQLite answers "database is locked" at once, without waiting)."""
    return db.atomic() if is_mysql() else db.atomic("IMMEDIATE")


@dataclass
class _Pending:
    entry: dict  # EntryRecord fields, foreign keys as ids
    temperature: dict | None  # TemperatureRecord fields, or None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    waiter: asyncio.Future | None = None  # the awaiting coroutine's future (see `write`)


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

    def submit(self, entry: dict, temperature: dict | None = None,
               waiter: asyncio.Future | None = None) -> concurrent.futures.Future:
        """Queue the rows; the future resolves after the commit (see the module docstring), and
        so does `waiter`, an asyncio future, on its own loop."""
        pending = _Pending(entry, temperature, waiter=waiter)
        if isinstance(db.obj, peewee.SqliteDatabase) and db.obj.database in ("", ":memory:"):
            # Each connection to ":memory:" is a database of its own: write on the caller's.
            self._write_batch([pending])
            return pending.future
        with self._wakeup:
            self._queue.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="entry-writer", daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return pending.future

    async def write(self, entry: dict, temperature: dict | None = None) -> EntryRecord | None:
        """Await `submit` from a coroutine: None once stored, or the first record of the id.

        A batch wakes each loop it serves once (asyncio.wrap_future would wake it once per scan:
        a write to the loop's self-pipe, and a pass of the loop, each)."""
        waiter = asyncio.get_running_loop().create_future()
        future = self.submit(entry, temperature, waiter)
        if future.done():  # written on this thread (see submit)
            return future.result()
        # A caller that gives up before its batch begins is left out of it.
        waiter.add_done_callback(lambda w: future.cancel() if w.cancelled() else None)
        return await waiter

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
            if not self._write_batch(batch):
                self._close()  # a connection in doubt is not reused

    def _close(self) -> None:
        try:
            if self._bound is not None and not self._bound.is_closed():
                self._bound.close()
        except Exception as exc:  # the thread must live on: the next batch opens a new one
            log.warning("entry writer could not close its connection: %s", type(exc).__name__)
        self._bound = None

    def _write_batch(self, batch: list[_Pending]) -> bool:
        """Store one batch and resolve its futures; False when it failed.

        Scans check their request id before the verdict, so the first try only removes the
        duplicates inside the batch. If the unique index still objects (a retry that raced its
        first scan, maybe in another process), the batch is rolled back and tried again with the
        request ids looked up in the table first. A scan whose caller went away before its batch
        began (its future cancelled) is left out; the others can no longer be cancelled."""
        batch = [pending for pending in batch if pending.future.set_running_or_notify_cancel()]
        if not batch:
            return True
        for look_up in (False, True):
            try:
                results = self._store(batch, look_up)
                break
            except Exception as exc:  # every waiting scan must hear of it, whatever it was
                if not look_up and isinstance(exc, peewee.IntegrityError):
                    continue
                log.error("entry batch of %d not saved: %s: %s", len(batch), type(exc).__name__, exc)
                for pending in batch:
                    error = ApiError("scan_not_saved", "登记未能保存，请稍后重试", 503)
                    error.__cause__ = exc
                    pending.future.set_exception(error)
                _wake(batch)
                return False
        self.transactions += 1
        for pending, result in zip(batch, results):
            pending.future.set_result(result)
        _wake(batch)
        return True

    def _store(self, batch: list[_Pending], look_up: bool) -> list[EntryRecord | None]:
        """One transaction: skip the request ids stored before (when `look_up`) or earlier in the
        batch, insert the rest; [None or the first record, per pending scan]."""
        db.connect(reuse_if_open=True)
        with write_transaction():
            first = {}
            if look_up:
                ids = list({p.entry["request_id"] for p in batch})
                first = {e.request_id: e for e in EntryRecord.select().where(EntryRecord.request_id.in_(ids))}
            results, entries, temperatures = [], [], []
            for pending in batch:
                earlier = first.get(pending.entry["request_id"])
                results.append(earlier)
                if earlier is None:
                    first[pending.entry["request_id"]] = EntryRecord(**pending.entry)
                    entries.append(pending.entry)
                    if pending.temperature is not None:
                        temperatures.append(pending.temperature)
            insert_rows(EntryRecord, entries)
            insert_rows(TemperatureRecord, temperatures)
        return results



def _wake(batch: list[_Pending]) -> None:
    """Hand the outcomes to the coroutines awaiting them: one call per event loop."""
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
    """On the waiters' loop: each waiter takes its future's outcome."""
    for pending in pendings:
        if pending.waiter.done():  # cancelled meanwhile
            continue
        error = pending.future.exception()
        if error is not None:
            pending.waiter.set_exception(error)
        else:
            pending.waiter.set_result(pending.future.result())


writer = EntryWriter()
