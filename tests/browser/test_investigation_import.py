"""The investigation-list import in headless Chromium (H1), on both databases: a city admin opens
the upload page from the side menu, uploads a generated telecom list, watches the job page's
progress bar (polled by admin/static/import_progress.js) move to 100% and the finished state with
the kept and refused rows, and downloads the error report."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from models.investigations import ImportJob, TaskRecord
from services.investigations import importer
from tests.browser.conftest import back_office, desktop_page, sign_in_admin
from tests.fakes import xlsx_files as files

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def office(make_server, sms):
    """The real server (the import pages are wired by server.py) and a city admin who may import."""
    return back_office(make_server, phone="13810000001", name="市级管理员", role="city", region_code="410100")


@pytest.fixture
def slow_import(monkeypatch):
    """Small committed batches with a pause after each, so the page is seen while the import runs
    (40 rows: about a second) and the bar is driven by the polling script."""
    monkeypatch.setattr(importer, "BATCH", 10)
    monkeypatch.setattr(importer, "TRANSACTION_ROWS", 10)  # progress becomes visible per commit
    write = importer._write_progress

    def paced(*args, **kwargs):
        write(*args, **kwargs)
        time.sleep(0.2)

    monkeypatch.setattr(importer, "_write_progress", paced)


@pytest.fixture
def page(browser, office):
    with desktop_page(browser, office.base_url) as tab:
        yield tab


def test_upload_from_the_side_menu_and_watch_the_progress_bar_finish(page, office, slow_import):
    sign_in_admin(page, office)

    page.click("nav.side a:has-text('导入名单')")
    page.wait_for_selector("h1:has-text('导入名单')")
    page.locator("tr", has_text="上传通管名单").locator("a:has-text('上传')").click()
    page.wait_for_selector("h1:has-text('上传通管名单')")
    page.set_input_files("input[name=file]", files=[{"name": "通管名单.xlsx", "mimeType": XLSX,
                                                     "buffer": files.telecom_xlsx(40, bad_every=10)}])
    polls: list[dict] = []

    def record_poll(route):
        # What the script got from each poll, read here (a reload would drop the body).
        answer = route.fetch()
        polls.append(answer.json())
        route.fulfill(response=answer)

    page.route(office.base_url + "/admin/imports/*/progress", record_poll)
    page.click("button:has-text('上传')")

    page.wait_for_selector("h1:has-text('导入详情')")
    bar = page.locator("#import-progress")
    assert bar.get_attribute("data-finished") == "0"  # still running when the page came: the script drives it
    # The script polls, fills the figures, and reloads the page once the import has finished.
    page.wait_for_selector("#import-result")
    assert bar.evaluate("bar => bar.value") == 100 and bar.get_attribute("data-finished") == "1"
    assert polls and (polls[-1]["percent"], polls[-1]["finished"]) == (100, True)
    assert all(not poll["finished"] and poll["percent"] < 100 for poll in polls[:-1])
    figures = {name: page.inner_text(f"[data-field={name}]") for name in ("status_label", "percent", "rows", "good",
                                                                           "bad")}
    assert figures == {"status_label": "已完成", "percent": "100", "rows": "40", "good": "36", "bad": "4"}
    assert "成功 36 行（新增 36 行），失败 4 行" in page.inner_text("#import-result")
    assert TaskRecord.select().count() == 36 and ImportJob.get().status == "done"

    with page.expect_download() as download:
        page.click("#error-report")
    assert download.value.suggested_filename.startswith("导入错误报告")
    with open(download.value.path(), "rb") as handle:
        sheet = openpyxl.load_workbook(io.BytesIO(handle.read()), read_only=True).active
        lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == ("行号", "列", "原因") and len(lines) == 5
    assert lines[1] == (11, "证件号码", "身份证号码校验位错误")
