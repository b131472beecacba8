"""A JSON request whose body is over the server's limit is answered 413 in the envelope.

Tornado's HTTP/1 connection refuses a body over `max_body_size` with a bare "400 Bad Request"
and no body, which a client cannot tell from a malformed request. The application sees the
headers first (`Application.start_request`), so an API request that announces a body over the
limit is answered here: its body is read and dropped (up to DRAIN_LIMIT, so that a client which
sends it all before reading sees the answer and not a reset connection), then 413
`body_too_large`. Smaller bodies reach the handler, which holds JSON bodies to MAX_BODY_BYTES.
Uploads stream through their own handlers (outside /api/) with their own limits.

The guard also holds a request's body to its deadline (BODY_TIMEOUT_SECONDS, `body_timeout`),
as Tornado's HTTPServer would with its own `body_timeout`: a body not all received in time
closes the connection. Tornado's way (gen.with_timeout around the body's read) cost each request
with a body 3% of a scan's CPU; one timer from the loop, cancelled when the body is in, does the
same for a fraction of that.
"""

from __future__ import annotations

import asyncio
import json

from tornado import httputil
from tornado.log import gen_log

API_PREFIX = "/api/"
DRAIN_LIMIT = 64 * 1024 * 1024


class OversizeGuard(httputil.HTTPMessageDelegate):
    """Passes a request on to the application's delegate, unless it is an API request whose
    announced body is over `limit` (see the module docstring)."""

    def __init__(self, connection: httputil.HTTPConnection, delegate: httputil.HTTPMessageDelegate, limit: int,
                 body_timeout: float | None = None):
        self.connection, self.delegate, self.limit = connection, delegate, limit
        self.body_timeout = body_timeout
        self.refused = self.answered = False
        self._deadline = None  # the body's timer (asyncio.TimerHandle), while a body is awaited

    def headers_received(self, start_line, headers):
        length = headers.get("Content-Length", "")
        if self.body_timeout is not None and (length not in ("", "0") or "Transfer-Encoding" in headers):
            self._deadline = asyncio.get_running_loop().call_later(self.body_timeout, self._body_late)
        if (isinstance(start_line, httputil.RequestStartLine) and start_line.path.startswith(API_PREFIX)
                and length.isdigit() and int(length) > self.limit):
            self.refused = True
            if int(length) <= DRAIN_LIMIT:
                self.connection.set_max_body_size(int(length))
                return None
            self._answer()  # too large even to read and drop: answer now and close
            return None
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        if not self.refused:
            return self.delegate.data_received(chunk)
        return None

    def finish(self):
        self._body_received()
        if self.refused:
            self._answer()
        else:
            self.delegate.finish()

    def on_connection_close(self):
        self._body_received()
        if not self.refused:
            self.delegate.on_connection_close()

    def _body_received(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _body_late(self) -> None:
        """The body did not all come within `body_timeout`: the connection is closed (its
        reader then tells the delegate, as after Tornado's own body timeout)."""
        self._deadline = None
        stream = getattr(self.connection, "stream", None)
        if stream is not None and not stream.closed():
            gen_log.info("Timeout reading body from %s", getattr(self.connection, "context", None))
            stream.close()

    def _answer(self) -> None:
        if self.answered:
            return
        self.answered = True
        body = json.dumps({"error": {"code": "body_too_large", "field": None,
                                     "message": f"请求体过大（上限 {self.limit // (1024 * 1024)} MB）"}},
                          ensure_ascii=False).encode()
        self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 413, "Payload Too Large"),
            httputil.HTTPHeaders({"Content-Type": "application/json; charset=UTF-8", "Connection": "close",
                                  "Content-Length": str(len(body))}), body)
        self.connection.finish()
