"""MySQL statements run on the event loop itself: no thread, no GIL hand-over per round trip.

The scan's hot path sends two kinds of statement to MySQL: its batched read (one text result)
and its batched entry INSERTs (OK replies). Run on threads, each round trip ended with the
thread waiting for the GIL that the busy loop held: the statements took 4-6 ms under load for
1-2 ms of server time. Here the loop writes the statement to the socket and reads the reply
when the socket is readable, between its other callbacks.

A `LoopConnection` is a PyMySQL connection (made with the database's own settings, so the
session is the same: utf8mb4, UTC, FOUND_ROWS) whose socket is then handed to an asyncio
protocol that speaks the text protocol: COM_QUERY, and the OK, error, and text result set
replies. Queries may be pipelined: the server answers them in order. Only what the hot path
needs is spoken; everything else goes through peewee as before.

Errors come as PyMySQL's exceptions (IntegrityError for a duplicate key ...), a lost
connection as OperationalError; a connection that failed, timed out or was lost is not
reused (`LoopConnection.broken`).
"""

from __future__ import annotations

import asyncio
import collections
import weakref

import peewee
import pymysql
from pymysql import err as mysql_errors

from models.sql_literals import SqlLiterals

COM_QUERY = b"\x03"
MAX_PAYLOAD = 0xFFFFFF
QUERY_TIMEOUT_SECONDS = 10.0


class _Reply:
    """One statement's reply as it is read: ("ok", affected rows) or ("rows", [[text or None]])."""

    __slots__ = ("future", "columns", "rows", "stage")

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future
        self.columns = 0
        self.rows: list = []
        self.stage = 0  # 0: first packet; 1: column definitions; 2: rows


class _Protocol(asyncio.Protocol):
    """The text protocol's replies, matched in order to the statements sent."""

    def __init__(self) -> None:
        self.transport = None
        self.buffer = bytearray()
        self.payload = bytearray()  # a payload of MAX_PAYLOAD or more arrives in several packets
        self.replies: collections.deque[_Reply] = collections.deque()
        self.lost: Exception | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.lost = mysql_errors.OperationalError(2013, "Lost connection to MySQL server during query")
        while self.replies:
            reply = self.replies.popleft()
            if not reply.future.done():
                reply.future.set_exception(self.lost)

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
        reply = self.replies[0]
        head = packet[0]
        if head == 0xFF:  # an error, at any stage
            self._done(reply, error=_error(packet))
        elif reply.stage == 0:
            if head == 0x00:
                affected, _ = _lenenc_int(packet, 1)
                self._done(reply, ("ok", affected))
            else:
                reply.columns, _ = _lenenc_int(packet, 0)
                reply.stage = 1
        elif head == 0xFE and len(packet) < 9:  # EOF: after the column definitions, after the rows
            if reply.stage == 1:
                reply.stage = 2
            else:
                self._done(reply, ("rows", reply.rows))
        elif reply.stage == 2:
            reply.rows.append(_row(packet, reply.columns))

    def _done(self, reply: _Reply, result=None, error: Exception | None = None) -> None:
        self.replies.popleft()
        if reply.future.done():  # its caller gave up (timeout): the connection is broken anyway
            return
        if error is not None:
            reply.future.set_exception(error)
        else:
            reply.future.set_result(result)


def is_lost(exc: BaseException) -> bool:
    """True for a connection the server ended or that died (PyMySQL's 2006 and 2013): a statement
    sent on it was not run, unless it was already answered."""
    return isinstance(exc, mysql_errors.OperationalError) and exc.args[:1] in ((2006,), (2013,))


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

    def format(self, sql: str, params) -> str:
        """`sql` with `params` in its %s places, as PyMySQL's cursor would send it."""
        try:
            return sql % tuple(map(self.literals.literal, params))
        except TypeError as exc:
            raise mysql_errors.ProgrammingError(str(exc)) from None

    async def run(self, *statements: str) -> list:
        """Send the statements at once (pipelined) and await every reply, in order: each a result
        ("ok", affected rows) / ("rows", rows as lists of text or None) or the error it raised.
        A lost connection (OperationalError) or a timeout (TimeoutError) raises, and breaks the
        connection."""
        protocol = self.protocol
        if protocol.lost is not None or self.broken:
            raise mysql_errors.OperationalError(2006, "MySQL server has gone away")
        loop = asyncio.get_running_loop()
        replies = [_Reply(loop.create_future()) for _ in statements]
        protocol.replies.extend(replies)
        protocol.transport.write(b"".join(_frame(sql) for sql in statements))
        try:
            async with asyncio.timeout(QUERY_TIMEOUT_SECONDS):
                answers = await asyncio.gather(*(reply.future for reply in replies), return_exceptions=True)
        except BaseException:
            self.close()
            raise
        if protocol.lost is not None:  # whatever was answered before, the session is gone
            self.broken = True
            raise protocol.lost
        return answers

    def close(self) -> None:
        """Drop the connection (the server ends its session)."""
        self.broken = True
        if self.protocol.transport is not None:
            self.protocol.transport.close()


class LoopPool:
    """Up to `size` LoopConnections to one database on one event loop, each running one caller's
    statements at a time; callers beyond that wait their turn."""

    def __init__(self, database: peewee.MySQLDatabase, size: int) -> None:
        self.database = database
        self.size = size
        self.open = 0
        self._idle: list[LoopConnection] = []
        self._waiting: collections.deque[asyncio.Future] = collections.deque()

    async def run(self, statements, then=None):
        """`LoopConnection.run` of `statements(connection)` (a list of SQL texts, written with the
        connection's literals) on a connection of the pool's; a connection found dead (the server
        ended it while it was idle) is replaced and the statements sent again, once. `then`:
        awaited as `then(connection, replies)` on the same connection before it is given back
        (what it sends is not sent again); its result is returned, else the replies."""
        for attempt in (1, 2):
            connection = await self.acquire()
            try:
                replies = await connection.run(*statements(connection))
            except mysql_errors.OperationalError as exc:
                self.release(connection)
                if attempt == 2 or not is_lost(exc):
                    raise
                continue
            except BaseException:
                self.release(connection)
                raise
            try:
                return replies if then is None else await then(connection, replies)
            finally:
                self.release(connection)

    async def acquire(self) -> LoopConnection:
        """An idle connection, a new one while fewer than `size` are open, else the next one freed."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.broken and connection.protocol.lost is None:
                return connection
            self.open -= 1
        if self.open < self.size:
            self.open += 1
            try:
                return await LoopConnection.open(self.database)
            except BaseException:
                self.open -= 1
                raise
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            connection = await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.result() is not None:
                self.release(turn.result())  # handed over just as its caller went away
            raise
        return connection if connection is not None else await self.acquire()

    def release(self, connection: LoopConnection) -> None:
        """Give the connection back: to the first caller still waiting, else to the idle ones. A
        broken one is dropped, and the caller it would have gone to opens another."""
        if connection.broken:
            connection.close()
            self.open -= 1
            connection = None
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(connection)
                return
        if connection is not None:
            self._idle.append(connection)

    def close(self) -> None:
        """Close the idle connections (the busy ones are dropped when given back)."""
        for connection in self._idle:
            connection.close()
        self.open -= len(self._idle)
        self._idle.clear()


_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {(database, use): LoopPool}


def pool(database: peewee.MySQLDatabase, use: str, size: int) -> LoopPool:
    """The running loop's pool of `size` connections to `database` for `use` ("read", "write")."""
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    found = pools.get((database, use))
    if found is None:
        found = pools[(database, use)] = LoopPool(database, size)
    return found
