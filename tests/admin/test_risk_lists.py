"""Risk lists on the one import pipeline and the one-person form (D2), on both databases: accepted
rows turn colours at once with the list named in the reason; a list with wrong headers, an unknown
region, a wrong ID check digit and a duplicate row each get a clear Chinese error (code or column)
while the good rows count and nothing is half-written; import roles and scopes; the form."""

from __future__ import annotations

import io

import openpyxl
import pytest

from models.colour import HealthStatus
from models.investigations import ImportJob, ImportRowError
from models.regions import Region
from models.risk_inputs import CaseReport, CloseContact, RiskBatch, RiskListing
from services.accounts import admin_auth
from services.colours import colour
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.investigations import importer
from services.investigations.risk_lists import RISK_LISTS
from tests.admin.conftest import AdminClient, page_error
from tests.conftest import make_id_number, make_person, row_counts
from tests.fakes import xlsx_files as files
from tests.services.test_import_pipeline import settings, write

TODAY = china_today().isoformat()
HEADERS = ["证件号码", "姓名", "手机号码", "判定日期", "所属地区代码", "备注"]
JINSHUI_COMPOUND = "410105001001001"
ERQI = "410103"


def bad_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def admin(role: str, region: str, phone: str):
    account, _ = admin_auth.create_admin(None, phone=phone, name=f"{role}账号", role=role, region_code=region,
                                         send_sms=False)
    return account


def run_import(account, tmp_path, content: bytes, kind: str = "close_contact", **limits) -> ImportJob:
    source, chosen = RISK_LISTS[kind], settings(**limits)
    path = write(tmp_path, content)
    info, columns = importer.check_upload(path, source, chosen)
    job = importer.create_job(account, source, None, "list.xlsx", path, info)
    return importer.run(job.id, path, info, columns, chosen)


def colour_of(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


def errors_of(job) -> list[tuple]:
    return [(e.row_number, e.column) for e in ImportRowError.select().where(ImportRowError.job == job.id)
            .order_by(ImportRowError.row_number)]


@pytest.fixture
def office(office):
    office.cdc = admin("cdc_city", "410100", "13820000001")
    return office


def test_a_close_contact_list_turns_colours_red_and_reports_its_bad_rows(office, tmp_path):
    first, second = make_person(1), make_person(2)
    rows = [[first.id_number, "张三", "", TODAY, JINSHUI_COMPOUND, ""],
            [files.id_number(3), "李四", "", TODAY, "999999", ""],                   # unknown region
            [bad_check_digit(files.id_number(4)), "王五", "", TODAY, "", ""],        # wrong check digit
            [first.id_number, "张三", "", TODAY, "", "重复"],                          # duplicate of row 2
            [second.id_number, "赵六", "13900000000", TODAY, "", ""]]
    job = run_import(office.cdc, tmp_path, files.workbook_bytes(HEADERS, rows))
    assert (job.status, job.rows, job.good, job.bad, job.inserted) == ("done", 5, 2, 3, 2)
    assert errors_of(job) == [(3, "所属地区代码"), (4, "证件号码"), (5, "证件号码")]
    reasons = {e.row_number: e.reason for e in ImportRowError.select().where(ImportRowError.job == job.id)}
    assert "地区代码不存在" in reasons[3] and "校验位" in reasons[4] and "重复" in reasons[5]
    assert (colour_of(first), colour_of(second)) == ("red", "red")
    reason = colour.verdict(first.subject).as_dict()["reasons"][0]
    assert reason == f"密切接触者：密接名单（郑州市疾控中心 {TODAY}）"
    batch = RiskBatch.get(RiskBatch.source_ref == f"import:{job.id}")
    assert (batch.kind, batch.created_by_id, batch.accepted) == ("close_contact", office.cdc.id, 2)
    # The list's figures are the job's: the row the cell checks refused (a check digit) among them.
    assert (batch.received, batch.rejected) == (job.rows, job.bad)
    assert CloseContact.get(CloseContact.subject == first.subject).region_id == \
        Region.get(Region.code == JINSHUI_COMPOUND).id
    report = openpyxl.load_workbook(io.BytesIO(importer.error_report(job))).active
    assert [c.value for c in report[1]] == ["行号", "列", "原因"] and report.max_row == 4

    again = run_import(office.cdc, tmp_path, files.workbook_bytes(HEADERS, rows))
    assert (again.inserted, again.duplicates, again.bad) == (0, 2, 3)
    assert CloseContact.select().where(CloseContact.subject.in_([first.subject, second.subject])).count() == 2


def test_a_duplicate_row_far_down_a_list_is_in_the_bad_row_report(office, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)  # the repeat comes in a later batch than its first row
    rows = [[files.id_number(n), f"密接{n}", "", TODAY, "", ""] for n in range(1, 5)] + \
        [[files.id_number(1), "密接1", "", TODAY, "", ""]]
    job = run_import(office.cdc, tmp_path, files.workbook_bytes(HEADERS, rows))
    assert (job.good, job.bad, job.inserted, job.duplicates) == (4, 1, 4, 0)
    assert errors_of(job) == [(6, "证件号码")]


def test_a_list_with_wrong_headers_is_refused_and_nothing_is_written(office, tmp_path):
    before = row_counts()
    content = files.workbook_bytes(["身份证", "名字", "日期"], [[files.id_number(1), "张三", TODAY]])
    with pytest.raises(ApiError) as refused:
        run_import(office.cdc, tmp_path, content)
    assert (refused.value.code, refused.value.field, refused.value.status) == ("missing_columns", "file", 400)
    assert "缺少必需的列：姓名" in refused.value.message and "密接名单" in refused.value.message
    assert row_counts() == before


def test_a_failed_import_leaves_no_record_and_no_colour(office, tmp_path):
    person = make_person(1)
    rows = [[person.id_number, "张三", "", TODAY, "", ""], [files.id_number(2), "李四", "", TODAY, "", ""]]
    job = run_import(office.cdc, tmp_path, files.workbook_bytes(HEADERS, rows), max_rows=1)
    assert job.status == "failed" and "行数超过上限" in job.message
    assert not CloseContact.select().where(CloseContact.subject == person.subject).exists()
    assert not RiskBatch.select().where(RiskBatch.source_ref == f"import:{job.id}").exists()
    assert colour_of(person) == "green"


def test_a_district_account_lists_only_within_its_district(office, tmp_path):
    jinshui_cdc = admin("cdc_district", "410105", "13820000002")
    rows = [[files.id_number(1), "张三", "", TODAY, ERQI, ""],
            [files.id_number(2), "李四", "", TODAY, JINSHUI_COMPOUND, ""]]
    job = run_import(jinshui_cdc, tmp_path, files.workbook_bytes(HEADERS, rows), kind="secondary_contact")
    assert (job.good, job.bad) == (1, 1)
    assert "不在本账号的管辖范围内" in ImportRowError.get(ImportRowError.job == job.id).reason
    assert RiskBatch.get(RiskBatch.source_ref == f"import:{job.id}").title.startswith("次密接名单（金水区疾控中心 ")


def test_key_persons_are_the_police_lists_and_red(office, tmp_path):
    person = make_person(1)
    content = files.workbook_bytes(["证件号码", "姓名", "列入日期"], [[person.id_number, "张三", TODAY]])
    path = write(tmp_path, content)
    info, _ = importer.check_upload(path, RISK_LISTS["key_person"], settings())
    with pytest.raises(ApiError) as refused:
        importer.create_job(office.cdc, RISK_LISTS["key_person"], None, "list.xlsx", path, info)
    assert refused.value.status == 403
    police = admin("police", "410100", "13820000003")
    job = run_import(police, tmp_path, content, kind="key_person")
    assert (job.inserted, colour_of(person)) == (1, "red")
    assert colour.verdict(person.subject).as_dict()["reasons"] == [f"公安重点人员：公安重点人员名单（郑州市公安局 {TODAY}）"]


# --- the back-office pages ---------------------------------------------------------------------------

@pytest.fixture
def cdc_client(office):
    admin_auth.create_admin(None, phone="13820000009", name="疾控录入员", role="cdc_city", region_code="410100",
                            send_sms=False, password="Cdc@20261203")
    client = AdminClient(office.base_url)
    assert client.login("13820000009", "Cdc@20261203").status_code == 302
    return client


def test_the_risk_data_page_links_each_list_and_its_template(office, cdc_client):
    page = cdc_client.get("/admin/risk-records/")
    assert page.status_code == 200 and 'href="/admin/risk-records/"' in page.text  # in the side menu
    assert "/admin/imports/new?source=close_contact" in page.text and "/admin/risk-records/case/new" in page.text
    assert "/admin/imports/new?source=key_person" not in page.text
    template = cdc_client.get("/admin/imports/template/case.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(template.content)).active
    assert [c.value for c in sheet[1]] == ["证件号码", "姓名", "手机号码", "报告日期", "病例类型", "所在小区编码",
                                          "所属地区代码", "备注"]


def test_one_case_by_the_form_turns_the_compound_orange(office, cdc_client):
    compound = Region.get(Region.code == JINSHUI_COMPOUND)
    case_person, neighbour = make_person(1, compound=compound), make_person(2, compound=compound)
    response = cdc_client.post("/admin/risk-records/case/new", {
        "id_number": case_person.id_number, "name": "张三", "date": TODAY, "kind": "confirmed",
        "compound_code": JINSHUI_COMPOUND}, allow_redirects=False)
    assert response.status_code == 303, page_error(response)
    assert (colour_of(case_person), colour_of(neighbour)) == ("red", "orange")
    assert CaseReport.get(CaseReport.subject == case_person.subject).batch.source_ref.startswith("form:")
    listing = cdc_client.get("/admin/risk-records/")
    assert f"病例名单（郑州市疾控中心 {TODAY}）" in listing.text


@pytest.mark.parametrize("values, field, text", [
    ({"id_number": bad_check_digit(files.id_number(1)), "date": TODAY}, "id_number", "校验位"),
    ({"id_number": files.id_number(1), "date": TODAY, "region_code": "999999"}, "region_code", "地区代码不存在"),
    ({"id_number": files.id_number(1)}, "date", "请填写判定日期"),
])
def test_a_bad_form_is_refused_with_its_field_and_writes_nothing(office, cdc_client, values, field, text):
    before = row_counts()
    response = cdc_client.post("/admin/risk-records/close_contact/new", values)
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.text and text in page_error(response)
    assert row_counts() == before


def test_the_same_person_twice_by_the_form_is_not_stored_twice(office, cdc_client):
    values = {"id_number": files.id_number(1), "date": TODAY, "place": "省人民医院"}
    assert cdc_client.post("/admin/risk-records/isolation_order/new", values, allow_redirects=False).status_code == 303
    again = cdc_client.post("/admin/risk-records/isolation_order/new", values)
    assert again.status_code == 409 and "已存在" in page_error(again)
    assert RiskListing.select().count() == 1


def test_a_role_without_risk_data_sees_no_form(office, as_admin):
    client = as_admin("jinshui")
    assert client.get("/admin/risk-records/case/new").status_code == 403
    assert "/admin/risk-records/" not in client.get("/admin/imports/").text


def test_the_demo_shows_a_close_contact_a_case_in_a_compound_and_a_purchase(office):
    from services.operations import demo
    from services.people import profile
    from services.risk_data import nearby
    from services.accounts.auth import sign_in

    def person(openid):
        return profile.self_person(sign_in("dev", openid).account)

    assert colour.verdict(person("demo-contact").subject).as_dict()["reasons"] == [
        f"密切接触者：密接名单（郑州市疾控中心 {TODAY}）"]
    assert colour_of(person("demo-neighbour")) == "orange"
    assert colour_of(person("demo-pharmacy")) == "yellow"
    compound = Region.get(Region.code == demo.DEMO_CASE_COMPOUND)
    assert [r["name"] for r in nearby.nearby_risk(compound.latitude, compound.longitude, 1000)] == [compound.name]
    assert admin_auth.find_admin("13800001901").role == "cdc_city"
    client = AdminClient(office.base_url)
    assert client.login("13800001901", demo.DEMO_ADMIN_PASSWORD).status_code == 302
    assert f"药店退烧药购买记录（郑州市卫健委 {TODAY}）" in client.get("/admin/risk-records/").text
    before = row_counts()
    demo.load()
    assert row_counts() == before


@pytest.mark.parametrize("ref, code", [("A1:F2000001", "too_many_rows"), ("A1:NTP2", "too_many_columns")])
def test_a_risk_list_declaring_too_many_rows_or_columns_is_refused_before_a_job(office, tmp_path, ref, code):
    """Bad input: a risk list whose sheet declares 2,000,001 rows or 10,000 columns is refused by
    the upload check (before a job exists) with its code and field; nothing is stored."""
    before = row_counts()
    content = files.with_dimension(files.workbook_bytes(HEADERS, [[make_id_number(1), "王某", "", TODAY,
                                                                   JINSHUI_COMPOUND, ""]]), ref)
    path = write(tmp_path, content)
    with pytest.raises(ApiError) as refused:
        importer.check_upload(path, RISK_LISTS["close_contact"], settings())
    assert (refused.value.code, refused.value.status, refused.value.field) == (code, 400, "file")
    assert "超过上限" in refused.value.message
    assert ImportJob.select().count() == 0 and row_counts() == before
