"""The group-commit writer of entry records (services/scanning/entry_writer.py) on both databases:
batching, answers only after the commit, a failing batch, idempotent request ids."""

import asyncio
import json
import time
import uuid
from contextlib import contextmanager

import pytest

from config import TestConfig
from models import db as database
from models import mysql_loop
from models.accounts import Account, AuthIdentity
from models.fields import utcnow
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from services.accounts import auth
from services.colours import colour, colour_rules, colour_scheme
from services.common.errors import ApiError
from services.risk_data.risk_inputs import china_date
from services.scanning import scans
from services.scanning.entry_writer import EntryWriter
from services.venues import places
from tests.conftest import make_person


@pytest.fixture
def world(db):
    """A test point (no form, admits every colour) and a person with an account."""
    place, code = places.create_place(place_type_code="test_point", name="核酸检测点")
    account = Account.create()
    person = citizen(1, account)
    return {"place": place, "token": code.token, "account": account, "person": person}


def citizen(n: int, account: Account):
    """A person whose profile is complete (name, ID number, phone), as a scan needs."""
    person = make_person(n, account=account)
    person.set_phone(f"1380000000{n}")
    person.save()
    return person


def bearer(account: Account, config) -> str:
    """A bearer token of the account, as sign-in issues it."""
    identity = AuthIdentity.create(account=account, provider="dev", subject=uuid.uuid4().hex)
    return auth.issue_token(identity, config)["token"]


@pytest.fixture
def writer():
    return EntryWriter(idle_seconds=0.05)


def entry(world, request_id=None, *, person=None, verdict=None) -> dict:
    """An entry row as services.scanning.scans makes it."""
    return {"request_id": request_id or uuid.uuid4().hex, "place": world["place"].id,
            "person": person if person is not None else world["person"].id, "account": world["account"].id,
            "flow": "tested", "source": "self", "temperature": None, "colour": "green", "admitted": True,
            "form": "{}", "verdict": json.dumps(verdict or {"colour": "green"}), "created_at": utcnow()}


def temperature(world, value=36.6) -> dict:
    now = utcnow()
    return {"person": world["person"].id, "subject": world["person"].subject, "value": value, "measured_at": now,
            "event_date": china_date(now), "source": "scan", "recorded_by": world["account"].id, "created_at": now}


@contextmanager
def one_batch(writer: EntryWriter):
    """Everything submitted inside is queued before the writer's thread can take any of it
    (the test holds the writer's lock, which submit, on this same thread, may take again)."""
    with writer._wakeup:
        yield


def independent_count(backend, request_id: str) -> int:
    """Rows with this request id as another connection sees them: committed rows only."""
    other = database.open_database(backend[1])
    try:
        other.connect()
        return other.execute_sql(f"SELECT COUNT(*) FROM entry_record WHERE request_id = {other.param}",
                                 (request_id,)).fetchone()[0]
    finally:
        other.close_all() if hasattr(other, "close_all") else other.close()


def test_concurrent_scans_share_a_transaction_and_all_are_stored(world, writer):
    async def scan_all():
        return await asyncio.gather(*(writer.write(entry(world), temperature(world) if i % 2 else None)
                                      for i in range(50)))

    assert asyncio.run(scan_all()) == [None] * 50
    assert writer.transactions <= 5  # usually 1 or 2: whatever queued while the first was written
    assert EntryRecord.select().count() == 50 and TemperatureRecord.select().count() == 25
    with one_batch(writer):
        futures = [writer.submit(entry(world)) for _ in range(20)]
    assert [f.result(10) for f in futures] == [None] * 20
    assert writer.transactions <= 6 and EntryRecord.select().count() == 70


def test_every_caller_hears_only_after_the_commit(world, writer, backend):
    seen = {}

    def on_answer(request_id):
        # Runs on the writer's thread the moment the future resolves: the row must already be
        # visible to any other connection.
        return lambda future: seen.setdefault(request_id, independent_count(backend, request_id))

    ids = [uuid.uuid4().hex for _ in range(5)]
    with one_batch(writer):
        futures = [writer.submit(entry(world, rid)) for rid in ids]
        for rid, future in zip(ids, futures):
            future.add_done_callback(on_answer(rid))
        assert not any(f.done() for f in futures)
    assert [f.result(10) for f in futures] == [None] * 5
    deadline = time.monotonic() + 10  # the callbacks run just after each result is set
    while len(seen) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == {rid: 1 for rid in ids}


def test_a_failing_batch_fails_every_caller_and_writes_nothing(world, writer):
    with one_batch(writer):
        good = [writer.submit(entry(world), temperature(world)) for _ in range(2)]
        bad = writer.submit(entry(world, person=999999))  # no such person: a foreign key violation
    for future in (*good, bad):
        with pytest.raises(ApiError) as error:
            future.result(10)
        assert (error.value.code, error.value.status, error.value.retry_after) == ("scan_not_saved", 503, 1)
        assert error.value.message and not error.value.message.isascii()
    assert EntryRecord.select().count() == 0 and TemperatureRecord.select().count() == 0
    assert writer.submit(entry(world)).result(10) is None  # the writer goes on
    assert EntryRecord.select().count() == 1


def test_a_duplicate_request_id_gives_the_first_record(world, writer):
    with one_batch(writer):
        first = writer.submit(entry(world, "dup-00000001", verdict={"colour": "green", "n": 1}), temperature(world))
        again = writer.submit(entry(world, "dup-00000001", verdict={"colour": "red", "n": 2}), temperature(world))
    assert first.result(10) is None
    assert json.loads(again.result(10).verdict) == {"colour": "green", "n": 1}
    # Against the table: the unique index objects, the batch is tried again with a look-up, and
    # the other scans of that batch are stored all the same.
    with one_batch(writer):
        late = writer.submit(entry(world, "dup-00000001", verdict={"colour": "red", "n": 3}), temperature(world))
        other = writer.submit(entry(world, "new-00000001"))
    stored = late.result(10)
    assert stored.account_id == world["account"].id and json.loads(stored.verdict) == {"colour": "green", "n": 1}
    assert other.result(10) is None
    assert EntryRecord.select().where(EntryRecord.request_id == "dup-00000001").count() == 1
    assert EntryRecord.select().count() == 2 and TemperatureRecord.select().count() == 1


def test_a_caller_that_went_away_is_left_out_and_the_others_are_stored(world, writer):
    with one_batch(writer):
        gone = writer.submit(entry(world, "gone-0000001"))
        kept = writer.submit(entry(world, "kept-0000001"))
        assert gone.cancel()  # as asyncio does when the awaiting task is cancelled
    assert kept.result(10) is None and gone.cancelled()
    assert [e.request_id for e in EntryRecord.select()] == ["kept-0000001"]
    assert writer.submit(entry(world)).result(10) is None  # the writer's thread lives on


def test_on_the_loop_a_request_id_already_in_the_table_answers_its_first_record(world, writer):
    """A batch written on the loop meets the unique index (a retry that raced its first scan):
    it is tried again with the ids looked up (on MySQL by the writer's thread), the duplicate
    answers the first record and the others are stored."""
    async def scenario():
        await writer.write(entry(world, "first-loop-01", verdict={"colour": "green", "n": 1}))
        return await asyncio.gather(writer.write(entry(world, "first-loop-01", verdict={"n": 2}), temperature(world)),
                                    writer.write(entry(world, "other-loop-01"), temperature(world)))

    again, other = asyncio.run(scenario())
    assert json.loads(again.verdict) == {"colour": "green", "n": 1} and other is None
    assert sorted(e.request_id for e in EntryRecord.select()) == ["first-loop-01", "other-loop-01"]
    assert TemperatureRecord.select().count() == 1


def test_on_the_loop_a_failing_batch_writes_nothing_and_the_next_one_is_stored(world, writer):
    """One bad row fails its whole batch (503 for every scan in it, no row of it kept, not even
    a temperature written before the failure); the next batch is stored."""
    async def scenario():
        failed = await asyncio.gather(writer.write(entry(world), temperature(world)),
                                      writer.write(entry(world, person=999999), temperature(world)),
                                      return_exceptions=True)
        return failed, await writer.write(entry(world, "after-fail-01"), temperature(world))

    failed, after = asyncio.run(scenario())
    assert all(isinstance(e, ApiError) and (e.code, e.status) == ("scan_not_saved", 503) for e in failed)
    assert after is None
    assert [e.request_id for e in EntryRecord.select()] == ["after-fail-01"]
    assert TemperatureRecord.select().count() == 1


def test_on_mysql_a_dropped_loop_connection_is_replaced(world, writer, backend):
    """The server ends the loop's connections (restart, wait_timeout, KILL) while they are idle:
    the next reads and writes open new ones."""
    if backend[0] != "mysql":
        pytest.skip("MySQL's connections on the loop")
    config = TestConfig()
    token = bearer(world["account"], config)

    async def scan(request_id):
        body = {"code": world["token"], "flow": "tested", "request_id": request_id}
        return json.loads(await scans.scan(token, body, config))

    async def scenario():
        assert (await scan("before-kill-01"))["admit"] is True
        killer = database.open_database(backend[1])
        killer.connect()
        try:
            for pool in mysql_loop._pools[asyncio.get_running_loop()].values():
                for connection in pool._idle:
                    killer.execute_sql(f"KILL {connection.raw.thread_id()}")
        finally:
            killer.close_all()
        await asyncio.sleep(0.2)  # the loop reads the server's end of each connection
        return await scan("after-kill-01")

    assert asyncio.run(scenario())["admit"] is True
    assert EntryRecord.select().count() == 2


def test_the_writer_closes_its_connection_when_idle(world, writer):
    assert writer.submit(entry(world)).result(10) is None
    deadline = time.monotonic() + 5
    while writer._bound is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer._bound is None
    assert writer.submit(entry(world)).result(10) is None  # and opens one again
    assert EntryRecord.select().count() == 2


def test_concurrent_retries_of_one_scan_answer_the_first_verdict(world):
    """Two copies of a scan racing past the request-id check both answer the first verdict;
    the same id from another account is a conflict, and only one record is kept."""
    config = TestConfig()
    body = {"code": world["token"], "flow": "tested", "request_id": "race-0000001", "temperature": 36.5}
    stranger = Account.create()
    citizen(2, stranger)
    mine, theirs = (bearer(account, config) for account in (world["account"], stranger))
    # What a serving process holds already (the person's colour, the scheme, the rules, the place's
    # view): all three decide on the loop in their order, none takes a pool hop (scans.scan).
    colour.recompute([world["person"].subject])
    colour_scheme.current(config)
    colour_rules.load_rules()
    scans._place_view(world["place"])

    async def race():
        return await asyncio.gather(scans.scan(mine, dict(body), config), scans.scan(mine, dict(body), config),
                                    scans.scan(theirs, dict(body), config), return_exceptions=True)

    first, second, third = asyncio.run(race())
    assert first == second and json.loads(first)["admit"] is True
    assert isinstance(third, ApiError) and (third.code, third.status) == ("request_id_conflict", 409)
    assert EntryRecord.select().count() == 1 and TemperatureRecord.select().count() == 1


def test_a_pass_of_the_loop_is_one_transaction_written_from_the_loop(world, writer):
    """The scans of one pass share a transaction, with no hand-over to another thread: SQLite
    writes it on the loop's thread, MySQL sends it on a connection of the loop's."""
    async def scan_all():
        return await asyncio.gather(*(writer.write(entry(world)) for _ in range(10)))

    assert asyncio.run(scan_all()) == [None] * 10
    assert EntryRecord.select().count() == 10
    assert writer._thread is None and writer.transactions == 1


def test_on_the_loop_a_caller_that_went_away_is_left_out(world, writer):
    async def scenario():
        gone = asyncio.ensure_future(writer.write(entry(world, "gone-loop-0001")))
        kept = asyncio.ensure_future(writer.write(entry(world, "kept-loop-0001")))
        await asyncio.sleep(0)  # both have queued their rows; the batch is not written yet
        gone.cancel()
        return await kept

    assert asyncio.run(scenario()) is None
    assert [e.request_id for e in EntryRecord.select()] == ["kept-loop-0001"]


def test_on_sqlite_the_loop_never_waits_for_another_writers_lock(world, writer, backend):
    """While another connection holds SQLite's write lock (an import, a job), the batch goes to
    the writer's thread: the loop keeps serving, and the scan is answered once the lock is free
    and its row committed."""
    if backend[0] != "sqlite":
        pytest.skip("SQLite's write lock")
    other = database.open_database(backend[1])
    other.connect()
    other.execute_sql("BEGIN IMMEDIATE")
    released = []

    async def scenario():
        scan = asyncio.ensure_future(writer.write(entry(world, "locked-00000001")))
        ticks = 0
        for _ in range(20):  # the loop goes on while the lock is held
            await asyncio.sleep(0.01)
            ticks += 1
        assert not scan.done() and ticks == 20
        other.execute_sql("COMMIT")
        released.append(True)
        return await asyncio.wait_for(scan, 10)

    try:
        assert asyncio.run(scenario()) is None
    finally:
        if not released:
            other.execute_sql("ROLLBACK")
        other.close()
    assert writer._thread is not None
    assert independent_count(backend, "locked-00000001") == 1
