"""The shared handler base: JSON envelope, the one write_error, body limits, sign-in and roles.

An API handler declares who may call it and one method per operation:

    class ProfileHandler(ApiHandler):
        roles = ("citizen",)                       # enforced in prepare(), for every method

        @operation("getProfile", "我的实名信息", response=PROFILE)
        def get(self):
            return profile.get_profile(self.current_account)

The decorator validates the body against its pydantic model (handlers/schema.py), calls the
method, and writes `{"data": ...}`. A synchronous method runs, with the sign-in and the body's
checks, on the DB pool (its queries never wait on the event loop); an async one sends its blocking
parts to a pool itself (`on_db`, `off_loop`); a synchronous one that returns a `Drawing` has it
drawn on the CPU pool. Any ApiError becomes `{"error": {"code", "message", "field"}}`; anything
else becomes a 500 with no stack trace.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import inspect
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable

import tornado
import tornado.ioloop
import tornado.web
from tornado import httputil

from services.operations import pools
from handlers.failures import HTTP_ERRORS, database_unavailable, error_of
from handlers.schema import Body
from models.db import is_mysql, request_connections
from services.accounts import auth
from services.common.errors import ApiError
from services.common.raw_json import RawJson

log = logging.getLogger("healthcode.api")
# Made once: json.dumps with these options makes an encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
MAX_JSON_DEPTH = 32
# Ids in paths are database keys: a number past a signed 64-bit integer names nothing.
MAX_ID = 2 ** 63 - 1


def _no_constants(name: str):
    raise ApiError("invalid_json", f"JSON 中不能使用 {name}", 400)


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; one past a double's range (1e999) would be
    infinity, which no field takes."""
    number = float(text)
    if number in (_INFINITY, -_INFINITY):
        raise ApiError("invalid_json", f"JSON 中的数字超出范围：{text[:32]}", 400)
    return number


_INFINITY = float("inf")
# Made once: json.loads with an option builds a decoder (and its scanner) per call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)
_SERVER = "TornadoServer/%s" % tornado.version
_date = [0, ""]  # [second, the Date header's text for it]


def _http_date() -> str:
    """The Date header's text, formatted once a second (it names whole seconds; formatting it
    per response cost a tenth of a bare Tornado answer)."""
    now = time.time()
    second = int(now)
    if _date[0] != second:
        _date[0], _date[1] = second, httputil.format_timestamp(now)
    return _date[1]


def _depth(data) -> int:
    """How deeply a parsed JSON value nests (walked without recursion)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


@dataclass
class Operation:
    """What /openapi.json says of one handler method."""

    operation_id: str
    summary: str
    body: type[Body] | None = None
    query: type[Body] | None = None
    response: type[Body] | None = None
    status: int = 200
    errors: tuple = ()
    produces: str = "application/json"
    description: str = ""


def operation(operation_id: str, summary: str, *, body: type[Body] | None = None, query: type[Body] | None = None,
              response: type[Body] | None = None, status: int = 200, errors: tuple = (),
              produces: str = "application/json", description: str = ""):
    """Declare a handler method as an API operation (see the module docstring).

    The method receives the path's named groups as keyword arguments, and the cleaned body as
    `body` (when `body` is declared) or the cleaned query string as `query` (when `query` is). With `produces`
    other than JSON ("image/png" or several, "image/png, image/svg+xml"), the method returns the
    bytes to send, and sets Content-Type itself when it is not the first type listed.
    """
    spec = Operation(operation_id, summary, body, query, response, status, errors, produces, description)

    def decorate(method):
        is_async = inspect.iscoroutinefunction(method)

        @functools.wraps(method)
        async def run(self, *args, **kwargs):
            if is_async:  # its blocking parts go to a pool itself (`on_db`, `off_loop`)
                if self.checks_caller():
                    await self.on_db(self.authenticate)
                _take_input(self, spec, kwargs)
                result = await method(self, *args, **kwargs)
            else:
                # Sign-in, the input's checks and the method in one hop to the DB pool: the loop
                # never waits on their queries.
                result = await self.on_db(_called, self, spec, method, args, kwargs)
            if isinstance(result, Drawing):
                if result.content_type:
                    self.set_header("Content-Type", result.content_type)
                result = await self.off_loop(result.draw)
            if spec.produces == "application/json":
                self.send_data(result, spec.status)
            else:
                if self._headers.get("Content-Type", "").startswith("application/json"):
                    self.set_header("Content-Type", spec.produces.split(",")[0].strip())
                self.finish(result)

        run.operation = spec
        return run

    return decorate


@dataclass
class Drawing:
    """What a synchronous operation returns when its answer is CPU work with no database (an
    image to draw): `draw()` runs on the CPU pool, its bytes are the answer, sent as `content_type`
    when given (else the operation's first type)."""

    draw: Callable[[], bytes]
    content_type: str | None = None


def _take_input(handler, spec: Operation, kwargs: dict) -> None:
    """The cleaned body or query string into the method's `kwargs`, as the operation declares."""
    if spec.body is not None:
        kwargs["body"] = spec.body.clean(handler.json_body())
    elif spec.query is not None:
        kwargs["query"] = spec.query.clean_query(handler.query_values())


def _called(handler, spec: Operation, method, args: tuple, kwargs: dict):
    """A synchronous operation: sign-in, input, then the method."""
    handler.authenticate()
    _take_input(handler, spec, kwargs)
    return method(handler, *args, **kwargs)


class SignInPool:
    """The threads that run sign-ins (their argon2 checks take ~100 ms of CPU each, and argon2
    leaves the GIL while it works): a few of them, so that a burst of password guesses cannot
    take the event loop or every core from the scans. A sign-in that finds `queue` others
    already waiting is refused at once with 429."""

    def __init__(self, workers: int, queue: int):
        self.workers = max(1, workers)
        # At a lower priority: the argon2 lanes take every core they can, the loop's thread comes first.
        self.executor = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="sign-in",
                                                              initializer=pools.lower_priority)
        self.limit = self.workers + max(0, queue)
        self.waiting = 0

    async def run(self, work, *args):
        """`work(*args)` on a sign-in thread, with a database connection of that thread's own."""
        if self.waiting >= self.limit:
            raise ApiError("sign_in_busy", "登录请求过多，请稍后再试", 429, retry_after=1)
        self.waiting += 1
        try:
            # In the request's context: the thread's log lines carry its request id (logsafe.REQUEST).
            return await tornado.ioloop.IOLoop.current().run_in_executor(
                self.executor, contextvars.copy_context().run, with_connection, work, *args)
        finally:
            self.waiting -= 1


def with_connection(work, *args):
    """`work(*args)` with this thread's database connection open (and closed after, as a request's)."""
    request_connections.opened()
    try:
        return work(*args)
    finally:
        request_connections.closed()


async def on_executor(work, *args):
    """`work(*args)` on an executor thread with a connection of its own: for work that waits on
    another service (an SMS gateway's HTTP call) besides the database: the SDK pool."""
    return await pools.run_in(pools.SDK, with_connection, work, *args)


class BaseHandler(tornado.web.RequestHandler):
    """JSON in, JSON out, queries on the DB pool, no stack traces to clients."""

    # True: the handler's (async) method queries on the event loop's own connection, on SQLite
    # only (a local file: the scan, whose one statement of reads costs less than a pool hop).
    # Every other query runs on the DB pool (`on_db`, and `operation` for a synchronous method).
    database_on_loop = False

    def initialize(self, config=None, services=None):
        self.config = config if config is not None else self.application.settings["config"]
        self.services = services if services is not None else self.application.settings["services"]

    def prepare(self):
        if self.database_on_loop and not is_mysql():
            request_connections.open_for(self)
        method = self.request.method.lower()
        if getattr(type(self), method, None) is getattr(tornado.web.RequestHandler, method, None):
            # Before sign-in: a method that does not exist is 405 for everyone, not 401.
            raise ApiError(*HTTP_ERRORS[405], 405)
        if any(value.isdigit() and int(value) > MAX_ID for value in self.path_kwargs.values()):
            raise ApiError("not_found", "记录不存在", 404)
        limit = self.body_limit()
        declared = int(self.request.headers.get("Content-Length") or 0)
        if declared > limit or len(self.request.body or b"") > limit:
            raise ApiError("body_too_large", f"请求体过大（上限 {limit // 1024} KB）", 413)

    def on_finish(self):
        request_connections.close_for(self)

    def body_limit(self) -> int:
        """The largest body this route takes (MAX_BODY_BYTES; a route with big batches or an image
        in base64 raises it)."""
        return self.config.max_body_bytes

    def check_xsrf_cookie(self):
        """JSON clients authenticate with a bearer header, which a forged cross-site request cannot
        carry, so the XSRF cookie check (on for the back office's cookie sessions) does not apply."""

    def clear(self) -> None:
        """Tornado's clear() (its attributes are pinned with tornado in requirements.txt), with the
        Date header's text kept for the second (`_http_date`) and the default headers set as they
        are: set_header would check and convert each constant again on every request."""
        self._headers = httputil.HTTPHeaders({"Server": _SERVER, "Content-Type": "text/html; charset=UTF-8",
                                              "Date": _http_date()})
        self.set_default_headers()
        self._write_buffer = []
        self._status_code = 200
        self._reason = httputil.responses[200]

    def set_default_headers(self):
        headers = self._headers
        headers["Content-Type"] = "application/json; charset=UTF-8"
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"

    def json_body(self):
        """The request body parsed as JSON (an empty body counts as {}): no NaN or Infinity, and
        nested no deeper than MAX_JSON_DEPTH."""
        raw = self.request.body or b"{}"
        try:
            data = _JSON_DECODER.decode(raw.decode("utf-8"))
        except RecursionError:
            raise ApiError("invalid_json", f"JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）", 400) from None
        except (UnicodeDecodeError, ValueError):
            raise ApiError("invalid_json", "请求体不是合法的 JSON", 400) from None
        # Counting brackets is cheap; only a body with many of them is walked.
        if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
            raise ApiError("invalid_json", f"JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）", 400)
        return data

    async def sign_in(self, work, *args):
        """Run a sign-in (password check and its records) in the application's SignInPool."""
        return await self.application.settings["sign_in_pool"].run(work, *args)

    def checks_caller(self) -> bool:
        """True when `authenticate` has a caller to check (its queries then cost a pool hop)."""
        return False

    def authenticate(self) -> None:
        """Check who calls, with its queries: on the DB pool, before the operation's method
        (ApiHandler: the bearer token; a partner's feed: its signature)."""

    async def on_db(self, work, *args):
        """`work(*args)` on the DB pool, with a connection of its thread's own (see services/operations/pools.py)."""
        return await pools.run_in(pools.DB, work, *args)

    async def off_loop(self, work, *args):
        """Run CPU-heavy work with no database access (drawing images) on the CPU pool."""
        return await pools.run_in(pools.CPU, work, *args)

    def query_values(self) -> dict:
        """The query string as {name: last value}."""
        return {name: self.get_query_argument(name) for name in self.request.query_arguments}

    def send_data(self, data, status: int = 200) -> None:
        """Write the success envelope (`data` as JSON text when it is RawJson)."""
        self.set_status(status)
        if isinstance(data, RawJson):
            self.finish('{"data": ' + data + "}")
        else:
            self.finish(_JSON.encode({"data": data}))

    def write_error(self, status_code, **kwargs):
        """The one place an error becomes a response: the envelope of handlers.failures' error."""
        error = error_of(self, status_code, kwargs.get("exc_info"))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(_JSON.encode({"error": error.to_dict()}))

    def log_exception(self, typ, value, tb):
        if isinstance(value, ApiError):
            log.info("%s %s -> %s %s", self.request.method, self.request.path, value.status, value.code)
        elif database_unavailable(value):  # one line each: an outage is not a bug, and lasts
            log.warning("%s %s -> 503 database unavailable: %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)


class ApiHandler(BaseHandler):
    """A mini-program API handler: signed in with a bearer token unless `public`, and holding
    one of `roles` when roles are declared. This is the one place roles are enforced."""

    public = False
    roles: tuple[str, ...] = ()
    # True: the operation's service checks the bearer token itself (auth.check_token) in the
    # statement that reads its own rows: one round trip less on the hottest path (the scan).
    # Such a handler declares no roles.
    signs_in_itself = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.signs_in_itself and cls.roles:
            raise TypeError(f"{cls.__name__}: a handler that signs in itself declares no roles")

    def prepare(self):
        super().prepare()
        self.current_token = None
        self.current_account = None
        self.bearer_token = None
        if self.public:
            return
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError("unauthorized", "请先登录", 401)
        self.bearer_token = value.strip()

    def checks_caller(self) -> bool:
        return self.bearer_token is not None and not self.signs_in_itself

    def authenticate(self) -> None:
        """The bearer token's account, which must hold one of `roles`."""
        if not self.checks_caller():
            return
        self.current_token = auth.authenticate(self.bearer_token, self.config)
        self.current_account = self.current_token.account
        if self.roles and not (set(self.roles) & self.current_account.role_names()):
            raise ApiError("forbidden", "当前账号无权使用该功能", 403)


class NotFoundHandler(BaseHandler):
    """Every unknown route: a JSON 404 (with no database: it answers while the database is down)."""

    def prepare(self):
        raise ApiError("not_found", "接口不存在", 404)
