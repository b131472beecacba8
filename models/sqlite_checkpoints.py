"""SQLite's WAL checkpoints on a thread of their own, so that no request waits for one.

In WAL mode a commit appends its pages to the -wal file, and a checkpoint copies them back into
the database file and syncs it. By default the connection whose commit takes the WAL past 1,000
pages checkpoints it there and then, inside that commit. On the server, that connection is the
event loop's (the scans' group commit, services/scanning/entry_writer.py). Every request in flight then
waits for the copy and the sync: 20-30 ms, several times a second under load. Those waits were
most of the slowest percent of scans.

`start(database)` hands the checkpoints to a daemon thread. Every `interval` seconds it runs a
PASSIVE checkpoint on its own connection; a PASSIVE checkpoint neither waits for readers or
writers nor blocks them. The process's own connections checkpoint only if the WAL still grows
past FALLBACK_PAGES, that is, if the thread fell behind or stopped. The first write after a
complete checkpoint starts the WAL again from its beginning, so the file stays short.
"""

from __future__ import annotations

import logging
import threading

import peewee

log = logging.getLogger("healthcode.checkpoints")

# 20,000 pages of 4 KB: 80 MB of WAL before a connection checkpoints by itself (SQLite: 1,000).
FALLBACK_PAGES = 20000


class Checkpointer:
    """The thread that checkpoints one SQLite database; `stop()` ends it."""

    def __init__(self, database: peewee.SqliteDatabase, interval: float) -> None:
        self.database = database
        self.interval = interval
        self.checkpoints = 0  # PASSIVE checkpoints run, for tests and monitoring
        self.last = None  # the last one's (pages in the WAL, pages of them now in the database file)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)

    def start(self) -> Checkpointer:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread (after the checkpoint it may be running) with a last, complete
        checkpoint, and close its connection. Called once the server has stopped serving, so
        that the database file holds every commit and the WAL is left empty."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._checkpoint()
            self._checkpoint("TRUNCATE")
        finally:
            if not self.database.is_closed():
                self.database.close()

    def _checkpoint(self, mode: str = "PASSIVE") -> None:
        try:
            self.database.connect(reuse_if_open=True)
            _busy, wal_pages, copied = self.database.execute_sql(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except peewee.PeeweeException as exc:  # the thread lives on; the fallback covers meanwhile
            log.warning("WAL checkpoint failed: %s", type(exc).__name__)
            self.database.close()
            return
        self.checkpoints += 1
        self.last = (wal_pages, copied)


def start(database: peewee.Database, interval: float = 0.5) -> Checkpointer | None:
    """Checkpoint `database` on a thread of its own from now on (see the module docstring); None
    for a database that needs no checkpoints (MySQL, an in-memory SQLite)."""
    if not isinstance(database, peewee.SqliteDatabase) or database.database in ("", ":memory:"):
        return None
    was_closed = database.is_closed()
    try:
        # On every connection this process opens from now on, and on this thread's if it is open.
        database.pragma("wal_autocheckpoint", FALLBACK_PAGES, permanent=True)
    finally:
        if was_closed:
            database.close()
    return Checkpointer(database, interval).start()
