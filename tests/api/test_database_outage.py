"""A MariaDB server that freezes (SIGSTOP) or dies (SIGKILL) under a few scanning clients: every
request that needs it answers 503 with Retry-After within 2 s, those that need none keep
answering, /healthz says the database is unreachable, service resumes by itself within 2 s of
the server's return, and no acknowledged scan is lost. A server of the test's own
(tests/fakes/throwaway_mariadb.py), never the machine's: only a server can be frozen, so these run
on MariaDB alone; test_database_deadlines.py holds the behaviours both databases share."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
import uuid

import pytest
import requests

from config import TestConfig
from models import db as database
from models import cipher, schema
from models.places import EntryRecord
from models.regions import Region
from server import database_deadlines, http_server_options, make_app
from services.colours import colour_rules
from services.operations import demo
from services.venues import places
from tests.conftest import ApiClient, assert_error
from tests.fakes.server_thread import ServerThread
from tests.fakes.throwaway_mariadb import ThrowawayMariaDB

PROFILE = {"name": "王小明", "id_number": "110101199003070011", "phone": "13800000000", "address": "经八路5号院3号楼",
           "building": "3", "room": "501", "resident_category": "owner"}
CLIENTS = 4
DEADLINE = 2.0  # seconds: what a request that needs the database may take while it is down

pytestmark = pytest.mark.skipif(shutil.which("mariadbd") is None, reason="mariadbd is not installed")


@pytest.fixture(scope="module")
def mariadb():
    server = ThrowawayMariaDB().start()
    yield server
    server.stop()


@pytest.fixture
def served(mariadb):
    """The real server on a fresh database of the throwaway MariaDB, bound with the server's
    deadlines, with a place and a signed-in citizen who has scanned once."""
    config = TestConfig(database_url=mariadb.create_database(f"test_{secrets.token_hex(6)}"))
    previous = database.db.obj
    cipher.configure(cipher.DataCipher.from_setting(config.data_key))
    bound = database.bind(config.database_url, 20, database_deadlines(config))
    with bound.connection_context():
        schema.migrate()
        colour_rules.install_defaults()
        demo.load()
        compound = Region.get(Region.code == "410105001001001")
        _, code = places.create_place(place_type_code="compound", name=compound.name, region=compound)
    server = ServerThread(make_app(config), **http_server_options(config)).start()
    client = ApiClient(server.url)
    client.dev_login("citizen-outage")
    client.place, client.database_name = code.token, bound.database
    assert _scan(client.session, client, uuid.uuid4().hex, PROFILE).status_code == 200
    try:
        yield client
    finally:
        mariadb.thaw()
        server.stop()
        bound.close_all()
        database.db.initialize(previous)


def _scan(session, client, request_id, profile=None, timeout=30):
    body = {"code": client.place, "flow": "resident", "request_id": request_id}
    if profile:
        body["profile"] = profile
    return session.post(client.base_url + "/api/v1/scans", json=body, timeout=timeout,
                        headers={"Authorization": f"Bearer {client.token}"})


class Scanners:
    """CLIENTS threads that scan without pause, each with a request id of its own per scan,
    recording (request id, status, seconds, Retry-After) of every answer."""

    def __init__(self, client: ApiClient) -> None:
        self.client, self.answers, self.stop = client, [], threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> "Scanners":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            request_id, started = uuid.uuid4().hex, time.monotonic()
            try:
                response = _scan(session, self.client, request_id)
            except requests.RequestException as exc:
                self.answers.append((request_id, type(exc).__name__, time.monotonic() - started, None))
                continue
            self.answers.append((request_id, response.status_code, time.monotonic() - started,
                                 response.headers.get("Retry-After")))
            if response.status_code == 503:
                time.sleep(0.05)  # as a client told to retry later would, though sooner


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _check_down(client: ApiClient) -> None:
    """While the database is down: the document needs none, the others answer 503 in time."""
    document, took = _timed(lambda: client.get("/openapi.json"))
    assert document.status_code == 200 and took < DEADLINE, took
    health, took = _timed(lambda: client.get("/healthz"))
    assert_error(health, 503, "database_unavailable")
    assert health.headers["Retry-After"] == "1" and took < DEADLINE, took
    profile, took = _timed(lambda: client.call("getProfile"))
    assert_error(profile, 503, "service_unavailable")
    assert profile.headers["Retry-After"] == "1" and took < DEADLINE, took
    scan, took = _timed(lambda: _scan(client.session, client, uuid.uuid4().hex))
    assert scan.status_code == 503 and scan.headers["Retry-After"] == "1" and took < DEADLINE, (scan.text, took)
    assert client.get("/admin/login").status_code == 200  # a page shell
    assert client.get("/no/such/path").status_code == 404


def _seconds_until_served(client: ApiClient, limit: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if client.call("getProfile").status_code == 200 and client.get("/healthz").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"service did not resume within {limit} s")


def _assert_no_acknowledged_scan_lost(mariadb, client, answers) -> None:
    acknowledged = {request_id for request_id, status, _, _ in answers if status == 200}
    assert acknowledged, answers
    with mariadb.admin() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT request_id FROM `{client.database_name}`.`{EntryRecord._meta.table_name}`")
        stored = {request_id for (request_id,) in cursor.fetchall()}
    assert acknowledged <= stored, acknowledged - stored
    assert all(retry == "1" for _, status, _, retry in answers if status == 503), answers
    assert not [a for a in answers if a[1] not in (200, 503)], answers


def _through_an_outage(mariadb, served, stop, start, down_seconds: float = 0.0) -> None:
    """Scanning clients meanwhile: `stop` the server, check the answers while it is down (again
    after `down_seconds`), `start` it, and check that service resumes within the deadline and that
    no acknowledged scan was lost."""
    with Scanners(served) as scanners:
        time.sleep(1.0)
        stop()
        try:
            _check_down(served)
            if down_seconds:
                time.sleep(down_seconds)  # down for a while: still the same answers, still in time
                _check_down(served)
        finally:
            start()
        assert _seconds_until_served(served) <= DEADLINE
        time.sleep(1.0)
    assert [status for _, status, _, _ in scanners.answers[-CLIENTS:]] == [200] * CLIENTS
    _assert_no_acknowledged_scan_lost(mariadb, served, scanners.answers)


def test_a_frozen_database_is_503_within_2s_and_service_resumes_by_itself(mariadb, served):
    _through_an_outage(mariadb, served, mariadb.freeze, mariadb.thaw, down_seconds=2.0)


def test_a_killed_database_is_503_at_once_and_service_resumes_when_it_is_back(mariadb, served):
    _through_an_outage(mariadb, served, mariadb.kill, mariadb.start)
