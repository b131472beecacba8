"""The H5 scan pages (C1-C6): what a phone browser opens when it scans a place-code poster.

A poster's QR code holds `{PUBLIC_BASE_URL}/s/{token}`. `GET /s/{token}` answers a small
server-rendered page (templates/h5/scan.html); everything after that (sign-in with the phone's
device key, the place's flows, the first-time profile, the verdict) is done by static/h5/scan.js
through the same JSON API the mini-programs use, so the H5 pages have no rules of their own.

A door screen opens `GET /screen/{token}?key=...` (N1): a page for a tablet that shows the
place's code, changing every window (static/h5/screen.js fetches it with the device key), with
the server's time. The scan page takes the screen's code as `?sc=` and passes it to the scan.

The pages are strict about what they load: their own script and style sheet only (no CDN, no inline
script or style), never cached (the page shows who may enter), never framed.
"""

from __future__ import annotations

import logging
import os

import tornado.web

from handlers import shedding
from handlers.failures import error_of
from models.db import request_connections
from services import identity, places, profile, screen_codes
from services.errors import ApiError
from services.place_types import place_type

log = logging.getLogger("healthcode.h5")

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static", "h5")
STATIC_PREFIX = "/static/h5/"
TOKEN = r"(?P<token>[A-Za-z0-9_\-]{1,64})"
# The page's words where the API's would not do for a person at a gate (handlers/failures.py).
_PAGE_WORDS = {404: "页面不存在", 500: "服务器繁忙，请稍后再试"}

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# The choices of the first-time profile form, from the same tables the API checks against.
PROFILE_CHOICES = {
    "id_types": list(identity.ID_TYPES.items()),
    "genders": list(profile.GENDERS.items()),
    "resident_categories": list(profile.RESIDENT_CATEGORIES.items()),
}


def static_url(name: str) -> str:
    """The URL of one of the page's static files, with a content hash so phones never run a stale
    script against a newer API (StaticFileHandler caches versioned URLs for a long time)."""
    version = tornado.web.StaticFileHandler.get_version({"static_path": STATIC}, name)
    return f"{STATIC_PREFIX}{name}?v={version}" if version else STATIC_PREFIX + name


class H5PageHandler(tornado.web.RequestHandler):
    """Base of the H5 pages: HTML (never the JSON envelope), strict headers, Chinese error pages."""

    def set_default_headers(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")

    def get_template_path(self):
        return TEMPLATES

    def render_page(self, http_status: int = 200, **context) -> None:
        """Render the scan page (or its error form when `error` is given) with `http_status`."""
        self.set_status(http_status)
        values = {"token": "", "place": None, "type_label": "", "error": None, "quick": False, "screen_code": "",
                  "choices": PROFILE_CHOICES, "css_url": static_url("scan.css"), "js_url": static_url("scan.js")}
        values.update(context)
        self.render("h5/scan.html", **values)

    def write_error(self, status_code, **kwargs):
        # No stack trace and no JSON: a person with a phone in front of a gate reads this.
        error = error_of(self, status_code, kwargs.get("exc_info"), _PAGE_WORDS)
        try:
            self.render_page(error.status, error=error.message)
        except Exception:  # the template itself failed: still answer something readable
            log.exception("H5 error page could not be rendered")
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(error.message)


class ScanPageHandler(H5PageHandler):
    """`GET /s/{token}`: the page a place code's poster leads to; `?quick=1` is the same code's
    体温正常快速打卡 (C7): the script checks in at once, asking only a first-time profile."""

    shed_priority = shedding.SCAN

    def get(self, token):
        screen_code = self.get_argument("sc", None)
        try:
            view = self._lookup(token, screen_code, self.settings["config"])
        except ApiError as error:
            # Unknown and revoked codes are 404s, a closed place 409, an old screen code 400:
            # the page says which.
            self.render_page(error.status, token=token, error=error.message)
            return
        self.render_page(200, token=token, quick=self.get_argument("quick", "") == "1", screen_code=screen_code or "",
                         **view)

    @staticmethod
    def _lookup(token: str, screen_code: str | None, config) -> dict:
        """What the page shows before its script runs: the place, or that the code is blank. A
        screen's code that has expired (or a printed code where only screens' codes count) is refused
        here already, before anyone fills a form; the scan checks it again."""
        # Held only for the look-up, and released before rendering, so that a slow phone does
        # not keep a pooled connection.
        request_connections.opened()
        try:
            code = places.find_code(token)
            if code.status == "blank":
                return {"type_label": place_type(code.place_type).label}
            _, place = places.active_place(token)
            screen_codes.check_scan(place, screen_code, config)
            view = places.place_view(place)
            return {"place": view, "type_label": view["type_label"]}
        finally:
            request_connections.closed()


class ScreenPageHandler(H5PageHandler):
    """`GET /screen/{token}?key=...`: a door screen's page (N1). Without a valid, unrevoked device
    key it is a 403 page that says so; with one, its script fetches the current code each window
    (getScreenCode, the key sent as a header) and shows the server's time."""

    def render_page(self, http_status: int = 200, **context) -> None:
        """Render the screen page (or its error form when `error` is given) with `http_status`."""
        self.set_status(http_status)
        values = {"token": "", "place": None, "error": None, "window_seconds": 30,
                  "css_url": static_url("screen.css"), "js_url": static_url("screen.js")}
        values.update(context)
        self.render("h5/screen.html", **values)

    def get(self, token):
        config = self.settings["config"]
        request_connections.opened()
        try:
            device = screen_codes.authenticate(token, self.get_argument("key", None))
            place = places.place_view(device.place)
        except ApiError as error:
            self.render_page(error.status, token=token, error=error.message)
            return
        finally:
            request_connections.closed()
        self.render_page(200, token=token, place=place, window_seconds=config.screen_code_window_seconds)


class H5StaticHandler(tornado.web.StaticFileHandler):
    """The page's script and style sheet, with nosniff so they only ever run as what they are."""

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")


def routes(config) -> list:
    """The H5 routes: the scan page, the door screen's page and their static files (not API
    operations: kept out of OpenAPI)."""
    return [
        (rf"/s/{TOKEN}", ScanPageHandler),
        (rf"/screen/{TOKEN}", ScreenPageHandler),
        (rf"{STATIC_PREFIX}(.*)", H5StaticHandler, {"path": STATIC}),
    ]
