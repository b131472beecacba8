"""SQLite's WAL checkpoints on their own thread (models/sqlite_checkpoints.py); none on MySQL."""

import os
import threading
import time

import pytest

from models import db as database
from models import sqlite_checkpoints


@pytest.fixture
def sqlite_file(tmp_path):
    """A SQLite file database of its own (the session's stays as it is), with one table."""
    db_object = database.open_database(f"sqlite:///{tmp_path}/checkpoints.db")
    db_object.execute_sql("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    yield db_object, f"{tmp_path}/checkpoints.db-wal"
    db_object.close()


def _write(db_object, rows: int) -> None:
    for _ in range(rows):  # a commit each, as the scans' batches do
        with db_object.atomic():
            db_object.execute_sql("INSERT INTO note (body) VALUES (?)", ("登记" * 500,))


def _wait_for_complete_checkpoint(checkpointer, since: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if checkpointer.checkpoints > since and checkpointer.last[0] == checkpointer.last[1]:
            return
        time.sleep(0.01)
    raise AssertionError(f"no complete checkpoint: {checkpointer.last}")


def test_the_thread_keeps_the_wal_short_and_commits_do_not_checkpoint(sqlite_file):
    db_object, wal = sqlite_file
    # The interval leaves a round's first write, right after a complete checkpoint, well clear of
    # the next one (which would keep it from starting the WAL again) on a loaded machine too.
    checkpointer = sqlite_checkpoints.start(db_object, interval=0.25)
    try:
        # Every connection of the process leaves the checkpoints to the thread, unless it falls behind.
        assert db_object.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == sqlite_checkpoints.FALLBACK_PAGES
        seen = []
        worker = threading.Thread(target=lambda: seen.append(
            db_object.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]) or db_object.close())
        worker.start()
        worker.join()
        assert seen == [sqlite_checkpoints.FALLBACK_PAGES]

        sizes = []
        for _ in range(6):
            since = checkpointer.checkpoints
            _write(db_object, 200)
            _wait_for_complete_checkpoint(checkpointer, since)
            sizes.append(os.path.getsize(wal))
        assert checkpointer.last[1] > 0
        # A round's first write after a complete checkpoint starts the WAL again from its beginning,
        # unless it meets the thread's next checkpoint (then a later round's does): the WAL does
        # not grow round after round (without the thread it would hold all six rounds' rows).
        assert max(sizes) < 3 * sizes[0], sizes
        assert db_object.execute_sql("SELECT COUNT(*) FROM note").fetchone()[0] == 1200
    finally:
        checkpointer.stop()
    assert not checkpointer._thread.is_alive()


def test_only_sqlite_files_get_the_thread(backend):
    name, url, db_object = backend
    if name == "mysql":
        assert sqlite_checkpoints.start(db_object) is None
    else:
        assert sqlite_checkpoints.start(database.open_database("sqlite:///:memory:")) is None
