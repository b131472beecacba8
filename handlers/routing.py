"""The Tornado application, whose plain-path routes are found by a dictionary look-up.

Tornado tries each route's regular expression in turn until one matches. The scan's route is
the 27th of 93, and trying the 26 before it cost 24 µs a scan, as much as its own sign-in check.
A route whose pattern is a plain path (no group, no wildcard) is found here at once by the
request's path. Routes with groups, and any path an earlier route also matches, go through
Tornado's router as before, so the first matching route still wins.

Every request found is then admitted or refused by the load shedder (`handlers.shedding`), given
as the `shedder` setting.

Every request also gets its request id here (`X-Request-Id` when the client sent a sane one,
else 128 random bits in hex), which its answer carries back (`RequestIdTransform`) and every log line of it
holds (`services.operations.logsafe.REQUEST`), and is counted in the metrics when answered
(`services.operations.metrics`: operation, status, duration).
"""

from __future__ import annotations

import os
import re

import tornado.web

from handlers.oversize import OversizeGuard
from handlers.shedding import Refusal
from models import loop_guard
from services.operations import logsafe, metrics
from tornado.routing import PathMatches
from tornado.util import re_unescape

# The largest body the HTTP server reads (uploads stream through their own handlers, which
# raise it; JSON bodies are held to MAX_BODY_BYTES by the handler base).
SERVER_MAX_BODY = 10 * 1024 * 1024
# A pattern that matches one path only: characters that are not special to `re`, or escaped.
_PLAIN = re.compile(r"\^?((?:[^\\.^$*+?{}\[\]|()]|\\[^A-Za-z0-9])*)\$")
# A client's request id is kept when it looks like one (a proxy's, a uuid); anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# (handler class, method) -> the operation's name in metrics and logs (see operation_name).
_operations: dict = {}


def operation_name(handler_class, method: str) -> str:
    """The operationId of the handler's method (`scanPlace`), else the handler class's name (a
    back-office page, the 404 handler): few distinct values, as a metric's label must have."""
    key = (handler_class, method)
    name = _operations.get(key)
    if name is None:
        spec = getattr(getattr(handler_class, method.lower(), None), "operation", None)
        name = _operations[key] = getattr(spec, "operation_id", None) or handler_class.__name__
    return name


def request_id_of(request) -> str:
    """The client's X-Request-Id when it is sane (8-64 of letters, digits, `._:-`), else a new one:
    128 random bits in hex, what uuid4().hex holds, at an eighth of its cost (no UUID object)."""
    given = request.headers.get("X-Request-Id")
    return given if given is not None and _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


class RequestIdTransform(tornado.web.OutputTransform):
    """Every answer made through a handler carries its request's id back in X-Request-Id."""

    def __init__(self, request) -> None:
        self.request_id = getattr(request, "request_id", None)

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self.request_id is not None:
            headers["X-Request-Id"] = self.request_id
        return status_code, headers, chunk


class Application(tornado.web.Application):
    """tornado.web.Application, finding plain-path routes by dictionary (see the module docstring)."""

    def __init__(self, handlers: list, **settings) -> None:
        super().__init__(handlers, **settings)
        self._plain = plain_routes(self.wildcard_router.rules)
        self.add_transform(RequestIdTransform)
        self.sampler = metrics.Sampler(settings.get("shedder"), settings.get("sign_in_pool"))

    def add_handlers(self, host_pattern: str, host_handlers: list) -> None:
        """Host-specific routes come before the others: from then on, every path goes through
        Tornado's router."""
        self._plain = {}
        super().add_handlers(host_pattern, host_handlers)

    def start_request(self, server_conn, request_conn):
        """Every request first passes the oversize guard (JSON 413 for an over-large API body),
        which also holds its body to the config's deadline (BODY_TIMEOUT_SECONDS)."""
        config = self.settings.get("config")
        return OversizeGuard(request_conn, super().start_request(server_conn, request_conn), SERVER_MAX_BODY,
                             getattr(config, "body_timeout_seconds", None))

    def find_handler(self, request, **kwargs):
        rule = self._plain.get(request.path)
        if rule is None:
            delegate = super().find_handler(request, **kwargs)
        else:
            delegate = self.get_handler_delegate(request, rule.target, rule.target_kwargs, [], {})
        request.request_id = request_id_of(request)
        request.operation = operation_name(delegate.handler_class, request.method)
        # Set in the connection's context, which the handler's task copies: every line it logs.
        logsafe.REQUEST.set((request.request_id, request.operation))
        shedder = self.settings.get("shedder")
        if shedder is None or shedder.admit(request, delegate.handler_class):
            if not self.sampler.started:
                self.sampler.start_here()  # on the loop that serves the requests
                loop_guard.serving_here()  # which no MySQL statement may wait on (models/loop_guard.py)
            return delegate
        metrics.count_request(request.operation, 503)
        return Refusal(request)

    def log_request(self, handler) -> None:
        """Every answered request passes here: it no longer counts as in flight."""
        shedder = self.settings.get("shedder")
        request = handler.request
        if shedder is not None:
            shedder.release(request)
        metrics.observe_request(getattr(request, "operation", None) or type(handler).__name__, handler.get_status(),
                                request.request_time())
        super().log_request(handler)


def plain_routes(rules: list) -> dict:
    """{path: rule} of the rules whose pattern matches that one path, and which no earlier rule
    matches; it stops at the first rule that is not a path pattern (its matching is unknown)."""
    found: dict = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule.matcher, PathMatches):
            break
        plain = _PLAIN.fullmatch(rule.matcher.regex.pattern)
        if plain is None:
            continue
        path = re_unescape(plain.group(1))
        if path not in found and not any(earlier.matcher.regex.match(path) for earlier in rules[:index]):
            found[path] = rule
    return found
