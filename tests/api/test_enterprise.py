"""Enterprise return-to-work (F1-F6, I3) end to end over HTTP on both databases: groups and
invitations, daily reports feeding the colour engine, staff status, the Excel export by e-mail
through a local SMTP sink (refusing and down included), and removing members."""

import io
import json
import socket
import threading

import pytest
from openpyxl import load_workbook

from jobs import not_reported
from miniprogram_api import enterprise as enterprise_api
from miniprogram_api import phone_auth as phone_auth_api
from models.accounts import Account, AccountRole
from models.declarations import Declaration
from models.enterprise import DailyReport, Enterprise, EnterpriseMember, StaffExport
from models.fieldwork import OperationLog
from models.people import Person
from services.colours import colour, colour_rules
from services.enterprises.enterprise import QUESTIONS
from services.messaging import mail
from tests.conftest import ApiClient, assert_error, make_id_number, row_counts
from tests.fakes.smtp_sink import SmtpSink, free_port


def _routes_server_py_lacks() -> list:
    """This issue's routes that server.api_routes does not hold yet (none once it is wired there)."""
    from config import TestConfig
    from server import api_routes

    wired = {handler for _, handler, *_ in api_routes(TestConfig())}
    return [route for route in phone_auth_api.routes(None) + enterprise_api.routes(None) if route[1] not in wired]


ROUTES = _routes_server_py_lacks()
NO = {key: False for key, _ in QUESTIONS}


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


def start(make_server, smtp_port: int):
    return make_server(extra_routes=ROUTES, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False,
                       smtp_from="helper@example.com")


@pytest.fixture
def api(make_server, sink):
    return start(make_server, sink.port)


def person(api, openid: str, n: int, name: str = "张三") -> ApiClient:
    """A signed-in client with a complete real-name profile."""
    client = ApiClient(api.base_url)
    client.config = api.config
    login = client.dev_login(openid)
    client.account_id = login["account"]["id"]
    client.ok("updateProfile", {"name": name, "id_number": make_id_number(n), "phone": f"139{n:08d}",
                                "address": "北京市海淀区中关村大街1号"})
    return client


@pytest.fixture
def admin(api):
    return person(api, "admin", 1, "陈晨")


@pytest.fixture
def group(admin):
    return admin.ok("createEnterprise", {"name": "电科集团", "address": "北京市海淀区"})


def member(api, group, openid: str, n: int, name: str = "张三") -> ApiClient:
    client = person(api, openid, n, name)
    client.ok("joinEnterprise", {"code": invite_code(group)})
    return client


def invite_code(group) -> str:
    return Enterprise.get_by_id(group["id"]).invite_code


def report(client, track=None, **yes):
    return client.call("submitDailyReport", {"track": track or [], "answers": {**NO, **yes}})


def staff(admin, group, **query):
    return admin.ok("getStaffStatus", path={"enterprise_id": group["id"]}, query=query)


def group_admin(api) -> ApiClient:
    """Another session of the `admin` fixture's account."""
    client = ApiClient(api.base_url)
    client.dev_login("admin")
    return client


# --- groups and invitations (F1) ------------------------------------------------------------------

def test_a_group_needs_a_real_name_and_its_creator_becomes_its_admin(api, admin):
    anonymous = ApiClient(api.base_url)
    anonymous.dev_login("nobody")
    before = row_counts()
    assert_error(anonymous.call("createEnterprise", {"name": "电科集团", "address": "北京市"}), 400,
                 "profile_incomplete")
    assert_error(admin.call("createEnterprise", {"name": "", "address": "北京市"}), 400, "missing_field", "name")
    assert row_counts() == before
    created = admin.call("createEnterprise", {"name": "电科集团", "address": "北京市海淀区"})
    assert created.status_code == 201
    group = created.json()["data"]
    assert group["is_admin"] is True and group["role"] == "admin" and group["admin_name"] == "陈*"
    assert "enterprise_admin" in Account.get_by_id(admin.account_id).role_names()
    assert OperationLog.get(OperationLog.action == "enterprise_created").actor_id == admin.account_id


def test_the_invitation_code_and_its_qr_lead_to_the_group(api, admin, group):
    import zxingcpp
    from PIL import Image

    invite = admin.ok("getInviteCode", path={"enterprise_id": group["id"]})
    assert len(invite["code"]) == 8 and invite["name"] == "电科集团" and invite["admin_name"] == "陈*"
    assert invite["join_url"] == f"{api.config.public_base_url}/join/{invite['code']}"
    image = admin.call("getInviteCodeImage", path={"enterprise_id": group["id"]})
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))
    assert [d.text for d in decoded] == [invite["join_url"]]
    # Joining by the scanned URL or by the typed code (any case, with spaces) both work.
    first = person(api, "first", 2, "李平安")
    joined = first.call("joinEnterprise", {"code": invite["join_url"]})
    assert joined.status_code == 201 and joined.json()["data"]["role"] == "member"
    second = person(api, "second", 3, "王五")
    typed = " " + invite["code"].lower()[:4] + " " + invite["code"][4:]
    assert second.ok("joinEnterprise", {"code": typed})["id"] == group["id"]


def test_only_the_admin_of_that_group_shares_its_code(api, admin, group):
    outsider = person(api, "other-admin", 5)
    outsider.ok("createEnterprise", {"name": "别家公司", "address": "上海"})
    citizen = member(api, group, "member", 2, "李平安")
    assert_error(citizen.call("getInviteCode", path={"enterprise_id": group["id"]}), 403, "forbidden")
    assert_error(outsider.call("getInviteCode", path={"enterprise_id": group["id"]}), 403, "forbidden")
    assert_error(outsider.call("getInviteCodeImage", path={"enterprise_id": group["id"]}), 403, "forbidden")


def test_bad_invitation_codes_and_second_joins_are_refused(api, group):
    citizen = person(api, "citizen", 2, "李平安")
    before = row_counts()
    assert_error(citizen.call("joinEnterprise", {"code": "NOSUCH23"}), 404, "unknown_invite_code", "code")
    assert_error(citizen.call("joinEnterprise", {"code": "!!!"}), 404, "unknown_invite_code", "code")
    assert row_counts() == before
    citizen.ok("joinEnterprise", {"code": invite_code(group)})
    anonymous = ApiClient(api.base_url)
    anonymous.dev_login("nobody")
    before = row_counts()
    assert_error(citizen.call("joinEnterprise", {"code": invite_code(group)}), 409, "already_member", "code")
    assert_error(anonymous.call("joinEnterprise", {"code": invite_code(group)}), 400, "profile_incomplete")
    assert row_counts() == before


def test_a_person_may_belong_to_several_groups(api, group):
    other_admin = person(api, "other-admin", 5, "赵六")
    other = other_admin.ok("createEnterprise", {"name": "第二公司", "address": "上海"})
    citizen = member(api, group, "citizen", 2, "李平安")
    citizen.ok("joinEnterprise", {"code": invite_code(other)})
    assert [g["name"] for g in citizen.ok("listMyEnterprises")["items"]] == ["电科集团", "第二公司"]
    report(citizen)
    assert Declaration.get().organisation == "电科集团、第二公司"
    # Both admins see the report.
    assert staff(other_admin, other, category="normal")["counts"]["normal"] == 1
    assert staff(group_admin(api), group, category="normal")["counts"]["normal"] == 1


# --- daily report (F2) and my colour (F3) ------------------------------------------------------------

def test_the_form_is_the_eight_questions_of_the_seed(api, group):
    citizen = member(api, group, "citizen", 2)
    form = citizen.ok("getDailyReportForm")
    assert [q["question"] for q in form["questions"]] == [
        "是否存在高烧、干咳、乏力现象？", "是否出现呼吸道感染等呼吸困难症状？", "家人及周边人员是否存在发烧以及呼吸症状？",
        "您与周边人是否去过医疗机构等高位场所？", "您与周边人是否近距离接触过湖北地区人员？",
        "您与周边人是否近距离接触过新型冠状病毒患者？", "您与周边人是否参加过多人等聚会？", "是否乘坐公共交通？"]
    assert form["today"] is None


def test_reporting_needs_a_group(api):
    loner = person(api, "loner", 2)
    before = row_counts()
    assert_error(report(loner), 403, "not_a_member")
    assert row_counts() == before


def test_a_second_report_the_same_day_replaces_the_first_and_history_is_kept(api, group):
    citizen = member(api, group, "citizen", 2, "李平安")
    track = [{"place": "北京市海淀区中关村", "time": "08:30", "transport": "subway"},
             {"place": "深圳市龙岗区南湾街1983创业小镇A1栋", "time": "17:45", "transport": "bus"},
             {"place": "公司食堂", "time": "12:00"}]
    first = report(citizen, track, public_transport=True)
    assert first.status_code == 201, first.text
    body = first.json()["data"]
    assert body["location"] == "深圳市龙岗区南湾街1983创业小镇A1栋" and body["abnormal_answers"] == ["乘坐公共交通"]
    assert body["colour"]["colour"] == "green"
    second = report(citizen)
    assert second.status_code == 201 and second.json()["data"]["abnormal"] is False
    assert DailyReport.select().count() == 2
    assert DailyReport.select().where(DailyReport.current_on.is_null(False)).count() == 1
    assert citizen.ok("getDailyReportForm")["today"]["id"] == second.json()["data"]["id"]
    listed = staff(group_admin(api), group)
    assert listed["counts"] == {"normal": 1, "abnormal": 0, "not_reported": 1, "total": 2}


@pytest.mark.parametrize("body, code, field", [
    ({"answers": {**NO, "gathering": "否"}}, "invalid_field", "answers.gathering"),
    ({"answers": {k: v for k, v in NO.items() if k != "public_transport"}}, "missing_field",
     "answers.public_transport"),
    ({"answers": NO, "track": [{"place": "公司", "time": "25:00"}]}, "invalid_field", "track[0].time"),
    ({"answers": NO, "track": [{"place": "公司", "time": "08:00", "transport": "rocket"}]}, "invalid_field",
     "track[0].transport"),
    ({"answers": NO, "track": [{"place": "", "time": "08:00"}]}, "missing_field", "track[0].place"),
    ({"answers": {**NO, "extra": True}}, "unknown_field", "answers.extra"),
])
def test_bad_reports_are_refused_and_nothing_is_written(api, group, body, code, field):
    citizen = member(api, group, "citizen", 2)
    before = row_counts()
    assert_error(citizen.call("submitDailyReport", body), 400, code, field)
    assert row_counts() == before


def test_a_declared_contact_with_a_patient_turns_the_colour_red(api, group):
    citizen = member(api, group, "citizen", 2, "李平安")
    result = report(citizen, patient_contact=True).json()["data"]
    assert result["colour"]["colour"] == "red"
    assert "申报曾与确诊或疑似病例接触" in result["colour"]["reasons"]
    mine = citizen.ok("getMyColour")
    assert mine["colour"] == "red" and mine["name"] == "李**"
    assert mine["id_number"] == make_id_number(2)[:6] + "*****" + make_id_number(2)[-4:]
    assert "星期" in mine["date_label"] and mine["shown_at"].endswith("+08:00")
    assert [item["colour"] for item in mine["legend"]] == ["green", "yellow", "orange", "red"]
    # A corrected report the same day does not erase what was declared.
    assert report(citizen).json()["data"]["colour"]["colour"] == "red"


def test_a_declared_fever_is_filed_for_the_rules_and_turns_red(api, group):
    citizen = member(api, group, "citizen", 2)
    # Seed 001: "红色为密切接触者、发烧人群": the default declared-fever rule reacts.
    answer = report(citizen, fever_cough_fatigue=True).json()["data"]["colour"]
    assert answer["colour"] == "red" and "申报发热" in answer["reasons"]
    declaration = Declaration.get()
    assert declaration.health_status == "fever" and declaration.kind == "member"
    assert declaration.organisation == "电科集团" and declaration.contact_with_patient is False
    # Rules are data: a deployment that disables the rule gets green for the same answer.
    colour_rules.save_rule({**next(r for r in colour_rules.DEFAULT_RULES if r["code"] == "declared_fever"),
                            "enabled": False})
    colour.recompute(None, why="rule_changed")
    assert report(citizen, fever_cough_fatigue=True).json()["data"]["colour"]["colour"] == "green"
    assert report(citizen, breathing_difficulty=True).status_code == 201
    assert Declaration.select().order_by(Declaration.id.desc()).first().health_status == "other"


def test_my_colour_needs_a_real_name(api):
    anonymous = ApiClient(api.base_url)
    anonymous.dev_login("nobody")
    assert_error(anonymous.call("getMyColour"), 400, "profile_incomplete")


# --- staff status (F4) ---------------------------------------------------------------------------------

def test_staff_status_counts_lists_and_searches(api, admin, group):
    well = member(api, group, "well", 2, "李平安")
    sick = member(api, group, "sick", 3, "王发热")
    member(api, group, "silent", 4, "赵未报")
    report(well, [{"place": "北京市海淀区", "time": "09:00", "transport": "walk"}])
    report(sick, family_symptoms=True)
    result = staff(admin, group)
    assert result["counts"] == {"normal": 1, "abnormal": 1, "not_reported": 2, "total": 4}
    by_name = {row["name"]: row for row in result["items"]}
    assert [row["category"] for row in result["items"]] == ["abnormal", "not_reported", "not_reported", "normal"]
    assert by_name["李**"]["location"] == "北京市海淀区" and by_name["李**"]["health"] == "正常"
    assert by_name["李**"]["submitted"] is True and by_name["李**"]["submitted_label"] == "已上报"
    assert by_name["王**"]["health"] == "家人或周边人员有发烧或呼吸症状"
    assert by_name["赵**"]["submitted_label"] == "未上报" and by_name["赵**"]["location"] == "北京市海淀区中关村大街1号"
    assert by_name["赵**"]["phone"] == "139****0004"
    normal = staff(admin, group, category="normal")
    assert [row["name"] for row in normal["items"]] == ["李**"] and normal["total"] == 1
    assert staff(admin, group, category="not_reported")["total"] == 2
    searched = staff(admin, group, name="王发热")
    assert [row["name"] for row in searched["items"]] == ["王**"] and searched["counts"]["total"] == 4
    assert staff(admin, group, name="%")["total"] == 0  # wildcards are searched for, not obeyed
    text = json.dumps(result, ensure_ascii=False)
    for n in (2, 3, 4):
        assert make_id_number(n) not in text and f"139{n:08d}" not in text


def test_a_red_colour_makes_a_member_abnormal_even_without_a_report(api, admin, group):
    from services.risk_data import risk_inputs

    member(api, group, "contact", 2, "李平安")
    risk_inputs.add_close_contacts([{"id_number": make_id_number(2), "name": "李平安"}])
    result = staff(admin, group, category="abnormal")
    assert result["counts"]["abnormal"] == 1 and result["items"][0]["colour"] == "red"
    assert result["items"][0]["health"] == "红码" and result["items"][0]["submitted"] is False


def test_staff_status_is_for_the_admin_of_that_group_only(api, admin, group):
    citizen = member(api, group, "citizen", 2)
    other_admin = person(api, "other-admin", 5)
    other_admin.ok("createEnterprise", {"name": "别家公司", "address": "上海"})
    before = row_counts()
    assert_error(citizen.call("getStaffStatus", path={"enterprise_id": group["id"]}), 403, "forbidden")
    assert_error(other_admin.call("getStaffStatus", path={"enterprise_id": group["id"]}), 403, "forbidden")
    assert_error(other_admin.call("getStaffStatus", path={"enterprise_id": 999999}), 403, "forbidden")
    assert_error(admin.call("getStaffStatus", path={"enterprise_id": group["id"]}, query={"category": "sick"}),
                 400, "invalid_field", "category")
    assert row_counts() == before


def test_staff_lists_count_and_page_through_thousands_set_wise(api, admin, group):
    # Bulk rows straight into the tables: the point is the SQL, not the sign-up flow.
    from models.colour import HealthStatus
    from services.common.timefmt import china_today

    Account.insert_many([{"status": "active"} for _ in range(1200)]).execute()
    account_ids = sorted(a for (a,) in Account.select(Account.id).order_by(Account.id.desc()).limit(1200).tuples())
    people = []
    for i, account_id in enumerate(account_ids):
        p = Person(name=f"员工{i:04d}", relation="self", account=account_id)
        p.set_id_number(make_id_number(i % 1000, birth="19850101" if i < 1000 else "19860101"))
        people.append(p)
    Person.bulk_create(people, batch_size=300)
    staff_people = list(Person.select(Person.id, Person.id_number_bidx, Person.account)
                        .where(Person.account.in_(account_ids)).order_by(Person.id))
    rows = [{"enterprise": group["id"], "account": p.account_id, "person": p.id} for p in staff_people]
    for at in range(0, len(rows), 300):
        EnterpriseMember.insert_many(rows[at:at + 300]).execute()
    # 0-99 red; 100-399 reported today, 100-149 of them with a "yes".
    HealthStatus.insert_many([{"subject": p.id_number_bidx, "colour": "red", "reasons": "[]"}
                              for p in staff_people[:100]]).execute()
    today = china_today()
    DailyReport.insert_many([{"person": p.id, "account": p.account_id, "report_date": today, "current_on": today,
                              "answers": json.dumps({**NO, "gathering": i < 150}), "abnormal": i < 150}
                             for i, p in enumerate(staff_people[100:400], start=100)]).execute()
    result = staff(admin, group, category="abnormal", page=2, per_page=100)
    assert result["counts"] == {"normal": 250, "abnormal": 150, "not_reported": 801, "total": 1201}
    assert result["total"] == 150 and len(result["items"]) == 50
    assert staff(admin, group, category="normal", per_page=100, page=3)["items"][-1]["name"] == "员*****"
    last = staff(admin, group, category="not_reported", page=9, per_page=100)
    assert last["total"] == 801 and len(last["items"]) == 1
    assert_error(admin.call("getStaffStatus", path={"enterprise_id": group["id"]}, query={"per_page": 500}), 400,
                 "invalid_field", "per_page")


# --- export by e-mail (F5) ------------------------------------------------------------------------------

def _export(admin, group, email="hr@example.com", remark="请查收今日员工情况", purpose="核对今日员工健康情况"):
    body = {"email": email, "remark": remark, **({"purpose": purpose} if purpose is not None else {})}
    return admin.call("exportStaffStatus", body, path={"enterprise_id": group["id"]})


def _sheet(sink, index=-1):
    message = sink.messages[index]
    [(filename, content)] = sink.attachments(message)
    return message, filename, content, load_workbook(io.BytesIO(content)).active


def test_export_sends_a_masked_xlsx_with_the_remark_and_is_audited(api, admin, group, sink):
    well = member(api, group, "well", 2, "李平安")
    sick = member(api, group, "sick", 3, "=HYPERLINK(\"http://evil.example\",\"x\")")
    report(well, [{"place": "=cmd|' /C calc'!A0", "time": "09:00"}])
    report(sick, patient_contact=True)
    response = _export(admin, group)
    assert response.status_code == 201, response.text
    export = response.json()["data"]
    assert export["status"] == "sent" and export["rows"] == 3 and export["attempts"] == 1
    assert export["counts"] == {"normal": 1, "abnormal": 1, "not_reported": 1}
    message, filename, content, sheet = _sheet(sink)
    assert message["To"] == "hr@example.com" and "电科集团" in message["Subject"]
    assert sink.envelopes[-1] == ("helper@example.com", ["hr@example.com"])
    body = message.get_body(("plain",)).get_content()
    assert "备注：请查收今日员工情况" in body and "异常人员 1 名" in body
    assert filename.endswith(".xlsx") and filename.startswith("员工情况_")
    watermark, *rows = list(sheet.iter_rows(values_only=True))
    assert watermark[0].startswith("导出人：陈*　导出时间：") and watermark[0].endswith("用途：核对今日员工健康情况")
    assert rows[0] == ("序号", "姓名", "证件号码", "手机号码", "地理位置", "提交情况", "提交时间", "人员类别", "健康码",
                       "异常情况")
    assert [r[0] for r in rows[1:]] == [1, 2, 3]
    by_category = {r[7]: r for r in rows[1:]}
    assert by_category["异常人员"][1].startswith("=") and by_category["异常人员"][8] == "红码"
    assert by_category["异常人员"][9] == "接触过新冠肺炎患者"
    assert by_category["正常人员"][4] == "=cmd|' /C calc'!A0" and by_category["正常人员"][5] == "已上报"
    assert by_category["未上报"][1] == "陈*" and by_category["未上报"][5] == "未上报"
    text = json.dumps(rows, ensure_ascii=False, default=str)
    for n in (1, 2, 3):
        assert make_id_number(n) not in text and f"139{n:08d}" not in text
        assert make_id_number(n)[:6] + "*****" + make_id_number(n)[-4:] in text
        assert f"139****{n:04d}" in text
    # No formula anywhere in the file, though two cells start with "=".
    for row in sheet.iter_rows():
        assert all(cell.data_type != "f" for cell in row)
    assert b"<f>" not in _unzipped(content)
    log = OperationLog.get(OperationLog.action == "staff_export")
    assert log.actor_id == admin.account_id and json.loads(log.detail)["email"] == "hr@example.com"
    assert json.loads(log.detail)["purpose"] == "核对今日员工健康情况" and json.loads(log.detail)["rows"] == 3


@pytest.mark.parametrize("purpose, code", [(None, "missing_field"), ("", "missing_field"), ("  ", "missing_field"),
                                           ("核对\x07名单", "invalid_field"), ("核对\n名单", "invalid_purpose"),
                                           ("查", "invalid_purpose"), ("查" * 51, "invalid_purpose")])
def test_an_export_without_a_good_purpose_is_refused_and_nothing_is_written(api, admin, group, sink, purpose, code):
    """Bad input: exportStaffStatus with no purpose, a blank one, control characters or a line
    break, one too short or too long: a 400 on the purpose field; no export, no audit, no mail."""
    before = row_counts()
    error = assert_error(_export(admin, group, purpose=purpose), 400, code, "purpose")
    assert "导出用途" in error["message"]
    assert row_counts() == before and sink.messages == [] and StaffExport.select().count() == 0


def _unzipped(content: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "张三@example.com", "a@@example.com", "a b@example.com",
                                   "x" * 250 + "@example.com", "a..b@example.com"])
def test_a_bad_email_address_is_refused_and_nothing_is_written(api, admin, group, sink, email):
    before = row_counts()
    assert_error(_export(admin, group, email=email), 400, "invalid_email", "email")
    assert row_counts() == before and sink.messages == []


def test_only_the_admin_of_that_group_exports(api, admin, group, sink):
    citizen = member(api, group, "citizen", 2)
    other_admin = person(api, "other-admin", 5)
    other_admin.ok("createEnterprise", {"name": "别家公司", "address": "上海"})
    before = row_counts()
    assert_error(_export(citizen, group), 403, "forbidden")
    assert_error(_export(other_admin, group), 403, "forbidden")
    assert row_counts() == before and sink.messages == []


def test_a_refusing_smtp_server_gives_a_clear_error_and_the_export_can_be_retried(api, admin, group, sink):
    sink.refuse_recipients = True
    response = _export(admin, group)
    error = assert_error(response, 502, "mail_refused")
    export = StaffExport.get()
    assert error["export_id"] == export.id and f"编号 {export.id}" in error["message"]
    assert export.status == "failed" and export.error and export.content
    assert sink.messages == []
    listed = admin.ok("listStaffExports", path={"enterprise_id": group["id"]})
    assert listed["items"][0]["status_label"] == "发送失败"
    sink.refuse_recipients = False
    retried = admin.ok("retryStaffExport", path={"enterprise_id": group["id"], "export_id": export.id})
    assert retried["status"] == "sent" and retried["attempts"] == 2
    assert sink.attachments(sink.messages[-1])[0][1] == bytes(StaffExport.get().content)
    assert OperationLog.select().where(OperationLog.action == "staff_export_retried").count() == 1
    before = row_counts()
    assert_error(admin.call("retryStaffExport", path={"enterprise_id": group["id"], "export_id": export.id}),
                 409, "export_already_sent")
    assert_error(admin.call("retryStaffExport", path={"enterprise_id": group["id"], "export_id": export.id + 99}),
                 404, "export_not_found")
    assert row_counts() == before


def test_an_smtp_server_that_is_down_gives_a_clear_error_and_the_export_waits(make_server, db):
    port = free_port()  # nothing listens there yet
    api = start(make_server, port)
    admin = person(api, "admin", 1, "陈晨")
    group = admin.ok("createEnterprise", {"name": "电科集团", "address": "北京市海淀区"})
    error = assert_error(_export(admin, group), 503, "mail_unavailable")
    export = StaffExport.get()
    assert error["export_id"] == export.id and export.status == "failed"
    assert OperationLog.select().where(OperationLog.action == "staff_export").count() == 1
    with SmtpSink(port=port) as sink:
        retried = admin.ok("retryStaffExport", path={"enterprise_id": group["id"], "export_id": export.id})
        assert retried["status"] == "sent" and len(sink.messages) == 1


def test_an_unconfigured_smtp_server_keeps_the_export_for_later(make_server, db):
    api = make_server(extra_routes=ROUTES)
    admin = person(api, "admin", 1, "陈晨")
    group = admin.ok("createEnterprise", {"name": "电科集团", "address": "北京市海淀区"})
    assert_error(_export(admin, group), 503, "mail_unavailable")
    assert StaffExport.get().status == "failed"


def test_a_silent_smtp_server_times_out_as_temporary(db):
    # Accepts the connection and never says a word: the send must give up, not hang.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    config = type("C", (), {"smtp_host": "127.0.0.1", "smtp_port": listener.getsockname()[1], "smtp_starttls": False,
                            "smtp_user": "", "smtp_password": "", "smtp_from": ""})()
    try:
        with pytest.raises(mail.MailError) as caught:
            mail.send_mail(config, "hr@example.com", "主题", "正文", timeout=0.5)
        assert caught.value.temporary is True
    finally:
        for conn, _ in accepted:
            conn.close()
        listener.close()


# --- members (F6) and not-reported lists (I3) -------------------------------------------------------------

def test_a_removed_member_loses_access_at_once(api, admin, group):
    citizen = member(api, group, "citizen", 2, "李平安")
    report(citizen)
    member_id = citizen.ok("listMyEnterprises")["items"][0]["member_id"]
    assert citizen.ok("getEnterprise", path={"enterprise_id": group["id"]})["name"] == "电科集团"
    removed = admin.ok("removeEnterpriseMember", path={"enterprise_id": group["id"], "member_id": member_id})
    assert removed == {"removed": True, "member_id": member_id}
    assert_error(citizen.call("getEnterprise", path={"enterprise_id": group["id"]}), 403, "not_a_member")
    assert citizen.ok("listMyEnterprises")["items"] == []
    assert_error(report(citizen), 403, "not_a_member")
    assert staff(admin, group)["counts"]["total"] == 1
    log = OperationLog.get(OperationLog.action == "enterprise_member_removed")
    assert json.loads(log.detail)["name"] == "李**"
    # With the code they may join again (the admin shares it with whom they choose).
    assert citizen.call("joinEnterprise", {"code": invite_code(group)}).status_code == 201
    assert staff(admin, group)["counts"]["total"] == 2


def test_removing_the_admin_or_someone_unknown_is_refused(api, admin, group):
    citizen = member(api, group, "citizen", 2)
    admin_member = admin.ok("listMyEnterprises")["items"][0]["member_id"]
    member_id = citizen.ok("listMyEnterprises")["items"][0]["member_id"]
    before = row_counts()
    assert_error(admin.call("removeEnterpriseMember", path={"enterprise_id": group["id"], "member_id": admin_member}),
                 400, "cannot_remove_admin")
    assert_error(admin.call("removeEnterpriseMember", path={"enterprise_id": group["id"], "member_id": 999999}),
                 404, "member_not_found")
    assert_error(citizen.call("removeEnterpriseMember", path={"enterprise_id": group["id"], "member_id": member_id}),
                 403, "forbidden")
    assert row_counts() == before


def test_the_admin_reads_the_daily_not_reported_list(api, admin, group):
    citizen = member(api, group, "citizen", 2, "李平安")
    member(api, group, "silent", 3, "赵未报")
    report(citizen)
    assert_error(admin.call("getNotReportedList", path={"enterprise_id": group["id"]}), 404,
                 "not_reported_list_missing", "date")
    not_reported.run()
    listed = admin.ok("getNotReportedList", path={"enterprise_id": group["id"]})
    assert listed["count"] == 2 and listed["total"] == 3
    assert sorted(p["name"] for p in listed["people"]) == ["赵**", "陈*"]
    assert_error(citizen.call("getNotReportedList", path={"enterprise_id": group["id"]}), 403, "forbidden")
    assert AccountRole.select().where(AccountRole.role == "enterprise_admin").count() == 1
