"""Load shedding: past its capacity, a process refuses a new request at once (503 `overloaded`,
Retry-After) instead of queueing it behind the others.

Capacity is two figures from config: the requests in flight (admitted and not yet answered,
MAX_IN_FLIGHT_REQUESTS) and the event loop's lag (how late a callback scheduled every
LAG_INTERVAL_SECONDS runs, MAX_LOOP_LAG_MS), the loop's own queue. Each handler class declares
once how much it matters (`shed_priority`, one of the PRIORITIES below; API handlers default to
API, back-office pages to BACK_OFFICE): a priority is admitted while both figures stay under its
share of the capacity (the lag only once LAG_QUEUE requests are in flight: with fewer it is the
machine's, not a queue's), so as load rises back-office exports and imports are refused first, then
back-office pages, then the rest of the API, and scans last. The decision is taken when the
request's headers arrive (`routing.Application.find_handler`), before any database is touched,
and a refusal is written straight on the connection (`Refusal`). It still costs about what a
bare Tornado answer costs: a process cannot refuse more requests than it can parse, so a load far
past that needs shedding in front of it (the proxy's rate limits); bench/overload.py measures it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging

from tornado import httputil

from services.common.errors import RETRY_AFTER_SECONDS

BULK, BACK_OFFICE, API, SCAN = 0, 1, 2, 3  # back-office exports and imports < ... < scans
PRIORITIES = {BULK: 0.25, BACK_OFFICE: 0.5, API: 0.75, SCAN: 1.0}  # each one's share of the capacity
log = logging.getLogger("healthcode.shedding")
LAG_INTERVAL_SECONDS = 0.02
# How much of the last lag measured still counts at the next tick: one late tick (a long
# callback) keeps shedding for a few ticks rather than one.
LAG_DECAY = 0.5
# Fewer requests in flight than this are no queue that refusing would shorten: a lag then is the
# machine's (other work on its cores), and refusing would only break what little is asked, such
# as one H5 page's script and style sheet fetched together.
LAG_QUEUE = 8
_OVERLOADED = json.dumps({"error": {"code": "overloaded", "message": "服务繁忙，请稍后重试", "field": None}},
                         ensure_ascii=False).encode()


class LoadShedder:
    """One process's admission control (see the module docstring)."""

    def __init__(self, max_in_flight: int, max_lag_ms: float) -> None:
        self.max_in_flight = max(1, max_in_flight)
        self.max_lag = max_lag_ms / 1000
        self.in_flight = 0
        self.lag = 0.0  # seconds
        self.shed = 0  # requests refused since start, for the statistics of a load test
        self._loop = None
        self._due = self._reported_at = 0.0
        self._reported = 0

    def admit(self, request, handler_class) -> bool:
        """Count `request` in and return True, or return False when it is to be refused."""
        if self._loop is None:
            self._start()
        share = PRIORITIES[getattr(handler_class, "shed_priority", API)]
        # A lag with few requests in flight is not a queue of them (LAG_QUEUE): a lone client, or
        # one page's files, is never refused for it.
        queued = self.in_flight >= min(LAG_QUEUE, self.max_in_flight * share)
        if self.in_flight >= self.max_in_flight * share or (queued and self.lag > self.max_lag * share):
            self.shed += 1
            return False
        self.in_flight += 1
        request.admitted = True
        # Released when its handler finishes (Application.log_request), or here when the client
        # leaves before a handler was made (a body never sent in full): the handler takes this
        # connection's close callback over once it exists.
        if request.connection is not None:
            request.connection.set_close_callback(functools.partial(self.release, request))
        return True

    def release(self, request) -> None:
        """`request` is answered (or abandoned): it no longer counts. Idempotent."""
        if request.__dict__.pop("admitted", False):
            self.in_flight -= 1

    def _start(self) -> None:
        """Measure the lag of the loop that serves the requests (the first request's)."""
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # a route looked up outside a server (a test of the routing)
            return
        self._reported_at = self._loop.time()
        self._due = self._reported_at + LAG_INTERVAL_SECONDS
        self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        self.lag = max(now - self._due, self.lag * LAG_DECAY)
        self._due = now + LAG_INTERVAL_SECONDS
        self._loop.call_at(self._due, self._tick)
        if now >= self._reported_at + 1 and self.shed > self._reported:
            log.warning("overloaded: %d requests refused in %.1f s (in flight %d, loop lag %.0f ms)",
                        self.shed - self._reported, now - self._reported_at, self.in_flight, self.lag * 1000)
            self._reported, self._reported_at = self.shed, now


class Refusal(httputil.HTTPMessageDelegate):
    """What a refused request gets: 503 `overloaded` with Retry-After, in the JSON envelope,
    written straight on its connection when the request has arrived (its body read and dropped):
    no handler is made, nothing is logged one by one (at a thousand a second the log would be the
    load; the shedder says once a second how many it refused), so a refusal costs little."""

    def __init__(self, request) -> None:
        self.connection, self.head = request.connection, request.method == "HEAD"
        self.request_id = getattr(request, "request_id", None)

    def data_received(self, chunk) -> None:
        """The body of a refused request is dropped."""

    def finish(self) -> None:
        headers = httputil.HTTPHeaders({"Content-Type": "application/json; charset=UTF-8", "Cache-Control": "no-store",
                                        "Retry-After": str(RETRY_AFTER_SECONDS), "Content-Length": str(len(_OVERLOADED))})
        if self.request_id is not None:
            headers["X-Request-Id"] = self.request_id
        self.connection.write_headers(httputil.ResponseStartLine("HTTP/1.1", 503, "Service Unavailable"), headers,
                                      None if self.head else _OVERLOADED)
        self.connection.finish()
