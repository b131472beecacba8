"""The door screen's page (N1) in headless Chromium, on both databases: it shows the place's code
and the server's time (on a tablet whose clock and time zone are wrong), the code changes every
window (2 s here), a code two windows old is refused on the scan page and by scanPlace, and a
revoked key stops the page. Without a valid key the page is a 403 that says why."""

from __future__ import annotations

import io
import time
import urllib.parse

import pytest
import zxingcpp
from PIL import Image

from models.places import EntryRecord
from services.common.regions import load_tree
from services.operations.demo import ZHENGZHOU
from services.venues import places, screen_codes
from tests.browser.conftest import guarded_page
from tests.conftest import ApiClient, assert_error, row_counts

WINDOW = 2
TABLET = {"viewport": {"width": 800, "height": 1280}, "locale": "zh-CN", "timezone_id": "America/New_York"}
# The tablet's clock is five hours fast: the page must show the server's time all the same.
WRONG_CLOCK = """(() => {
  const shift = 5 * 3600 * 1000, RealDate = Date;
  class WrongDate extends RealDate {
    constructor(...args) { if (args.length === 0) { super(RealDate.now() + shift); } else { super(...args); } }
    static now() { return RealDate.now() + shift; }
  }
  window.Date = WrongDate;
})();"""


@pytest.fixture
def server(make_server, db):
    load_tree(ZHENGZHOU)
    return make_server(screen_code_window_seconds=WINDOW)


@pytest.fixture
def screen(server):
    place, code = places.create_place(place_type_code="supermarket", name="丹尼斯百货")
    device, key = screen_codes.create_device(None, place, "正门屏幕")
    return {"place": place, "token": code.token, "device": device,
            "url": screen_codes.screen_url(server.config, device, key).replace(server.config.public_base_url,
                                                                               server.base_url)}


@pytest.fixture
def tablet(browser, server):
    context, page = guarded_page(browser, server.base_url, TABLET, failed_loads_ok=True)
    page.add_init_script(WRONG_CLOCK)
    yield page
    context.close()
    assert not page.problems, page.problems


def shown_code(page) -> tuple[str, int]:
    qr = page.locator("#qr[data-url]:not(.stale)")
    qr.wait_for()
    return qr.get_attribute("data-url"), int(qr.get_attribute("data-window"))


def decoded_in_one_window(page) -> tuple[str, list[str]]:
    """The shown URL and what the QR image decodes to, both within one window: a 2 s window may
    turn between reading the URL and taking the picture, so a picture taken across a turn is taken
    again."""
    for _ in range(3):
        url = shown_code(page)[0]
        png = page.locator("#qr").screenshot()
        if shown_code(page)[0] == url:
            return url, [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    raise AssertionError("the screen turned during every picture")


def china_seconds_of_day(now: float) -> int:
    return int(now + 8 * 3600) % 86400


def local(url: str, server) -> str:
    return url.replace(server.config.public_base_url, server.base_url)


def test_the_screen_rotates_shows_server_time_and_an_old_code_is_refused(tablet, browser, server, screen):
    tablet.goto(screen["url"])
    first_url, first_window = shown_code(tablet)
    assert first_url.startswith(f"{server.config.public_base_url}/s/{screen['token']}?sc={first_window}.")
    # The image is the QR of that URL (drawn by the server).
    url, decoded = decoded_in_one_window(tablet)
    assert decoded == [url] and url.startswith(f"{server.config.public_base_url}/s/{screen['token']}?sc=")
    assert tablet.locator("#place-name").inner_text() == "丹尼斯百货"

    # The clock is the server's (China time), not the tablet's five-hour-fast one in New York.
    shown = tablet.locator("#server-time").inner_text()
    hours, minutes, seconds = (int(part) for part in shown.split(":"))
    drift = abs((hours * 3600 + minutes * 60 + seconds) - china_seconds_of_day(time.time()))
    assert min(drift, 86400 - drift) <= 3, shown

    # The next window brings another code, without reloading the page.
    tablet.locator(f"#qr[data-url]:not([data-window='{first_window}'])").wait_for(timeout=4 * WINDOW * 1000)
    second_url, second_window = shown_code(tablet)
    assert second_window > first_window and second_url != first_url

    # Two windows after the first code showed it is refused: on the scan page a phone opens ...
    while screen_codes.window_of(server.config) < first_window + 2:
        time.sleep(0.1)
    phone, phone_page = guarded_page(browser, server.base_url, {"locale": "zh-CN"}, failed_loads_ok=True)
    try:
        response = phone_page.goto(local(first_url, server))
        assert response.status == 400
        assert phone_page.locator("#page-error").inner_text().count("请扫描现场屏幕上的最新场所码") == 1
        current_url, _ = shown_code(tablet)
        assert phone_page.goto(local(current_url, server)).status == 200
        phone_page.locator("#registration:not([hidden])").wait_for()
    finally:
        phone.close()
    assert not phone_page.problems, phone_page.problems
    # ... and by the scan itself, which writes nothing.
    citizen = ApiClient(server.base_url)
    citizen.dev_login("screen-citizen")
    citizen.ok("updateProfile", {"name": "王小明", "id_number": "110101199003070011", "phone": "13800000000"})
    old = urllib.parse.parse_qs(urllib.parse.urlparse(first_url).query)["sc"][0]
    before = row_counts()
    error = assert_error(citizen.call("scanPlace", {"code": screen["token"], "quick_checkin": True,
                                                    "request_id": "screen-old-0001", "screen_code": old}),
                         400, "screen_code_expired", "screen_code")
    assert error["message"] == "请扫描现场屏幕上的最新场所码" and row_counts() == before
    current = urllib.parse.parse_qs(urllib.parse.urlparse(shown_code(tablet)[0]).query)["sc"][0]
    # Taken in its window or the next: a slow machine may cross one boundary, never two.
    citizen.ok("scanPlace", {"code": screen["token"], "quick_checkin": True, "request_id": "screen-new-0001",
                             "screen_code": current})
    assert EntryRecord.select().count() == 1


def test_a_revoked_key_stops_the_screen(tablet, server, screen):
    tablet.goto(screen["url"])
    shown_code(tablet)
    screen_codes.revoke_device(screen["place"], screen["device"].id)
    notice = tablet.locator("#screen-notice:not([hidden])")
    notice.wait_for(timeout=4 * WINDOW * 1000)
    assert "停用" in notice.inner_text() and tablet.locator("#qr").is_hidden()
    response = tablet.goto(screen["url"])
    assert response.status == 403 and "停用" in tablet.locator("#screen-error").inner_text()


@pytest.mark.parametrize("suffix, words", [("", "缺少屏幕设备密钥"), ("?key=" + "x" * 32, "屏幕设备密钥无效")])
def test_a_screen_page_without_a_valid_key_is_a_403(tablet, server, screen, suffix, words):
    before = row_counts()
    response = tablet.goto(screen["url"].split("?", 1)[0] + suffix)
    assert response.status == 403
    assert words in tablet.locator("#screen-error").inner_text() and tablet.locator("#qr").count() == 0
    assert row_counts() == before
