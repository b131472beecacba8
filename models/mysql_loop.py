"""MySQL statements run on the event loop itself: no thread, no GIL hand-over per round trip.

The scan's hot path sends two kinds of statement to MySQL: its batched read (one text result)
and its batched entry INSERTs (OK replies). Run on threads, each round trip ended with the
thread waiting for the GIL that the busy loop held: the statements took 4-6 ms under load for
1-2 ms of server time. Here the loop writes the statement to the socket and reads the reply
when the socket is readable, between its other callbacks.

A `LoopConnection` is a PyMySQL connection (made with the database's own settings, so the
session is the same: utf8mb4, UTC, FOUND_ROWS) whose socket is then handed to an asyncio
protocol that speaks the text protocol: COM_QUERY, and the OK, error and text result set
replies. Statements may be pipelined: the server answers them in order. Only what the hot path
needs is spoken; everything else goes through peewee as before.

`send` calls its `done` straight from the protocol, in the pass of the loop that read the last
reply: under load a pass serves many requests, and each hop through a future or a task would
wait for the next one.

Errors come as PyMySQL's exceptions (IntegrityError for a duplicate key ...), a lost
connection as OperationalError, a statement unanswered after QUERY_TIMEOUT_SECONDS as
TimeoutError; a connection that was lost or timed out is not reused (`LoopConnection.broken`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Callable

import peewee
import pymysql
from pymysql import err as mysql_errors

from models.sql_literals import SqlLiterals

log = logging.getLogger("healthcode.mysql_loop")

COM_QUERY = b"\x03"
MAX_PAYLOAD = 0xFFFFFF
QUERY_TIMEOUT_SECONDS = 10.0

# done(replies, error): replies in order, each ("ok", affected rows), ("rows", [[text or None]])
# or the exception that statement raised; or (None, error) when the connection failed.
Done = Callable[[list | None, BaseException | None], None]


class _Request:
    """Statements sent together, and whom to tell when their last reply is in."""

    __slots__ = ("replies", "waiting", "done", "timer")

    def __init__(self, count: int, done: Done) -> None:
        self.replies: list = []
        self.waiting = count
        self.done: Done | None = done  # None once told
        self.timer = None

    def finish(self, replies: list | None, error: BaseException | None) -> None:
        done, self.done = self.done, None
        if done is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        try:
            done(replies, error)
        except Exception:  # a caller's bug must not take the connection down with it
            log.exception("MySQL reply handler failed")


class _Reading:
    """The reply being read: its request, and how far into a result set."""

    __slots__ = ("request", "columns", "rows", "stage")

    def __init__(self, request: _Request) -> None:
        self.request = request
        self.columns = 0
        self.rows: list = []
        self.stage = 0  # 0: first packet; 1: column definitions; 2: rows


class _Protocol(asyncio.Protocol):
    """The text protocol's replies, matched in order to the statements sent."""

    def __init__(self) -> None:
        self.transport = None
        self.buffer = bytearray()
        self.payload = bytearray()  # a payload of MAX_PAYLOAD or more arrives in several packets
        self.replies: collections.deque[_Reading] = collections.deque()
        self.lost: Exception | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.lost = mysql_errors.OperationalError(2013, "Lost connection to MySQL server during query")
        while self.replies:
            self.replies.popleft().request.finish(None, self.lost)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start, end = 0, len(buffer)
        while end - start >= 4:
            length = buffer[start] | buffer[start + 1] << 8 | buffer[start + 2] << 16
            if end - start - 4 < length:
                break
            packet = bytes(buffer[start + 4:start + 4 + length])
            start += 4 + length
            if length == MAX_PAYLOAD or self.payload:
                self.payload += packet
                if length == MAX_PAYLOAD:
                    continue
                packet, self.payload = bytes(self.payload), bytearray()
            self._packet(packet)
        del buffer[:start]

    def _packet(self, packet: bytes) -> None:
        if not self.replies:  # nothing was asked: the server is closing the connection
            return
        reading = self.replies[0]
        head = packet[0]
        if head == 0xFF:  # an error, at any stage
            self._answered(_error(packet))
        elif reading.stage == 0:
            if head == 0x00:
                self._answered(("ok", _lenenc_int(packet, 1)[0]))
            else:
                reading.columns = _lenenc_int(packet, 0)[0]
                reading.stage = 1
        elif head == 0xFE and len(packet) < 9:  # EOF: after the column definitions, after the rows
            if reading.stage == 1:
                reading.stage = 2
            else:
                self._answered(("rows", reading.rows))
        elif reading.stage == 2:
            reading.rows.append(_row(packet, reading.columns))

    def _answered(self, reply) -> None:
        request = self.replies.popleft().request
        request.replies.append(reply)
        request.waiting -= 1
        if not request.waiting:
            request.finish(request.replies, None)


def is_lost(exc: BaseException | None) -> bool:
    """True for a connection the server ended or that died (PyMySQL's 2006 and 2013)."""
    return isinstance(exc, mysql_errors.OperationalError) and exc.args[:1] in ((2006,), (2013,))


def as_peewee(exc: BaseException) -> BaseException:
    """A driver's error as peewee's (IntegrityError ...), as peewee's execute_sql raises it."""
    try:
        with peewee.__exception_wrapper__:
            raise exc
    except BaseException as wrapped:
        return wrapped


def _lenenc_int(packet: bytes, at: int) -> tuple[int, int]:
    first = packet[at]
    if first < 0xFB:
        return first, at + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(packet[at + 1:at + 1 + size], "little"), at + 1 + size


def _row(packet: bytes, columns: int) -> list:
    values, at = [], 0
    for _ in range(columns):
        if packet[at] == 0xFB:
            values.append(None)
            at += 1
            continue
        length, at = _lenenc_int(packet, at)
        values.append(packet[at:at + length].decode("utf-8"))
        at += length
    return values


def _error(packet: bytes) -> Exception:
    try:
        mysql_errors.raise_mysql_exception(packet)
    except mysql_errors.MySQLError as exc:
        return exc
    return mysql_errors.InternalError(0, "malformed error packet")


def _frame(sql: str) -> bytes:
    payload = COM_QUERY + sql.encode("utf-8")
    frames, seq = [], 0
    for start in range(0, len(payload) + 1, MAX_PAYLOAD):
        part = payload[start:start + MAX_PAYLOAD]
        frames.append(len(part).to_bytes(3, "little") + bytes((seq & 0xFF,)) + part)
        seq += 1
        if len(part) < MAX_PAYLOAD:
            break
    return b"".join(frames)


class LoopConnection:
    """One MySQL connection driven by the event loop (see the module docstring)."""

    def __init__(self, raw: pymysql.connections.Connection, protocol: _Protocol) -> None:
        self.raw = raw  # kept for its settings (literals); its socket belongs to the protocol now
        self.protocol = protocol
        self.literals = SqlLiterals.for_connection(raw)
        self.broken = False

    @classmethod
    async def open(cls, database: peewee.MySQLDatabase) -> LoopConnection:
        """Connect with `database`'s settings (off the loop: the handshake blocks), then hand the
        socket to the loop."""
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(None, peewee.MySQLDatabase._connect, database)
        sock = raw._sock
        sock.setblocking(False)
        _, protocol = await loop.create_connection(_Protocol, sock=sock)
        return cls(raw, protocol)

    def usable(self) -> bool:
        """Neither broken nor ended by the server (as far as the loop has read)."""
        return not self.broken and self.protocol.lost is None

    def format(self, sql: str, params) -> str:
        """`sql` with `params` in its %s places, as PyMySQL's cursor would send it."""
        try:
            return sql % tuple(map(self.literals.literal, params))
        except TypeError as exc:
            raise mysql_errors.ProgrammingError(str(exc)) from None

    def send(self, statements: list[str], done: Done) -> None:
        """Write the statements at once (pipelined); `done` is called on the loop when the last
        reply is read (see `Done`). A lost connection or a timeout breaks the connection."""
        request = _Request(len(statements), done)
        if not self.usable():
            self.broken = True
            request.finish(None, self.protocol.lost or mysql_errors.OperationalError(2006, "MySQL server has gone away"))
            return
        protocol = self.protocol
        protocol.replies.extend(_Reading(request) for _ in statements)
        request.timer = asyncio.get_running_loop().call_later(QUERY_TIMEOUT_SECONDS, self._timed_out, request)
        protocol.transport.write(b"".join(_frame(sql) for sql in statements))

    def _timed_out(self, request: _Request) -> None:
        request.timer = None
        self.close()
        request.finish(None, TimeoutError(f"MySQL did not answer within {QUERY_TIMEOUT_SECONDS} s"))

    def close(self) -> None:
        """Drop the connection (the server ends its session)."""
        self.broken = True
        if self.protocol.transport is not None:
            self.protocol.transport.close()


class LoopPool:
    """Up to `size` LoopConnections to one database on one event loop, each lent to one caller
    at a time; callers beyond that wait their turn."""

    def __init__(self, database: peewee.MySQLDatabase, size: int) -> None:
        self.database = database
        self.size = size
        self.open = 0
        self._opened: set[LoopConnection] = set()  # idle or lent
        self._idle: list[LoopConnection] = []
        self._waiting: collections.deque[Callable] = collections.deque()

    def lend(self, use: Callable[[LoopConnection | None, BaseException | None], None]) -> None:
        """Call `use(connection, None)` as soon as a connection is free: now, when one is given
        back, or once a new one is open (`use(None, error)` if that fails). The caller gives it
        back with `release`."""
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                use(connection, None)
                return
            self._drop(connection)
        if self.open < self.size:
            self.open += 1
            asyncio.get_running_loop().create_task(self._open_for(use))
        else:
            self._waiting.append(use)

    async def _open_for(self, use) -> None:
        try:
            connection = await LoopConnection.open(self.database)
        except Exception as exc:
            self.open -= 1
            use(None, exc)
            if self._waiting:  # the next caller tries again, and hears of its own failure
                self.lend(self._waiting.popleft())
            return
        self._opened.add(connection)
        use(connection, None)

    def release(self, connection: LoopConnection) -> None:
        """Give the connection back: to the first caller waiting, else to the idle ones. A broken
        one is dropped, and the caller it would have gone to has another opened."""
        if not connection.usable():
            self._drop(connection)
            if self._waiting:
                self.lend(self._waiting.popleft())
            return
        if self._waiting:
            self._waiting.popleft()(connection, None)
        else:
            self._idle.append(connection)

    def _drop(self, connection: LoopConnection) -> None:
        connection.close()
        self._opened.discard(connection)
        self.open -= 1

    def abandon(self) -> None:
        """Its loop is closed: close the sockets of its connections, which the loop no longer can."""
        for connection in self._opened:
            connection.broken = True
            connection.raw._sock.close()
        self._opened.clear()
        self._idle.clear()

    def send(self, statements: Callable[[LoopConnection], list[str]],
             done: Callable[[LoopConnection | None, list | None, BaseException | None], None]) -> None:
        """`statements(connection)` sent on a connection of the pool's, and `done(connection,
        replies, error)` called when they are answered; `done` gives the connection back
        (`release`) or goes on with it. A connection found dead (the server ended it while it
        was idle, and the loop had not read that yet) is replaced and the statements sent again,
        once: nothing they did was committed."""
        def on_connection(connection, error, attempt=1):
            if error is not None:
                done(None, None, error)
                return
            try:
                texts = statements(connection)
            except Exception as exc:
                done(connection, None, exc)
                return

            def answered(replies, error):
                if attempt == 1 and is_lost(error):
                    self.release(connection)
                    self.lend(lambda again, error: on_connection(again, error, 2))
                    return
                done(connection, replies, error)

            connection.send(texts, answered)

        self.lend(on_connection)


_pools: dict = {}  # event loop -> {(database, use): LoopPool}


def pool(database: peewee.MySQLDatabase, use: str, size: int) -> LoopPool:
    """The running loop's pool of `size` connections to `database` for `use` ("read", "write")."""
    loop = asyncio.get_running_loop()
    pools = _pools.get(loop)
    if pools is None:
        _close_pools_of_closed_loops()
        pools = _pools[loop] = {}
    found = pools.get((database, use))
    if found is None:
        found = pools[(database, use)] = LoopPool(database, size)
    return found


def _close_pools_of_closed_loops() -> None:
    """A closed loop (each `asyncio.run`, a test server's thread) leaves its connections open:
    their transports hold the loop, which can no longer close them. Their sockets are closed
    here, so that the server ends those sessions."""
    for loop in [loop for loop in _pools if loop.is_closed()]:
        for found in _pools.pop(loop).values():
            found.abandon()
