"""What a failed request answers, the same for the JSON API, the H5 pages and the back office.

Each kind of handler shows a failure its own way (the JSON envelope, a phone page, a back-office
page), but which status and which machine code a failure gets is decided here, once: an
ApiError as raised; Tornado's own refusals (bad request, unknown path, wrong method, body too
large) by their status; a database that cannot be reached, or that gave up on the transaction
(locked, deadlock victim), as 503 with `Retry-After`, since nothing was kept and the same
request may well pass in a moment; anything else as a 500 that says nothing of its cause.
"""

from __future__ import annotations

import peewee
import tornado.web

from services.common.errors import ApiError

HTTP_ERRORS = {
    400: ("bad_request", "请求格式错误"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "接口不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("body_too_large", "请求体过大"),
}


def error_of(handler: tornado.web.RequestHandler, status_code: int, exc_info=None,
             words: dict[int, str] | None = None) -> ApiError:
    """The ApiError a failed request answers (see the module docstring), its status and, for a
    database outage, its `Retry-After` set on `handler`. `status_code` and `exc_info` are what
    Tornado passes to `write_error`; `words` are a page's own messages by status, for the failures
    that did not come as an ApiError (whose message is always its own)."""
    exc = exc_info[1] if exc_info else None
    if status_code == 405 or getattr(exc, "status", None) == 405:
        handler.set_header("Allow", ", ".join(allowed_methods(type(handler))))
    if isinstance(exc, ApiError):
        handler.set_status(exc.status)
        if exc.retry_after is not None:
            handler.set_header("Retry-After", str(exc.retry_after))
        return exc
    if status_code in HTTP_ERRORS:  # Tornado's refusals (an HTTPError arrives with its own status)
        code, message, status = *HTTP_ERRORS[status_code], status_code
    elif database_unavailable(exc):
        code, message, status = "service_unavailable", "服务暂时不可用，请稍后重试", 503
    else:
        code, message, status = "internal_error", "服务器内部错误，请稍后再试", 500
    handler.set_status(status)
    error = ApiError(code, (words or {}).get(status, message), status)
    if error.retry_after is not None:
        handler.set_header("Retry-After", str(error.retry_after))
    return error


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc` is the database failing (out of reach, frozen, locked, a deadlock victim)
    rather than a bug: a 503 to retry."""
    return isinstance(exc, (peewee.OperationalError, peewee.InterfaceError))


def allowed_methods(handler_class: type[tornado.web.RequestHandler]) -> list[str]:
    """The methods a handler class answers (what a 405's `Allow` header lists)."""
    return [method for method in handler_class.SUPPORTED_METHODS
            if getattr(handler_class, method.lower(), None) is not getattr(tornado.web.RequestHandler, method.lower())]
