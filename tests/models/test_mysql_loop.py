"""MySQL statements on the event loop (models/mysql_loop.py), against the real MariaDB: replies
in order, values as the server sent them, errors as PyMySQL's, broken connections replaced."""

import asyncio
import socket
import time

import pymysql
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


async def acquire(pool: mysql_loop.LoopPool) -> mysql_loop.LoopConnection:
    """`LoopPool.lend`, awaited; a caller that went away meanwhile gives the connection back,
    as the pool's callers must."""
    future = asyncio.get_running_loop().create_future()

    def use(connection, error):
        if future.cancelled():
            if connection is not None:
                pool.release(connection)
            return
        _resolve(future, connection, error)

    pool.lend(use)
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


def test_a_result_set_comes_back_as_the_servers_text(mysql):
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
    assert reply == ("rows", [["a'\\\"😀 中文", None, "42", long_text], ["b", "x", "-1", ""]])


def test_pipelined_statements_answer_in_order_and_an_error_takes_its_place(mysql):
    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            first = await send(
                connection, "CREATE TEMPORARY TABLE loop_t (id INT PRIMARY KEY, name VARCHAR(10))",
                "INSERT INTO loop_t VALUES (1, 'a'), (2, 'b')",
                "INSERT INTO loop_t VALUES (1, 'again')",  # a duplicate key
                "UPDATE loop_t SET name = 'c' WHERE id = 2",
                "SELECT id, name FROM loop_t ORDER BY id")
            broken = connection.broken
            return first, broken, await send(connection, "SELECT COUNT(*) FROM loop_t")
        finally:
            connection.close()

    (created, inserted, duplicate, updated, rows), broken, (count,) = run(scenario)
    assert created == ("ok", 0) and inserted == ("ok", 2) and updated == ("ok", 1)
    assert isinstance(duplicate, pymysql.err.IntegrityError) and duplicate.args[0] == 1062
    assert rows == ("rows", [["1", "a"], ["2", "c"]])
    assert not broken and count == ("rows", [["2"]])  # the connection goes on after an error


def test_bad_sql_and_bad_parameters_raise_as_pymysql_would(mysql):
    async def scenario():
        connection = await mysql_loop.LoopConnection.open(mysql)
        try:
            (syntax,) = await send(connection, "SELEC 1")
            with pytest.raises(pymysql.err.ProgrammingError):
                connection.format("SELECT %s", [1, 2])
            return syntax
        finally:
            connection.close()

    assert isinstance(run(scenario), pymysql.err.ProgrammingError)


def test_a_statement_that_times_out_breaks_its_connection_and_the_pool_opens_another(mysql, monkeypatch):
    monkeypatch.setattr(mysql_loop, "QUERY_TIMEOUT_SECONDS", 0.2)

    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        connection = await acquire(pool)
        try:
            with pytest.raises(TimeoutError):
                await send(connection, "SELECT SLEEP(5)")
            assert connection.broken
        finally:
            pool.release(connection)
        again = await acquire(pool)
        try:
            return again is not connection, await send(again, "SELECT 1"), pool.open
        finally:
            pool.release(again)

    assert run(scenario) == (True, [("rows", [["1"]])], 1)


def test_a_pool_never_opens_more_than_its_size_and_callers_take_turns(mysql):
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 2)
        busy, most = 0, 0

        async def one(n):
            nonlocal busy, most
            connection = await acquire(pool)
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
    assert answers == [str(n) for n in range(7)] and most == 2 and opened == 2


def test_a_caller_that_goes_away_while_waiting_leaves_the_connection_to_the_next(mysql):
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        held = await acquire(pool)
        gone = asyncio.ensure_future(acquire(pool))
        kept = asyncio.ensure_future(acquire(pool))
        await asyncio.sleep(0)
        gone.cancel()
        pool.release(held)
        connection = await kept
        try:
            return connection is held, await send(connection, "SELECT 1"), pool.open
        finally:
            pool.release(connection)

    assert run(scenario) == (True, [("rows", [["1"]])], 1)


def test_a_statement_over_sixteen_megabytes_is_sent_in_several_packets():
    sql = "SELECT '" + "x" * (mysql_loop.MAX_PAYLOAD + 10) + "'"
    framed = mysql_loop._frame(sql)
    payload = mysql_loop.COM_QUERY + sql.encode()
    first = framed[:4 + mysql_loop.MAX_PAYLOAD]
    second = framed[4 + mysql_loop.MAX_PAYLOAD:]
    assert first[:4] == b"\xff\xff\xff\x00" and second[:4] == (len(payload) - mysql_loop.MAX_PAYLOAD).to_bytes(3, "little") + b"\x01"
    assert first[4:] + second[4:] == payload


def test_a_reply_is_read_whatever_pieces_it_arrives_in():
    """The protocol parses packets split anywhere, and one of exactly 16 MB - 1 joined to the next."""
    protocol, told = mysql_loop._Protocol(), []
    protocol.replies.append(mysql_loop._Reading(mysql_loop._Request(1, lambda *answer: told.append(answer))))
    big = "y" * (mysql_loop.MAX_PAYLOAD - 4)  # with its 4-byte length, one full packet
    row = b"\xfd" + len(big).to_bytes(3, "little") + big.encode()
    packets = [b"\x01", b"\x03def" + b"\x00" * 20, b"\xfe\x00\x00\x02\x00", row, b"\x02ok",
               b"\xfe\x00\x00\x02\x00"]
    stream, seq = b"", 1
    for packet in packets:
        for start in range(0, len(packet) + 1, mysql_loop.MAX_PAYLOAD):
            part = packet[start:start + mysql_loop.MAX_PAYLOAD]
            stream += len(part).to_bytes(3, "little") + bytes((seq % 256,)) + part
            seq += 1
            if len(part) < mysql_loop.MAX_PAYLOAD:
                break
    for start in range(0, len(stream), 65536 + 3):
        protocol.data_received(stream[start:start + 65536 + 3])
    assert told == [([("rows", [[big], ["ok"]])], None)]
    assert not protocol.replies and not protocol.buffer


def test_a_connection_that_died_while_idle_is_replaced_and_the_statements_sent_again(mysql):
    """The server's end of an idle connection has not been read yet when the next statements
    go: they fail on it, and the pool sends them once more on a new connection."""
    async def scenario():
        pool = mysql_loop.pool(mysql, "test", 1)
        first = await pool_send(pool, lambda connection: ["SELECT CONNECTION_ID()"])
        (dead,) = pool._idle
        dead.raw._sock.shutdown(socket.SHUT_RDWR)  # dead, and nothing read has told the loop so
        second = await pool_send(pool, lambda connection: ["SELECT CONNECTION_ID()"])
        return first, second, dead.broken, pool.open

    (first,), (second,), broken, opened = run(scenario)
    assert first[0] == second[0] == "rows" and first[1] != second[1]
    assert broken and opened == 1


def test_the_connections_of_a_closed_loop_are_closed_when_the_next_loop_makes_its_pools(mysql, backend):
    async def open_one():
        replies = await pool_send(mysql_loop.pool(mysql, "test", 1), lambda connection: ["SELECT CONNECTION_ID()"])
        return replies[0][1][0][0]

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
    is left waiting."""
    unreachable = database.open_database("mysql://root@127.0.0.1:1/nowhere")

    async def scenario():
        pool = mysql_loop.pool(unreachable, "test", 1)
        calls = [pool_send(pool, lambda connection: ["SELECT 1"]) for _ in range(3)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30), pool.open

    errors, opened = run(scenario)
    assert len(errors) == 3 and all(isinstance(e, pymysql.err.OperationalError) for e in errors) and opened == 0
