"""Browser fixtures: Debian's Chromium driven by Playwright's sync API, against the real server.

- `browser` (module): one headless Chromium per test module (`/usr/bin/chromium`, or
  CHROMIUM_PATH), shared by both backends. Playwright's own browser downloads are never used.
  Without Chromium the browser tests are skipped with a loud reason, or fail when
  REQUIRE_BROWSER=1 (CI).
- `phone`: a fresh phone-sized context (390x844, touch, zh-CN, Asia/Shanghai) per test. Requests
  outside the server under test are aborted, and any script error, CSP violation or request that
  left 127.0.0.1 fails the test: the pages must work with no CDN and no inline code.
- `h5`: the real server (the `make_server` fixture, so on SQLite and MariaDB) with the H5 routes.
- `back_office` / `desktop_page` / `sign_in_admin`: the back office with one admin, a desktop-sized
  guarded page, and that admin signed in through the login page.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import warnings

import pytest

from config import TestConfig

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
TIMEOUT_MS = 8000
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
           "accept_downloads": True}


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


def pytest_terminal_summary(terminalreporter):
    reason = chromium_missing_reason()
    if reason and not REQUIRE_BROWSER:
        terminalreporter.write_sep("!", "浏览器测试被跳过 / THE BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"reason: {reason}  (CI sets REQUIRE_BROWSER=1 so this cannot pass silently)")


def _fontconfig_file(folder: str) -> str | None:
    """A fontconfig file that adds a Chinese font, so screenshots are readable on a bare machine
    (phones have their own CJK fonts; a container often has none)."""
    from services.common import fonts
    from services.common.errors import ApiError

    try:
        path, _ = fonts.cjk_font("截图")
    except ApiError:
        return None
    conf = os.path.join(folder, "fonts.conf")
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                     '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                     f"  <dir>{os.path.dirname(path)}</dir>\n  <cachedir>{folder}/cache</cachedir>\n"
                     "</fontconfig>\n")
    return conf


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's tests.

    Not session-wide: while Playwright's sync API is started, its asyncio loop counts as running
    in this thread, so any other module's test calling asyncio.run() (wechatpy's helpers do)
    would fail. pytest finishes a module fixture before a test of another module runs, also
    under xdist, so nothing else ever runs beside it.
    """
    reason = chromium_missing_reason()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason + " (REQUIRE_BROWSER=1)")
        # Under xdist the terminal summary above is not seen (the controller does not load this
        # file); a warning reaches the summary from the workers.
        warnings.warn(f"浏览器测试被跳过 / BROWSER TESTS SKIPPED: {reason} (CI sets REQUIRE_BROWSER=1)",
                      pytest.PytestWarning, stacklevel=1)
        pytest.skip("浏览器测试被跳过 / BROWSER TESTS SKIPPED: " + reason)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="h5-fonts-") as folder:
        env = dict(os.environ)
        conf = _fontconfig_file(folder)
        if conf:
            env["FONTCONFIG_FILE"] = conf
        playwright = sync_playwright().start()
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                                  env=env)
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            playwright.stop()


@pytest.fixture
def h5(make_server):
    """The real server with the H5 pages: as server.py wires them, or through extra_routes until
    it does."""
    from handlers import h5 as h5_handlers
    from server import make_app

    app = make_app(TestConfig(), gateways={})
    wired = any(getattr(rule.matcher, "regex", None) is not None and rule.matcher.regex.match("/s/probe")
                for rule in app.wildcard_router.rules)
    return make_server() if wired else make_server(extra_routes=h5_handlers.routes(TestConfig()))


def guarded_page(browser, base_url: str, options: dict, failed_loads_ok: bool = False):
    """A page in a fresh context that notes, in `page.problems`, a script error, a console error
    and any request outside `base_url` (aborted). `failed_loads_ok`: Chromium's console line for
    a 4xx answer ("Failed to load resource") is expected, as when bad input is tested.
    Returns (context, page); the caller closes the context and asserts `page.problems` is empty."""
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def only_local(route):
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            problems.append(f"request outside the server: {route.request.url}")
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def on_console(message):
        if message.type == "error" and not (failed_loads_ok and message.text.startswith("Failed to load resource")):
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    page.problems = problems
    return context, page


@pytest.fixture
def phone(browser, h5):
    """A new page in a fresh phone-sized context (no storage shared between tests)."""
    context, page = guarded_page(browser, h5.base_url, PHONE, failed_loads_ok=True)
    yield page
    context.close()
    assert not page.problems, page.problems


def back_office(make_server, *, phone: str, name: str, role: str, region_code: str):
    """The real server (with a known captcha and the demo regions) and one admin: `server.admin`,
    its `server.admin_phone` and `server.password`."""
    from services.accounts import admin_auth
    from services.operations.demo import ZHENGZHOU
    from services.common.regions import load_tree
    from tests.admin.conftest import CAPTCHA

    server = make_server(captcha_fixed_answer=CAPTCHA)
    load_tree(ZHENGZHOU)
    server.admin, server.password = admin_auth.create_admin(None, phone=phone, name=name, role=role,
                                                            region_code=region_code, send_sms=False)
    server.admin_phone = phone
    return server


@contextlib.contextmanager
def desktop_page(browser, base_url: str, failed_loads_ok: bool = False):
    """A desktop page that fails the test on a script error, a CSP violation or any request that
    leaves the server under test."""
    context, tab = guarded_page(browser, base_url, DESKTOP, failed_loads_ok)
    yield tab
    context.close()
    assert not tab.problems, tab.problems


def sign_in_admin(page, server) -> None:
    """`server.admin` signs in through the login page (the captcha is the test server's fixed one)."""
    from tests.admin.conftest import CAPTCHA

    page.goto(server.base_url + "/admin/login")
    page.fill("input[name=phone]", server.admin_phone)
    page.fill("input[name=password]", server.password)
    page.fill("input[name=captcha]", CAPTCHA)
    page.click("button:has-text('登录')")
    page.wait_for_selector("nav.side")
