"""Deadlines on both databases: a lock held too long by another connection, a database out of
reach, a client that never reads its answer and a thousand idle connections. Each gets its
answer (503 with Retry-After where the database is at fault) and nothing half-written, and the
requests that need no database keep answering."""

from __future__ import annotations

import socket
import sqlite3
import time
from urllib.parse import urlparse

import pytest

from config import TestConfig
from models import db as database
from server import database_deadlines
from tests.conftest import _mysql_admin, assert_error, row_counts

PROFILE = {"name": "王小明", "id_number": "110101199003070011", "phone": "13800000000", "address": "经八路5号院3号楼",
           "building": "3", "room": "501", "resident_category": "owner"}


@pytest.fixture
def deadlined(backend, db):
    """The test's database bound as the server binds it: with the configured deadlines (MySQL:
    a lock wait of DB_LOCK_WAIT_SECONDS)."""
    bound = database.open_database(backend[1], 20, database_deadlines(TestConfig()))
    database.db.initialize(bound)
    yield bound
    bound.close_all() if hasattr(bound, "close_all") else bound.close()
    database.db.initialize(backend[2])


class HeldLock:
    """Another connection holding the lock an update of `person` rows needs, until released."""

    def __init__(self, backend) -> None:
        name, url = backend[0], backend[1]
        if name == "sqlite":
            self.connection = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
            self.connection.execute("BEGIN IMMEDIATE")  # the database's one write lock
        else:
            parsed = urlparse(url)
            self.connection = _mysql_admin(url)
            self.connection.select_db(parsed.path.lstrip("/"))
            self.connection.cursor().execute("BEGIN")
            self.connection.cursor().execute("SELECT id FROM person FOR UPDATE")

    def release(self) -> None:
        self.connection.rollback() if hasattr(self.connection, "select_db") else self.connection.execute("ROLLBACK")
        self.connection.close()


def test_a_lock_wait_timeout_is_503_with_retry_after_and_nothing_half_written(backend, deadlined, make_server):
    api = make_server()
    api.dev_login("citizen-locked")
    api.ok("updateProfile", PROFILE)
    before, counts = api.ok("getProfile"), row_counts()
    lock = HeldLock(backend)
    try:
        started = time.monotonic()
        response = api.call("updateProfile", {**PROFILE, "name": "李大明", "room": "502"})
        took = time.monotonic() - started
    finally:
        lock.release()
    assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "1"
    # MariaDB gives up after DB_LOCK_WAIT_SECONDS (1 s), SQLite after its busy timeout (5 s).
    assert took < (2.0 if backend[0] == "mysql" else 7.0), took
    assert api.ok("getProfile") == before and row_counts() == counts
    assert api.ok("updateProfile", {**PROFILE, "room": "502"})["room"] == "502"  # the lock gone, it passes


def test_out_of_reach_the_database_needing_requests_are_503_and_the_others_answer(api, database_out_of_reach):
    api.dev_login("citizen-away")
    counts = row_counts()
    with database_out_of_reach():
        started = time.monotonic()
        profile = api.call("updateProfile", PROFILE)
        health = api.get("/healthz")
        document, login, missing = api.get("/openapi.json"), api.get("/admin/login"), api.get("/no/such/path")
        took = time.monotonic() - started
    assert_error(profile, 503, "service_unavailable")
    assert_error(health, 503, "database_unavailable")
    assert profile.headers["Retry-After"] == health.headers["Retry-After"] == "1"
    assert (document.status_code, login.status_code, missing.status_code) == (200, 200, 404)
    assert took < 2.0, took
    assert row_counts() == counts
    assert api.get("/healthz").status_code == 200  # back at once


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_idle_connections_and_a_client_that_never_reads_do_not_stop_other_requests(make_server):
    api = make_server(idle_connection_seconds=1.0, body_timeout_seconds=1.0)
    api.dev_login("citizen-patient")
    counts = row_counts()
    port = urlparse(api.base_url).port
    idle = [_connect(port) for _ in range(1000)]
    greedy = _connect(port)  # asks for the (large) document again and again, and never reads
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    greedy.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
    slow_body = _connect(port)  # announces a body and sends a tenth of it
    slow_body.sendall(b"PUT /api/v1/me/profile HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    try:
        for _ in range(5):
            started = time.monotonic()
            assert api.call("getProfile").status_code == 200  # none yet: 200 with no profile
            assert api.get("/healthz").status_code == 200
            assert time.monotonic() - started < 1.0
        time.sleep(1.5)
        # Past the limits the server let them go: an idle connection and a body that never came.
        for sock in (idle[0], idle[-1], slow_body):
            sock.settimeout(3)
            assert sock.recv(1024) == b""
        assert api.call("getProfile").status_code == 200
    finally:
        for sock in (*idle, greedy, slow_body):
            sock.close()
    assert row_counts() == counts
