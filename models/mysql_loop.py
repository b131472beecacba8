"""MySQL statements run on the event loop itself, through asyncmy: no thread, no GIL hand-over
per round trip, and a deadline on every call.

The scan's hot path sends two kinds of statement to MySQL: its batched read (one result set)
and its group commit (BEGIN, the INSERTs and COMMIT). Run on threads, each round trip ended with
the thread waiting for the GIL that the busy loop held. Here the loop's own connections (asyncmy,
a maintained asyncio driver) carry them, and the loop serves other requests meanwhile.

A `LoopConnection` is made with the database's own settings (`_connect_arguments`: the same
session as peewee's PyMySQL connections, utf8mb4, UTC, FOUND_ROWS, and the same TLS context), in
autocommit mode, with multi-statements on: the statements of one `send` go as one text, one
round trip, and the server stops at the first that fails. Their texts are built by this project
only (`Prepared`'s SQL, `insert_statements`): a client's values enter them only as escaped
literals (models/sql_literals.py), so a `;` in a value stays inside its string.

Deadlines: opening a connection, waiting for one of the pool's and the statements' replies all
count against DEADLINE_SECONDS from the moment a caller sends. A database that freezes or cannot
be reached turns into peewee's OperationalError (503 `service_unavailable`) within it; the
connection that timed out is closed (the server rolls back whatever it had begun) and the next
caller opens a new one, so the pool recovers by itself when the database comes back.

Errors come as peewee's (IntegrityError for a duplicate key ...) through `as_peewee`; a
statement's own error stays in its place among the replies, a lost connection or a deadline fails
the whole send and the connection is not reused (`LoopConnection.broken`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from socket import SHUT_RDWR
from typing import Callable

import asyncmy
import asyncmy.errors
import peewee
from asyncmy.constants import CLIENT

from models.sql_literals import SqlLiterals

log = logging.getLogger("healthcode.mysql_loop")

# A scan's read, and its group commit, each answer within this or fail: a frozen database gives
# the scan its 503 well inside the 2 s a guard at the gate can wait.
DEADLINE_SECONDS = 1.0
# MySQL's own error numbers stop below this; 2000 and up are the client's (lost connection ...).
_CLIENT_ERRORS = 2000
# The settings of peewee's PyMySQL connections that the loop's connections take over.
_SHARED_SETTINGS = ("host", "port", "user", "password", "charset", "init_command", "client_flag", "ssl")

# done(replies, error): replies in order, each ("ok", affected rows), ("rows", [row tuples]) or
# the exception that statement raised; or (None, error) when the connection failed.
Done = Callable[[list | None, BaseException | None], None]


def _connect_arguments(database: peewee.MySQLDatabase) -> dict:
    """asyncmy's arguments for a connection like `database`'s (peewee's public connect_params)."""
    params = database.connect_params
    arguments = {key: params[key] for key in _SHARED_SETTINGS if params.get(key) is not None}
    arguments["client_flag"] = arguments.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS
    arguments.update(database=database.database, autocommit=True,
                     connect_timeout=max(1, round(DEADLINE_SECONDS)))
    return arguments


def _deadline_error(what: str) -> peewee.OperationalError:
    return peewee.OperationalError(2013, f"MySQL did not answer within {DEADLINE_SECONDS} s ({what})")


def is_lost(exc: BaseException | None) -> bool:
    """True for a connection the server ended or that died (the client's 2006 and 2013)."""
    return isinstance(exc, (asyncmy.errors.OperationalError, peewee.OperationalError)) \
        and exc.args[:1] in ((2006,), (2013,))


def as_peewee(exc: BaseException) -> BaseException:
    """A driver's error as peewee's class of the same name (IntegrityError ...), as peewee's
    execute_sql raises it; a timeout as OperationalError; anything else as it is."""
    if isinstance(exc, peewee.PeeweeException):
        return exc
    if isinstance(exc, TimeoutError):
        return _deadline_error("timeout")
    kind = getattr(peewee, type(exc).__name__, None)
    if isinstance(kind, type) and issubclass(kind, peewee.PeeweeException):
        wrapped = kind(*exc.args)
        wrapped.__cause__ = exc
        return wrapped
    return exc


@contextlib.contextmanager
def driver_errors():
    """Inside, a driver's error is raised as peewee's (`as_peewee`), as peewee's execute_sql would."""
    try:
        yield
    except Exception as exc:
        wrapped = as_peewee(exc)
        if wrapped is exc:
            raise
        raise wrapped from exc


def _statement_error(exc: BaseException) -> bool:
    """An error of the statement itself (the server's), which leaves the connection usable."""
    return isinstance(exc, asyncmy.errors.MySQLError) and bool(exc.args) \
        and isinstance(exc.args[0], int) and 0 < exc.args[0] < _CLIENT_ERRORS


def _tell(done, *answer) -> None:
    try:
        done(*answer)
    except Exception:  # a caller's bug must not take the connection or the pool down with it
        log.exception("MySQL reply handler failed")


class LoopConnection:
    """One asyncmy connection driven by the event loop (see the module docstring)."""

    def __init__(self, raw: asyncmy.Connection) -> None:
        self.raw = raw
        self.literals = SqlLiterals.for_connection(raw)
        self.broken = False

    @classmethod
    async def open(cls, database: peewee.MySQLDatabase) -> LoopConnection:
        """Connect with `database`'s settings, within DEADLINE_SECONDS."""
        raw = asyncmy.Connection(**_connect_arguments(database))
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                await raw.connect()
        except TimeoutError:
            raw.close()
            raise _deadline_error("connect") from None
        return cls(raw)

    def usable(self) -> bool:
        """Neither broken nor closed (as far as the loop knows)."""
        return not self.broken and self.raw.connected

    def format(self, sql: str, params) -> str:
        """`sql` with `params` in its %s places, as PyMySQL's cursor would send it."""
        try:
            return sql % tuple(map(self.literals.literal, params))
        except TypeError as exc:
            raise peewee.ProgrammingError(str(exc)) from None

    async def run(self, statements: list[str]) -> list:
        """The statements in one round trip; the replies (see `Done`). The connection's own
        failure (lost, or no answer within DEADLINE_SECONDS) is raised and breaks it."""
        if not self.usable():
            self.broken = True
            raise peewee.OperationalError(2006, "MySQL server has gone away")
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):  # no task of its own, as wait_for would make
                return await self._replies(statements)
        except TimeoutError:
            self.close()
            raise _deadline_error("statement") from None
        except BaseException:
            self.close()
            raise

    async def _replies(self, statements: list[str]) -> list:
        cursor = self.raw.cursor()
        replies: list = []
        try:
            await cursor.execute(";".join(statements))
            while True:
                if cursor.description is not None:
                    replies.append(("rows", await cursor.fetchall()))
                else:
                    replies.append(("ok", cursor.rowcount))
                if len(replies) == len(statements) or not await cursor.nextset():
                    break
        except Exception as exc:
            if not _statement_error(exc):
                raise
            replies.append(exc)  # the server ran none of the statements after it
        return replies

    def send(self, statements: list[str], done: Done) -> None:
        """`run`, with `done(replies, error)` called on the loop when it is over."""
        async def sending():
            try:
                replies = await self.run(statements)
            except Exception as exc:
                _tell(done, None, exc)
            else:
                _tell(done, replies, None)
        asyncio.get_running_loop().create_task(sending())

    def close(self) -> None:
        """Drop the connection (the server ends its session and rolls back what it had begun)."""
        self.broken = True
        self.raw.close()


class LoopPool:
    """Up to `size` LoopConnections to one database on one event loop, each lent to one caller
    at a time; callers beyond that wait their turn, within their deadline."""

    def __init__(self, database: peewee.MySQLDatabase, size: int) -> None:
        self.database = database
        self.size = size
        self.open = 0
        self._opened: set[LoopConnection] = set()  # idle or lent
        self._idle: list[LoopConnection] = []
        self._waiting: collections.deque[asyncio.Future] = collections.deque()

    async def acquire(self) -> LoopConnection:
        """A connection of the pool's (an idle one, a new one, or the next given back); the
        caller gives it back with `release`."""
        while True:
            while self._idle:
                connection = self._idle.pop()
                if connection.usable():
                    return connection
                self._drop(connection)
            if self.open < self.size:
                self.open += 1
                try:
                    connection = await LoopConnection.open(self.database)
                except BaseException:
                    self.open -= 1
                    self._wake()  # the next caller tries for itself, and hears of its own failure
                    raise
                self._opened.add(connection)
                return connection
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            except BaseException:
                if turn.done() and not turn.cancelled():
                    self._wake()  # woken, then gone: the turn passes on
                raise

    def stats(self) -> tuple[int, int]:
        """(connections lent out, callers waiting for one), for the metrics (services/operations/metrics.py)."""
        return self.open - len(self._idle), sum(1 for turn in self._waiting if not turn.done())

    def _wake(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    def release(self, connection: LoopConnection) -> None:
        """Give the connection back (a broken one is dropped, its place free for a new one)."""
        if connection.usable():
            self._idle.append(connection)
        else:
            self._drop(connection)
        self._wake()

    def _drop(self, connection: LoopConnection) -> None:
        connection.close()
        if connection in self._opened:
            self._opened.discard(connection)
            self.open -= 1

    def abandon(self) -> None:
        """Its loop is closed: close the sockets of its connections, which the loop no longer can."""
        for connection in self._opened:
            connection.broken = True
            # asyncmy keeps its transport private; a shutdown (not a close: the transport still
            # owns the file descriptor) tells the server the session is over.
            transport = getattr(connection.raw, "_transport", None)
            socket = transport.get_extra_info("socket") if transport is not None else None
            if socket is not None:
                with contextlib.suppress(OSError):
                    socket.shutdown(SHUT_RDWR)
        self._opened.clear()
        self._idle.clear()

    def send(self, statements: Callable[[LoopConnection], list[str]],
             done: Callable[[LoopConnection | None, list | None, BaseException | None], None]) -> None:
        """`statements(connection)` run on a connection of the pool's, and `done(connection,
        replies, error)` called when they are answered; `done` gives the connection back
        (`release`) or goes on with it. Waiting, connecting and the replies all fall within
        DEADLINE_SECONDS. A connection found dead (the server ended it while it was idle) is
        replaced and the statements sent again, once: nothing they did was committed."""
        asyncio.get_running_loop().create_task(self._send(statements, done))

    async def _send(self, statements, done) -> None:
        connection = None
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                for attempt in (1, 2):
                    connection = await self.acquire()
                    texts = statements(connection)
                    try:
                        replies = await connection.run(texts)
                    except Exception as exc:
                        if attempt == 1 and is_lost(exc):
                            self.release(connection)
                            connection = None
                            continue
                        raise
                    break
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                exc = _deadline_error("waiting for a connection" if connection is None else "statement")
            if connection is not None and not connection.usable():
                self.release(connection)
                connection = None
            _tell(done, connection, None, exc)
            return
        _tell(done, connection, replies, None)


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


def pool_stats(loop) -> dict:
    """{use: (lent, waiting)} of `loop`'s pools, summed over their databases (for the metrics)."""
    found: dict = {}
    for (_, use), each in list(_pools.get(loop, {}).items()):
        lent, waiting = each.stats()
        before = found.get(use, (0, 0))
        found[use] = (before[0] + lent, before[1] + waiting)
    return found


def _close_pools_of_closed_loops() -> None:
    """A closed loop (each `asyncio.run`, a test server's thread) leaves its connections open:
    their transports hold the loop, which can no longer close them. Their sockets are closed
    here, so that the server ends those sessions."""
    for loop in [loop for loop in _pools if loop.is_closed()]:
        for found in _pools.pop(loop).values():
            found.abandon()
