"""The H5 scan pages in headless Chromium at a phone viewport, on both databases (C1-C8, A8, B3).

A phone browser opens the poster's URL (/s/{token}), signs in with its device key, and goes
through the place page, the first-time profile, the flow's form and the verdict, all through
the JSON API. Each test checks what the person and the guard see and what the database holds.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests

from models.people import Person
from models.places import EntryRecord, Place, PlaceCode
from services.common.timefmt import china_today, local_iso
from services.venues import places
from tests.conftest import make_id_number, row_counts
from tests.demo_places import demo_places

ID = "110101199003070011"
WRONG_CHECK_DIGIT = "110101199003070012"
GRANDMA = make_id_number(5, birth="19450101")
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@pytest.fixture
def world(db):
    """Demo regions and risk areas (Hubei is a key region), two compounds, an airport."""
    return demo_places("home", "other", "airport", "market")


# --- what a person does on the page -------------------------------------------------------------

def open_code(page, h5, token: str) -> None:
    """Open a poster's URL and wait until the script has loaded the place."""
    page.goto(f"{h5.base_url}/s/{token}")
    page.locator("#registration:not([hidden]), #activation:not([hidden])").wait_for()


def fill_profile(page, id_number: str = ID) -> None:
    page.fill("#profile-name", "王小明")
    page.fill("#profile-id_number", id_number)
    page.fill("#profile-phone", "13800000000")
    page.fill("#profile-address", "经八路5号院3号楼2单元501室")
    page.fill("#profile-building", "3")
    page.fill("#profile-unit", "2")
    page.fill("#profile-room", "501")
    page.select_option("#profile-resident_category", "owner")


def submit(page) -> None:
    page.check("#commitment")
    page.click("#scan-submit")


def flow(page, label: str) -> None:
    page.locator("#flow-buttons").get_by_role("button", name=label).click()


def verdict(page):
    page.locator("#verdict:not([hidden])").wait_for()
    return page.locator("#verdict-block")


def error_for(page, key: str):
    return page.locator(f'[data-error-for="{key}"]')


def register_at_home(page, h5, world) -> None:
    open_code(page, h5, world["home"])
    fill_profile(page)
    flow(page, "我是住户")
    submit(page)
    verdict(page)


# --- the page itself, without a browser ---------------------------------------------------------

def test_the_page_is_strict_html_and_unknown_or_revoked_codes_get_a_chinese_page(h5, world):
    page = requests.get(f"{h5.base_url}/s/{world['home']}", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Cache-Control"] == "no-store"
    html = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "经八路5号院" in html and 'lang="zh-CN"' in html
    # No inline script or style, nothing fetched from anywhere else.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    script = re.search(r'<script src="([^"]+)"', html).group(1)
    static = requests.get(h5.base_url + script, timeout=10)
    assert static.status_code == 200 and "javascript" in static.headers["Content-Type"]
    assert static.headers["X-Content-Type-Options"] == "nosniff"

    unknown = requests.get(f"{h5.base_url}/s/no-such-code", timeout=10)
    assert unknown.status_code == 404 and unknown.headers["Content-Type"].startswith("text/html")
    assert "无法识别的场所码" in unknown.text and "Content-Security-Policy" in unknown.headers
    damaged = requests.get(f"{h5.base_url}/s/%3Cscript%3E", timeout=10)  # no code's shape at all
    assert damaged.status_code == 404 and damaged.headers["Content-Type"].startswith("text/html")
    assert "场所码无效或已损坏" in damaged.text and "<script>" not in damaged.text
    # Place names are the public's input (activation forms): escaped, never markup.
    _, code = places.create_place(place_type_code="other", name="<b>小卖部</b>")
    escaped = requests.get(f"{h5.base_url}/s/{code.token}", timeout=10).text
    assert "&lt;b&gt;小卖部&lt;/b&gt;" in escaped and "<b>" not in escaped

    place = PlaceCode.get(PlaceCode.token == world["home"]).place
    places.reissue(place)
    revoked = requests.get(f"{h5.base_url}/s/{world['home']}", timeout=10)
    assert revoked.status_code == 404 and "该场所码已作废" in revoked.text


# --- the flow in Chromium -----------------------------------------------------------------------

def test_first_visit_asks_the_profile_once_and_shows_a_live_green_verdict(phone, h5, world, tmp_path):
    open_code(phone, h5, world["home"])
    assert phone.locator("#place-name").inner_text() == "经八路5号院"
    assert phone.locator("#profile-section").is_visible()
    fill_profile(phone)
    flow(phone, "我是住户")
    phone.fill("#temperature", "36.5")
    submit(phone)

    block = verdict(phone)
    assert "colour-green" in block.get_attribute("class") and "flash" not in block.get_attribute("class")
    assert phone.locator("#verdict-colour").inner_text() == "绿码"
    assert phone.locator("#verdict-admit").inner_text() == "允许通行"
    assert phone.locator("#verdict-name").inner_text() == "王**"
    assert phone.locator("#verdict-id").inner_text() == "110101*****0011"
    assert phone.locator("#verdict-place").inner_text() == "经八路5号院"
    # The registration time is the server's, and the live clock next to it is ticking.
    entry = EntryRecord.get()
    registered = phone.locator("#verdict-registered").inner_text()
    assert registered == local_iso(entry.created_at)[:19].replace("T", " ")
    clock = phone.locator("#verdict-clock")
    first = clock.inner_text()
    assert TIME_RE.fullmatch(first) and first[:15] == registered[:15]  # same ten-minute window
    phone.wait_for_function("t => document.getElementById('verdict-clock').textContent !== t", arg=first,
                            timeout=2500)
    shot = tmp_path / "verdict.png"
    phone.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    # "Scan once, fill once": a later visit asks nothing but the flow.
    phone.reload()
    phone.locator("#registration:not([hidden])").wait_for()
    assert not phone.locator("#profile-section").is_visible()
    flow(phone, "我是住户")
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-admit").inner_text() == "允许通行"
    assert EntryRecord.select().count() == 2


def test_the_quick_checkin_code_is_one_step_and_a_reload_registers_nothing_twice(phone, h5, world):
    quick_url = f"{h5.base_url}/s/{world['market']}?quick=1"
    phone.goto(quick_url)
    phone.locator("#registration:not([hidden])").wait_for()
    # First time here: the profile (once) is all it asks - no flow, no travel form, no temperature.
    assert phone.locator("#quick-banner").is_visible() and phone.locator("#profile-section").is_visible()
    for hidden in ("#flow-card", "#who-card", "#temperature-field", "#flow-form-section"):
        assert not phone.locator(hidden).is_visible(), hidden
    assert phone.locator("#scan-submit").inner_text() == "提交并快速打卡"
    fill_profile(phone)
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-colour").inner_text() == "绿码"
    assert phone.locator("#verdict-admit").inner_text() == "允许通行"
    assert phone.locator("#verdict-temperature").inner_text() == "体温正常（快速打卡）"
    assert phone.locator("#verdict-flow").inner_text() == "商超顾客"
    entry = EntryRecord.get()
    assert json.loads(entry.form) == {"quick_checkin": True, "result": "normal"} and entry.temperature is None

    # Every later scan of the quick code: the verdict at once, not a tap in between. (A scan is a
    # new page; the same URL typed again would be Chromium's reload, which answers the first verdict.)
    phone.goto(f"{h5.base_url}/s/{world['home']}")
    phone.goto(quick_url)
    verdict(phone)
    assert phone.locator("#verdict-temperature").inner_text() == "体温正常（快速打卡）"
    assert EntryRecord.select().count() == 2
    phone.reload()  # the same check-in again (its request id is kept): still two entries
    verdict(phone)
    assert EntryRecord.select().count() == 2
    # Back from the verdict: the ordinary page, no second check-in.
    phone.click("#verdict-back")
    phone.locator("#registration:not([hidden])").wait_for()
    assert phone.locator("#flow-card").is_visible() and not phone.locator("#quick-banner").is_visible()
    assert EntryRecord.select().count() == 2


def test_a_checkpoints_quick_code_says_it_offers_none_and_records_nothing(phone, h5, world):
    people = Person.select().count()
    phone.goto(f"{h5.base_url}/s/{world['airport']}?quick=1")
    phone.locator("#top-error:not([hidden])").wait_for()
    assert phone.locator("#top-error").inner_text() == "机场为入郑卡口，每次扫码须填写入郑登记信息，不提供体温正常快速打卡"
    # The ordinary arrival registration is what it offers instead.
    assert phone.locator("#flow-card").is_visible() and phone.locator("#flow-form-section").is_visible()
    assert phone.locator("#scan-submit").inner_text() == "提交"
    assert EntryRecord.select().count() == 0 and Person.select().count() == people


def test_a_wrong_id_check_digit_is_shown_at_the_id_field_and_nothing_is_recorded(phone, h5, world):
    open_code(phone, h5, world["home"])
    before = row_counts()
    fill_profile(phone, id_number=WRONG_CHECK_DIGIT)
    flow(phone, "我是住户")
    submit(phone)
    message = error_for(phone, "profile.id_number")
    message.wait_for()
    assert message.inner_text() == "身份证号码校验位错误"
    assert phone.locator("#verdict").is_hidden() and phone.locator("#top-error").is_hidden()
    assert EntryRecord.select().count() == 0 and row_counts() == before


def test_a_submission_retried_after_a_network_error_keeps_its_request_id(phone, h5, world):
    open_code(phone, h5, world["home"])
    fill_profile(phone)
    flow(phone, "我是住户")
    sent = []

    def lose_the_first(route):
        sent.append(json.loads(route.request.post_data)["request_id"])
        if len(sent) == 1:
            route.abort("connectionreset")
        else:
            route.fallback()

    phone.route("**/api/v1/scans", lose_the_first)
    submit(phone)
    phone.locator("#top-error").wait_for()
    assert "网络连接失败" in phone.locator("#top-error").inner_text()
    phone.click("#scan-submit")
    verdict(phone)
    assert len(sent) == 2 and sent[0] == sent[1] and EntryRecord.select().count() == 1


def test_the_commitment_must_be_ticked(phone, h5, world):
    open_code(phone, h5, world["home"])
    fill_profile(phone)
    flow(phone, "我是住户")
    phone.click("#scan-submit")
    assert error_for(phone, "commitment").inner_text() == "请阅读并勾选《承诺书》"
    assert EntryRecord.select().count() == 0


def test_a_second_compound_is_refused_in_red(phone, h5, world):
    register_at_home(phone, h5, world)
    open_code(phone, h5, world["other"])
    assert not phone.locator("#profile-section").is_visible()
    flow(phone, "我是住户")
    submit(phone)
    banner = phone.locator("#top-error.strong")
    banner.wait_for()
    assert banner.inner_text() == "非本小区人员，禁止入内"
    colour = banner.evaluate("node => getComputedStyle(node).backgroundColor")
    red, green, blue = map(int, re.findall(r"\d+", colour)[:3])
    assert red > 180 and green < 80 and blue < 80
    assert EntryRecord.select().count() == 1


def test_a_key_region_arrival_flashes_red_and_beeps(phone, h5, world):
    open_code(phone, h5, world["airport"])
    fill_profile(phone)
    # The checkpoint's form is asked every time, with the arrival date set to today (C4).
    assert phone.locator("#flow-form-section").is_visible()
    assert phone.input_value("#form-arrival_date") != ""
    phone.check('input[name="form-from_abroad"][value="false"]')
    phone.fill("#form-origin_code", "420100")
    phone.fill("#form-origin_name", "湖北省武汉市")
    submit(phone)

    block = verdict(phone)
    assert "flash" in block.get_attribute("class")
    assert block.evaluate("node => getComputedStyle(node).animationName") == "alarm"
    assert phone.locator("#verdict-alert").inner_text() == "重点地区返回人员，请重点关注"
    assert phone.locator("#verdict-colour").inner_text() == "橙码"
    assert "14天内有重点地区旅居史" in phone.locator("#verdict-reasons").inner_text()
    assert phone.evaluate("window.__alertPlayed") is True


def test_a_checkpoint_arrival_date_is_today_and_another_day_is_refused_at_the_field(phone, h5, world):
    open_code(phone, h5, world["airport"])
    fill_profile(phone)
    today = str(china_today())
    assert phone.input_value("#form-arrival_date") == today
    assert phone.get_attribute("#form-arrival_date", "min") == today
    phone.fill("#form-arrival_date", str(china_today() - dt.timedelta(days=20)))
    phone.check('input[name="form-from_abroad"][value="false"]')
    phone.fill("#form-origin_code", "420100")
    phone.fill("#form-origin_name", "湖北省武汉市")
    before = row_counts()
    submit(phone)
    message = error_for(phone, "form.arrival_date")
    message.wait_for()
    assert message.inner_text() == f"来郑日期应为当天（{today}）"
    assert phone.locator("#verdict").is_hidden() and row_counts() == before
    phone.fill("#form-arrival_date", today)
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-colour").inner_text() == "橙码"


def test_the_visitor_form_is_rendered_from_its_declaration(phone, h5, world):
    open_code(phone, h5, world["home"])
    fill_profile(phone)
    flow(phone, "我是访客")
    section = phone.locator("#flow-form-section")
    assert section.is_visible()
    labels = section.locator(".field > label, .field > legend").all_inner_texts()
    assert labels[:3] == ["来访原因*", "所访人姓名*", "所访人电话（选填）"]
    assert "走亲访友" in phone.locator("#form-reason").inner_text()
    phone.select_option("#form-reason", "family")
    phone.fill("#form-building", "2")
    phone.fill("#form-room", "101")
    submit(phone)
    # A required answer left empty, then one the server refuses: each at its own field.
    assert error_for(phone, "form.visited_name").inner_text() == "请填写所访人姓名"
    phone.fill("#form-visited_name", "张三")
    phone.fill("#form-visited_phone", "123")
    phone.click("#scan-submit")
    message = error_for(phone, "form.visited_phone")
    message.wait_for()
    assert message.inner_text() == "手机号码应为11位数字，以1开头"
    assert EntryRecord.select().count() == 0
    phone.fill("#form-visited_phone", "13900000000")
    phone.click("#scan-submit")
    verdict(phone)
    assert phone.locator("#verdict-flow").inner_text() == "我是访客"
    assert EntryRecord.select().count() == 1


def test_a_blank_bus_code_shows_the_activation_form_and_activates(phone, h5, db):
    batch = places.generate_batch("bus", 1)
    token = PlaceCode.get(PlaceCode.batch == batch).token
    open_code(phone, h5, token)
    assert phone.locator("#activation").is_visible() and phone.locator("#place-type").inner_text() == "公交"
    phone.fill("#form-route", "B12路")
    phone.fill("#form-plate", "豫A1234")
    phone.fill("#form-contact_name", "赵师傅")
    phone.fill("#form-contact_phone", "13900000000")
    phone.click("#activation-submit")
    message = error_for(phone, "form.plate")
    message.wait_for()
    assert "车牌号格式不正确" in message.inner_text()
    phone.fill("#form-plate", "豫A12345")
    phone.click("#activation-submit")
    phone.locator("#registration:not([hidden])").wait_for()
    assert phone.locator("#place-name").inner_text() == "B12路"
    assert phone.locator("#flow-buttons").inner_text() == "公交乘客"
    assert Place.get().name == "B12路" and PlaceCode.get(PlaceCode.token == token).status == "active"


def test_registering_for_others_is_remembered_and_can_be_deleted(phone, h5, world):
    open_code(phone, h5, world["home"])
    assert phone.locator("#proxy-section").is_hidden()
    phone.check('input[name="who"][value="other"]')
    assert phone.locator("#identity-section").is_visible() and phone.locator("#profile-section").is_hidden()
    phone.fill("#identity-name", "何小红")
    phone.fill("#identity-id_number", GRANDMA)
    flow(phone, "我是住户")
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-name").inner_text() == "何**"

    # Back on the place page, "登记信息确认" lists the identity, masked.
    phone.click("#verdict-back")
    rows = phone.locator("#proxy-list tr")
    rows.first.wait_for()
    assert rows.count() == 1
    assert rows.first.locator("td").all_inner_texts()[:2] == ["何**", "110101*****" + GRANDMA[-4:]]
    rows.first.get_by_role("button", name="此身份登记").click()
    assert phone.locator('input[name="who"]:checked').get_attribute("value").startswith("proxy:")
    flow(phone, "我是住户")
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-name").inner_text() == "何**"
    assert [e.source for e in EntryRecord.select()] == ["proxy", "proxy"]

    phone.reload()
    phone.locator("#proxy-list tr").first.get_by_role("button", name="删除").click()
    phone.locator("#proxy-section").wait_for(state="hidden")
    assert Person.get(Person.name_is("何小红")).relation == "proxy_removed"


def test_family_members_are_offered_as_choices(phone, h5, world):
    open_code(phone, h5, world["home"])
    # The phone's account, as the page signed it in, adds a family member through the API.
    key = phone.evaluate("localStorage.getItem('hc.h5.device_key')")
    h5.token = h5.ok("authDeviceLogin", {"device_key": key})["token"]
    h5.ok("addFamilyMember", {"name": "李秀英", "relationship": "parent",
                              "id_number": make_id_number(7, birth="19500505")})
    # An adult is offered only once she consented (N4); a child at once.
    adult = h5.ok("listFamilyMembers")["items"][0]
    assert adult["consent_status"] == "pending"
    from models.privacy import FamilyConsent
    FamilyConsent.create(person=adult["id"], status="granted", method="sms")
    phone.reload()
    choice = phone.get_by_text("为家人登记：李**（父母）")
    choice.click()
    assert phone.locator("#profile-section").is_hidden()
    flow(phone, "我是住户")
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-name").inner_text() == "李**"
    assert EntryRecord.get().source == "family"
