"""Read routing (models/read_replica.py) on both databases, with a second database standing in for
the replica (SQLite: another file; MariaDB: another database on the test server, which replicates
nothing, so SHOW SLAVE STATUS is empty): what `run` reads comes from it and nothing else does,
whatever other threads and tasks do meanwhile; a write within it is refused and written nowhere;
an unreachable replica falls back to the primary with a warning. Real replication, lag and a
killed replica: tests/models/test_read_replica_mariadb.py."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from models import db as database
from models import read_replica, schema
from models.regions import Region
from tests.conftest import mysql_database
from tests.fakes.server_thread import free_port


@pytest.fixture(scope="module")
def replica_url(backend, tmp_path_factory):
    """A second database, migrated once, holding one region of its own."""
    if backend[0] == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('replica')}/replica.db", None
    else:
        url, drop = mysql_database()
    # Migrated like the primary, through a database of its own (the replica refuses writes).
    setup = database.open_database(url)
    with database.reading_from(setup):
        schema.migrate()
        Region.create(code="990000", name="只在从库", level="province", path="/x/")
    setup.close()
    yield url
    if drop:
        drop()


@pytest.fixture
def replica(db, replica_url):
    """The second database configured as the replica."""
    replica = read_replica.configure(replica_url)
    yield replica
    read_replica.configure("")


def names() -> list[str]:
    return [region.name for region in Region.select().order_by(Region.code)]


def test_run_reads_from_the_replica_and_nothing_else_does(db, replica):
    Region.create(code="980000", name="只在主库", level="province", path="/x/")
    assert read_replica.run(names) == ["只在从库"]
    assert names() == ["只在主库"]
    assert database.db.obj is db  # the context is left as it was


def test_a_thread_and_a_task_outside_run_stay_on_the_primary_meanwhile(db, replica):
    Region.create(code="980000", name="只在主库", level="province", path="/x/")
    inside, release, seen = threading.Event(), threading.Event(), {}

    def slow_read():
        first = names()
        inside.set()
        release.wait(10)
        return first + names()

    reader = threading.Thread(target=lambda: seen.setdefault("replica", read_replica.run(slow_read)))
    reader.start()
    assert inside.wait(10)
    seen["primary"] = names()  # this thread, while the other is within run
    release.set()
    reader.join(10)
    assert seen == {"replica": ["只在从库", "只在从库"], "primary": ["只在主库"]}

    async def tasks():
        gate = asyncio.Event()

        async def on_replica():
            with database.reading_from(replica):
                before = names()
                await gate.wait()  # another task runs here
                return before + names()

        async def on_primary():
            result = names()
            gate.set()
            return result

        return await asyncio.gather(on_replica(), on_primary())

    assert asyncio.run(tasks()) == [["只在从库", "只在从库"], ["只在主库"]]
    replica.close()


def test_a_write_within_run_is_refused_and_written_nowhere(db, replica):
    def writes():
        Region.create(code="970000", name="写错地方", level="province", path="/x/")

    with pytest.raises(RuntimeError, match="read replica"):
        read_replica.run(writes)
    assert names() == [] and read_replica.run(names) == ["只在从库"]


def test_an_unreachable_replica_falls_back_to_the_primary_with_a_warning(db, backend, tmp_path, caplog):
    caplog.set_level(logging.WARNING, "healthcode.db")
    Region.create(code="980000", name="只在主库", level="province", path="/x/")
    if backend[0] == "sqlite":
        read_replica.configure(f"sqlite:///{tmp_path}/gone/replica.db")
        (tmp_path / "gone").rmdir()  # the file can no longer be opened
    else:
        read_replica.configure(f"mysql://root@127.0.0.1:{free_port()}/nowhere",
                               deadlines=database.Deadlines(connect=0.5, read=1, write=1, lock_wait=1))
    try:
        assert read_replica.run(names) == ["只在主库"]
        assert read_replica.run(names) == ["只在主库"]  # again: at once, and warned once
        warnings = [r for r in caplog.records if "read replica" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
    finally:
        read_replica.configure("")
