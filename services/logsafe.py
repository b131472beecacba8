"""Logging that never holds a full ID number, phone, token or session key, nor a query's
parameters (where names and addresses would travel)."""

from __future__ import annotations

import logging
import re

from services.identity import ID_NUMBER_RE, PHONE_RE, mask_id_number, mask_phone

_SECRET_RE = re.compile(r"(?i)(bearer\s+|token[\"'=:\s]+|session_key[\"'=:\s]+|secret[\"'=:\s]+)[A-Za-z0-9_\-+/=.]{8,}")


def redact(text: str) -> str:
    """`text` with ID numbers and phones masked and bearer tokens / keys cut out."""
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = PHONE_RE.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))[-11:]), text)
    return _SECRET_RE.sub(lambda m: m.group(1) + "[redacted]", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message through `redact` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg, record.args = redact(message), ()
        return True


class QueryParamsFilter(logging.Filter):
    """Keeps the SQL of peewee's DEBUG records and drops their parameters: peewee logs the tuple
    (sql, params), and the parameters hold whatever a statement writes or looks for."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, tuple) and record.msg:
            record.msg = str(record.msg[0])
        record.args = ()
        return True


def guard_query_logs() -> None:
    """Put `QueryParamsFilter` on peewee's logger (a logger's filter runs before any handler,
    whoever added the handler), once."""
    logger = logging.getLogger("peewee")
    if not any(isinstance(f, QueryParamsFilter) for f in logger.filters):
        logger.addFilter(QueryParamsFilter())


_access_log = logging.getLogger("tornado.access")


def log_request(handler) -> None:
    """The access log line (the application's `log_function`): tornado's, with the path in place
    of the URI, since a query string carries what was searched for (a name, an address)."""
    status = handler.get_status()
    log = _access_log.info if status < 400 else _access_log.warning if status < 500 else _access_log.error
    request = handler.request
    log("%d %s %s (%s) %.2fms", status, request.method, request.path, request.remote_ip,
        1000.0 * request.request_time())


def install(level: str = "INFO") -> None:
    """Configure the root logger once, with the redacting filter on every handler, and peewee's
    queries logged without their parameters."""
    guard_query_logs()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
