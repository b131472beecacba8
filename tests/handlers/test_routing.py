"""The application's router (handlers/routing.py): plain paths by dictionary, the same handler
as Tornado's own router would pick, whatever the order and the patterns."""

import tornado.web
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from config import TestConfig
from handlers import routing


def handler(name: str) -> type:
    return type(name, (tornado.web.RequestHandler,), {})


A, B, C, X, Y, CATCH, V, Q = (handler(n) for n in ("A", "B", "C", "X", "Y", "CATCH", "V", "Q"))
ROUTES = [(r"/a/(\d+)", A), (r"/a/b", B), (r"/c.d", C), (r"/x", X), (r"/x", Y), (r"/api/.*", CATCH),
          (r"/api/v", V), (r"/q\-1", Q)]


def request(path: str) -> HTTPServerRequest:
    return HTTPServerRequest(start_line=RequestStartLine("GET", path, "HTTP/1.1"), headers=HTTPHeaders({"Host": "h"}))


def picked(app, path: str, find=None):
    """The handler class the application (or `find`, another way of finding) serves `path` with."""
    delegate = (find or app.find_handler)(request(path))
    return delegate.handler_class, delegate.path_args, delegate.handler_kwargs


def tornados_own(app):
    return lambda req: tornado.web.Application.find_handler(app, req)


def test_only_plain_paths_that_no_earlier_route_matches_are_looked_up():
    app = routing.Application(ROUTES)
    assert set(app._plain) == {"/a/b", "/x", "/q-1"}
    assert app._plain["/x"].target is X  # the first of two routes of one path wins, as in Tornado


def test_every_path_gets_the_handler_tornados_router_picks():
    app = routing.Application(ROUTES, default_handler_class=handler("Missing"))
    for path in ("/a/b", "/a/12", "/c.d", "/cxd", "/x", "/api/v", "/api/other", "/q-1", "/q1", "/nowhere", "/a/b/"):
        assert picked(app, path) == picked(app, path, tornados_own(app)), path
    assert picked(app, "/a/b")[0] is B and picked(app, "/api/v")[0] is CATCH and picked(app, "/a/12")[1] == [b"12"]


def test_host_routes_added_later_are_not_bypassed():
    app = routing.Application(ROUTES)
    app.add_handlers(r"admin\.example", [(r"/x", Y)])
    assert app._plain == {}
    assert picked(app, "/x")[0] is X  # another host: the general routes, through Tornado's router


def test_in_the_real_application_every_plain_route_is_the_one_tornado_picks(db):
    from server import make_app

    app = make_app(TestConfig())
    assert "/api/v1/scans" in app._plain
    for path in app._plain:
        assert picked(app, path) == picked(app, path, tornados_own(app)), path
