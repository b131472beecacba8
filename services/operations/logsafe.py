"""Logging that never holds a full ID number, phone, token or session key, nor a query's
parameters (where names and addresses would travel); as text lines, or with LOG_FORMAT=json as
one JSON object a line (`JsonLineFormatter`) carrying the request's id and operation."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re

from pythonjsonlogger.json import JsonFormatter

from models.query_logs import guard_query_logs
from services.people.identity import ID_NUMBER_RE, PHONE_RE, mask_id_number, mask_phone

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


# (request id, operation) of the request being handled, set when its route is found
# (handlers.routing): every line logged while it is handled carries them.
REQUEST: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("request", default=None)
# The JSON line's first fields, in this order; a record's other extras follow.
_FIRST = ("time", "level", "logger", "request_id", "operation", "status", "duration_ms", "message")


def _redacted(value):
    """`value` with every string in it through `redact` (an extra's dict or list too)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return value


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, request_id and operation (of
    the request being handled, else null), status and duration_ms (the access log's), message,
    then any other extra of the record, and exc_info for a failure. Every string is redacted
    here, whatever RedactingFilter did: python-json-logger formats the traceback afresh from
    exc_info, and extras never pass through the message."""

    def __init__(self) -> None:
        super().__init__(("levelname", "name", "message"), rename_fields={"levelname": "level", "name": "logger"},
                         json_ensure_ascii=False)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds")
        current = REQUEST.get()
        log_data.setdefault("request_id", current[0] if current else None)
        log_data.setdefault("operation", current[1] if current else None)
        log_data.setdefault("status", None)
        log_data.setdefault("duration_ms", None)

    def process_log_record(self, log_data: dict) -> dict:
        ordered = {key: log_data.pop(key, None) for key in _FIRST}
        ordered.update(log_data)
        return _redacted(ordered)


_access_log = logging.getLogger("tornado.access")


def log_request(handler) -> None:
    """The access log line (the application's `log_function`): tornado's, with the path in place
    of the URI, since a query string carries what was searched for (a name, an address)."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if not _access_log.isEnabledFor(level):  # below the level (LOG_LEVEL=WARNING): nothing to format
        return
    log = _access_log.info if status < 400 else _access_log.warning if status < 500 else _access_log.error
    request = handler.request
    duration_ms = 1000.0 * request.request_time()
    log("%d %s %s (%s) %.2fms", status, request.method, request.path, request.remote_ip, duration_ms,
        extra={"status": status, "duration_ms": round(duration_ms, 2)})


def install(level: str = "INFO", log_format: str = "text") -> None:
    """Configure the root logger once, with the redacting filter on every handler, and peewee's
    queries logged without their parameters; `log_format` "json": every handler writes
    JsonLineFormatter's lines."""
    guard_query_logs()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for handler in root.handlers:
        if log_format == "json" and not isinstance(handler.formatter, JsonLineFormatter):
            handler.setFormatter(JsonLineFormatter())
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
