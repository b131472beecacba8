"""Test fixtures: every data test runs on SQLite and on MariaDB, against the real server.

- `backend` / `database`: a real database per backend for the whole session (SQLite in a temp
  file; MariaDB as a throw-away `test_<random>` database), emptied after each test.
- `make_server(**config)`: the real Tornado app on 127.0.0.1 in a thread, with an `ApiClient`
  that finds endpoints by operationId in /openapi.json and checks every successful JSON answer
  against the response model its operation declares.
- A network guard: any connection to an address outside 127.0.0.0/8 fails the test that makes it.

MariaDB is used when reachable at MYSQL_TEST_URL (default mysql://root@127.0.0.1:3306); with
REQUIRE_MYSQL=1 (CI) an unreachable MariaDB is an error, otherwise its half is skipped, loudly.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import secrets
import shutil
import socket
import tempfile
from urllib.parse import urlencode, urlparse

# Each test process's metric files in a directory of its own (services/operations/metrics.py reads it when
# first imported, below), removed at exit: not data/metrics, which a running server may use.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="healthcode-metrics-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], True)

import pymysql
import pytest
import requests
from pydantic import ValidationError

from config import TestConfig
from models import db as database
from models import cipher, loop_guard, schema
from models.people import Person
from services.colours import colour_rules, colour_scheme
from services.common.errors import ApiError
from services.people import identity
from tests.fakes.server_thread import ServerThread, free_port

MYSQL_TEST_URL = os.environ.get("MYSQL_TEST_URL", "mysql://root@127.0.0.1:3306")
REQUIRE_MYSQL = os.environ.get("REQUIRE_MYSQL", "") not in ("", "0")


# --- the network guard --------------------------------------------------------------------------

class OutboundConnectionBlocked(OSError):
    """A test tried to reach an address outside the loopback range."""


_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo
outbound_attempts: list = []


def _address(host: str):
    """The IP address `host` writes out, or None for a name."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


def _is_loopback(host) -> bool:
    address = _address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def _guarded_connect(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        outbound_attempts.append(address)
        raise OutboundConnectionBlocked(f"test tried to connect outside 127.0.0.1: {address[0]}")
    return _real_connect(sock, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    # An address written out asks no name server (Tornado checks X-Real-Ip's this way): only a
    # name other than localhost is refused here; connecting outside 127.0.0.1 is refused above.
    name = host if host is None or isinstance(host, str) else host.decode()
    if name is not None and name != "localhost" and _address(name) is None:
        outbound_attempts.append(host)
        raise OutboundConnectionBlocked(f"test tried to resolve a host outside 127.0.0.1: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    socket.getaddrinfo = _guarded_getaddrinfo
    # An exception that ends a thread (a writer, a checkpointer, a fake platform's server) fails
    # the test that was running, instead of a warning at the end that nobody reads.
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")
    config.addinivalue_line("markers", "timing: measures the server's own timing; run alone, outside -n (see Makefile)")
    # Real argon2id, with the smallest costs: the tests check behaviour, not hashing strength.
    from argon2 import PasswordHasher

    from services.accounts import passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_terminal_summary(terminalreporter):
    # Checked here, in the controlling process, since xdist workers keep their own state.
    reason = mysql_unreachable_reason()
    if reason and not REQUIRE_MYSQL:
        terminalreporter.write_sep("!", "MariaDB 部分被跳过 / THE MARIADB HALF OF THE SUITE WAS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"reason: {reason}  (CI sets REQUIRE_MYSQL=1 so this cannot pass silently)")
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(chromium) and not os.environ.get("REQUIRE_BROWSER"):
        terminalreporter.write_sep("!", "浏览器测试被跳过 / THE BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"reason: no Chromium at {chromium}  (CI installs it and sets REQUIRE_BROWSER=1)")


def mysql_unreachable_reason() -> str | None:
    """Why MariaDB cannot be used for tests, or None when it can."""
    try:
        _mysql_admin(MYSQL_TEST_URL).close()
    except pymysql.err.Error as exc:
        return f"MariaDB not reachable at {MYSQL_TEST_URL}: {exc}"
    return None


# --- databases ----------------------------------------------------------------------------------

TEST_CONFIG = TestConfig()


def _mysql_admin(url: str):
    parsed = urlparse(url)
    return pymysql.connect(host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306,
                           user=parsed.username or "root", password=parsed.password or "",
                           charset="utf8mb4", connect_timeout=3, autocommit=True)


def mysql_database():
    """A new utf8mb4 database on the test MariaDB: (url, drop). Skipped (failed with
    REQUIRE_MYSQL=1) when MariaDB cannot be reached."""
    reason = mysql_unreachable_reason()
    if reason:
        if REQUIRE_MYSQL:
            pytest.fail(reason + " (REQUIRE_MYSQL=1)")
        pytest.skip(reason)
    name = f"test_{secrets.token_hex(6)}"
    admin = _mysql_admin(MYSQL_TEST_URL)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def drop():
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    return f"{MYSQL_TEST_URL.rstrip('/')}/{name}", drop


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def backend(request, tmp_path_factory):
    """(name, url, Database) for one backend, migrated once for the session."""
    cipher.configure(cipher.DataCipher.from_setting(TEST_CONFIG.data_key))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/test.db"
        drop = None
    else:
        url, drop = mysql_database()
    db_object = database.open_database(url)
    database.db.initialize(db_object)
    schema.migrate()
    yield request.param, url, db_object
    db_object.close_all() if hasattr(db_object, "close_all") else db_object.close()
    if drop:
        drop()


def empty_tables() -> None:
    """Delete every row the test wrote (the schema stays). Foreign-key checks are off meanwhile,
    since a self-referencing table (regions) has no safe single-statement order."""
    mysql = database.is_mysql()
    database.db.execute_sql("SET FOREIGN_KEY_CHECKS = 0" if mysql else "PRAGMA foreign_keys = OFF")
    try:
        with database.db.atomic():
            for model in reversed(schema.MODELS):
                model.delete().execute()
    finally:
        database.db.execute_sql("SET FOREIGN_KEY_CHECKS = 1" if mysql else "PRAGMA foreign_keys = ON")


@pytest.fixture
def db(backend):
    """The bound database of the current backend, emptied after the test."""
    name, url, db_object = backend
    database.db.initialize(db_object)
    cipher.configure(cipher.DataCipher.from_setting(TEST_CONFIG.data_key))
    database.db.connect(reuse_if_open=True)
    colour_rules.install_defaults()
    loop_guard.forget()
    yield db_object
    try:
        empty_tables()
    finally:
        colour_scheme.forget()  # a scheme chosen by the test is gone with its rows
        database.db.close()
    # A MySQL statement made on a server's event loop would stall every request behind it.
    on_loop = loop_guard.forget()
    assert not on_loop, f"database statements ran on the event loop: {sorted(set(on_loop))}"


# --- the server under test ----------------------------------------------------------------------

_RESPONSE_MODELS: dict | None = None


def response_models() -> dict:
    """operationId -> the pydantic model of its answer's `data` (read once from the routes)."""
    global _RESPONSE_MODELS
    if _RESPONSE_MODELS is None:
        from server import api_routes
        _RESPONSE_MODELS = {
            spec.operation_id: spec.response for _, handler, *_ in api_routes(TestConfig())
            for spec in (getattr(getattr(handler, m, None), "operation", None)
                         for m in ("get", "post", "put", "patch", "delete"))
            if spec is not None and spec.response is not None}
    return _RESPONSE_MODELS


def check_answer(operation_id: str, response: requests.Response) -> None:
    """A successful JSON answer must be what the operation declares: a wrong declaration fails the
    test that called it (types, nullable fields, limits, no field left undeclared)."""
    model = response_models().get(operation_id)
    if model is None or response.status_code >= 300 or \
            not response.headers.get("Content-Type", "").startswith("application/json"):
        return
    try:
        model.model_validate(response.json()["data"])
    except ValidationError as error:
        raise AssertionError(f"{operation_id} answered outside its declared {model.__name__}:\n{error}") from None

class ApiClient:
    """Calls the server by operationId, as the mini-program clients do."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.token: str | None = None
        self._operations: dict | None = None

    def operations(self) -> dict:
        if self._operations is None:
            document = self.session.get(self.base_url + "/openapi.json", timeout=5).json()
            self._operations = {
                op["operationId"]: (method.upper(), path)
                for path, methods in document["paths"].items() for method, op in methods.items()
            }
        return self._operations

    def call(self, operation_id: str, body=None, *, token: str | None = None, data: bytes | None = None,
             headers: dict | None = None, path: dict | None = None, query: dict | None = None) -> requests.Response:
        """Send one operation; `data` sends raw bytes instead of JSON, `path` fills {names} in the
        path, `query` is the query string. Returns the response."""
        method, path_template = self.operations()[operation_id]
        path_text = path_template.format(**(path or {}))
        if query:
            path_text += "?" + urlencode(query)
        headers = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if data is None and body is not None:
            response = self.session.request(method, self.base_url + path_text, json=body, headers=headers, timeout=10)
        else:
            response = self.session.request(method, self.base_url + path_text, data=data, headers=headers, timeout=10)
        check_answer(operation_id, response)
        return response

    def ok(self, operation_id: str, body=None, **kwargs) -> dict:
        """Call and insist on success; return the `data` of the envelope."""
        response = self.call(operation_id, body, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json()["data"]

    def dev_login(self, openid: str = "citizen-1") -> dict:
        """Sign in through authDevLogin and keep the token for later calls."""
        result = self.ok("authDevLogin", {"openid": openid})
        self.token = result["token"]
        return result

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=10, **kwargs)


def assert_error(response: requests.Response, status: int, code: str, field: str | None = None) -> dict:
    """The response is the error envelope with this status, code (and field); return the error."""
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and not error["message"].isascii(), error  # a Chinese message
    if field is not None:
        assert error["field"] == field, error
    return error


def assert_refused(client, operation: str, body: dict, code: str, field: str | None = None,
                   status: int = 400) -> dict:
    """`client` calling `operation` with `body` gets this error, and no table changed: nothing was
    half-written. Returns the error."""
    before = row_counts()
    error = assert_error(client.call(operation, body), status, code, field)
    assert row_counts() == before
    return error


def error_of(func, *args, **kwargs) -> ApiError:
    """The ApiError that `func(*args, **kwargs)` raises (the test fails if it raises none)."""
    with pytest.raises(ApiError) as info:
        func(*args, **kwargs)
    return info.value


@pytest.fixture
def sms():
    """Every text message of the test, recorded instead of sent."""
    from services.messaging import sms as sms_service
    from tests.fakes.sms import RecordingSms

    recorder, previous = RecordingSms(), sms_service.provider()
    sms_service.use_provider(recorder)
    yield recorder
    sms_service.use_provider(previous)


@pytest.fixture
def make_server(db, backend):
    """Start the real app with TestConfig(**changes) on this backend; returns an ApiClient."""
    servers = []

    def start(extra_routes=None, gateways=None, **changes) -> ApiClient:
        from server import http_server_options, make_app

        config = TestConfig(database_url=backend[1], **changes)
        server = ServerThread(make_app(config, extra_routes=extra_routes, gateways=gateways),
                              **http_server_options(config)).start()
        servers.append(server)
        client = ApiClient(server.url)
        client.config = config
        client.server = server  # its event loop: server.loop (tests/loop_lag.py probes it)
        return client

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def database_out_of_reach(backend, tmp_path):
    """A context manager: within it, the database proxy is bound to a database that really
    cannot be reached (SQLite: a file in a removed directory; MariaDB: a port nothing listens
    on), as when the database is down; the test's own database is bound again on leaving."""
    @contextlib.contextmanager
    def out_of_reach():
        if backend[0] == "sqlite":
            gone = database.open_database(f"sqlite:///{tmp_path}/gone/healthcode.db")
            (tmp_path / "gone").rmdir()  # the file can no longer be opened
        else:
            gone = database.open_database(f"mysql://root@127.0.0.1:{free_port()}/nowhere")
        database.db.initialize(gone)
        try:
            yield
        finally:
            database.db.initialize(backend[2])
    return out_of_reach


@pytest.fixture
def api(make_server) -> ApiClient:
    """The app with default test settings (no platforms configured: authDevLogin is on)."""
    return make_server()


def make_id_number(n: int, birth: str = "19900307", region: str = "110101") -> str:
    """A valid resident ID number, different for each n (0-999)."""
    first17 = f"{region}{birth}{n:03d}"
    return first17 + identity.id_check_digit(first17)


def report_case(**entry):
    """One case reported as the back office and the partner feed do (`risk_inputs.report_cases`),
    returned as its stored row."""
    from models.risk_inputs import CaseReport
    from services.risk_data import risk_inputs
    risk_inputs.report_cases([entry])
    return CaseReport.select().order_by(CaseReport.id.desc()).get()


def make_person(n: int = 1, name: str = "测试人员", compound=None, account=None) -> Person:
    """A registered person with a valid ID number."""
    person = Person(name=name, account=account, compound=compound)
    person.set_id_number(make_id_number(n))
    person.save()
    return person


def row_counts() -> dict:
    """Rows per table, to prove a refused request wrote nothing."""
    return {model.__name__: model.select().count() for model in schema.MODELS}

