"""Load shedding: past its capacity a process answers a new request 503 `overloaded` with
Retry-After at once, back-office exports first and scans last, and writes nothing for it."""

from __future__ import annotations

import asyncio
import threading
import time
import types

import requests

from handlers import shedding
from handlers.base import BaseHandler
from tests.conftest import assert_error, row_counts

HOLD_SECONDS = 1.5


class HoldHandler(BaseHandler):
    """Stays in flight for HOLD_SECONDS, as a slow scan would."""

    shed_priority = shedding.SCAN

    async def get(self):
        await asyncio.sleep(HOLD_SECONDS)
        self.send_data({"held": True})


def _refused_at_once(response, took) -> None:
    assert_error(response, 503, "overloaded")
    assert response.headers["Retry-After"] == "1"
    assert took < 0.2, took


def test_past_capacity_exports_go_first_and_scans_last(make_server):
    api = make_server(extra_routes=[(r"/test/hold", HoldHandler)], max_in_flight_requests=4)
    api.dev_login("citizen-busy")
    counts = row_counts()
    held = []
    holders = [threading.Thread(target=lambda: held.append(requests.get(api.base_url + "/test/hold", timeout=10)))
               for _ in range(3)]
    for thread in holders:
        thread.start()
    time.sleep(0.4)  # three of the four places taken
    for call in (lambda: api.get("/admin/r/people/export"),  # an export: a quarter of the places
                 lambda: api.get("/admin/login"),  # a back-office page: half
                 lambda: api.call("updateProfile", {"name": "王小明"}),  # the API: three quarters
                 lambda: api.get("/healthz")):
        started = time.monotonic()
        response = call()
        _refused_at_once(response, time.monotonic() - started)
    head = requests.head(api.base_url + "/healthz", timeout=10)  # no body, the same headers
    assert (head.status_code, head.headers["Retry-After"], head.content) == (503, "1", b"")
    # A scan may have the last place: it is admitted (and refused for its missing sign-in).
    assert_error(requests.post(api.base_url + "/api/v1/scans", json={}, timeout=10), 401, "unauthorized")
    for thread in holders:
        thread.join(10)
    assert [response.status_code for response in held] == [200] * 3
    assert row_counts() == counts  # nothing of the refused requests was written
    assert api.call("getProfile").status_code == 200 and api.get("/admin/login").status_code == 200


def _lagging_loop(shedder, in_flight: int, then):
    """Admit `in_flight` requests, stall the loop 100 ms (the tick due within it runs 80-100 ms
    late), and return (the lag measured, what `then()` returns right after)."""
    api = type("Api", (), {})

    async def run():
        for _ in range(in_flight):
            assert shedder.admit(_request(), api)  # the first starts the lag's measure on this loop
        await asyncio.sleep(0.05)
        time.sleep(0.1)
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return shedder.lag, await then()

    return asyncio.run(run())


def _request():
    return types.SimpleNamespace(connection=None)


SCAN = type("Scan", (), {"shed_priority": shedding.SCAN})
EXPORT = type("Export", (), {"shed_priority": shedding.BULK})


def test_a_lagging_loop_sheds_the_lesser_requests_first_and_recovers():
    shedder = shedding.LoadShedder(max_in_flight=100, max_lag_ms=120)

    async def then():
        # 80-100 ms late: over the exports' share (30 ms), under the scans' (120 ms).
        refused_export, admitted_scan = not shedder.admit(_request(), EXPORT), shedder.admit(_request(), SCAN)
        await asyncio.sleep(0.2)  # an idle loop: the lag decays
        return refused_export, admitted_scan, shedder.admit(_request(), EXPORT)

    lagging, (refused_export, admitted_scan, admitted_later) = _lagging_loop(shedder, shedding.LAG_QUEUE, then)
    assert 0.075 < lagging < 0.120, lagging
    assert refused_export and admitted_scan and admitted_later
    assert shedder.in_flight == shedding.LAG_QUEUE + 2 and shedder.shed == 1


def test_a_lag_with_few_requests_in_flight_refuses_none_of_them():
    """A loop late by the machine's other work, with a page's few files in flight: refusing them
    would shorten no queue and break the page."""
    shedder = shedding.LoadShedder(max_in_flight=100, max_lag_ms=120)

    async def then():
        return [shedder.admit(_request(), EXPORT) for _ in range(shedding.LAG_QUEUE - 2)]

    lagging, admitted = _lagging_loop(shedder, 2, then)
    assert lagging > 0.075 and all(admitted) and shedder.shed == 0
    assert not shedder.admit(_request(), EXPORT)  # LAG_QUEUE in flight: now it is a queue


def test_the_document_says_every_operation_may_answer_503_with_retry_after(api):
    document = api.get("/openapi.json").json()
    operations = [op for methods in document["paths"].values() for op in methods.values()]
    assert operations and all("Retry-After" in op["responses"]["503"]["headers"] for op in operations)
