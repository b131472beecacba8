"""The H5 scan pages (C1-C6): what a phone browser opens when it scans a place-code poster.

A poster's QR code holds `{PUBLIC_BASE_URL}/s/{token}`. `GET /s/{token}` answers a small
server-rendered page (templates/h5/scan.html); everything after that (sign-in with the phone's
device key, the place's flows, the first-time profile, the verdict) is done by static/h5/scan.js
through the same JSON API the mini-programs use, so the H5 pages have no rules of their own.

The inspector's page (`GET /inspect/`, N7) verifies citizens' codes, scanned with the camera or
typed, and records temperature checks; its service worker (`/inspect/sw.js`) keeps the page, its
files, the QR decoder and the keys with the revocation list, so that it goes on verifying, and
queues checks for later, when the network is gone. The decoder is jsQR from npm (package.json),
served from node_modules by our own route; without it the page still takes typed codes.

A door screen opens `GET /screen/{token}?key=...` (N1): a page for a tablet that shows the
place's code, changing every window (static/h5/screen.js fetches it with the device key), with
the server's time. The scan page takes the screen's code as `?sc=` and passes it to the scan.

The place admin's live occupancy page (`GET /place-admin/occupancy`, N8) shows how many people are
inside the place now against its capacity, refreshed every few seconds, and its counting setting.

The pages are strict about what they load: their own scripts and style sheets only (no CDN, no
inline script or style), never cached by HTTP (they show who may enter), never framed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

import tornado.web

from handlers import shedding
from handlers.failures import error_of
from services.operations import pools
from services.common.errors import ApiError
from services.people import identity, profile
from services.risk_data.risk_inputs import TEMPERATURE_MAX, TEMPERATURE_MIN
from services.scanning.scans import FEVER
from services.venues import places, screen_codes
from services.venues.place_types import place_type

log = logging.getLogger("healthcode.h5")

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static", "h5")
STATIC_PREFIX = "/static/h5/"
# The QR decoder installed by `npm ci` (package.json); only this one file is served from it.
DECODER_DIR = os.path.join(os.path.dirname(HERE), "node_modules", "jsqr", "dist")
DECODER_FILE = "jsQR.js"
DECODER_PREFIX = "/static/vendor/"
INSPECT_PATH = "/inspect/"
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


def decoder_url() -> str | None:
    """The versioned URL of the QR decoder, or None when it is not installed (typed codes only)."""
    if not os.path.isfile(os.path.join(DECODER_DIR, DECODER_FILE)):
        return None
    version = tornado.web.StaticFileHandler.get_version({"static_path": DECODER_DIR}, DECODER_FILE)
    return f"{DECODER_PREFIX}{DECODER_FILE}?v={version}"


def inspect_files() -> dict:
    """The inspector page's files, as versioned URLs: what the page loads and its worker keeps."""
    return {"base_css_url": static_url("scan.css"), "css_url": static_url("inspect.css"),
            "js_url": static_url("inspect.js"), "decoder_url": decoder_url()}


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

    def get_template_namespace(self) -> dict:
        # The shell's script that every page's own runs after (base.html), versioned like them.
        return {**super().get_template_namespace(), "common_js_url": static_url("common.js")}

    def render_page(self, http_status: int = 200, **context) -> None:
        """Render the scan page (or its error form when `error` is given) with `http_status`."""
        self.set_status(http_status)
        values = {"token": "", "place": None, "type_label": "", "error": None, "quick": False, "screen_code": "",
                  "counting": False,
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


class BadCodePageHandler(H5PageHandler):
    """`GET /s/{anything that is no code}`: a person who followed a damaged or altered QR link
    gets the scan page's Chinese error, not the API's JSON 404."""

    shed_priority = shedding.SCAN

    def get(self, anything):
        self.render_page(404, error="场所码无效或已损坏，请重新扫描张贴的场所码")


class ScanPageHandler(H5PageHandler):
    """`GET /s/{token}`: the page a place code's poster leads to; `?quick=1` is the same code's
    体温正常快速打卡 (C7): the script checks in at once, asking only a first-time profile."""

    shed_priority = shedding.SCAN

    async def get(self, token):
        screen_code = self.get_argument("sc", None)
        try:
            view = await pools.run_in(pools.DB, self._lookup, token, screen_code, self.settings["config"])
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
        # On the DB pool (`get`), whose thread hands its connection back before the page is
        # rendered, so that a slow phone does not keep a pooled connection.
        code = places.find_code(token)
        if code.status == "blank":
            return {"type_label": place_type(code.place_type).label}
        _, place = places.active_place(token)
        screen_codes.check_scan(place, screen_code, config)
        view = places.place_view(place)
        # N8: a counting place's verdict offers to scan out (leavePlace).
        return {"place": view, "type_label": view["type_label"], "counting": bool(place.counts_occupancy)}


class InspectPageHandler(H5PageHandler):
    """`GET /inspect/`: the inspector's page (N7). Everything it does goes through the JSON API
    (authDeviceLogin, bindPlace, verifyHealthCode, recordTemperatureCheck,
    getOfflineVerificationList); offline it verifies with the cached keys and queues checks."""

    def get(self):
        # The limits the server checks, so a check queued offline is refused at once, not later.
        self.render("h5/inspect.html", fever=FEVER, temperature_min=float(TEMPERATURE_MIN),
                    temperature_max=float(TEMPERATURE_MAX), **inspect_files())


class InspectWorkerHandler(tornado.web.RequestHandler):
    """`GET /inspect/sw.js`: the page's service worker, listing the exact versioned files it keeps
    (so a new release changes its bytes, and the browser installs it again)."""

    shed_priority = shedding.SCAN  # without it the page does not work offline

    def set_default_headers(self):
        self.set_header("Content-Type", "text/javascript; charset=UTF-8")
        # The browser checks for a new worker on each visit; never keep an old one in HTTP caches.
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")

    def get_template_path(self):
        return TEMPLATES

    def get(self):
        files = inspect_files()
        # common.js too: every H5 page loads it before its own script.
        shell = [INSPECT_PATH] + [url for url in files.values() if url] + [static_url("common.js")]
        self.render("h5/inspect-sw.js", shell=json.dumps(shell), page=json.dumps(INSPECT_PATH),
                    version=hashlib.sha256(" ".join(shell).encode()).hexdigest()[:16])


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

    async def get(self, token):
        config = self.settings["config"]
        try:
            place = await pools.run_in(pools.DB, self._screen_place, token, self.get_argument("key", None))
        except ApiError as error:
            self.render_page(error.status, token=token, error=error.message)
            return
        self.render_page(200, token=token, place=place, window_seconds=config.screen_code_window_seconds)

    @staticmethod
    def _screen_place(token: str, key: str | None) -> dict:
        """The place of the screen whose device key this is (on the DB pool)."""
        return places.place_view(screen_codes.authenticate(token, key).place)


class H5StaticHandler(tornado.web.StaticFileHandler):
    """The page's script and style sheet, with nosniff so they only ever run as what they are;
    refused under load no sooner than the page itself (a page without them never loads)."""

    shed_priority = shedding.SCAN

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")


class OccupancyPageHandler(H5PageHandler):
    """`GET /place-admin/occupancy`: the place admin's live count of people inside (N8), with
    the counting setting. Its script signs in with the phone's device key and uses
    getPlaceOccupancy / setPlaceOccupancy; anyone else is told only place admins see it."""

    REFRESH_SECONDS = 5

    def get(self):
        self.render("h5/occupancy.html", base_css_url=static_url("scan.css"), css_url=static_url("occupancy.css"),
                    js_url=static_url("occupancy.js"), refresh_seconds=self.REFRESH_SECONDS)


def routes(config) -> list:
    """The H5 routes: the scan page, the door screen's and the place admin's pages, the inspector's
    page with its worker, their static files and the QR decoder (not API operations: kept out of
    OpenAPI)."""
    return [
        (rf"/s/{TOKEN}", ScanPageHandler),
        (r"/s/(.*)", BadCodePageHandler),
        (rf"/screen/{TOKEN}", ScreenPageHandler),
        (r"/place-admin/occupancy", OccupancyPageHandler),
        (rf"{STATIC_PREFIX}(.*)", H5StaticHandler, {"path": STATIC}),
        (r"/inspect", tornado.web.RedirectHandler, {"url": INSPECT_PATH}),
        (INSPECT_PATH, InspectPageHandler),
        (rf"{INSPECT_PATH}sw\.js", InspectWorkerHandler),
        (rf"{DECODER_PREFIX}(jsQR\.js)", H5StaticHandler, {"path": DECODER_DIR}),
    ]
