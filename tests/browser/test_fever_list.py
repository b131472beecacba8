"""The fever list (发热人员名单, seed 002; H3, H6) end to end in headless Chromium, on both databases,
as a district admin works it: the template downloaded from 导入名单, filled and uploaded, the import
finished with its bad rows (a wrong ID number, a district that is not the city's) in the error
report, each person's risk level on the list (high: isolated more than 7 days; medium: up to 7;
low: no isolation), and the statuses set with a remark through each record's buttons."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from models.fields import blind_index
from models.investigations import ImportJob, ImportRowError, TaskHistory, TaskRecord
from services.common.timefmt import china_today
from services.investigations import sources
from services.risk_data import risk_inputs
from tests.browser.conftest import back_office, desktop_page, sign_in_admin
from tests.fakes import xlsx_files as files

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VISIT = "2020-04-06"
# name, ID number, district, days in isolation (None: not isolated), the risk level the list shows
PEOPLE = (("甲高", files.id_number(1), "金水区", 9, "高"), ("乙中", files.id_number(2), "金水区", 3, "中"),
          ("丙低", files.id_number(3), "金水", None, "低"), ("丁常", files.id_number(4), "金水区", None, "低"))
BAD = (("戊错", files.bad_id_number(5), "金水区"), ("己外", files.id_number(6), "火星区"))


@pytest.fixture
def office(make_server, sms):
    """The real server and the 金水区 district admin."""
    return back_office(make_server, phone="13810000002", name="金水区管理员", role="district", region_code="410105")


@pytest.fixture
def page(browser, office):
    with desktop_page(browser, office.base_url) as tab:
        yield tab


def filled(template: bytes) -> bytes:
    """The downloaded template with the clinic's rows typed under its header row."""
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.active
    headers = [cell.value for cell in sheet[1]]
    assert headers == sources.FEVER.headers
    for n, (name, id_number, district, *_) in enumerate((*PEOPLE, *BAD)):
        row = {"就诊日期": VISIT, "姓名": name, "证件号码": id_number, "手机号码": f"1391234{n:04d}",
               "就诊医院": "省人民医院", "体温": "38.1", "现住地址": "郑州市金水区经八路5号院", "所属区县": district}
        sheet.append([row.get(header) for header in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(page, selector) -> tuple[str, bytes]:
    with page.expect_download() as started:
        page.click(selector)
    with open(started.value.path(), "rb") as handle:
        return started.value.suggested_filename, handle.read()


def set_status(page, name: str, label: str, remark: str) -> None:
    """From the list: the person's 详情, the status button, a remark, 确定."""
    page.click("nav.side a:has-text('发热人员名单')")
    page.locator("tr", has_text=name[0] + "*").locator("a:has-text('详情')").click()
    page.locator(".buttons a.button", has_text=label).click()
    page.fill("[name=remark]", remark)
    page.click("button:has-text('确定')")
    page.wait_for_selector(f"text=状态已变更为“{label}”")


def test_a_district_admin_imports_the_fever_list_and_works_it(page, office):
    today = china_today()
    for name, id_number, _, days, _ in PEOPLE:
        if days is not None:  # confirmed isolated by their compound (小区居民管理)
            risk_inputs.set_isolation(blind_index(id_number, "id_number"), "confirmed",
                                      since=today - dt.timedelta(days=days))
    sign_in_admin(page, office)

    # 导入名单: the fever list's template, filled, uploaded.
    page.click("nav.side a:has-text('导入名单')")
    row = page.locator("tr", has_text="上传发热门诊名单")
    name, template = download(page, "tr:has-text('上传发热门诊名单') a:has-text('模板下载')")
    assert name.endswith(".xlsx")
    row.locator("a:has-text('上传')").click()
    page.wait_for_selector("h1:has-text('上传发热门诊名单')")
    page.set_input_files("input[name=file]", files=[{"name": "发热门诊名单.xlsx", "mimeType": XLSX,
                                                     "buffer": filled(template)}])
    page.click("button:has-text('上传')")
    page.wait_for_selector("#import-result")
    assert "成功 4 行（新增 4 行），失败 2 行" in page.inner_text("#import-result")
    _, report = download(page, "#error-report")
    lines = list(openpyxl.load_workbook(io.BytesIO(report), read_only=True).active.iter_rows(values_only=True))
    assert lines == [("行号", "列", "原因"), (6, "证件号码", "身份证号码校验位错误"),
                     (7, "所属区县", "所属区县“火星区”不是本市的区县")]
    # Nothing of the bad rows was stored; the good ones went to 金水区, 未询问.
    assert TaskRecord.select().count() == 4 and ImportRowError.select().count() == 2
    assert {(r.district.name, r.status) for r in TaskRecord.select()} == {("金水区", "not_asked")}
    assert ImportJob.get().bad == 2

    # 发热人员名单: each person's risk level by isolation days, status 未询问.
    page.click("nav.side a:has-text('发热人员名单')")
    page.wait_for_selector("h1:has-text('发热人员名单')")
    shown = {}
    for line in page.locator("table.list tbody tr").all():
        cells = {cell.get_attribute("data-label"): cell.inner_text() for cell in line.locator("td").all()}
        shown[cells["姓名"]] = (cells["风险等级"], cells["状态"])
    assert shown == {name[0] + "*": (level, "未询问") for name, _, _, _, level in PEOPLE}

    # The statuses, each with its remark: 已询问，持续关注 / 联系不上 / 已询问，无异常 (丁 stays 未询问).
    set_status(page, "甲高", "已询问，持续关注", "每日电话随访")
    set_status(page, "乙中", "联系不上", "电话关机")
    set_status(page, "丙低", "已询问，无异常", "已退烧")
    set_status(page, "甲高", "已询问，无异常", "复查正常")
    # 已询问，无异常 has no button left (seed); 联系不上 can still move on.
    assert page.locator(".buttons a.button", has_text="已询问").count() == 0
    page.click("nav.side a:has-text('发热人员名单')")
    page.locator("tr", has_text="乙*").locator("a:has-text('详情')").click()
    assert page.locator(".buttons a.button", has_text="已询问，持续关注").count() == 1
    assert "未询问 → 联系不上（电话关机）" in page.inner_text("body")
    page.click("nav.side a:has-text('发热人员名单')")
    statuses = dict(zip(page.locator("td[data-label=姓名]").all_inner_texts(),
                        page.locator("td[data-label=状态]").all_inner_texts()))
    assert statuses == {"甲*": "已询问，无异常", "乙*": "联系不上", "丙*": "已询问，无异常", "丁*": "未询问"}
    remarks = [(h.to_status, h.remark) for h in TaskHistory.select().order_by(TaskHistory.id)]
    assert remarks == [("watching", "每日电话随访"), ("unreachable", "电话关机"), ("normal", "已退烧"),
                       ("normal", "复查正常")]
