"""BaseHandler.clear rewrites Tornado's (pinned in requirements.txt): a Tornado upgrade that sets
something more there shows here, not as a missing attribute on some error path."""

import email.utils
import re
import time

import tornado.web
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from handlers import base


class _Connection:
    """What a RequestHandler asks of its request's connection when it is made."""

    def set_close_callback(self, callback) -> None:
        pass


def _request() -> HTTPServerRequest:
    return HTTPServerRequest(start_line=RequestStartLine("GET", "/x", "HTTP/1.1"),
                             headers=HTTPHeaders({"Host": "h"}), connection=_Connection())


class _Plain(tornado.web.RequestHandler):
    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")


class _Page(base.BaseHandler):
    def set_default_headers(self):  # as the H5 and back-office pages: no call to BaseHandler's
        self.set_header("X-Content-Type-Options", "nosniff")


class _PlainPage(tornado.web.RequestHandler):
    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")


def _made(cls):
    if issubclass(cls, base.BaseHandler):
        return cls(tornado.web.Application(), _request(), config=object(), services=object())
    return cls(tornado.web.Application(), _request())


def test_clear_leaves_what_tornados_clear_leaves_with_the_same_headers():
    for ours, tornados in ((base.BaseHandler, _Plain), (_Page, _PlainPage)):
        mine, theirs = _made(ours), _made(tornados)
        for handler in (mine, theirs):
            handler.set_status(404)
            handler.set_header("X-Other", "1")
            handler.write("partial")
            handler.clear()
        assert set(vars(mine)) - {"config", "services"} == set(vars(theirs))
        assert (mine._status_code, mine._reason, mine._write_buffer) == (theirs._status_code, theirs._reason, [])
        mine_headers = dict(mine._headers.get_all())
        theirs_headers = dict(theirs._headers.get_all())
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", mine_headers.pop("Date"))
        theirs_headers.pop("Date")
        assert mine_headers == theirs_headers
        assert [name for name, _ in mine._headers.get_all()] == [name for name, _ in theirs._headers.get_all()]


def test_the_date_header_is_the_current_second():
    before = int(time.time())
    parsed = email.utils.parsedate_to_datetime(base._http_date()).timestamp()
    assert before <= parsed <= time.time()
