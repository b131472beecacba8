"""小区居民管理, 进出登记管理 and 小区账号管理 over HTTP on both databases (G2-G4, audit), with the
misuse cases: another region's object by id, confirming someone not pending, deleting a scan,
formula injection in an export, and misspelt declarations."""

import io
import json
import re

import openpyxl
import pytest

from admin.site import Column, ImproperlyDeclared, Resource, Site
from models.admin import CompoundResident
from models.fieldwork import OperationLog
from models.fields import blind_index
from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from models.risk_inputs import IsolationRecord, TemperatureRecord
from services.accounts import admin_auth
from services.back_office import residents
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.admin.conftest import AdminClient, page_error, region_names
from tests.conftest import make_id_number, row_counts

JINGBA = "410105001001001"  # 经八路5号院, in 金水区
ERQI = "410103002001001"  # 兴华南街小区, in 二七区


def add(compound_code: str, n: int, name: str = "王小明", status: str | None = None) -> CompoundResident:
    admin = admin_auth.find_admin("13810000001")
    data = {"name": name, "id_number": make_id_number(n), "phone": f"139{n:08d}", "building": "3", "room": "501"}
    if status:
        data["isolation_status"] = status
    return residents.add_resident(admin, Region.get(Region.code == compound_code), data)


def switch(client: AdminClient, compound_code: str) -> None:
    compound = Region.get(Region.code == compound_code)
    client.post("/admin/compound", {"compound": str(compound.id)})


def rows_of(page) -> list[str]:
    return re.findall(r'<td data-label="姓名">([^<]*)</td>', page.text)


def test_residents_are_listed_masked_and_searched_by_exact_id(as_admin):
    add(JINGBA, 1, "王小明")
    add(JINGBA, 2, "李四")
    client = as_admin("jinshui")
    switch(client, JINGBA)
    page = client.get("/admin/r/residents/")
    assert sorted(rows_of(page)) == ["李*", "王**"]
    assert make_id_number(1) not in page.text and "110101*****" in page.text
    assert rows_of(client.get("/admin/r/residents/", params={"id_number": make_id_number(2)})) == ["李*"]
    assert rows_of(client.get("/admin/r/residents/", params={"phone": "13900000001"})) == ["王**"]
    assert rows_of(client.get("/admin/r/residents/", params={"name": "王小明"})) == ["王**"]


def test_another_regions_objects_are_403_not_empty(as_admin):
    theirs = add(ERQI, 3, "张二七")
    client = as_admin("jinshui")
    response = client.get(f"/admin/r/residents/{theirs.id}")
    assert response.status_code == 403 and "无权查看或操作其他辖区的数据" in response.text
    assert client.post(f"/admin/r/residents/{theirs.id}/do/confirm_isolation").status_code == 403
    assert client.get(f"/admin/r/residents/{theirs.id}/edit").status_code == 403
    # And the other district sees it.
    assert as_admin("erqi").get(f"/admin/r/residents/{theirs.id}").status_code == 200


def test_confirm_isolation_only_for_pending_people(as_admin):
    pending = add(JINGBA, 1, "王待确认", status="pending")
    released = add(JINGBA, 2, "李已解除", status="released")
    client = as_admin("compound")
    detail = client.get(f"/admin/r/residents/{pending.id}")
    assert "确认隔离" in detail.text and "解除隔离" in detail.text and "未在本小区" in detail.text
    confirm_page = client.get(f"/admin/r/residents/{pending.id}/do/confirm_isolation")
    assert "确认该人员已处于隔离状态" in confirm_page.text
    done = client.post(f"/admin/r/residents/{pending.id}/do/confirm_isolation", allow_redirects=False)
    assert done.status_code == 302
    assert residents.status_of(pending.person) == "confirmed"
    assert risk_inputs.colour.verdict(pending.person.subject).colour == "red"  # the engine heard it
    before = row_counts()
    refused = client.post(f"/admin/r/residents/{released.id}/do/confirm_isolation")
    assert refused.status_code == 409 and "当前状态不能确认隔离" in refused.text
    assert row_counts() == before


def test_release_needs_a_reason_and_the_certificate_and_warns_for_key_regions(as_admin):
    binding = add(JINGBA, 1, "王返乡", status="pending")
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    risk_inputs.record_travel(binding.person, arrival_date=china_today(), origin_code="420100")
    client = as_admin("compound")
    page = client.get(f"/admin/r/residents/{binding.id}/do/release_isolation")
    assert "此人隔离期14天" in page.text
    no_reason = client.post(f"/admin/r/residents/{binding.id}/do/release_isolation", {"certificate": "on"})
    assert no_reason.status_code == 400 and "请填写解除隔离原因" in no_reason.text
    no_certificate = client.post(f"/admin/r/residents/{binding.id}/do/release_isolation", {"reason": "已满14天"})
    assert no_certificate.status_code == 400 and "请确认已提交健康证明" in no_certificate.text
    assert residents.status_of(binding.person) == "pending"
    # A key-region returnee's 14 days are not over: a health certificate does not release them.
    refused = client.post(f"/admin/r/residents/{binding.id}/do/release_isolation",
                          {"reason": "提供核酸阴性证明", "certificate": "on"})
    assert refused.status_code == 409 and page_error(refused).startswith("此人隔离期14天")
    assert residents.status_of(binding.person) == "pending"
    # Somebody whose trip is from elsewhere is released with the certificate.
    other = add(JINGBA, 2, "李外地", status="pending")
    risk_inputs.record_travel(other.person, arrival_date=china_today(), origin_code="440305")
    done = client.post(f"/admin/r/residents/{other.id}/do/release_isolation",
                       {"reason": "提供核酸阴性证明", "certificate": "on"}, allow_redirects=False)
    assert done.status_code == 302 and residents.status_of(other.person) == "released"
    detail = client.get(f"/admin/r/residents/{other.id}")
    assert "解除隔离（待确认隔离 → 已解除隔离）：提供核酸阴性证明" in detail.text  # the operation log


def test_not_in_compound_removes_the_chosen_binding_and_can_be_shown_again(as_admin):
    binding = add(JINGBA, 1, "王两处")
    other = residents.bind(binding.person, Region.get(Region.code == "410105001001002"), source="admin")
    client = as_admin("jinshui")
    switch(client, JINGBA)
    page = client.get(f"/admin/r/residents/{binding.id}/do/not_in_compound")
    assert "经八路5号院" in page.text and "黄河路小区" in page.text
    bad = client.post(f"/admin/r/residents/{binding.id}/do/not_in_compound", {"choice": "999999"})
    assert bad.status_code == 400
    client.post(f"/admin/r/residents/{binding.id}/do/not_in_compound", {"choice": str(binding.id), "remark": "已搬走"})
    assert CompoundResident.get_by_id(binding.id).removed_at is not None
    assert CompoundResident.get_by_id(other.id).removed_at is None
    assert rows_of(client.get("/admin/r/residents/")) == []
    shown = client.get("/admin/r/residents/", params={"show_removed": "1"})
    assert rows_of(shown) == ["王**"] and "已删除（已搬走）" in client.get(f"/admin/r/residents/{binding.id}").text


def test_add_and_edit_a_resident(as_admin):
    client = as_admin("compound")
    bad = client.post("/admin/r/residents/new", {"id_type": "resident_id", "id_number": "110101199003070012",
                                                 "name": "赵六", "phone": "13900000009"})
    assert bad.status_code == 400 and "校验位" in page_error(bad)
    assert Person.select().where(Person.name_is("赵六")).count() == 0
    created = client.post("/admin/r/residents/new", {"id_type": "resident_id", "id_number": make_id_number(9),
                                                     "name": "赵六", "phone": "13900000009", "building": "1",
                                                     "room": "101", "isolation_status": "pending"},
                          allow_redirects=False)
    assert created.status_code == 302
    binding = CompoundResident.get(CompoundResident.person == Person.get(Person.name_is("赵六")))
    assert binding.compound.code == JINGBA and residents.status_of(binding.person) == "pending"
    client.post(f"/admin/r/residents/{binding.id}/edit", {"name": "赵六六", "phone": "13900000010", "room": "102"})
    person = Person.get_by_id(binding.person_id)
    assert person.name == "赵六六" and person.phone == "13900000010" and person.room == "102"


def test_control_characters_in_a_form_are_refused(as_admin):
    client = as_admin("compound")
    before = Person.select().count()
    # Tornado already turns NUL, BEL and the like in form fields into spaces; the rest is ours.
    for name in ("赵\u202e六", "赵\u2066六", "赵\x7f六"):
        bad = client.post("/admin/r/residents/new", {"id_type": "resident_id", "id_number": make_id_number(9),
                                                     "name": name, "phone": "13900000009"})
        assert bad.status_code == 400 and "控制字符" in page_error(bad)
    assert Person.select().count() == before


def test_export_is_masked_formula_safe_and_audited(as_admin):
    add(JINGBA, 1, "=HYPERLINK(\"http://x\")")
    add(JINGBA, 2, "@SUM(A1)")
    client = as_admin("compound")
    response = client.export("/admin/r/residents/export")
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert "用途：核查名单数据" in sheet["A1"].value  # the watermark line above the headers
    headers = [c.value for c in sheet[2]]
    assert headers[:3] == ["姓名", "证件号码", "手机号"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert len(values) == 2
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            assert cell.data_type != "f"  # no formula reached the file
    assert all("*" in str(v[1]) and "*" in str(v[2]) for v in values)
    export = OperationLog.get(OperationLog.action == "export")
    assert json.loads(export.detail)["rows"] == 2 and export.admin_actor_id is not None


@pytest.mark.parametrize("purpose, code, message", [
    ("", "purpose_required", "请填写导出用途"),
    ("   ", "purpose_required", "请填写导出用途"),
    ("核查\x00名单", "invalid_purpose", "导出用途不能包含控制字符或换行"),
    ("核查\u202e名单", "invalid_purpose", "导出用途不能包含控制字符或换行"),
    ("查", "invalid_purpose", "导出用途应为 2 至 50 个字"),
    ("查" * 51, "invalid_purpose", "导出用途应为 2 至 50 个字"),
])
def test_an_export_without_a_good_purpose_is_the_form_again_and_writes_nothing(as_admin, purpose, code, message):
    """Bad input: an export posted with no purpose, a blank one, control characters, one too
    short or too long: 400, the form again with the code and field, no file, no audit line."""
    add(JINGBA, 1)
    client = as_admin("compound")
    before = row_counts()
    response = client.post("/admin/r/residents/export", {"purpose": purpose}, params={"isolation_status": "pending"})
    assert response.status_code == 400 and message in page_error(response), page_error(response)
    assert f'data-code="{code}" data-field="purpose"' in response.text and 'name="purpose"' in response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'action="/admin/r/residents/export?isolation_status=pending"' in response.text  # the filters are kept
    assert row_counts() == before and OperationLog.select().where(OperationLog.action == "export").count() == 0


def test_an_export_by_get_is_its_purpose_form_and_a_forged_token_is_refused(as_admin):
    """Bad input: GET of an export address gives the purpose form, never the file; a POST with a
    forged XSRF token (or none) is a 403. Neither writes an audit line."""
    add(JINGBA, 1)
    client = as_admin("compound")
    before = row_counts()
    form = client.get("/admin/r/residents/export", params={"isolation_status": "pending", "name": "王"})
    assert form.status_code == 200 and form.headers["Content-Type"].startswith("text/html")
    assert 'id="export-form"' in form.text and 'method="post"' in form.text and 'name="_xsrf"' in form.text
    assert "<dt>姓名</dt><dd>王</dd>" in form.text and "<dt>隔离状态</dt><dd>待确认隔离</dd>" in form.text
    forged = client.post("/admin/r/residents/export", {"purpose": "核查名单"}, xsrf="2|00000000|" + "0" * 32 + "|1")
    assert forged.status_code == 403 and "请求已失效" in forged.text
    bare = client.http.post(client.base_url + "/admin/r/residents/export", data={"purpose": "核查名单"}, timeout=10)
    assert bare.status_code == 403
    assert row_counts() == before and OperationLog.select().where(OperationLog.action == "export").count() == 0
    # The list page's 导出 leads to that form.
    assert 'href="/admin/r/residents/export?' in client.get("/admin/r/residents/").text


def test_entry_records_counts_search_manual_add_and_delete(as_admin):
    binding = add(JINGBA, 1, "王小明")
    place = Place.get(Place.region == binding.compound)
    # A quick check-in (C7): no temperature typed, 默认体温正常.
    scanned = EntryRecord.create(request_id="scan-0000001", place=place, person=binding.person, flow="resident",
                                 source="self", colour="green", admitted=True, verdict="{}",
                                 form='{"quick_checkin": true, "result": "normal"}')
    client = as_admin("compound")
    page = client.get("/admin/r/entries/")
    assert "今日进出人次" in page.text and ">1<" in page.text
    assert '<td data-label="体温">体温正常（快速打卡）</td>' in page.text
    created = client.post("/admin/r/entries/new", {"name": "孙纸质", "id_number": make_id_number(5), "flow": "visitor",
                                                   "temperature": "36.6"}, allow_redirects=False)
    assert created.status_code == 302
    manual = EntryRecord.get(EntryRecord.source == "manual")
    assert rows_of(client.get("/admin/r/entries/", params={"source": "manual"})) == ["孙**"]
    assert rows_of(client.get("/admin/r/entries/", params={"id_number": make_id_number(1)})) == ["王**"]
    today = str(china_today())
    assert len(rows_of(client.get("/admin/r/entries/", params={"date_from": today, "date_to": today}))) == 2
    assert rows_of(client.get("/admin/r/entries/", params={"date_from": "2000-01-01", "date_to": "2000-01-02"})) == []
    detail = client.get(f"/admin/r/entries/{scanned.id}")
    assert "删除" not in re.sub(r"<form.*?</form>", "", detail.text, flags=re.S).split("返回列表")[0].split("基本信息")[1]
    before = row_counts()
    refused = client.post(f"/admin/r/entries/{scanned.id}/delete")
    assert refused.status_code == 403 and "只能删除人工录入的登记记录" in refused.text
    assert row_counts() == before
    assert "确定删除这条记录" in client.get(f"/admin/r/entries/{manual.id}/delete").text
    assert client.post(f"/admin/r/entries/{manual.id}/delete", allow_redirects=False).status_code == 302
    assert not EntryRecord.select().where(EntryRecord.id == manual.id).exists()
    assert OperationLog.select().where(OperationLog.action == "delete_entry").count() == 1


def test_a_manual_entry_with_a_fever_is_recorded_as_a_scans_fever(as_admin):
    client = as_admin("compound")
    created = client.post("/admin/r/entries/new", {"name": "赵发热", "id_number": make_id_number(6), "flow": "visitor",
                                                   "temperature": "37.3"}, allow_redirects=False)
    assert created.status_code == 302
    entry = EntryRecord.get(EntryRecord.source == "manual")
    fever = TemperatureRecord.get(TemperatureRecord.person == entry.person)
    assert fever.source == "manual" and str(fever.value) == "37.3"
    # The fever counts at once: the entry takes the colour it gives, and the person is refused.
    assert entry.colour == "red" and not entry.admitted
    assert OperationLog.select().where(OperationLog.action == "add_entry").count() == 1
    # A normal temperature is kept on the entry only, as before.
    client.post("/admin/r/entries/new", {"name": "钱正常", "id_number": make_id_number(7), "flow": "visitor",
                                         "temperature": "37.2"})
    normal = EntryRecord.get(EntryRecord.person == Person.get(Person.id_number_bidx == blind_index(make_id_number(7), "id_number")))
    assert normal.colour == "green" and normal.admitted
    assert TemperatureRecord.select().count() == 1


@pytest.mark.parametrize("field, value, message", [
    ("id_number", "11010119900307001", "身份证号码应为18位"),
    ("temperature", "50", "体温应在 34.0 至 43.0 ℃ 之间"),
    ("temperature", "三十七", "体温应为数字"),
])
def test_a_bad_manual_entry_writes_nothing(as_admin, field, value, message):
    client = as_admin("compound")
    data = {"name": "孙纸质", "id_number": make_id_number(8), "flow": "visitor", "temperature": "37.5", field: value}
    before = row_counts()
    refused = client.post("/admin/r/entries/new", data)
    assert refused.status_code == 400 and message in page_error(refused)
    assert row_counts() == before


def test_a_manual_entry_needs_a_compound_and_a_switch_needs_one_in_scope(as_admin):
    client = as_admin("jinshui")
    before = row_counts()
    refused = client.post("/admin/r/entries/new", {"name": "孙纸质", "id_number": make_id_number(9), "flow": "visitor"})
    assert refused.status_code == 400 and page_error(refused) == "请先在右上角切换到一个小区"
    for choice in ("abc", str(Region.get(Region.code == ERQI).id)):
        forged = client.post("/admin/compound", {"compound": choice})
        assert forged.status_code == 403 and "无权查看或操作其他辖区的数据" in forged.text
    assert row_counts() == before
    switch(client, JINGBA)
    assert client.post("/admin/r/entries/new", {"name": "孙纸质", "id_number": make_id_number(9), "flow": "visitor"},
                       allow_redirects=False).status_code == 302
    assert EntryRecord.get(EntryRecord.source == "manual").place.region.code == JINGBA


def test_a_district_admin_creates_a_compound_admin_who_gets_the_password_by_sms(as_admin, office, sms):
    client = as_admin("jinshui")
    outside = client.post("/admin/r/accounts/new", {"phone": "13600000001", "name": "外区", "role": "compound",
                                                    **region_names("郑州市", "二七区", "淮河路街道", "兴华社区",
                                                                   "兴华南街小区")})
    # Another district cannot even be named: the cascade reaches only the admin's own region.
    assert outside.status_code == 400 and page_error(outside) == "所属区域：郑州市下没有名为“二七区”的区县，请从列表中选择"
    created = client.post("/admin/r/accounts/new", {"phone": "13600000001", "name": "新管理员", "role": "compound",
                                                    **region_names("郑州市", "金水区", "经八路街道", "黄河路社区",
                                                                   "黄河路小区")}, allow_redirects=False)
    assert created.status_code == 302
    password = sms.last_password("13600000001")
    assert AdminClient(office.base_url).login("13600000001", password).status_code == 302
    listing = client.get("/admin/r/accounts/")
    assert "新管理员" in listing.text and "136****0001" in listing.text
    new = admin_auth.find_admin("13600000001")
    client.post(f"/admin/r/accounts/{new.id}/edit", {"phone": "13600000002", "name": "新管理员"})
    assert admin_auth.find_admin("13600000002") is not None
    assert as_admin("compound").get("/admin/r/accounts/").status_code == 403  # compound admins have no such page
    theirs = admin_auth.find_admin("13810000003")
    assert client.get(f"/admin/r/accounts/{theirs.id}").status_code == 403


def test_status_changes_are_logged_append_only(as_admin):
    binding = add(JINGBA, 1, "王待确认", status="pending")
    client = as_admin("compound")
    client.post(f"/admin/r/residents/{binding.id}/do/confirm_isolation")
    row = OperationLog.get(OperationLog.action == "confirm_isolation")
    assert json.loads(row.detail)["status_to"] == "confirmed"
    assert IsolationRecord.get(IsolationRecord.subject == binding.person.subject).status == "confirmed"


def test_declarations_are_checked_at_start_up():
    broken = Site()

    class Broken(Resource):
        name, label, model = "broken", "坏的", Person
        list_display = ("name", "nmae")
        columns = (Column("name", "姓名"),)

    broken.register(Broken)
    with pytest.raises(ImproperlyDeclared, match="list_display: 'nmae'"):
        broken.check()
