"""The inspector's page in headless Chromium, on both databases (N2, N7): bind a place, verify a
code online, then with the network cut verify codes offline (离线核验 with the list's time) and
queue a temperature check, which is sent once the network is back; a queue sent twice writes one
record. The page still takes typed codes when the decoder is not installed (the camera:
test_inspect_camera.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time

import pytest
import requests

from models.people import Person
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from services.people import health_codes
from tests.api.test_field_roles import declared_place, person
from tests.browser.conftest import PHONE, guarded_page

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@pytest.fixture
def gate(h5):
    """A place with its declaration code, and a citizen with a profile: (declaration code, person)."""
    declaration_code = declared_place(h5)
    citizen = person(h5, "citizen", 2, "王小明")
    return declaration_code, Person.get(Person.account == citizen.account_id)


def fresh_code(h5, someone: Person) -> str:
    return health_codes.dynamic_code(someone, h5.config, colour="green")["payload"]


@contextlib.contextmanager
def server_requests():
    """The paths the server answered within the block (its access log)."""
    seen: list[str] = []

    class Note(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("tornado.access")
    handler, level = Note(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def until(page, function: str, arg=None, seconds: float = 8.0) -> None:
    """Poll a JS function until it returns something true (wait_for_function's predicate is run
    through eval, which the page's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(function, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {function}"
        page.wait_for_timeout(100)


def open_and_bind(page, h5, declaration_code: str) -> None:
    page.goto(f"{h5.base_url}/inspect/")
    page.locator("#bind:not([hidden])").wait_for()
    page.fill("#declaration-code", declaration_code)
    page.click("#bind-submit")
    page.locator("#work:not([hidden])").wait_for()
    # The worker controls the page and keeps the list before the network is cut.
    until(page, """async () => navigator.serviceWorker.controller !== null &&
        !!(await caches.match('/api/v1/health-codes/offline-list'))""")


def verify_typed(page, payload: str):
    page.fill("#code-input", payload)
    page.click("#code-submit")
    page.locator("#verdict:not([hidden])").wait_for()
    return page.locator("#verdict")


def test_the_page_and_its_worker_are_strict_and_served_by_us(h5):
    page = requests.get(f"{h5.base_url}/inspect/", timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    worker = requests.get(f"{h5.base_url}/inspect/sw.js", timeout=10)
    assert worker.status_code == 200 and "javascript" in worker.headers["Content-Type"]
    shell = json.loads(re.search(r"var SHELL = (\[.*\]);", worker.text).group(1))
    assert "/inspect/" in shell and all(url.startswith("/") for url in shell)
    for url in shell[1:]:
        assert requests.get(h5.base_url + url, timeout=10).status_code == 200, url
    # Only the decoder's one file is served out of node_modules.
    assert requests.get(f"{h5.base_url}/static/vendor/package.json", timeout=10).status_code == 404


def test_offline_verification_and_a_queued_check_sent_once_when_back_online(browser, h5, gate):
    declaration_code, citizen = gate
    revoked, revoked_payload = health_codes.issue_paper_code(citizen, h5.config)
    health_codes.revoke_paper_code(revoked.id)
    context, page = guarded_page(browser, h5.base_url, PHONE, failed_loads_ok=True)
    try:
        open_and_bind(page, h5, declaration_code)
        online = verify_typed(page, fresh_code(h5, citizen))
        assert "在线核验" in online.inner_text() and "王**" in online.inner_text()

        with server_requests() as seen:
            context.set_offline(True)
            page.reload()  # the page itself now comes from the worker
            page.wait_for_selector("#inspect[data-ready='1']")
            assert "网络已断开" in page.inner_text("#net-status")
            verdict = verify_typed(page, fresh_code(h5, citizen)).inner_text()
            assert "离线核验" in verdict and "绿码" in verdict
            list_time = page.inner_text("#list-time")
            assert TIME_RE.fullmatch(list_time) and list_time in verdict

            page.fill("#check-temperature", "36.6")
            page.click("#check-submit")
            page.locator("#check-result:not([hidden])").wait_for()
            assert "已离线登记" in page.inner_text("#check-result")
            assert page.inner_text("#queue-count") == "1"
            queued = page.evaluate("localStorage.getItem('hc.inspect.queue')")

            # A revoked paper code and a forged one are refused offline, each with its reason.
            assert "已作废" in verify_typed(page, revoked_payload).inner_text()
            forged = fresh_code(h5, citizen)
            forged = forged[:-3] + ("AAA" if not forged.endswith("AAA") else "BBB")
            assert "签名无效" in verify_typed(page, forged).inner_text()
            assert page.locator("#check-card").is_hidden()
            assert EntryRecord.select().count() == 0
        assert seen == [], seen  # nothing reached the server while the network was cut

        context.set_offline(False)  # the page's `online` event sends the queue
        until(page, "() => document.getElementById('queue-count').textContent === '0'")
        page.locator("#top-notice:not([hidden])").wait_for()
        assert EntryRecord.select().count() == 1 and TemperatureRecord.select().count() == 1
        entry = EntryRecord.get()
        assert '"offline": true' in entry.form and entry.request_id == json.loads(queued)[0]["request_id"]

        # The same queue sent again (as if the page had died before forgetting it): no new record.
        page.evaluate("queued => localStorage.setItem('hc.inspect.queue', queued)", queued)
        page.click("#queue-send")
        until(page, "() => localStorage.getItem('hc.inspect.queue') === '[]'")
        assert EntryRecord.select().count() == 1 and TemperatureRecord.select().count() == 1
        assert page.inner_text("#queue-failures") == ""

        # A queued check the server refuses leaves the queue with its Chinese reason on the page.
        bad = dict(json.loads(queued)[0], payload="HC1.garbage.x", request_id="refused-0001")
        page.evaluate("bad => localStorage.setItem('hc.inspect.queue', JSON.stringify([bad]))", bad)
        page.click("#queue-send")
        until(page, "() => localStorage.getItem('hc.inspect.queue') === '[]'")
        assert "无法识别的健康码" in page.inner_text("#queue-failures")
        assert EntryRecord.select().count() == 1 and TemperatureRecord.select().count() == 1
    finally:
        context.close()
    assert not page.problems, page.problems


def test_without_the_decoder_the_page_takes_typed_codes(browser, h5, gate, monkeypatch, tmp_path):
    from handlers import h5 as h5_handlers

    monkeypatch.setattr(h5_handlers, "DECODER_DIR", str(tmp_path))
    declaration_code, citizen = gate
    context, page = guarded_page(browser, h5.base_url, PHONE, failed_loads_ok=True)
    try:
        open_and_bind(page, h5, declaration_code)
        assert "jsQR" not in page.content()
        assert page.locator("#camera-start").is_hidden() and page.locator("#camera-missing").is_visible()
        assert "在线核验" in verify_typed(page, fresh_code(h5, citizen)).inner_text()
        page.click("#check-submit")
        page.locator("#check-result:not([hidden])").wait_for()
        assert "已登记" in page.inner_text("#check-result")
        assert EntryRecord.select().count() == 1
    finally:
        context.close()
    assert not page.problems, page.problems


def test_with_the_database_gone_the_page_verifies_offline_and_queues(browser, h5, gate, database_out_of_reach):
    """N7's degraded mode: the server answers 503 at once while its database is gone; the page
    takes that as no network, verifies with its kept list, queues the check, and sends it once
    the database is back."""
    declaration_code, citizen = gate
    payload = fresh_code(h5, citizen)
    context, page = guarded_page(browser, h5.base_url, PHONE, failed_loads_ok=True)
    try:
        open_and_bind(page, h5, declaration_code)
        with database_out_of_reach():
            verdict = verify_typed(page, payload).inner_text()
            assert "离线核验" in verdict and "绿码" in verdict
            page.click("#check-submit")
            page.locator("#check-result:not([hidden])").wait_for()
            assert "已离线登记" in page.inner_text("#check-result")
        assert EntryRecord.select().count() == 0
        deadline = time.monotonic() + 8
        while page.evaluate("() => localStorage.getItem('hc.inspect.queue')") != "[]":
            assert time.monotonic() < deadline, "the queue was not sent once the database was back"
            page.click("#queue-send")
            page.wait_for_timeout(300)
        assert EntryRecord.select().count() == 1
    finally:
        context.close()
    assert not page.problems, page.problems
