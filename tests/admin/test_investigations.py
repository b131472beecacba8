"""任务排查 over HTTP on both databases (H1-H6): upload with the progress endpoint and the error
report, every bad upload refused clearly with nothing written, templates, the lists' scoping (another
district's record by id is a 403, hub staff see their mode), workflows with history and effects,
overseas reports, statistics with their export, and the masked, audited list export. Also: an
import whose process died is shown as interrupted (once, audited; a live one never), and the side
menu lists this area's pages for the roles that may open them."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import time

import openpyxl
import pytest

from admin import investigation_pages
from models.db import db
from models.fieldwork import OperationLog
from models.fields import utcnow
from models.investigations import ImportJob, TaskHistory, TaskRecord
from models.regions import Region
from models.risk_inputs import IsolationRecord, TravelRecord
from models.people import Person
from services.accounts import admin_auth
from services.colours import colour
from services.common.errors import ApiError
from services.common.regions import load_tree
from services.investigations import importer, records, sources, workflow
from services.operations.demo import ZHENGZHOU
from tests.admin.conftest import CAPTCHA, AdminClient, page_error
from tests.conftest import make_person, row_counts
from tests.fakes import xlsx_files as files

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCOUNTS = {
    "city": ("13810000001", "city", "410100"), "jinshui": ("13810000002", "district", "410105"),
    "erqi": ("13810000003", "district", "410103"), "compound": ("13810000004", "compound", "410105001001001"),
    "airport": ("13810000005", "hub_airport", "410100"), "hsr": ("13810000006", "hub_hsr", "410100"),
    "community": ("13810000007", "community", "410105001001"),
}


@pytest.fixture
def inv(make_server, sms):
    """The server with this area's routes, the demo regions, and its accounts (made on demand)."""
    server = make_server(extra_routes=investigation_pages.routes(None), captcha_fixed_answer=CAPTCHA,
                         import_max_bytes=300 * 1024, railway_boarding_stations="武汉,汉口")
    load_tree(ZHENGZHOU)
    made = {}

    def sign_in(key: str) -> AdminClient:
        phone, role, region = ACCOUNTS[key]
        if key not in made:
            made[key] = admin_auth.create_admin(None, phone=phone, name=f"{key}管理员", role=role, region_code=region,
                                                send_sms=False)
        client = AdminClient(server.base_url)
        assert client.login(phone, made[key][1]).status_code == 302
        client.admin = made[key][0]
        return client

    server.sign_in = sign_in
    return server


def upload(client: AdminClient, content: bytes, source: str = "telecom", name: str = "名单.xlsx", **fields):
    return client.http.post(client.base_url + "/admin/imports/new", params={"_xsrf": client.xsrf()},
                            data={"source": source, **fields}, files={"file": (name, content, XLSX)},
                            allow_redirects=False, timeout=20)


def finished(client: AdminClient, response) -> dict:
    """Follow an accepted upload to the end of its import through the progress endpoint."""
    assert response.status_code == 303, (response.status_code, page_error(response) or response.text[:300])
    job_url = response.headers["Location"]
    deadline = time.time() + 30
    while True:
        progress = client.get(job_url + "/progress").json()
        if progress["finished"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert progress["finished"], progress
    progress["url"] = job_url
    return progress


def names_on(page) -> list[str]:
    return re.findall(r'<td data-label="姓名">([^<]*)</td>', page.text)


# --- upload ---------------------------------------------------------------------------------------------

def test_upload_imports_in_the_background_with_progress_and_an_error_report(inv):
    city = inv.sign_in("city")
    page = city.get("/admin/imports/new?source=telecom")
    assert page.status_code == 200 and "上传通管名单" in page.text and 'enctype="multipart/form-data"' in page.text
    progress = finished(city, upload(city, files.telecom_xlsx(40, bad_every=10)))
    assert (progress["status"], progress["percent"], progress["rows"], progress["good"], progress["bad"]) == (
        "done", 100, 40, 36, 4)
    job_page = city.get(progress["url"])
    assert 'id="import-progress"' in job_page.text and "/admin/static/import_progress.js" in job_page.text
    assert "下载错误报告" in job_page.text and "成功 36 行" in job_page.text
    report = city.get(progress["url"] + "/errors.xlsx")
    assert report.headers["Content-Type"] == XLSX
    lines = list(openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).active.iter_rows(values_only=True))
    assert lines[0] == ("行号", "列", "原因") and lines[1] == (11, "证件号码", "身份证号码校验位错误") and len(lines) == 5
    assert TaskRecord.select().count() == 36
    # The district sees what went to it, masked.
    listing = inv.sign_in("jinshui").get("/admin/r/task_telecom/")
    jinshui = TaskRecord.select().join(Region, on=(TaskRecord.district == Region.id)).where(Region.name == "金水区")
    assert len(names_on(listing)) == jinshui.count() > 0
    assert files.id_number(0) not in listing.text and "410105*****" in listing.text
    assert inv.sign_in("city").get("/admin/static/import_progress.js").status_code == 200


def test_the_same_file_twice_adds_no_duplicates(inv):
    city = inv.sign_in("city")
    content = files.telecom_xlsx(20)
    first = finished(city, upload(city, content))
    second = finished(city, upload(city, content))
    assert (first["inserted"], second["inserted"], second["duplicates"]) == (20, 0, 20)
    assert TaskRecord.select().count() == 20
    assert "已存在 20 行未重复添加" in city.get(second["url"]).text


@pytest.mark.parametrize("content, status, message", [
    (files.csv_renamed(), 400, "不是有效的 Excel（xlsx）文件"),
    (files.zip_bomb(40), 400, "疑似压缩炸弹"),
    (b"", 400, "文件为空"),
    (files.without_column(files.TELECOM_HEADERS, [files.telecom_row(1)], "基站归属区县"), 400,
     "缺少必需的列：基站归属区县"),
    (files.workbook_bytes(files.TELECOM_HEADERS, []), 400, "没有数据行"),
])
def test_bad_uploads_are_refused_clearly_and_write_nothing(inv, content, status, message):
    city = inv.sign_in("city")
    before = row_counts()
    response = upload(city, content)
    assert response.status_code == status and message in page_error(response), page_error(response)
    assert "上传通管名单" in response.text  # the form again, to try another file
    assert row_counts() == before


def test_a_file_over_the_limit_is_refused_with_413(inv):
    city = inv.sign_in("city")
    before = row_counts()
    big = files.telecom_xlsx(6000)
    assert len(big) > 300 * 1024
    response = upload(city, big)
    assert response.status_code == 413 and "文件过大（上限 300 KB）" in response.text
    assert row_counts() == before


@pytest.mark.parametrize("ref, code, message", [
    ("A1:N2000001", "too_many_rows", "工作表有 2,000,000 行数据，超过上限（最多 1,000,000 行）"),
    ("A1:NTP3", "too_many_columns", "工作表有 10,000 列，超过上限（最多 200 列）"),
])
def test_a_sheet_declaring_too_many_rows_or_columns_is_refused_before_a_job(inv, ref, code, message):
    """Bad input: a small file whose sheet declares 2,000,001 rows or 10,000 columns: refused at
    upload from its dimension (code and field on the form), no job, no audit, nothing stored."""
    city = inv.sign_in("city")
    before = row_counts()
    content = files.with_dimension(files.telecom_xlsx(2), ref)
    assert len(content) < 20 * 1024
    response = upload(city, content)
    assert response.status_code == 400 and message in page_error(response), page_error(response)
    assert f'data-code="{code}" data-field="file"' in response.text
    assert row_counts() == before and ImportJob.select().count() == 0
    # The same rows declaring their true range are imported.
    assert finished(city, upload(city, files.with_dimension(files.telecom_xlsx(2), "A1:N3")))["status"] == "done"


def test_a_sheet_without_a_dimension_and_a_10000_column_header_is_refused_before_a_job(inv):
    """Bad input: no declared range, but a header row 10,000 columns wide: refused at upload from
    that row (the rows below are not read), no job, nothing stored."""
    city = inv.sign_in("city")
    before = row_counts()
    wide = files.workbook_bytes((*files.TELECOM_HEADERS, *(f"列{n}" for n in range(10_000 - 14))),
                                [files.telecom_row(1)])
    response = upload(city, wide)
    assert response.status_code == 400 and "工作表有 10,000 列，超过上限（最多 200 列）" in page_error(response)
    assert 'data-code="too_many_columns" data-field="file"' in response.text
    assert row_counts() == before and ImportJob.select().count() == 0


def test_uploads_need_the_xsrf_token_and_an_import_role(inv):
    city = inv.sign_in("city")
    response = city.http.post(city.base_url + "/admin/imports/new", data={"source": "telecom"},
                              files={"file": ("a.xlsx", files.telecom_xlsx(2), XLSX)}, allow_redirects=False)
    assert response.status_code == 403
    district = inv.sign_in("jinshui")
    assert upload(district, files.telecom_xlsx(2)).status_code == 403
    assert district.get("/admin/imports/new?source=telecom").status_code == 403
    assert district.get("/admin/imports/new?source=fever").status_code == 200  # its fever clinics' list
    assert inv.sign_in("compound").get("/admin/imports/new?source=fever").status_code == 403
    assert TaskRecord.select().count() == 0


def test_templates_are_the_seeds_headers(inv):
    city = inv.sign_in("city")
    response = city.get("/admin/imports/template/telecom.xlsx")
    assert response.status_code == 200 and response.headers["Content-Type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    assert list(sheet.iter_rows(values_only=True)) == [files.TELECOM_HEADERS]
    for code in sources.SOURCES:
        assert city.get(f"/admin/imports/template/{code}.xlsx").status_code == 200
    assert city.get("/admin/imports/template/nothing.xlsx").status_code == 404
    index = city.get("/admin/imports/")
    assert "边检数据导入" in index.text and "/admin/imports/template/border.xlsx" in index.text
    assert investigation_pages.nav_links(city.admin) == [("导入名单", "/admin/imports/")]
    assert investigation_pages.stats_links(city.admin) == [("排查统计", "/admin/investigations/stats")]
    assert investigation_pages.nav_links(inv.sign_in("airport").admin) == [("导入名单", "/admin/imports/")]
    assert investigation_pages.stats_links(inv.sign_in("airport").admin) == []
    assert investigation_pages.nav_links(inv.sign_in("compound").admin) == []


def test_progress_of_another_accounts_import_is_refused(inv):
    city = inv.sign_in("city")
    progress = finished(city, upload(city, files.telecom_xlsx(3)))
    other = inv.sign_in("airport")
    response = other.get(progress["url"] + "/progress")
    assert response.status_code == 403 and response.json()["error"]["code"] == "out_of_scope"
    assert other.get(progress["url"]).status_code == 403


# --- lists, scoping, workflows -------------------------------------------------------------------------

def _record(source, district_code: str | None, status: str | None = None, **values) -> TaskRecord:
    region = Region.get(Region.code == district_code) if district_code else None
    admin = admin_auth.AdminUser.select().first()
    base = {"name": "王排查", "id_number": files.id_number(len(values) + TaskRecord.select().count()),
            "phone": f"1390000{TaskRecord.select().count():04d}"}
    if source is sources.OVERSEAS:
        base.update(port="新郑机场", expected_arrival=dt.datetime(2020, 3, 20, 21, 16), transport="plane",
                    transport_number="C888")
    if source is sources.POLICE_LIST:
        base.update(date=dt.date(2020, 2, 28))
    record = records.add_one(source, {**base, **values}, admin=admin, region=region)
    if status:
        TaskRecord.update(status=status).where(TaskRecord.id == record.id).execute()
    return TaskRecord.get_by_id(record.id)


def test_another_districts_record_by_id_is_403(inv):
    jinshui = inv.sign_in("jinshui")
    theirs = _record(sources.POLICE_LIST, "410103")
    mine = _record(sources.POLICE_LIST, "410105")
    assert jinshui.get(f"/admin/r/task_police/{mine.id}").status_code == 200
    for path in (f"/admin/r/task_police/{theirs.id}", f"/admin/r/task_police/{theirs.id}/edit",
                 f"/admin/r/task_police/{theirs.id}/do/to_verified_isolated"):
        response = jinshui.get(path)
        assert response.status_code == 403 and "无权查看或操作其他辖区的数据" in response.text
    refused = jinshui.post(f"/admin/r/task_police/{theirs.id}/do/to_verified_isolated", {"remark": "x"})
    assert refused.status_code == 403
    assert TaskRecord.get_by_id(theirs.id).status == "to_verify"
    assert len(names_on(jinshui.get("/admin/r/task_police/"))) == 1
    # The same id under another list is not found there.
    assert jinshui.get(f"/admin/r/task_telecom/{mine.id}").status_code == 404


def test_police_verification_confirms_isolation_and_keeps_history(inv):
    jinshui = inv.sign_in("jinshui")
    person = make_person(3, "刘某", compound=Region.get(Region.code == "410105001001001"))
    record = _record(sources.POLICE_LIST, "410105", id_number=person.id_number)
    detail = jinshui.get(f"/admin/r/task_police/{record.id}")
    assert "已核实，已确认隔离" in detail.text and "应核实" in detail.text
    done = jinshui.post(f"/admin/r/task_police/{record.id}/do/to_verified_isolated", {"remark": "小区已确认"},
                        allow_redirects=False)
    assert done.status_code == 302
    record = TaskRecord.get_by_id(record.id)
    assert record.status == "verified_isolated"
    assert IsolationRecord.get(IsolationRecord.subject == person.id_number_bidx).status == "confirmed"
    assert colour.verdict(person.subject).colour == "red"  # the colour engine heard it
    history = TaskHistory.get(TaskHistory.record == record)
    assert (history.from_status, history.to_status, history.remark) == ("to_verify", "verified_isolated", "小区已确认")
    page = jinshui.get(f"/admin/r/task_police/{record.id}")
    assert "应核实 → 已核实，已确认隔离（小区已确认）" in page.text
    # A transition the workflow does not have: refused, nothing changes.
    again = jinshui.post(f"/admin/r/task_police/{record.id}/do/to_verified_not_needed", {"remark": ""})
    assert again.status_code == 409
    assert TaskRecord.get_by_id(record.id).status == "verified_isolated"
    assert OperationLog.select().where(OperationLog.action == "task_status").count() == 1


def test_workflow_service_refuses_what_the_workflow_lacks(inv):
    admin = inv.sign_in("city").admin
    record = _record(sources.FEVER, "410105", date=dt.date(2020, 4, 6), hospital="省人民医院")
    with pytest.raises(ApiError) as refused:
        workflow.transition(admin, record, "pending")
    assert refused.value.status == 400
    workflow.transition(admin, record, "normal", "无异常")
    with pytest.raises(ApiError) as refused:
        workflow.transition(admin, TaskRecord.get_by_id(record.id), "watching")
    assert refused.value.status == 409 and "已询问，无异常" in refused.value.message
    # A stale page cannot move a record someone else already moved.
    other = _record(sources.FEVER, "410105", date=dt.date(2020, 4, 6), hospital="市一院")
    workflow.transition(admin, other, "watching")
    with pytest.raises(ApiError) as refused:
        workflow.transition(admin, other, "unreachable")  # `other` still says not_asked
    assert refused.value.code == "status_changed"


def test_fever_list_shows_risk_levels_by_isolation_days(inv):
    from services.risk_data import risk_inputs

    long_ago = _record(sources.FEVER, "410105", date=dt.date(2020, 4, 6), hospital="A", name="甲一")
    recent = _record(sources.FEVER, "410105", date=dt.date(2020, 4, 6), hospital="B", name="乙二")
    _record(sources.FEVER, "410105", date=dt.date(2020, 4, 6), hospital="C", name="丙三")
    risk_inputs.set_isolation(long_ago.subject, "confirmed", since=dt.date.today() - dt.timedelta(days=9))
    risk_inputs.set_isolation(recent.subject, "confirmed", since=dt.date.today() - dt.timedelta(days=2))
    page = inv.sign_in("jinshui").get("/admin/r/task_fever/")
    levels = dict(zip(names_on(page), re.findall(r'<td data-label="风险等级">([^<]*)</td>', page.text)))
    assert levels == {"甲*": "高", "乙*": "中", "丙*": "低"}


def test_overseas_reports_reach_the_district_and_the_hub_of_their_mode(inv):
    compound = inv.sign_in("compound")
    form = compound.get("/admin/r/overseas_reports/new")
    assert form.status_code == 200 and "预计入境方式" in form.text
    data = {"name": "测试小区", "id_number": files.id_number(5), "phone": "13912345678", "country": "韩国",
            "port": "新郑机场", "expected_arrival": "2020-03-20 21:16", "transport": "plane",
            "transport_number": "C888", "address": "", "remark": ""}
    created = compound.post("/admin/r/overseas_reports/new", data, allow_redirects=False)
    assert created.status_code == 302, page_error(created)
    bad = compound.post("/admin/r/overseas_reports/new", {**data, "expected_arrival": "明天"})
    assert bad.status_code == 400 and "时间格式不正确" in page_error(bad)
    again = compound.post("/admin/r/overseas_reports/new", data)
    assert again.status_code == 409
    record = TaskRecord.get()
    assert (record.status, record.transport, record.district.name, record.region.name) == (
        "pending", "plane", "金水区", "经八路5号院")
    assert record.expected_arrival.isoformat() == "2020-03-20T13:16:00"  # stored in UTC
    airport, hsr = inv.sign_in("airport"), inv.sign_in("hsr")
    assert names_on(airport.get("/admin/r/task_overseas/")) == ["测***"]
    assert names_on(hsr.get("/admin/r/task_overseas/")) == []
    assert hsr.get(f"/admin/r/task_overseas/{record.id}").status_code == 403
    received = airport.post(f"/admin/r/task_overseas/{record.id}/do/to_received", {"remark": "已联系"},
                            allow_redirects=False)
    assert received.status_code == 302
    district = inv.sign_in("jinshui")
    listing = district.get("/admin/r/task_overseas/")
    assert "已接收" in listing.text and names_on(listing) == ["测***"]
    assert inv.sign_in("erqi").get(f"/admin/r/task_overseas/{record.id}").status_code == 403
    # 已到达 records the arrival from abroad for a registered person; 集中隔离 isolates.
    person = Person(name="测试小区")
    person.set_id_number(files.id_number(5))
    person.save()
    TaskRecord.update(person=person).where(TaskRecord.id == record.id).execute()
    district.post(f"/admin/r/task_overseas/{record.id}/do/to_arrived", {"remark": ""})
    travel = TravelRecord.get(TravelRecord.subject == person.id_number_bidx)
    assert (travel.from_abroad, travel.country, travel.transport) == (True, "韩国", "plane")
    district.post(f"/admin/r/task_overseas/{record.id}/do/to_central_isolation", {"remark": "扫隔离点码"})
    assert IsolationRecord.get(IsolationRecord.subject == person.id_number_bidx).status == "confirmed"
    assert [h.to_status for h in workflow.history(record)] == ["received", "arrived", "central_isolation"]


def _actions_on(page) -> list[str]:
    return re.findall(r'/do/to_([a-z_0-9]+)">', page.text)


def test_a_new_overseas_report_is_received_before_any_final_status(inv):
    airport = inv.sign_in("airport")
    record = _record(sources.OVERSEAS, "410105")
    assert record.status == "pending"
    assert _actions_on(airport.get(f"/admin/r/task_overseas/{record.id}")) == ["received"]
    before = row_counts()
    for final in sources.OVERSEAS_OUTCOMES:
        refused = airport.post(f"/admin/r/task_overseas/{record.id}/do/to_{final}", {"remark": "跳过接收"})
        assert refused.status_code == 409
        assert page_error(refused) == (f"当前状态“待反馈”不能变更为“{sources.OVERSEAS_OUTCOMES[final]}”，"
                                       "只能变更为“已接收”")
    with pytest.raises(ApiError) as service:
        workflow.transition(airport.admin, record, "left", "跳过接收")
    assert (service.value.code, service.value.status, service.value.field) == ("invalid_transition", 409, "status")
    assert row_counts() == before  # no status, no history line, no audit entry
    assert TaskRecord.get_by_id(record.id).status == "pending"

    assert airport.post(f"/admin/r/task_overseas/{record.id}/do/to_received", {"remark": "专班已接收"},
                        allow_redirects=False).status_code == 302
    offered = _actions_on(airport.get(f"/admin/r/task_overseas/{record.id}"))
    assert offered == ["arrived", "late", *sources.OVERSEAS_OUTCOMES]
    assert airport.post(f"/admin/r/task_overseas/{record.id}/do/to_left", {"remark": "转运外省"},
                        allow_redirects=False).status_code == 302
    assert [(h.from_status, h.to_status, h.remark) for h in workflow.history(record)] == [
        ("pending", "received", "专班已接收"), ("received", "left", "转运外省")]


def test_list_filters_by_keyword_status_time_and_category(inv):
    city = inv.sign_in("city")
    headers = ("日期", "姓名", "证件号码", "手机号码", "出发地", "航班(车次/车牌)", "现住地址")
    rows = [("2020-03-18", "赵一", files.id_number(1), "13911110001", "韩国", "C888", "郑州市金水区某路1号"),
            ("2020-03-19", "钱二", files.id_number(2), "13911110002", "日本", "G2222", "郑州市二七区某路2号")]
    finished(city, upload(city, files.workbook_bytes(headers, rows), source="border", category="airport"))
    finished(city, upload(city, files.workbook_bytes(headers, [("2020-03-19", "孙三", files.id_number(3), "", "美国",
                                                                 "D1", "郑州市金水区某路3号")]),
                          source="border", category="railway"))
    listing = "/admin/r/task_border/"
    assert sorted(names_on(city.get(listing))) == ["孙*", "赵*", "钱*"]
    assert names_on(city.get(listing, params={"keyword": files.id_number(2)})) == ["钱*"]
    assert names_on(city.get(listing, params={"keyword": "13911110001"})) == ["赵*"]
    assert names_on(city.get(listing, params={"keyword": "G2222"})) == ["钱*"]
    assert names_on(city.get(listing, params={"keyword": "孙三"})) == ["孙*"]
    assert sorted(names_on(city.get(listing, params={"category": "airport"}))) == ["赵*", "钱*"]
    assert sorted(names_on(city.get(listing, params={"date_from": "2020-03-19", "date_to": "2020-03-19"}))) == [
        "孙*", "钱*"]
    assert sorted(names_on(city.get(listing, params={"area": "金水"}))) == ["孙*", "赵*"]
    record = TaskRecord.get(TaskRecord.category == "railway")
    workflow.transition(city.admin, record, "no_isolation")
    assert names_on(city.get(listing, params={"status": "done"})) == ["孙*"]
    assert sorted(names_on(city.get(listing, params={"status": "open"}))) == ["赵*", "钱*"]
    assert city.get(listing, params={"status": "nonsense"}).status_code == 400


def test_export_is_masked_formula_safe_and_audited(inv):
    city = inv.sign_in("city")
    rows = [files.telecom_row(1)]
    rows[0][13] = files.Text("=HYPERLINK(\"http://x\")")
    finished(city, upload(city, files.workbook_bytes(files.TELECOM_HEADERS, rows)))
    response = city.export("/admin/r/task_telecom/export")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value.startswith("导出人：c******　") and sheet["A1"].value.endswith("用途：核查名单数据")
    values = [c.value for c in sheet[3]]
    assert files.id_number(1) not in values and "410105*****" + files.id_number(1)[-4:] in values
    assert "130****0001" in values
    remark = next(c for c in sheet[3] if c.value == "=HYPERLINK(\"http://x\")")
    assert remark.data_type == "s"
    log = OperationLog.get(OperationLog.action == "export")
    assert json.loads(log.detail)["resource"] == "task_telecom"
    assert json.loads(log.detail)["purpose"] == "核查名单数据" and json.loads(log.detail)["rows"] == 1


def test_the_statistics_export_needs_a_purpose_a_post_and_its_token(inv):
    """Bad input on 排查统计's export: GET gives the purpose form (never the file), a POST without
    a purpose is the form again (code, field), a forged XSRF token is a 403; none is audited."""
    city = inv.sign_in("city")
    before = row_counts()
    params = {"source": "overseas", "format": "xlsx"}
    form = city.get("/admin/investigations/stats", params=params)
    assert form.status_code == 200 and 'id="export-form"' in form.text and "排查统计" in form.text
    refused = city.post("/admin/investigations/stats", {"purpose": ""}, params=params)
    assert refused.status_code == 400 and "请填写导出用途" in page_error(refused)
    assert 'data-code="purpose_required" data-field="purpose"' in refused.text
    forged = city.post("/admin/investigations/stats", {"purpose": "核查"}, params=params, xsrf="forged")
    assert forged.status_code == 403
    assert row_counts() == before and OperationLog.select().where(OperationLog.action == "export").count() == 0


def _queued_row(n: int) -> list:
    """A telecom row that names no county (流入县 is the city itself): the city queue."""
    row = files.telecom_row(n, county="")
    row[3] = "郑州市"
    return row


def test_city_admin_dispatches_an_unassigned_record(inv):
    city = inv.sign_in("city")
    finished(city, upload(city, files.workbook_bytes(files.TELECOM_HEADERS, [_queued_row(1)])))
    record = TaskRecord.get()
    assert record.district_id is None
    assert names_on(inv.sign_in("jinshui").get("/admin/r/task_telecom/")) == []
    assert len(names_on(city.get("/admin/r/task_telecom/", params={"unassigned": "1"}))) == 1
    edited = city.post(f"/admin/r/task_telecom/{record.id}/edit", {"remark": "人工下发", "district_code.district": "金水区"},
                       allow_redirects=False)
    assert edited.status_code == 302
    assert TaskRecord.get_by_id(record.id).district.name == "金水区"
    assert len(names_on(inv.sign_in("jinshui").get("/admin/r/task_telecom/"))) == 1


def test_the_city_queue_is_shown_apart_and_the_city_admin_assigns_from_it(inv):
    city = inv.sign_in("city")
    rows = [_queued_row(1), _queued_row(2), files.telecom_row(3, county="金水区")]
    finished(city, upload(city, files.workbook_bytes(files.TELECOM_HEADERS, rows)))
    page = city.get("/admin/investigations/stats", params={"source": "telecom"})
    assert 'id="city-queue"' in page.text and re.search(r'data-figure="queue">2<', page.text)
    table = re.findall(r'<td data-label="区域">([^<]+)</td>', page.text.split('id="districts"')[1].split("</table>")[0])
    assert "市级待分配" not in table and "中牟县" in table and "航空港区" in table
    queued = TaskRecord.select().where(TaskRecord.district.is_null()).order_by(TaskRecord.id).first()
    form = city.get(f"/admin/r/task_telecom/{queued.id}/do/assign_district")
    assert form.status_code == 200 and "新郑市" in form.text and "登封市" in form.text
    # Bad input: a district that is not the city's, or none: a clear error, the record stays queued.
    for choice, message in (("411328", "区县的取值无效"), ("", "请填写区县")):
        refused = city.post(f"/admin/r/task_telecom/{queued.id}/do/assign_district", {"choice": choice},
                            allow_redirects=False)
        assert refused.status_code == 400 and message in page_error(refused)
        assert TaskRecord.get_by_id(queued.id).district_id is None
    done = city.post(f"/admin/r/task_telecom/{queued.id}/do/assign_district", {"choice": "410184"},
                     allow_redirects=False)
    assert done.status_code == 302
    assert TaskRecord.get_by_id(queued.id).district.name == "新郑市"
    assert TaskHistory.get(TaskHistory.record == queued.id).remark == "下发至新郑市"
    assert OperationLog.select().where(OperationLog.action == "task_assign").count() == 1
    # Once assigned it has left the queue: the action is gone, and a district admin cannot use it.
    assert city.get(f"/admin/r/task_telecom/{queued.id}/do/assign_district").status_code == 409
    page = city.get("/admin/investigations/stats", params={"source": "telecom"})
    assert re.search(r'data-figure="queue">1<', page.text)


# --- statistics -----------------------------------------------------------------------------------------

def test_statistics_per_district_with_the_city_total_chart_and_export(inv):
    city = inv.sign_in("city")
    for _ in range(3):
        _record(sources.OVERSEAS, "410102")
    for _ in range(2):
        _record(sources.OVERSEAS, "410105")
    first = TaskRecord.select().join(Region, on=(TaskRecord.district == Region.id)).where(Region.code == "410102").first()
    workflow.transition(city.admin, first, "received")
    workflow.transition(city.admin, TaskRecord.get_by_id(first.id), "left")
    page = city.get("/admin/investigations/stats", params={"source": "overseas"})
    assert page.status_code == 200 and "境外排查完成率" in page.text
    total = re.findall(r'data-figure="(\w+)">([^<]+)<', page.text)
    assert total == [("should", "5"), ("done", "1"), ("rate", "20.00%"), ("queue", "0")]
    table = re.findall(r'<tr><td data-label="区域">([^<]+)</td><td data-label="应排查">(\d+)</td>'
                       r'<td data-label="已排查">(\d+)</td><td data-label="考核完成率">([^<]+)</td>', page.text)
    by_name = {name: (should, done, rate) for name, should, done, rate in table}
    assert by_name["中原区"] == ("3", "1", "33.33%") and by_name["金水区"] == ("2", "0", "0.00%")
    assert by_name["上街区"] == ("0", "0", "—")  # nothing to investigate: no rate, no full green bar
    assert "—（无任务）" in page.text
    assert "<svg" in page.text and "<rect" in page.text
    export = city.export("/admin/investigations/stats", params={"source": "overseas", "format": "xlsx"})
    watermark, *lines = list(openpyxl.load_workbook(io.BytesIO(export.content), read_only=True).active.iter_rows(
        values_only=True))
    assert watermark[0].endswith("用途：核查名单数据")
    assert lines[0] == ("区域", "应排查", "已排查", "考核完成率") and lines[1] == ("合计", 5, 1, "20.00%")
    assert OperationLog.select().where(OperationLog.action == "export").count() == 1
    # A district sees its own line; other roles are refused.
    own = inv.sign_in("jinshui").get("/admin/investigations/stats", params={"source": "overseas"})
    assert re.findall(r'data-figure="(\w+)">([^<]+)<', own.text) == [("should", "2"), ("done", "0"), ("rate", "0.00%")]
    assert inv.sign_in("airport").get("/admin/investigations/stats").status_code == 403
    assert city.get("/admin/investigations/stats", params={"date_from": "昨天"}).status_code == 400


# --- interrupted imports (the process died) -------------------------------------------------------------

STALE_SECONDS = 300  # the default IMPORT_STALE_SECONDS


def _audited_interruptions(job_id: int) -> list[dict]:
    lines = OperationLog.select().where((OperationLog.action == "import_status") & (OperationLog.target_id == job_id))
    return [json.loads(line.detail) for line in lines]


def _running_job(admin, heartbeat: dt.datetime, **values) -> ImportJob:
    return ImportJob.create(source="telecom", file_name="名单.xlsx", file_hash="0" * 64, uploaded_by=admin,
                            status="running", started_at=heartbeat, heartbeat_at=heartbeat, **values)


def test_an_import_whose_process_died_is_shown_interrupted_keeps_its_rows_and_can_be_sent_again(inv):
    assert inv.config.import_stale_seconds == STALE_SECONDS
    city = inv.sign_in("city")
    content = files.telecom_xlsx(30)
    first = finished(city, upload(city, content))
    # What a process that died after committing its first 10 rows leaves: those rows, counters that
    # agree with them, "running", and a heartbeat that stopped 10 minutes ago.
    job = ImportJob.get()
    kept = [i for (i,) in TaskRecord.select(TaskRecord.id).order_by(TaskRecord.id).limit(10).tuples()]
    TaskRecord.delete().where(TaskRecord.id.not_in(kept)).execute()
    ImportJob.update(status="running", message=None, finished_at=None, rows=10, good=10, inserted=10,
                     bytes_done=job.bytes_total // 3, heartbeat_at=utcnow() - dt.timedelta(minutes=10)).execute()

    progress = city.get(first["url"] + "/progress").json()
    assert (progress["status"], progress["status_label"], progress["finished"]) == ("interrupted", "已中断", True)
    assert "导入已中断" in progress["message"] and "成功的 10 行（新增 10 行）已保存并保留" in progress["message"]
    assert "请重新上传同一文件继续导入，已导入的行不会重复添加" in progress["message"]
    assert TaskRecord.select().count() == 10  # nothing it saved is removed
    audited = _audited_interruptions(job.id)
    assert len(audited) == 1 and (audited[0]["status_from"], audited[0]["status_to"]) == ("running", "interrupted")
    page = city.get(first["url"])
    assert "已中断" in page.text and 'id="upload-again"' in page.text and 'data-finished="1"' in page.text
    assert "已中断" in city.get("/admin/imports/").text
    assert len(_audited_interruptions(job.id)) == 1  # read again: changed once only

    again = finished(city, upload(city, content))
    assert (again["status"], again["inserted"], again["duplicates"]) == ("done", 20, 10)
    assert TaskRecord.select().count() == 30


def test_the_import_list_and_the_job_page_mark_dead_imports_too(inv):
    city = inv.sign_in("city")
    dead = _running_job(city.admin, utcnow() - dt.timedelta(hours=1))
    queued = ImportJob.create(source="telecom", file_name="b.xlsx", file_hash="1" * 64, uploaded_by=city.admin,
                              heartbeat_at=utcnow() - dt.timedelta(hours=1))
    statuses = re.findall(r'<td data-label="状态">([^<]*)</td>', city.get("/admin/imports/").text)
    assert statuses == ["已中断", "已中断"]
    assert ImportJob.get_by_id(queued.id).message.startswith("导入已中断") and "尚未保存任何数据行" in \
        ImportJob.get_by_id(queued.id).message
    other = _running_job(city.admin, utcnow() - dt.timedelta(hours=1))
    assert "已中断" in city.get(f"/admin/imports/{other.id}").text
    assert {ImportJob.get_by_id(i).status for i in (dead.id, queued.id, other.id)} == {"interrupted"}
    assert [len(_audited_interruptions(i)) for i in (dead.id, queued.id, other.id)] == [1, 1, 1]


def test_a_live_import_is_never_marked_interrupted(inv):
    city = inv.sign_in("city")
    live = _running_job(city.admin, utcnow() - dt.timedelta(seconds=30), rows=5000, bytes_total=100, bytes_done=40)
    progress = city.get(f"/admin/imports/{live.id}/progress").json()
    assert (progress["status"], progress["finished"], progress["percent"]) == ("running", False, 40)
    assert re.findall(r'<td data-label="状态">([^<]*)</td>', city.get("/admin/imports/").text) == ["导入中"]
    assert importer.expire_stale(STALE_SECONDS) == []
    # The injectable clock: five minutes later with no heartbeat, it is dead.
    later = utcnow() + dt.timedelta(seconds=301)
    assert importer.checked(ImportJob.get_by_id(live.id), 300, now=utcnow()).status == "running"
    assert importer.expire_stale(300, now=later) == [live.id]
    assert ImportJob.get_by_id(live.id).status == "interrupted"
    assert len(_audited_interruptions(live.id)) == 1


def test_a_heartbeat_written_after_the_read_wins(inv, monkeypatch):
    """The candidate was read stale, then its import wrote progress: the conditional UPDATE re-reads
    the row and leaves it alone (the import is alive)."""
    city = inv.sign_in("city")
    job = _running_job(city.admin, utcnow() - dt.timedelta(hours=1))
    text = importer.interrupted_text

    def progress_meanwhile(candidate):
        ImportJob.update(heartbeat_at=utcnow(), rows=1000).where(ImportJob.id == candidate.id).execute()
        return text(candidate)

    monkeypatch.setattr(importer, "interrupted_text", progress_meanwhile)
    assert importer.expire_stale(300) == []
    assert ImportJob.get_by_id(job.id).status == "running" and _audited_interruptions(job.id) == []


def test_two_readers_at_once_change_a_dead_import_once(inv):
    city = inv.sign_in("city")
    job = _running_job(city.admin, utcnow() - dt.timedelta(hours=1))
    barrier = threading.Barrier(4)
    changed, problems = [], []

    def reader():
        db.connect(reuse_if_open=True)
        try:
            barrier.wait(5)
            changed.extend(importer.expire_stale(300, [job.id]))
        except Exception as exc:  # noqa: BLE001  (reported below)
            problems.append(repr(exc))
        finally:
            db.close()

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert problems == [] and changed == [job.id]
    assert len(_audited_interruptions(job.id)) == 1


def test_a_running_import_keeps_the_jobs_queued_behind_it_alive(inv, tmp_path):
    city = inv.sign_in("city")
    settings = importer.Settings.from_config(inv.config, parallel=False)
    path = tmp_path / "list.xlsx"
    path.write_bytes(files.telecom_xlsx(5))
    info, columns = importer.check_upload(str(path), sources.TELECOM, settings)
    running = importer.create_job(city.admin, sources.TELECOM, None, "list.xlsx", str(path), info)
    waiting = importer.create_job(city.admin, sources.TELECOM, None, "list.xlsx", str(path), info)
    ImportJob.update(heartbeat_at=utcnow() - dt.timedelta(minutes=4)).where(ImportJob.id == waiting.id).execute()
    importer._QUEUED.add(waiting.id)
    try:
        assert importer.run(running.id, str(path), info, columns, settings).status == "done"
    finally:
        importer._QUEUED.discard(waiting.id)
    assert ImportJob.get_by_id(waiting.id).heartbeat_at > utcnow() - dt.timedelta(minutes=1)
    assert importer.expire_stale(300, now=utcnow() + dt.timedelta(seconds=120)) == []
    # A queued job already marked interrupted does not start when its turn comes.
    assert importer.expire_stale(300, now=utcnow() + dt.timedelta(seconds=400)) == [waiting.id]
    before = TaskRecord.select().count()
    assert importer.run(waiting.id, str(path), info, columns, settings).status == "interrupted"
    assert TaskRecord.select().count() == before


def test_the_heartbeat_migration_adds_the_column_to_a_live_database(inv):
    from playhouse.migrate import SchemaMigrator, migrate as run_ops

    from models import schema

    city = inv.sign_in("city")
    old = _running_job(city.admin, utcnow() - dt.timedelta(hours=2))
    run_ops(SchemaMigrator.from_database(db.obj).drop_column("import_job", "heartbeat_at"))
    step = next(m for m in schema.MIGRATIONS if m.name == "import heartbeat")
    schema._stamp(step.version - 1)
    try:
        assert schema.migrate([step]) == ["import heartbeat"]
    finally:
        schema._stamp(schema.latest_version())
    assert "heartbeat_at" in [c.name for c in db.get_columns("import_job")]
    assert ImportJob.get_by_id(old.id).heartbeat_at == ImportJob.get_by_id(old.id).started_at  # counted from then
    assert importer.expire_stale(300) == [old.id]


# --- the side menu --------------------------------------------------------------------------------------

def side_menu(page) -> dict[str, str]:
    nav = re.search(r'<nav class="side">(.*?)</nav>', page.text, re.S)
    assert nav, page.text[:500]
    return {label: href for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(1))}


def test_the_side_menu_lists_the_import_and_statistics_pages_for_the_roles_that_may_open_them(inv):
    city = side_menu(inv.sign_in("city").get("/admin/password"))
    assert city["导入名单"] == "/admin/imports/" and city["排查统计"] == "/admin/investigations/stats"
    assert city["数据看板"] == "/admin/dashboard" and city["通管人员摸排"] == "/admin/r/task_telecom/"
    airport = side_menu(inv.sign_in("airport").get("/admin/password"))
    assert airport["导入名单"] == "/admin/imports/" and "排查统计" not in airport and "数据看板" not in airport
    compound = side_menu(inv.sign_in("compound").get("/admin/password"))
    assert not {"导入名单", "排查统计", "数据看板"} & set(compound) and compound  # its resources are still there
    # Every link in a menu opens for that account; the current page is marked.
    client = inv.sign_in("airport")
    for href in side_menu(client.get("/admin/password")).values():
        assert client.get(href).status_code == 200, href
    assert 'href="/admin/imports/" aria-current="page"' in client.get("/admin/imports/").text
