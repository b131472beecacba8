"""MySQL statements on the event loop (models/mysql_loop.py, asyncmy), against the real MariaDB:
replies in order, typed values, errors as peewee's, deadlines, broken connections replaced."""

import asyncio
import time

import peewee
import pytest

from models import db as database
from models import mysql_loop


@pytest.fixture
def mysql(db, backend):
    if backend[0] != "mysql":
        pytest.skip("MySQL's connections on the loop")
    return db


def run(coroutine_function):
    """Run `coroutine_function()` on a new event loop (each test's loop has its own pools)."""
    return asyncio.run(coroutine_function())


def _resolve(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def send(connection: mysql_loop.LoopConnection, *statements: str) -> list:
    """`LoopConnection.send`, awaited: the replies, or the connection's error raised."""
    future = asyncio.get_running_loop().create_future()
    connection.send(list(statements), lambda replies, error: _resolve(future, replies, error))
    return await future


async def pool_send(pool: mysql_loop.LoopPool, statements) -> list:
    """`LoopPool.send`, awaited: the replies (the connection is given back), or the error raised."""
    future = asyncio.get_running_loop().create_future()

    def done(connection, replies, error):
        if connection is not None:
            pool.release(connection)
        _resolve(future, replies, error)

    pool.send(statements, done)
    return await future


def test_a_result_set_comes_back_typed(mysql):
    long_text = "长" * 70000  # a length that takes three bytes to say

    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            sql = connection.format("SELECT %s, NULL, 42, %s UNION ALL SELECT 'b', 'x', -1, ''",
                                    ["a'\\\"😀 中文", long_text])
            return await send(connection, sql)
        finally:
            connection.close()

    (reply,) = run(scenario)
    assert reply == ("rows", (("a'\\\"😀 中文", None, 42, long_text), ("b", "x", -1, "")))


def test_a_value_that_looks_like_statements_stays_one_literal(mysql):
    """Multi-statements are on: a client's value with `;` and quotes is still one string."""
    hostile = "x'; DROP TABLE entry_record; -- \\'; SELECT 1; \""

    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            return await send(connection, connection.format("SELECT %s", [hostile]))
        finally:
            connection.close()

    assert run(scenario) == [("rows", ((hostile,),))]
    assert mysql.table_exists("entry_record")


def test_statements_of_one_send_answer_in_order_and_stop_at_an_error(mysql):
    """One round trip: the server runs them in order and stops at the first that fails, whose
    error takes its place; the connection goes on."""
    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            first = await send(
                connection, "CREATE TEMPORARY TABLE loop_t (id INT PRIMARY KEY, name VARCHAR(10))",
                "INSERT INTO loop_t VALUES (1, 'a'), (2, 'b')",
                "UPDATE loop_t SET name = 'c' WHERE id = 2",
                "SELECT id, name FROM loop_t ORDER BY id",
                "INSERT INTO loop_t VALUES (1, 'again')",  # a duplicate key
                "INSERT INTO loop_t VALUES (3, 'never')")
            broken = connection.broken
            return first, broken, await send(connection, "SELECT COUNT(*) FROM loop_t")
        finally:
            connection.close()

    replies, broken, (count,) = run(scenario)
    created, inserted, updated, rows, duplicate = replies  # the last INSERT never ran
    assert created == ("ok", 0) and inserted == ("ok", 2) and updated == ("ok", 1)
    assert rows == ("rows", ((1, "a"), (2, "c")))
    error = mysql_loop.as_peewee(duplicate)
    assert isinstance(error, peewee.IntegrityError) and error.args[0] == 1062
    assert not broken and count == ("rows", ((2,),))


def test_bad_sql_and_bad_parameters_raise_as_peewee_would(mysql):
    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            (syntax,) = await send(connection, "SELEC 1")
            with pytest.raises(peewee.ProgrammingError):
                connection.format("SELECT %s", [1, 2])
            return syntax, connection.usable()
        finally:
            connection.close()

    syntax, usable = run(scenario)
    assert isinstance(mysql_loop.as_peewee(syntax), peewee.ProgrammingError) and usable


def test_a_statement_past_the_deadline_fails_breaks_its_connection_and_the_pool_opens_another(mysql, monkeypatch):
    monkeypatch.setattr(mysql_loop, "DEADLINE_SECONDS", 0.3)

    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        started = time.monotonic()
        with pytest.raises(peewee.OperationalError, match="did not answer"):
            await pool_send(pool, lambda connection: ["SELECT SLEEP(5)"])
        took = time.monotonic() - started
        opened_after_failure = pool.open
        return took, opened_after_failure, await pool_send(pool, lambda connection: ["SELECT 1"]), pool.open

    took, opened_after_failure, replies, opened = run(scenario)
    assert took < 1.0 and opened_after_failure == 0
    assert replies == [("rows", ((1,),))] and opened == 1


def test_a_pool_never_opens_more_than_its_size_and_callers_take_turns(mysql):
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 2)
        busy, most = 0, 0

        async def one(n):
            nonlocal busy, most
            connection = await pool.acquire()
            busy += 1
            most = max(most, busy)
            try:
                return await send(connection, f"SELECT {n}, SLEEP(0.02)")
            finally:
                busy -= 1
                pool.release(connection)

        replies = await asyncio.gather(*(one(n) for n in range(7)))
        return [reply[0][1][0][0] for reply in replies], most, pool.open

    answers, most, opened = run(scenario)
    assert answers == list(range(7)) and most == 2 and opened == 2


def test_a_caller_that_goes_away_while_waiting_leaves_the_connection_to_the_next(mysql):
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        held = await pool.acquire()
        gone = asyncio.ensure_future(pool.acquire())
        kept = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0)
        gone.cancel()
        pool.release(held)
        connection = await asyncio.wait_for(kept, 5)
        try:
            return connection is held, await send(connection, "SELECT 1"), pool.open
        finally:
            pool.release(connection)

    assert run(scenario) == (True, [("rows", ((1,),))], 1)


def test_a_connection_that_died_while_idle_is_replaced_and_the_statements_sent_again(mysql):
    """The server ended an idle connection (KILL, restart, wait_timeout) and the loop has not
    read that yet when the next statements go: they fail on it, and the pool sends them once
    more on a new connection."""
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        first = await pool_send(pool, lambda connection: ["SELECT CONNECTION_ID()"])
        (dead,) = pool._idle
        mysql.execute_sql(f"KILL {dead.raw.thread_id()}")
        await asyncio.sleep(0.1)
        second = await pool_send(pool, lambda connection: ["SELECT CONNECTION_ID()"])
        return first, second, dead.broken, pool.open

    (first,), (second,), broken, opened = run(scenario)
    assert first[0] == second[0] == "rows" and first[1] != second[1]
    assert broken and opened == 1


def test_the_connections_of_a_closed_loop_are_closed_when_the_next_loop_makes_its_pools(mysql, backend):
    async def open_one():
        replies = await pool_send(mysql_loop.pool(mysql, "test", 1), lambda connection: ["SELECT CONNECTION_ID()"])
        return str(replies[0][1][0][0])

    first = run(open_one)  # its loop is closed now, with the connection open
    second = run(open_one)
    name = backend[1].rsplit("/", 1)[1]
    for _ in range(50):
        alive = {str(row[0]) for row in mysql.execute_sql(
            "SELECT id FROM information_schema.processlist WHERE db = %s", (name,)).fetchall()}
        if first not in alive:
            break
        time.sleep(0.02)
    assert first not in alive and first != second


def test_when_the_server_cannot_be_reached_every_caller_hears_so(mysql):
    """Opening fails (server down): the callers waiting their turn each try and fail too, none
    is left waiting, and each hears as peewee's OperationalError (a 503 to the client)."""
    unreachable = database.open_database("mysql://root@127.0.0.1:1/nowhere")

    async def scenario():
        pool = mysql_loop.pool(unreachable, "test", 1)
        calls = [pool_send(pool, lambda connection: ["SELECT 1"]) for _ in range(3)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30), pool.open

    errors, opened = run(scenario)
    assert len(errors) == 3 and all(isinstance(mysql_loop.as_peewee(e), peewee.OperationalError) for e in errors) and opened == 0
