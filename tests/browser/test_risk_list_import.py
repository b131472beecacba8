"""A risk list imported in headless Chromium by a health-authority account (D2), on both databases:
the city CDC opens 风险数据 from the side menu, downloads the close-contact template, uploads a list
filled in from it, watches the progress bar finish with the refused row counted, and the listed
person's colour is red at once, the reason naming the list and its date."""

from __future__ import annotations

import io

import openpyxl

from models.colour import HealthStatus
from models.risk_inputs import CloseContact
from services.accounts import admin_auth
from services.colours import colour
from services.common.timefmt import china_today
from tests.admin.conftest import CAPTCHA
# The investigation import's fixtures: the real server with the demo regions, a guarded page, and
# an import slowed down enough for the progress bar to be seen moving.
from tests.browser.test_investigation_import import XLSX, office, page, slow_import  # noqa: F401
from tests.conftest import make_person
from tests.fakes import xlsx_files as files

PHONE, PASSWORD = "13820000001", "Cdc@20261203"


def test_a_cdc_account_imports_a_close_contact_list_and_the_person_turns_red(page, office, slow_import):  # noqa: F811
    admin_auth.create_admin(None, phone=PHONE, name="市疾控录入员", role="cdc_city", region_code="410100",
                            send_sms=False, password=PASSWORD)
    person = make_person(1)
    page.goto(office.base_url + "/admin/login")
    page.fill("input[name=phone]", PHONE)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=captcha]", CAPTCHA)
    page.click("button:has-text('登录')")
    page.wait_for_selector("nav.side")

    page.click("nav.side a:has-text('风险数据')")
    page.wait_for_selector("h1:has-text('风险数据')")
    row = page.locator("tr[data-kind=close_contact]")
    with page.expect_download() as download:
        row.locator("a:has-text('模板下载')").click()
    with open(download.value.path(), "rb") as handle:
        template = openpyxl.load_workbook(io.BytesIO(handle.read())).active
    headers = [c.value for c in template[1]]
    assert headers[:4] == ["证件号码", "姓名", "手机号码", "判定日期"]

    today = china_today().isoformat()
    rows = [[person.id_number, "张三", "", today, "", ""]]
    rows += [[files.id_number(n), f"密接{n}", "", today, "", ""] for n in range(2, 40)]
    rows.append([files.bad_id_number(40), "错号", "", today, "", ""])
    content = files.workbook_bytes(headers, rows)

    row.locator("a:has-text('上传名单')").click()
    page.wait_for_selector("h1:has-text('上传密接名单')")
    page.set_input_files("input[name=file]", files=[{"name": "密接名单.xlsx", "mimeType": XLSX, "buffer": content}])
    page.click("button:has-text('上传')")
    page.wait_for_selector("h1:has-text('导入详情')")
    assert page.locator("#import-progress").get_attribute("data-finished") == "0"
    page.wait_for_selector("#import-result")
    assert page.locator("#import-progress").evaluate("bar => bar.value") == 100
    figures = {name: page.inner_text(f"[data-field={name}]") for name in ("status_label", "rows", "good", "bad")}
    assert figures == {"status_label": "已完成", "rows": "40", "good": "39", "bad": "1"}
    assert "成功 39 行（新增 39 行），失败 1 行" in page.inner_text("#import-result")

    assert CloseContact.select().count() == 39
    assert HealthStatus.get(HealthStatus.subject == person.subject).colour == "red"
    assert colour.verdict(person.subject).as_dict()["reasons"] == [f"密切接触者：密接名单（郑州市疾控中心 {today}）"]
    page.click("a:has-text('返回风险数据')")
    assert f"密接名单（郑州市疾控中心 {today}）" in page.inner_text("#risk-batches")
