"""models.db.Prepared on both databases: values as peewee gives them, and reads batched per pass."""

import asyncio
import datetime as dt
import decimal

import peewee

from models import db as database
from models import mysql_loop
from models.colour import HealthStatus
from models.db import Prepared
from models.people import Person
from models.risk_inputs import TemperatureRecord
from tests.conftest import make_person

TRICKY = "王'小\"明\\ \x1f %s %% 😀"


def _person_query(id_bidx):
    return (Person.select(Person.id, Person.name, Person.id_number, Person.gender, Person.phone_verified,
                          Person.created_at, HealthStatus.colour, HealthStatus.valid_until, HealthStatus.computed_at,
                          TemperatureRecord.value)
            .join(HealthStatus, peewee.JOIN.LEFT_OUTER, on=HealthStatus.subject == Person.id_number_bidx)
            .switch(Person)
            .join(TemperatureRecord, peewee.JOIN.LEFT_OUTER, on=TemperatureRecord.person == Person.id)
            .where(Person.id_number_bidx == id_bidx).limit(1).tuples())


def _people():
    first = make_person(1, name=TRICKY)
    first.phone_verified = True
    first.created_at = dt.datetime(2026, 11, 22, 3, 4, 5)
    first.save()
    HealthStatus.create(subject=first.id_number_bidx, colour="yellow", reasons="[]", valid_until=dt.date(2026, 12, 1),
                        computed_at=dt.datetime(2026, 11, 22, 8, 0, 1))
    TemperatureRecord.create(person=first, subject=first.id_number_bidx, value=decimal.Decimal("37.5"),
                             event_date=dt.date(2026, 11, 22), source="scan")
    second = make_person(2)  # no colour row, no temperature: NULLs
    return first, second


def test_values_are_those_peewee_gives_whatever_the_types(db):
    first, second = _people()
    prepared = Prepared(_person_query, "\x00bidx")
    for person in (first, second):
        expected = list(_person_query(person.id_number_bidx))[0]
        assert prepared.first_values(person.id_number_bidx) == list(expected)
    row = prepared.first_values(first.id_number_bidx)
    assert row[1] == TRICKY and row[4] is True and row[7] == dt.date(2026, 12, 1)
    assert row[9] == decimal.Decimal("37.5") and isinstance(row[9], decimal.Decimal)
    assert prepared.first_values("no-such-index") is None


def test_many_reads_answer_each_in_its_own_place(db):
    first, second = _people()
    prepared = Prepared(_person_query, "\x00bidx")
    rows = prepared.first_values_many([(second.id_number_bidx,), ("nobody",), (first.id_number_bidx,),
                                       (second.id_number_bidx,)])
    assert [row and row[0] for row in rows] == [second.id, None, first.id, second.id]
    assert rows[2] == prepared.first_values(first.id_number_bidx)


def _count_statements(monkeypatch) -> list:
    """The SQL texts the database runs from now on, through peewee or on the event loop's own
    MySQL connections (the real database runs them)."""
    seen = []
    real, real_on_loop = database.db.obj.execute_sql, mysql_loop.LoopConnection.run

    def counting(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return real(sql, params, *args, **kwargs)

    async def counting_on_loop(connection, statements):
        seen.extend(statements)
        return await real_on_loop(connection, statements)

    monkeypatch.setattr(database.db.obj, "execute_sql", counting)
    monkeypatch.setattr(mysql_loop.LoopConnection, "run", counting_on_loop)
    return seen


def test_reads_begun_in_one_pass_share_one_statement_on_mysql(db, backend, monkeypatch):
    first, second = _people()
    prepared = Prepared(_person_query, "\x00bidx")
    prepared.first_values(first.id_number_bidx)  # compiled and connected before counting
    prepared.first_values_many([(first.id_number_bidx,)])
    statements = _count_statements(monkeypatch)
    wanted = [first.id_number_bidx, "nobody", second.id_number_bidx] * 2
    assert len(wanted) <= Prepared.MAX_BATCH

    async def read_all():
        return await asyncio.gather(*(prepared.read_values(bidx) for bidx in wanted))

    rows = asyncio.run(read_all())
    assert [row and row[0] for row in rows] == [first.id, None, second.id] * 2
    reads = [sql for sql in statements if sql.lstrip("(").startswith("SELECT")]
    assert len(reads) == (1 if backend[0] == "mysql" else len(wanted))


def test_a_pass_with_more_reads_than_a_statement_takes_is_split(db, backend, monkeypatch):
    first, _ = _people()
    prepared = Prepared(_person_query, "\x00bidx")
    prepared.first_values_many([(first.id_number_bidx,)])
    monkeypatch.setattr(Prepared, "MAX_BATCH", 4)
    statements = _count_statements(monkeypatch)

    async def read_all():
        return await asyncio.gather(*(prepared.read_values(first.id_number_bidx) for _ in range(10)))

    assert [row[0] for row in asyncio.run(read_all())] == [first.id] * 10
    if backend[0] == "mysql":
        assert len([sql for sql in statements if sql.startswith("(SELECT")]) == 3


def test_a_failed_batch_fails_every_read_in_it(db, backend):
    def broken(value):  # a table that is not there
        return peewee.Table("no_such_table").select(peewee.SQL("1")).where(peewee.SQL("1") == value).tuples()

    prepared = Prepared(broken, "\x00v")

    async def read_all():
        return await asyncio.gather(*(prepared.read_values("x") for _ in range(3)), return_exceptions=True)

    results = asyncio.run(read_all())
    assert len(results) == 3 and all(isinstance(r, peewee.DatabaseError) for r in results)


def test_a_shared_last_column_is_read_once_per_batch_and_given_to_every_row(db, backend, monkeypatch):
    first, second = _people()

    def with_count(id_bidx):
        everyone = Person.alias("everyone")
        return (Person.select(Person.id, Person.name, everyone.select(peewee.fn.COUNT(everyone.id)))
                .where(Person.id_number_bidx == id_bidx).limit(1).tuples())

    prepared = Prepared(with_count, "\x00bidx", shared_last_column=True)
    prepared.first_values_many([(first.id_number_bidx,)])
    statements = _count_statements(monkeypatch)
    rows = prepared.first_values_many([(first.id_number_bidx,), ("nobody",), (second.id_number_bidx,)])
    assert rows == [[first.id, TRICKY, 2], None, [second.id, "测试人员", 2]]
    assert prepared.first_values(second.id_number_bidx) == [second.id, "测试人员", 2]
    if backend[0] == "mysql":
        assert statements[0].count("COUNT(") == 1
