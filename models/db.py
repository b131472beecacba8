"""The database behind every model: a peewee DatabaseProxy bound at start-up from DATABASE_URL.

`sqlite:///path` (the embedded default, WAL mode) or `mysql://user:pass@host:port/name`
(production: pooled, utf8mb4, UTC, re-connecting after a dropped connection, every call with a
deadline, and failing at once while the server is known not to answer: `models.db_outage`; TLS
through the URL's `ssl_*` options, see models/mysql_tls.py). Within `reading_from(replica)` a
thread's or task's queries go to a read replica instead (`RoutingProxy`, models/read_replica.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import functools
import json
import os
import threading
import time
from typing import Iterator
from urllib.parse import parse_qs, unquote, urlparse

import peewee
import pymysql
from pymysql.constants import CLIENT
from playhouse.pool import MaxConnectionsExceeded, PooledMySQLDatabase

from models import loop_guard, mysql_loop, mysql_tls
from models.db_outage import Outage, connection_failed, timed_out
from models.query_logs import guard_query_logs
from models.sql_literals import SqlLiterals

# peewee logs every query with its parameters at DEBUG: whatever process imports the data layer
# gets only the SQL, whatever logging it configures.
guard_query_logs()

# A request's heavy reads may go to a read replica (models/read_replica.py): within
# `reading_from(replica)` every query of this thread or task runs there, elsewhere on the primary.
_reads_from: contextvars.ContextVar = contextvars.ContextVar("reads_from", default=None)
_PRIMARY_SLOT = peewee.DatabaseProxy.__dict__["obj"]


class RoutingProxy(peewee.DatabaseProxy):
    """peewee's DatabaseProxy whose database is, for the current context only, another one.

    Model.bind_ctx would rebind the models for every thread at once; a context variable is
    per thread and per asyncio task, so one request's replica reads never move another's."""

    __slots__ = ()

    def _current(self):
        return _reads_from.get() or _PRIMARY_SLOT.__get__(self)

    def _set_primary(self, value) -> None:
        _PRIMARY_SLOT.__set__(self, value)

    obj = property(_current, _set_primary)

    def __setattr__(self, attr, value):
        if attr not in peewee.DatabaseProxy.__slots__:
            raise AttributeError("Cannot set attribute on proxy.")
        object.__setattr__(self, attr, value)

    @property
    def primary(self):
        """The database bound at start-up, whatever the context reads from."""
        return _PRIMARY_SLOT.__get__(self)


@contextlib.contextmanager
def reading_from(database):
    """Within the block, this context's queries run on `database` (None: the primary)."""
    token = _reads_from.set(database)
    try:
        yield
    finally:
        _reads_from.reset(token)


db = RoutingProxy()
SQLITE_BUSY_TIMEOUT_MS = 5000  # how long a SQLite statement waits for another connection's lock


class BaseModel(peewee.Model):
    """Every model of the platform lives in the one proxied database."""

    class Meta:
        database = db
        legacy_table_names = False


@dataclasses.dataclass(frozen=True)
class Deadlines:
    """How long a MySQL connection waits, in seconds: to connect (the TCP connection and the
    server's greeting), for each read of a reply, for each write of a request, for a row lock
    (the server's innodb_lock_wait_timeout, whole seconds, shorter than a read so that the server
    says so first) and for a free connection when the pool is full. The server's come from
    config (DB_*_TIMEOUT_SECONDS, DB_LOCK_WAIT_SECONDS); without them a connection waits as
    long as the driver and the server let it (the commands, the tests)."""

    connect: float = 0.5
    read: float | None = 1.2
    write: float | None = 1.2
    lock_wait: int | None = 1
    pool_wait: float = 1.0


# A command or a test's database: the driver's and the server's own waits.
UNBOUNDED = Deadlines(connect=5, read=None, write=None, lock_wait=None, pool_wait=10)


class ReconnectingPooledMySQL(PooledMySQLDatabase):
    """A MySQL pool whose statements retry once on a new connection when the old one was dropped
    (server restart, wait_timeout, KILL) outside a transaction, so the service survives without a
    restart; and which, once the server stops answering within its deadlines, fails at once until
    it answers again (`models.db_outage`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(self._probe, self.close_idle)
        self.waiting_threads: set[int] = set()  # threads waiting for a connection (the metrics)

    def connect(self, reuse_if_open: bool = False) -> bool:
        if self.is_closed():
            loop_guard.check("CONNECT")  # a pool check-out pings the server
        self.outage.check()
        try:
            return super().connect(reuse_if_open)
        except (peewee.OperationalError, peewee.InterfaceError) as exc:
            if connection_failed(exc):
                self.outage.trip(exc)
            raise
        finally:
            self.waiting_threads.discard(threading.get_ident())

    def _connect(self):
        # Called under the pool's lock for each try: a full pool makes the caller wait (peewee's
        # connect loops on its condition) until a connection comes back or the wait times out.
        try:
            return super()._connect()
        except MaxConnectionsExceeded:
            self.waiting_threads.add(threading.get_ident())
            raise

    def execute_sql(self, sql, params=None):
        loop_guard.check(sql)
        return self._guarded(super().execute_sql, sql, params)

    def begin(self, *args, **kwargs):
        loop_guard.check("BEGIN")
        return self._guarded(super().begin, *args, **kwargs)

    def _guarded(self, call, *args, **kwargs):
        self.outage.check()
        try:
            return call(*args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError) as exc:
            if not connection_failed(exc):
                raise
            if self.in_transaction() or timed_out(exc):
                # A transaction's work on the lost connection is gone: the caller must know. A
                # deadline passed: the server is frozen or unreachable, and a retry would only
                # wait again (and could repeat a write the server did receive).
                if timed_out(exc):
                    self._discard()
                    self.outage.trip(exc)
                raise
        self._discard()
        self.connect()
        return call(*args, **kwargs)

    def _discard(self) -> None:
        """Hand this thread's broken connection back: the pool finds it unusable and closes it."""
        if not self.is_closed() and not self.in_transaction():
            self.close()

    def _probe(self) -> None:
        """Open a connection of its own (not pooled), ask the server something, close it."""
        connection = pymysql.connect(**self.connect_params, database=self.database)
        try:
            connection.ping(reconnect=False)
        finally:
            connection.close()


def open_database(url: str, max_connections: int = 20, deadlines: Deadlines = UNBOUNDED) -> peewee.Database:
    """Build (not connect) the Database that `url` names; a MySQL one with `deadlines`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///"):]) or ":memory:"
        # busy_timeout first: the pragmas after it then wait for a lock instead of failing at once.
        # cache_size: 32 MiB, not 2: the loop's one connection reads every scan's tokens, people,
        # codes and recent entries, and a page that fell out of the cache is a system call on the loop.
        pragmas = {"busy_timeout": SQLITE_BUSY_TIMEOUT_MS, "journal_mode": "wal", "foreign_keys": 1,
                   "synchronous": "normal", "cache_size": -32768}
        if path == ":memory:":
            return peewee.SqliteDatabase(path, pragmas=pragmas)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # Transactions take the write lock when they begin (IMMEDIATE): a transaction that reads
        # and then writes would otherwise fail at once, without waiting, when another thread (the
        # entry writer) holds the lock.
        return peewee.SqliteDatabase(path, pragmas=pragmas, lock_type="IMMEDIATE")
    if parsed.scheme in ("mysql", "mysql+pymysql", "mariadb"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return ReconnectingPooledMySQL(
            unquote(parsed.path.lstrip("/")),
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 3306,
            user=unquote(parsed.username or "root"),
            password=unquote(parsed.password or ""),
            charset="utf8mb4",
            # Times are stored in UTC; the session zone must agree whatever the server's default.
            init_command="SET time_zone = '+00:00'" + (
                f", innodb_lock_wait_timeout = {int(deadlines.lock_wait)}" if deadlines.lock_wait else ""),
            # UPDATE answers the rows it matched, as on SQLite, not only those it changed: the
            # "update, else insert" steps rely on it.
            client_flag=CLIENT.FOUND_ROWS,
            max_connections=int(options.get("max_connections", max_connections)),
            stale_timeout=int(options.get("stale_timeout", 300)),
            timeout=deadlines.pool_wait,
            connect_timeout=deadlines.connect,
            read_timeout=deadlines.read,
            write_timeout=deadlines.write,
            ssl=mysql_tls.context(options),
        )
    raise ValueError(f"unsupported DATABASE_URL scheme: {parsed.scheme!r} (use sqlite:/// or mysql://)")


def bind(url: str, max_connections: int = 20, deadlines: Deadlines = UNBOUNDED) -> peewee.Database:
    """Point the proxy at the database `url` names and return it."""
    database = open_database(url, max_connections, deadlines)
    db.initialize(database)
    return database


def is_mysql() -> bool:
    """True when the proxy points at MySQL / MariaDB (some queries differ)."""
    return isinstance(db.obj, peewee.MySQLDatabase)


class RequestConnections:
    """Open the connection when a request starts; close it once no request has used it for a while.

    Tornado serves many requests on one thread, and peewee keeps one connection per thread, so a
    plain close at the end of one request would pull the connection from under another that is
    awaiting something: the requests in flight are counted. When the count falls to zero on an
    event loop's thread, the connection is kept for IDLE_CLOSE_SECONDS more, because opening one
    costs more than most requests (SQLite runs its pragmas again, the MySQL pool pings the
    server on every check-out). On MySQL a thread that `keeps_connections` (the DB pool's) keeps
    it as long, and checks it out afresh on its next call after that: a check-out's ping is a read
    deadline of its own before the statement's, which against a frozen server ate the 2 s in which
    a request must hear so. Any other thread without a loop (a job), and every such thread on
    SQLite (whose file a test or a restore may replace under a connection kept in another thread),
    closes it at once. A connection left inside a transaction by a request is never kept.
    """

    IDLE_CLOSE_SECONDS = 5.0

    def __init__(self) -> None:
        self._local = threading.local()  # peewee's connections are per thread, so is the count

    def keeps_connections(self) -> None:
        """This thread (a pool's) keeps its connection between calls, for IDLE_CLOSE_SECONDS."""
        self._local.keeps = True

    def opened(self) -> None:
        """A request starts: make sure this thread's connection is open (counted only once it is:
        a request whose connection could not be opened has nothing to close)."""
        local = self._local
        if (getattr(local, "keeps", False) and not getattr(local, "in_flight", 0) and not db.is_closed()
                and time.monotonic() - local.idle_since >= self.IDLE_CLOSE_SECONDS):
            db.close()  # idle too long: checked out again (pinged, or replaced when stale)
        db.connect(reuse_if_open=True)
        self._local.in_flight = getattr(self._local, "in_flight", 0) + 1

    def open_for(self, handler) -> None:
        """`opened` for a request handler, whose `on_finish` calls `close_for`."""
        self.opened()
        handler._holds_connection = True

    def close_for(self, handler) -> None:
        """`closed` for a request handler, if `open_for` opened its connection."""
        if handler.__dict__.pop("_holds_connection", False):
            self.closed()

    def closed(self) -> None:
        """A request ends: when none is left in flight, keep the connection on a loop's thread
        (closed later by `_close_if_idle`), close it (or hand it back to the pool) elsewhere."""
        local = self._local
        local.in_flight = max(0, getattr(local, "in_flight", 0) - 1)
        if local.in_flight or db.is_closed():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        local.idle_since = time.monotonic()
        if getattr(local, "keeps", False) and not db.in_transaction() and is_mysql():
            return
        if loop is None or db.in_transaction():
            db.close()
            return
        if getattr(local, "idle_timer", None) is None:
            local.idle_timer = loop.call_later(self.IDLE_CLOSE_SECONDS, self._close_if_idle, loop)

    def loop_stopped(self) -> None:
        """This thread's event loop has stopped (a test server's thread ends): close the
        connection it kept, which no timer will close now."""
        self._local.idle_timer = None
        if db.obj is not None and not db.is_closed():  # a fake platform's server binds no database
            db.close()

    def _close_if_idle(self, loop) -> None:
        local = self._local
        local.idle_timer = None
        if local.in_flight or db.is_closed():
            return
        idle = time.monotonic() - local.idle_since
        if idle >= self.IDLE_CLOSE_SECONDS:
            db.close()
        else:
            local.idle_timer = loop.call_later(self.IDLE_CLOSE_SECONDS - idle, self._close_if_idle, loop)


request_connections = RequestConnections()


class _Compiled:
    """A Prepared query as compiled for one database (and one form: see Prepared._compile)."""

    __slots__ = ("query", "sql", "params", "slots", "setup", "converters", "shared_sql", "shared_params")

    def __init__(self, query, samples, converters=None, shared=None) -> None:
        self.query = query
        self.sql, self.params = query.sql()
        self.slots = [self.params.index(sample) for sample in samples]
        self.setup = None  # the cursor wrapper's column set-up, kept from the first run (Prepared.first)
        self.converters = converters
        self.shared_sql, self.shared_params = shared or (None, [])

    def params_for(self, values) -> list:
        """The parameters with `values` in the samples' places."""
        params = list(self.params)
        for slot, value in zip(self.slots, values):
            params[slot] = value
        return params


class Prepared:
    """A SELECT compiled to SQL once per database, then run again with new values.

    peewee compiles a query to SQL on every execution, and works out again from the cursor's
    columns how to build the row's models; on the scan's hot path each costs many times the
    indexed look-up itself. `build` makes the query from its arguments: it is called once per
    database with the stand-ins `samples` (each unique among the parameters and of the right
    type), whose places among the parameters then take the real values. Rows come back as peewee
    makes them (model instances, joins included) through the query's own cursor wrapper, whose
    column set-up is kept from the first run (peewee internals, pinned in requirements.txt and
    named in tests/models/test_peewee_internals.py), or as values (`first_values`, `read_values`).

    `shared_last_column`: the query's last column does not depend on the row (a scalar subquery
    of its own, such as the colour rules' fingerprint), so a MySQL batch reads it once, in the
    same statement, and gives it to every row.
    """

    # What a cursor wrapper holds of one cursor, as opposed to its (reusable) column set-up.
    _PER_CURSOR = frozenset(("cursor", "count", "index", "initialized", "populated", "row_cache"))
    # Reads of one pass of the event loop sent as one statement, at most (see read_values): the
    # server runs a statement's parts one after another, so a busy pass's reads go as several
    # statements that it runs at once (8 against 32: 709 against 666 scans/s, medians of 3).
    MAX_BATCH = 8

    def __init__(self, build, *samples, shared_last_column: bool = False) -> None:
        self._build = build
        self._samples = samples
        self._shared_last_column = shared_last_column
        self._compiled: dict = {}
        self._batches: dict = {}  # event loop -> [(values, waiter)] of its current pass (MySQL)

    def _compile(self, as_json: bool = False) -> _Compiled:
        """The query compiled for this database. `as_json` (MySQL): the select list as one
        JSON_ARRAY column led by the row's place in a batch (see `first_values_many`), and a
        shared last column as a query of its own, its place _SHARED_INDEX."""
        compiled = self._compiled.get((db.obj, as_json))
        if compiled is None:
            query = self._build(*self._samples)
            if not as_json:
                compiled = _Compiled(query, self._samples, _value_converters(query.selected_columns))
            else:
                columns, shared = list(query.selected_columns), None
                if self._shared_last_column:
                    alone = peewee.Select(columns=[peewee.fn.JSON_ARRAY(_SHARED_INDEX, columns.pop())])
                    shared = db.obj.get_sql_context().sql(alone).query()
                query = query.select(peewee.fn.JSON_ARRAY(peewee.Value(_BATCH_INDEX_SAMPLE), *columns))
                compiled = _Compiled(query, (_BATCH_INDEX_SAMPLE, *self._samples), _value_converters(columns),
                                     shared)
            self._compiled[(db.obj, as_json)] = compiled
        return compiled

    def _run(self, values):
        """Execute with `values` in the samples' places: (cursor, compiled query)."""
        compiled = self._compile()
        # execute_sql, not the driver's cursor: on MySQL it re-connects a dropped connection.
        return db.execute_sql(compiled.sql, compiled.params_for(values)), compiled

    def first(self, *values):
        """The first row for these values, as peewee makes it (models, joins included), or None."""
        cursor, compiled = self._run(values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        wrapper = compiled.query._get_cursor_wrapper(cursor)
        if compiled.setup is None:
            wrapper.initialize()
            compiled.setup = {k: v for k, v in vars(wrapper).items() if k not in self._PER_CURSOR}
        else:
            vars(wrapper).update(compiled.setup)
        return wrapper.process_row(row)

    def first_values(self, *values) -> list | None:
        """The first row for these values as a list of Python values (each column converted by
        its field, as peewee's tuples() would), or None: no model is made."""
        if is_mysql():
            return self.first_values_many([values])[0]
        cursor, compiled = self._run(values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else _converted(list(row), compiled.converters)

    def first_values_many(self, values_list: list) -> list:
        """`first_values` for each set of values. MySQL: in one statement (a UNION ALL of the
        query, each part limited as the query is, and the shared last column once). Each row
        comes as one JSON_ARRAY column led by its place in `values_list`: a driver parses every
        column's description on every query, and with PyMySQL, for a row of thirty columns, that
        cost more than the rest of the read (0.64 ms against 0.19 ms); a statement, its round
        trip and its descriptions are then shared by the batch (0.07 ms a read for eight). SQLite:
        one `first_values` each."""
        if not is_mysql():
            return [self.first_values(*values) for values in values_list]
        compiled, sql, params = self._batch_statement(values_list)
        cursor = db.execute_sql(sql, params)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return self._batch_rows(compiled, [text for (text,) in rows], len(values_list))

    def _batch_statement(self, values_list: list) -> tuple[_Compiled, str, list]:
        """MySQL: the statement that reads `values_list` at once (see `first_values_many`)."""
        compiled = self._compile(as_json=True)
        parts = ["(" + compiled.sql + ")"] * len(values_list)
        params = []
        for index, values in enumerate(values_list):
            params += compiled.params_for((index, *values))
        if compiled.shared_sql:
            parts.append("(" + compiled.shared_sql + ")")
            params += compiled.shared_params
        return compiled, " UNION ALL ".join(parts), params

    @staticmethod
    def _batch_rows(compiled: _Compiled, texts: list, count: int) -> list:
        """The batch statement's JSON rows as `count` rows of values (None where nothing was found)."""
        found, shared = [None] * count, []
        for text in texts:
            row = json.loads(text)
            if row[0] == _SHARED_INDEX:
                shared = row[1:]
            else:
                found[row[0]] = _converted(row[1:], compiled.converters)
        return [row + shared if row is not None else None for row in found] if shared else found

    async def read_values(self, *values) -> list | None:
        """`first_values`, awaited where it costs the event loop least. SQLite: here (a read
        takes microseconds; a thread's hand-over would cost more). MySQL: the reads begun in one
        pass of the loop go together, as `first_values_many`'s statement, to the loop's own
        connections (models/mysql_loop.py, asyncmy, within its deadline): the round trip blocks
        no request the loop serves, and no thread has to win the GIL back from the loop."""
        if not is_mysql():
            return self.first_values(*values)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        batch = self._batches.get(loop)
        if batch is None:
            batch = self._batches[loop] = []
            loop.call_soon(self._send_batch, loop)
        batch.append((values, waiter))
        return await waiter

    def _send_batch(self, loop) -> None:
        """At the end of a loop's pass: its reads, MAX_BATCH a statement, each on a connection of
        the loop's; each waiter takes its row, or the error, as soon as the reply is read."""
        batch = self._batches.pop(loop, [])
        pool = mysql_loop.pool(db.obj, "read", READ_CONNECTIONS)
        for start in range(0, len(batch), self.MAX_BATCH):
            part = batch[start:start + self.MAX_BATCH]
            try:
                compiled, sql, params = self._batch_statement([values for values, _ in part])
            except Exception as exc:  # every waiting read must hear of it, whatever it was
                _settle_reads(part, None, exc)
                continue
            pool.send(lambda connection, sql=sql, params=params: [connection.format(sql, params)],
                      functools.partial(self._read_done, pool, compiled, part))

    def _read_done(self, pool, compiled: _Compiled, part: list, connection, replies, error) -> None:
        if connection is not None:
            pool.release(connection)
        rows = None
        if error is None:
            try:
                (reply,) = replies
                if isinstance(reply, Exception):
                    raise reply
                rows = self._batch_rows(compiled, [text for (text,) in reply[1]], len(part))
            except Exception as exc:
                error = exc
        _settle_reads(part, rows, error and mysql_loop.as_peewee(error))


_BATCH_INDEX_SAMPLE = -0x5EED  # a stand-in for a row's place in a batch (see Prepared._compile)
_SHARED_INDEX = -1  # the place of a batch's shared last column


def _converted(row: list, converters: list) -> list:
    for i, convert in converters:
        if row[i] is not None:
            row[i] = convert(row[i])
    return row


def _settle_reads(part: list, rows: list | None, error: BaseException | None) -> None:
    """Each waiter of a batch of reads takes its row, or the batch's error."""
    for i, (_, waiter) in enumerate(part):
        if waiter.done():  # its request went away meanwhile
            continue
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(rows[i])


# The loop's connections for MySQL reads (Prepared.read_values): as many statements at once.
READ_CONNECTIONS = 4


# Fields whose python_value only makes sure of an int or a str, which both drivers (and JSON)
# give already: a row read as values skips them (16 of the scan's 30 columns: 2% of its CPU).
_AS_READ = (peewee.IntegerField.adapt, peewee.CharField.adapt)


def _as_read(field) -> bool:
    if isinstance(field, peewee.ForeignKeyField):
        field = field.rel_field
    return type(field).python_value is peewee.Field.python_value and type(field).adapt in _AS_READ


def _value_converters(columns) -> list:
    """(index, converter) for the columns of a row read as values: SQLite and MySQL's JSON_ARRAY
    give times as ISO text and booleans as 0 / 1, which each field's python_value then takes as
    from the driver (datetime.fromisoformat: peewee's own parsing tries formats one by one).
    Ints and texts are taken as they come (`_as_read`)."""
    converters = []
    for i, column in enumerate(columns):
        if isinstance(column, peewee.Field) and _as_read(column):
            continue
        if isinstance(column, peewee.DateTimeField):
            converters.append((i, dt.datetime.fromisoformat))
        elif isinstance(column, peewee.DateField):
            converters.append((i, dt.date.fromisoformat))
        elif isinstance(column, peewee.DecimalField):
            converters.append((i, lambda value, field=column: field.python_value(decimal.Decimal(str(value)))))
        elif isinstance(column, peewee.Field):
            converters.append((i, column.python_value))
    return converters


def loaded(model, data: dict):
    """An instance of `model` holding a row just read (`data`: field name -> Python value,
    foreign keys as ids), clean; peewee's constructor would set each field one by one (the
    private attributes set here are named in tests/models/test_peewee_internals.py)."""
    instance = model.__new__(model)
    instance.__data__ = data
    instance._dirty = set()
    instance.__rel__ = {}
    return instance


# Characters per multi-row INSERT on MySQL: at most 4 MB in UTF-8, within max_allowed_packet's default.
STATEMENT_CHARS = 1_000_000


def insert_rows(model, rows: list[dict]) -> None:
    """INSERT the rows (each naming the same fields). peewee's insert_many compiles every value
    in Python, which costs seconds for a few hundred thousand rows (and holds the GIL meanwhile).

    SQLite: the driver's executemany, one prepared statement. MySQL: multi-row INSERTs of about
    STATEMENT_CHARS, their values written here as literals (models/sql_literals.py), each
    distinct value once. PyMySQL would escape every value of every row, which cost a full colour
    recompute more than the server's inserting (such rows repeat a few hundred reasons texts and
    one timestamp), and the scans' group commit a fifth of its writer's time."""
    if not rows:
        return
    if is_mysql():
        for sql in insert_statements(model, rows, SqlLiterals.for_connection(db.connection())):
            _execute_text(sql)
        return
    names = tuple(rows[0])
    key = (model, names)
    kept = _sqlite_inserts.get(key)
    if kept is None:
        fields = [model._meta.fields[name] for name in names]
        # Made once per model and columns: the scans' group commit writes a few rows a batch.
        sql = _insert_head(model, fields) + "(" + ", ".join([db.obj.param] * len(fields)) + ")"
        kept = _sqlite_inserts[key] = (sql, [(f.name, f.db_value) for f in fields])
    sql, converters = kept
    values = [[convert(row[name]) for name, convert in converters] for row in rows]
    with mysql_loop.driver_errors():
        db.cursor().executemany(sql, values)


_sqlite_inserts: dict = {}  # (model, field names) -> (INSERT text, [(name, field's db_value)])


def _insert_head(model, fields: list) -> str:
    quote = db.obj.quote
    return "INSERT INTO {0}{2}{1} ({3}) VALUES ".format(
        quote[0], quote[1], model._meta.table_name, ", ".join(quote[0] + f.column_name + quote[1] for f in fields))


def insert_statements(model, rows: list[dict], literals: SqlLiterals) -> Iterator[str]:
    """MySQL: the multi-row INSERTs of `insert_rows`, one SQL text at a time (none for no rows)."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    head, escape, known = _insert_head(model, fields), literals.literal, {}
    values, size = [], 0
    for row in rows:
        parts = []
        for f in fields:
            value = f.db_value(row[f.name])
            key = (type(value), value)
            literal = known.get(key)
            if literal is None:
                literal = known[key] = escape(value)
            parts.append(literal)
        text = "(" + ", ".join(parts) + ")"
        if values and size + len(text) > STATEMENT_CHARS:
            yield head + ", ".join(values)
            values, size = [], 0
        values.append(text)
        size += len(text) + 2
    yield head + ", ".join(values)


def _execute_text(sql: str) -> None:
    with mysql_loop.driver_errors():
        db.cursor().execute(sql)  # no parameters: no %-formatting of the text
