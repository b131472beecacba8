"""The scan against a MariaDB of the test's own (tests/throwaway_mariadb.py) that freezes (SIGSTOP)
or dies (SIGKILL) under concurrent scans: 503 with Retry-After within 2 s, no acknowledged scan
lost, service back by itself within 2 s; and TLS to it from DATABASE_URL, for peewee's
connections and the event loop's, with a CA that does not match refused at start-up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import peewee
import pytest
import requests

from config import TestConfig
from models import db as database
from models import mysql_loop, schema
from models.accounts import Account, AuthIdentity
from models.places import EntryRecord
from services.accounts import auth
from services.colours import colour_rules
from services.venues import places
from tests.conftest import make_person
from tests.fakes.server_thread import ServerThread
from tests.throwaway_mariadb import ThrowawayMariaDB, available, make_ca

ROOT = Path(__file__).resolve().parents[2]
WITHIN = 2.0  # seconds a guard at the gate may wait for an answer, or to be served again


@pytest.fixture(scope="module")
def mariadb():
    """One throwaway mariadbd for the module (its own port), stopped at the end."""
    reason = available()
    if reason:
        pytest.skip(reason)
    server = ThrowawayMariaDB().start()
    yield server
    server.stop()


@pytest.fixture
def bound(backend, mariadb):
    """The proxy bound to a fresh database on the throwaway server, migrated; the test's own
    database bound again afterwards. Only on the MariaDB run: SQLite cannot freeze apart."""
    if backend[0] != "mysql":
        pytest.skip("a server that freezes or dies: MariaDB only")
    name = f"outage_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(name)
    url = mariadb.url(name)
    other = database.open_database(url)
    database.db.initialize(other)
    try:
        schema.migrate()
        colour_rules.install_defaults()
        yield url
    finally:
        other.close_all()
        database.db.initialize(backend[2])


def _world(url: str) -> tuple[ServerThread, str, str]:
    """A test point and a signed-in citizen, and the real app serving them: (server, code, bearer)."""
    place, code = places.create_place(place_type_code="test_point", name="核酸检测点")
    account = Account.create()
    person = make_person(1, account=account)
    person.set_phone("13800000001")
    person.save()
    config = TestConfig(database_url=url)
    identity = AuthIdentity.create(account=account, provider="dev", subject=uuid.uuid4().hex)
    bearer = auth.issue_token(identity, config)["token"]
    database.db.close()
    from server import http_server_options, make_app

    return ServerThread(make_app(config), **http_server_options(config)).start(), code.token, bearer


class _Scanners:
    """A few clients scanning at once until stopped: each answer's time, status, code and
    Retry-After, and the request ids the server acknowledged."""

    def __init__(self, server: ServerThread, code: str, bearer: str, clients: int = 4) -> None:
        self.url = server.url + "/api/v1/scans"
        self.code, self.bearer = code, bearer
        self.answers: list[tuple[float, float, int, str | None, str | None]] = []  # sent, took, status, code, retry
        self.acknowledged: list[str] = []
        self.running = True
        self.threads = [threading.Thread(target=self._scan, daemon=True) for _ in range(clients)]

    def _scan(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.bearer}"
        deadline = time.monotonic() + 60  # bounded, whatever happens
        while self.running and time.monotonic() < deadline:
            request_id = uuid.uuid4().hex
            sent = time.monotonic()
            try:
                response = session.post(self.url, json={"code": self.code, "flow": "tested", "request_id": request_id},
                                        timeout=10)
            except requests.RequestException:
                self.answers.append((sent, time.monotonic() - sent, 0, None, None))
                continue
            took = time.monotonic() - sent
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            error = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            self.answers.append((sent, took, response.status_code, error, response.headers.get("Retry-After")))
            if response.status_code == 200:
                self.acknowledged.append(request_id)
            else:
                time.sleep(0.05)  # as a client would before retrying

    def __enter__(self) -> _Scanners:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(15)

    def first_success_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 200 of a scan sent after it."""
        done = [sent + took for sent, took, status, _, _ in self.answers if sent >= moment and status == 200]
        return min(done) - moment if done else None


def _stored(url: str) -> set[str]:
    """The request ids stored, as a new connection sees them."""
    other = database.open_database(url)
    try:
        with other.bind_ctx([EntryRecord]):
            return {e.request_id for e in EntryRecord.select(EntryRecord.request_id)}
    finally:
        other.close_all()


def _check_outage(scanners: _Scanners, began: float, ended: float) -> None:
    """During the outage every scan was answered within WITHIN: 200 (served before it bit), or
    503 service_unavailable / scan_not_saved with Retry-After."""
    during = [a for a in scanners.answers if began - 0.5 <= a[0] <= ended]
    assert during, "no scan was sent during the outage"
    failures = [a for a in during if a[2] != 200]
    assert failures, "the outage was not noticed"
    for sent, took, status, code, retry in during:
        assert took <= WITHIN, f"a scan took {took:.2f} s during the outage"
        if status != 200:
            assert status == 503 and code in ("service_unavailable", "scan_not_saved") and retry, (status, code, retry)


def _outage(url: str, interrupt, restore, outage_seconds: float) -> float:
    """Scans run at once while `interrupt()` ... `restore()` take the database away for a while:
    each is answered within WITHIN (200, or 503 with Retry-After), none acknowledged is lost;
    the seconds from `restore()` to the next scan served."""
    server, code, bearer = _world(url)
    try:
        with _Scanners(server, code, bearer) as scanners:
            time.sleep(1.0)
            began = time.monotonic()
            interrupt()
            time.sleep(outage_seconds)
            restore()
            ended = time.monotonic()
            time.sleep(3.0)
        _check_outage(scanners, began, ended)
    finally:
        server.stop()
    assert set(scanners.acknowledged) <= _stored(url), "an acknowledged scan was lost"
    back = scanners.first_success_after(ended)
    assert back is not None, "not served again"
    assert [a for a in scanners.answers if a[0] >= ended + WITHIN and a[2] != 200] == [], "still failing"
    return back


def test_a_frozen_database_answers_503_within_2_s_and_service_resumes_by_itself(bound, mariadb):
    back = _outage(bound, mariadb.pause, mariadb.resume, 3.0)
    assert back <= WITHIN, f"served again {back:.2f} s after SIGCONT"


def test_a_killed_database_answers_503_at_once_and_service_resumes_after_restart(bound, mariadb):
    back = _outage(bound, mariadb.kill, mariadb.start, 1.0)
    assert back <= WITHIN, f"served again {back:.2f} s after the restart"


def _ssl_cipher(url: str) -> tuple[str, str]:
    """The TLS cipher of a peewee connection and of a loop connection made from `url`."""
    other = database.open_database(url)
    try:
        (peewee_cipher,) = other.execute_sql("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                                             "WHERE VARIABLE_NAME = 'Ssl_cipher'").fetchone()

        async def on_loop():
            connection = await mysql_loop.LoopConnection.open(other)
            try:
                (reply,) = await connection.run(["SHOW SESSION STATUS LIKE 'Ssl_cipher'"])
                return reply[1][0][1]
            finally:
                connection.close()

        return peewee_cipher, asyncio.run(on_loop())
    finally:
        other.close_all()


def test_tls_from_the_url_for_peewee_and_the_loop(backend, mariadb):
    if backend[0] != "mysql":
        pytest.skip("TLS to MariaDB")
    name = f"tls_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(name)
    verified = mariadb.url(name, f"ssl_ca={mariadb.ca}&ssl_verify_cert=true&ssl_verify_identity=true")
    peewee_cipher, loop_cipher = _ssl_cipher(verified)
    assert peewee_cipher and loop_cipher  # both encrypted


def test_a_ca_that_does_not_match_is_refused_with_a_clear_start_up_error(backend, mariadb, tmp_path):
    if backend[0] != "mysql":
        pytest.skip("TLS to MariaDB")
    stranger = make_ca(tmp_path, "stranger")
    url = mariadb.url("mysql", f"ssl_ca={stranger}&ssl_verify_cert=true&ssl_verify_identity=true")
    with pytest.raises(peewee.OperationalError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        other = database.open_database(url)
        other.connect()

    async def on_loop():
        await mysql_loop.LoopConnection.open(database.open_database(url))
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        asyncio.run(on_loop())

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "ALIPAY_", "APP_ENV"))}
    env["DATABASE_URL"] = url
    run = subprocess.run([sys.executable, "server.py", "init-db"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert "cannot connect to the database: the database server's TLS certificate does not verify against ssl_ca" \
        in run.stderr and "Traceback" not in run.stderr


def test_tls_options_are_checked_at_start_up():
    for options, message in (("ssl_verify_cert=true", "need ssl_ca"), ("ssl_ca=/x.pem&ssl_mode=on", "unknown"),
                             ("ssl_ca=/nonexistent/ca.pem", "No such file")):
        with pytest.raises((ValueError, OSError), match=message):
            database.open_database(f"mysql://root@127.0.0.1:1/x?{options}")
