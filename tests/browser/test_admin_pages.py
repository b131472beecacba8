"""The back office in headless Chromium (G1, G3, G6): log in with the known test captcha, search a
resident, confirm and release isolation, export, and the phone-width layout."""

import io
import json
import re

import openpyxl
import pytest

from models.fieldwork import OperationLog
from models.people import Person
from models.places import Place
from models.regions import Region
from services.accounts import admin_auth
from services.back_office import residents
from services.venues import places
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import ApiClient, make_id_number

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def pending(office):  # noqa: F811
    admin = admin_auth.find_admin("13810000001")
    compound = Region.get(Region.code == "410105001001001")
    binding = residents.add_resident(admin, compound, {"name": "王待确认", "id_number": make_id_number(1),
                                                       "phone": "13900000001", "isolation_status": "pending"})
    residents.add_resident(admin, compound, {"name": "李正常", "id_number": make_id_number(2), "phone": "13900000002"})
    return binding


def open_page(browser, office, viewport):  # noqa: F811
    context = browser.new_context(accept_downloads=True, **viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return context, page


def sign_in(page, base_url: str, phone: str, password: str) -> None:
    """Log in on the login page (the test captcha) and wait for the side menu."""
    page.goto(base_url + "/admin/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.fill("input[name=captcha]", "ABCD")
    page.click("button:has-text('登录')")
    page.wait_for_selector("nav.side", state="attached")  # folded behind 菜单 on a phone


def log_in(page, office, key="compound"):  # noqa: F811
    _, phone, password = office.admins[key]
    sign_in(page, office.base_url, phone, password)
    page.wait_for_selector("h1:has-text('小区居民管理')")


def open_the_only_row(page, text: str) -> None:
    """Search the list as filled in, check that one row shows `text`, and open its detail."""
    page.click("button:has-text('查询')")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and text in rows.first.inner_text()
    rows.first.locator("a:has-text('详情')").click()


def test_log_in_search_confirm_release_and_export(browser, office, pending):  # noqa: F811
    context, page = open_page(browser, office, DESKTOP)
    try:
        page.goto(office.base_url + "/admin/login")
        assert page.locator("img.captcha").evaluate("img => img.naturalWidth") > 0  # the captcha image loads
        log_in(page, office)
        page.fill("input[name=name]", "王待确认")  # an exact name: names are found by their blind index
        open_the_only_row(page, "王**")
        page.click("a:has-text('确认隔离')")
        assert "确认该人员已处于隔离状态" in page.inner_text("main")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已确认隔离")
        assert residents.status_of(pending.person) == "confirmed"
        page.click("a:has-text('解除隔离')")
        page.click("button:has-text('确定')")  # no reason, no certificate: refused on the page
        assert "请填写解除隔离原因" in page.inner_text("main")
        page.fill("input[name=reason]", "隔离期满，核酸阴性")
        page.check("input[name=certificate]")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已解除隔离")
        assert "解除隔离（已确认隔离 → 已解除隔离）：隔离期满，核酸阴性" in page.inner_text("main")
        page.click("a:has-text('返回列表')")
        page.click("#export")  # the purpose form: sending it empty is refused on the page
        page.wait_for_selector("#export-form")
        page.evaluate("document.querySelector('#export-form input[name=purpose]').removeAttribute('required')")
        page.click("#export-submit")
        assert page.locator("#form-error").get_attribute("data-code") == "purpose_required"
        assert OperationLog.select().where(OperationLog.action == "export").count() == 0
        page.fill("input[name=purpose]", "核对隔离人员名单")
        with page.expect_download() as download:
            page.click("#export-submit")
        book = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
        watermark = book.active["A1"].value
        assert re.fullmatch(r"导出人：\S+　导出时间：\d{4}-\d\d-\d\d \d\d:\d\d（北京时间）　用途：核对隔离人员名单", watermark)
        names = sorted(row[0].value for row in book.active.iter_rows(min_row=3))
        assert names == ["李**", "王***"]  # 王待确认 masked
        log = json.loads(OperationLog.get(OperationLog.action == "export").detail)
        assert (log["purpose"], log["rows"], log["resource"]) == ("核对隔离人员名单", 2, "residents")
        assert not page.errors
    finally:
        context.close()


def test_the_pages_fit_a_phone(browser, office, pending, tmp_path):  # noqa: F811
    context, page = open_page(browser, office, PHONE)
    try:
        log_in(page, office)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, f"the list is {width}px wide on a 390px phone"
        assert page.locator("table.list thead").is_hidden()  # rows become labelled cards
        first_cell = page.locator("table.list tbody tr").first.locator("td").first
        assert first_cell.evaluate("td => getComputedStyle(td, '::before').content").startswith('"姓名')
        page.screenshot(path=str(tmp_path / "admin-phone.png"), full_page=True)
        assert (tmp_path / "admin-phone.png").stat().st_size > 1000
        page.locator("table.list tbody tr").first.locator("a:has-text('详情')").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        assert not page.errors
    finally:
        context.close()


def test_a_returnee_scanned_in_is_pending_cannot_be_released_early_and_is_confirmed(browser, office, tmp_path):  # noqa: F811
    """A key-region returnee's compound scan (the demo's 李返乡, back from Hubei 3 days ago) puts them
    to 待确认隔离; the release page warns and refuses; confirming works; editing keeps the phone."""
    citizen = ApiClient(office.base_url)
    citizen.dev_login("demo-returnee")
    home = Place.get(Place.region == Region.get(Region.code == "410105001001001"))
    response = citizen.call("scanPlace", {"code": places.current_code(home).token, "flow": "resident",
                                          "request_id": "returnee-at-home-1"})
    assert response.status_code == 200, response.text
    context, page = open_page(browser, office, DESKTOP)
    try:
        log_in(page, office)
        page.select_option("select[name=isolation_status]", "pending")
        open_the_only_row(page, "待确认隔离")
        assert "扫码后判定待确认隔离（无需隔离 → 待确认隔离）" in page.inner_text("main")
        page.click("a:has-text('解除隔离')")
        assert page.inner_text("#warning").startswith("此人隔离期14天")
        page.fill("input[name=reason]", "已提供健康证明")
        page.check("input[name=certificate]")
        page.click("button:has-text('确定')")
        assert page.inner_text("#form-error").startswith("此人隔离期14天")
        assert page.locator('.field-error[data-field="certificate"]').is_visible()
        page.screenshot(path=str(tmp_path / "release-refused.png"), full_page=True)
        page.click("a:has-text('取消')")
        page.click("a:has-text('确认隔离')")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已确认隔离")
        page.click("a:has-text('编辑')")
        assert page.input_value("input[name=phone]") == "137****0000"
        page.fill("input[name=room]", "502")
        page.click("button:has-text('提交')")
        page.wait_for_selector("text=已保存")
        person = Person.get((Person.relation == "self") & (Person.name_is("李返乡")))
        assert person.phone == "13700000000" and person.room == "502"
        assert not page.errors
    finally:
        context.close()
