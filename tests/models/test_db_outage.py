"""models.db_outage: which failures mark a database down, failing at once while it is, and the
watcher that finds it back (with no server: a probe of the test's own)."""

from __future__ import annotations

import gc
import threading
import time

import peewee
import pytest

from models import db_outage
from models.db_outage import Outage, connection_failed, timed_out


def test_connection_failures_are_told_from_statement_errors():
    lost = peewee.OperationalError(2013, "Lost connection to MySQL server during query (timed out)")
    refused = peewee.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)")
    assert connection_failed(lost) and timed_out(lost)
    assert connection_failed(refused) and not timed_out(refused)
    assert connection_failed(peewee.InterfaceError(0, ""))
    for statement_error in (peewee.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
                            peewee.IntegrityError(1062, "Duplicate entry"), peewee.OperationalError("database is locked")):
        assert not connection_failed(statement_error)


class FakeDatabase:
    """What an Outage watches: a probe that fails until `up` is set, and idle connections dropped."""

    def __init__(self) -> None:
        self.up, self.dropped = threading.Event(), 0

    def probe(self) -> None:
        if not self.up.is_set():
            raise peewee.OperationalError(2003, "Can't connect")

    def drop_idle(self) -> None:
        self.dropped += 1


def test_down_fails_at_once_until_the_probe_finds_the_server_back(monkeypatch):
    monkeypatch.setattr(db_outage, "PROBE_INTERVAL_SECONDS", 0.02)
    database = FakeDatabase()
    outage = Outage(database.probe, database.drop_idle)
    outage.check()  # up: nothing raised
    outage.trip(peewee.OperationalError(2013, "timed out"))
    assert outage.down and database.dropped == 1  # idle connections dropped unpinged
    started = time.monotonic()
    with pytest.raises(peewee.OperationalError):
        outage.check()
    assert time.monotonic() - started < 0.01
    time.sleep(0.1)
    assert outage.down  # still failing probes
    database.up.set()
    deadline = time.monotonic() + 2
    while outage.down and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not outage.down and database.dropped == 2  # and the connections from before it dropped
    outage.check()


def test_a_database_dropped_while_down_takes_its_watcher_with_it(monkeypatch):
    monkeypatch.setattr(db_outage, "PROBE_INTERVAL_SECONDS", 0.02)
    database, before = FakeDatabase(), set(threading.enumerate())
    Outage(database.probe, database.drop_idle).trip(peewee.OperationalError(2003, "refused"))
    watchers = [t for t in set(threading.enumerate()) - before if t.name == "database-outage"]
    assert len(watchers) == 1
    del database
    gc.collect()
    for watcher in watchers:
        watcher.join(2)
    assert not any(watcher.is_alive() for watcher in watchers)
