"""Corrections with two people, a person's colour for officials, and the citizen's appeals
(D8, D9): each reason with its source; withdrawals, case closures, notice revocations and manual
overrides applied only when a second account of the same organisation approves; appeals filed,
accepted or rejected, and escalated when overdue. Bad input keeps nothing."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from PIL import Image

from jobs import appeal_escalation
from models.approvals import ApprovalRequest
from models.colour import ColourHistory
from models.corrections import AppealImage, ColourAppeal, ColourOverride
from models.fieldwork import OperationLog
from models.people import Person
from models.regions import Region
from models.risk_inputs import CaseReport, CloseContact
from services.accounts import admin_auth
from services.colours import appeals, approvals, colour, corrections
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.risk_data import risk_inputs, risk_records
from tests.admin.conftest import AdminClient, page_error
from tests.conftest import ApiClient, assert_error, make_id_number, row_counts, report_case

JINSHUI_ID = make_id_number(7, region="410105")  # household registration in 金水区: its queue


def _png(size=(4, 4)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def citizen(office):
    client = ApiClient(office.base_url)
    client.dev_login("appellant")
    client.ok("updateProfile", {"name": "王申诉", "id_number": JINSHUI_ID, "phone": "13900000077"})
    return client


def _signed_in(office, phone: str, name: str, role: str) -> AdminClient:
    admin, password = admin_auth.create_admin(None, phone=phone, name=name, role=role, region_code="410105",
                                              send_sms=False)
    client = AdminClient(office.base_url)
    assert client.login(phone, password).status_code == 302
    client.admin = admin
    return client


@pytest.fixture
def second(office):
    """A second 金水区 district account: the approver of the district account's corrections."""
    return _signed_in(office, "13810000009", "金水复核", "district")


@pytest.fixture
def cdc(office):
    """Two accounts of 金水区's CDC, the owner of the close-contact and case lists."""
    return (_signed_in(office, "13810000011", "金水疾控一", "cdc_district"),
            _signed_in(office, "13810000012", "金水疾控二", "cdc_district"))


def _listed() -> CloseContact:
    risk_inputs.add_close_contacts([{"name": "王申诉", "id_number": JINSHUI_ID, "listed_on": china_today()}],
                                   source="市疾控密接名单")
    return CloseContact.get(CloseContact.subject == Person.get(Person.name_is("王申诉")).subject)


def test_reasons_come_with_their_source_date_and_what_lifts_them(citizen):
    entry = _listed()
    code = citizen.ok("getMyHealthCode")
    assert code["colour"] == "red" and code["manual_override"] is False
    reason = code["details"][0]
    assert reason["reason"] == "密切接触者"
    assert reason["sources"][0]["source"] == "密切接触者名单"
    assert "来源：市疾控密接名单" in reason["sources"][0]["detail"]
    assert reason["sources"][0]["date"] == entry.event_date.isoformat() == reason["since"]
    assert "自动解除" in reason["lifts"] and "解除医学观察告知书" in reason["lifts"]


def test_a_reason_from_a_list_import_names_the_batch_and_its_date(citizen):
    listed_on = china_today() - dt.timedelta(days=2)
    risk_records.ingest("fever_medicine", [{"id_number": JINSHUI_ID, "date": listed_on, "pharmacy": "老百姓大药房"}],
                        source_label="郑州市药监局", source_ref="partner:pharmacy-1:0001", listed_on=listed_on)
    reason = citizen.ok("getMyHealthCode")["details"][0]
    source = reason["sources"][0]
    assert (reason["colour"], source["list"], source["batch"], source["listed_on"]) == (
        "yellow", "退烧药购买记录", "partner:pharmacy-1:0001", listed_on.isoformat())
    assert "郑州市药监局" in source["source"] and "药店：老百姓大药房" in source["detail"]


def test_an_appeal_is_accepted_and_its_correction_approved_by_a_second_account(office, citizen, as_admin, cdc):
    entry = _listed()
    image = base64.b64encode(_png()).decode()
    filed = citizen.ok("submitColourAppeal", {"reason": "我没有去过该场所，登记有误", "image": image})
    assert (filed["status"], filed["colour"], filed["has_image"]) == ("open", "red", True)
    appeal = ColourAppeal.get_by_id(filed["id"])
    assert appeal.region.code == "410105"  # no compound known: the district of the ID number
    assert AppealImage.get(AppealImage.appeal == appeal).content_type == "image/png"
    assert dt.timedelta(hours=23, minutes=59) < appeal.deadline - appeal.created_at <= dt.timedelta(hours=24)

    owner, approver = cdc
    queue = owner.get("/admin/r/appeals/?status=open")
    assert "我没有去过该场所" in queue.text and "王**" in queue.text
    detail = owner.get(f"/admin/r/appeals/{appeal.id}")
    assert "查看申诉人的健康码" in detail.text
    assert owner.get(f"/admin/appeals/{appeal.id}/image").content == _png()
    assert as_admin("erqi").get(f"/admin/r/appeals/{appeal.id}").status_code == 403

    choice = f"withdraw:close_contact:{entry.id}"
    form = owner.get(f"/admin/r/appeals/{appeal.id}/do/accept")
    assert choice in form.text
    # The district's own accounts may override a colour, not withdraw the CDC's list entry.
    assert choice not in as_admin("jinshui").get(f"/admin/r/appeals/{appeal.id}/do/accept").text
    done = owner.post(f"/admin/r/appeals/{appeal.id}/do/accept", {"choice": choice, "reason": "核实为误登记"},
                        allow_redirects=False)
    assert done.status_code == 302, page_error(done)
    request = ApprovalRequest.get(ApprovalRequest.kind == "withdraw_entry")
    assert (request.target, request.reason) == (f"close_contact:{entry.id}", "核实为误登记")
    mine = citizen.ok("listMyAppeals")["items"][0]
    assert (mine["status"], mine["correction"]) == ("accepted", "更正待审批")
    assert citizen.ok("getMyHealthCode")["colour"] == "red"  # nothing changes before the approval

    own = owner.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": ""})
    assert own.status_code == 403 and "不能审批自己提交的申请" in page_error(own)
    assert CloseContact.get_by_id(entry.id).withdrawn_at is None

    approved = approver.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": "同意"}, allow_redirects=False)
    assert approved.status_code == 302
    assert CloseContact.get_by_id(entry.id).withdrawn_at is not None  # kept, no longer read
    assert citizen.ok("getMyHealthCode")["colour"] == "green"
    last = ColourHistory.select().order_by(ColourHistory.id.desc()).first()
    assert (last.from_colour, last.to_colour, last.why) == ("red", "green", "close_contact_withdrawn")
    mine = citizen.ok("listMyAppeals")["items"][0]
    assert (mine["status"], mine["correction"]) == ("accepted", "已更正") and "核实为误登记" in mine["answer"]
    assert "已更正" in owner.get(f"/admin/r/appeals/{appeal.id}").text  # its 更正进度
    actions = {r.action for r in OperationLog.select()}
    assert {"appeal_submitted", "appeal_accepted", "approval_proposed", "approval_approved",
            "risk_entry_withdrawn"} <= actions
    # The same list sent again does not bring the withdrawn entry back.
    again = risk_records.ingest("close_contact", [{"id_number": JINSHUI_ID, "date": entry.event_date}],
                                source_label="市疾控中心", source_ref="resend-1", listed_on=entry.event_date)
    assert (again.accepted, again.duplicates) == (0, 1) and colour.verdict(entry.subject).colour == "green"


def test_an_appeal_answered_by_an_override_shows_it_applied_once_approved(office, citizen, as_admin, second):
    _listed()
    filed = citizen.ok("submitColourAppeal", {"reason": "核酸阴性，请复核"})
    jinshui = as_admin("jinshui")
    until = (china_today() + dt.timedelta(days=7)).isoformat()
    done = jinshui.post(f"/admin/r/appeals/{filed['id']}/do/accept",
                        {"choice": appeals.OVERRIDE_CHOICE, "reason": "复核阴性", "expires_on": until},
                        allow_redirects=False)
    assert done.status_code == 302, page_error(done)
    assert "更正待审批" in jinshui.get(f"/admin/r/appeals/{filed['id']}").text
    request = ApprovalRequest.get(ApprovalRequest.kind == "colour_override")
    approvals.approve(second.admin, request.id)
    assert citizen.ok("getMyHealthCode")["colour"] == "green"
    for reader in (jinshui, second):
        assert "已更正" in reader.get(f"/admin/r/appeals/{filed['id']}").text
    assert citizen.ok("listMyAppeals")["items"][0]["correction"] == "已更正"


def test_a_rejected_appeal_shows_the_answer(office, citizen, as_admin):
    _listed()
    filed = citizen.ok("submitColourAppeal", {"reason": "请复核"})
    jinshui = as_admin("jinshui")
    before = row_counts()
    no_expiry = jinshui.post(f"/admin/r/appeals/{filed['id']}/do/accept",
                             {"choice": appeals.OVERRIDE_CHOICE, "reason": "请临时恢复", "expires_on": ""})
    assert no_expiry.status_code == 400 and page_error(no_expiry) == "人工调整必须填写有效期"
    assert 'value="请临时恢复"' in no_expiry.text  # what was typed is shown again, not cleared
    assert f'<option value="{appeals.OVERRIDE_CHOICE}" selected>' in no_expiry.text
    assert row_counts() == before and ColourAppeal.get_by_id(filed["id"]).status == "open"
    empty = jinshui.post(f"/admin/r/appeals/{filed['id']}/do/reject", {"answer": " "})
    assert empty.status_code == 400 and page_error(empty) == "请填写驳回理由"
    assert ColourAppeal.get_by_id(filed["id"]).status == "open"
    done = jinshui.post(f"/admin/r/appeals/{filed['id']}/do/reject", {"answer": "经核实确为密接，请配合隔离"},
                        allow_redirects=False)
    assert done.status_code == 302
    mine = citizen.ok("listMyAppeals")["items"][0]
    assert (mine["status"], mine["status_label"], mine["answer"]) == ("rejected", "已驳回", "经核实确为密接，请配合隔离")
    assert OperationLog.select().where(OperationLog.action == "appeal_rejected").count() == 1
    again = jinshui.post(f"/admin/r/appeals/{filed['id']}/do/reject", {"answer": "再驳回"})
    assert again.status_code == 409


def test_bad_appeals_are_refused_and_keep_nothing(citizen):
    before = row_counts()
    assert_error(citizen.call("submitColourAppeal", {"reason": "我是绿码也想申诉"}), 409, "code_is_green")
    assert row_counts() == before
    _listed()
    before = row_counts()
    assert_error(citizen.call("submitColourAppeal", {"reason": " "}), 400, "missing_field", "reason")
    big = base64.b64encode(b"\x89PNG" + b"0" * (appeals.IMAGE_MAX_BYTES + 10)).decode()
    assert_error(citizen.call("submitColourAppeal", {"reason": "附图", "image": big}), 413, "image_too_large", "image")
    not_image = base64.b64encode(b"%PDF-1.4 this is not a picture").decode()
    assert_error(citizen.call("submitColourAppeal", {"reason": "附图", "image": not_image}), 400, "invalid_image",
                 "image")
    assert_error(citizen.call("submitColourAppeal", {"reason": "附图", "image": "%%%"}), 400, "invalid_image", "image")
    assert row_counts() == before
    citizen.ok("submitColourAppeal", {"reason": "第一次申诉"})
    before = row_counts()
    assert_error(citizen.call("submitColourAppeal", {"reason": "第二次申诉"}), 409, "appeal_open")
    assert row_counts() == before


def test_withdrawals_and_overrides_need_a_reason_an_expiry_and_a_second_person(office, citizen, as_admin, second,
                                                                               cdc):
    entry = _listed()
    jinshui = office.admins["jinshui"][0]
    page = as_admin("jinshui")
    before = row_counts()
    owner = cdc[0].admin
    for reason in ("", "  ", None):
        with pytest.raises(ApiError) as refused:
            corrections.propose_withdrawal(owner, "close_contact", entry.id, reason)
        assert (refused.value.status, refused.value.code, refused.value.field) == (400, "missing_field", "reason")
    with pytest.raises(ApiError) as not_owner:
        corrections.propose_withdrawal(jinshui, "close_contact", entry.id, "误登记")
    assert (not_owner.value.status, not_owner.value.code) == (403, "not_owner") and "疾控" in not_owner.value.message
    with pytest.raises(ApiError) as no_reason:
        corrections.propose_override(jinshui, entry.subject, "green", "", "2099-01-01")
    assert (no_reason.value.code, no_reason.value.field) == ("missing_field", "reason")
    with pytest.raises(ApiError) as no_expiry:
        corrections.propose_override(jinshui, entry.subject, "green", "误判", "")
    assert (no_expiry.value.status, no_expiry.value.code, no_expiry.value.field) == (400, "missing_field", "expires_on")
    with pytest.raises(ApiError) as too_far:
        corrections.propose_override(jinshui, entry.subject, "green", "误判", china_today() + dt.timedelta(days=90))
    assert (too_far.value.code, too_far.value.field) == ("invalid_date", "expires_on")
    # The same through the person's page: the error shown, nothing stored.
    shown = page.post("/admin/person-colour/propose", {"s": entry.subject, "what": "override", "colour": "green",
                                                       "reason": "误判", "expires_on": ""})
    assert shown.status_code == 400 and page_error(shown) == "人工调整必须填写有效期"
    shown = cdc[0].post("/admin/person-colour/propose", {"s": entry.subject, "what": "withdraw",
                                                         "kind": "close_contact", "id": str(entry.id), "reason": ""})
    assert shown.status_code == 400 and page_error(shown) == "请填写原因"
    assert row_counts() == before

    until = china_today() + dt.timedelta(days=3)
    proposed = page.post("/admin/person-colour/propose", {"s": entry.subject, "what": "override", "colour": "yellow",
                                                          "reason": "密接身份待核实", "expires_on": until.isoformat()},
                         allow_redirects=False)
    assert proposed.status_code == 302 and "/admin/r/approvals/" in proposed.headers["Location"]
    request = ApprovalRequest.get(ApprovalRequest.kind == "colour_override")
    with pytest.raises(ApiError) as own:
        approvals.approve(jinshui, request.id)
    assert (own.value.status, own.value.code) == (403, "self_approval")
    assert ColourOverride.select().count() == 0 and citizen.ok("getMyHealthCode")["colour"] == "red"
    approvals.approve(second.admin, request.id)
    code = citizen.ok("getMyHealthCode")
    assert code["colour"] == "yellow" and code["manual_override"] is True
    assert code["details"][0]["reason"] == "人工调整：密接身份待核实"
    assert code["details"][0]["until"] == until.isoformat() and until.isoformat() in code["details"][0]["lifts"]
    shown = page.post("/admin/person-colour", {"id_number": JINSHUI_ID, "purpose": "核实申诉"})
    assert shown.status_code == 200 and "人工调整（经两人审核）" in shown.text  # the override is a source of its own
    # After the expiry the rules speak again.
    assert colour.verdict(entry.subject, today=until + dt.timedelta(days=1)).colour == "red"


def test_a_case_is_closed_and_a_release_notice_revoked_on_approval(office, citizen, cdc):
    owner, approver = cdc[0].admin, cdc[1].admin
    person = Person.get(Person.name_is("王申诉"))
    case = report_case(name="王申诉", id_number=JINSHUI_ID, kind="suspected")
    request = corrections.propose_case_closure(owner, case.id, "排除疑似")
    assert CaseReport.get_by_id(case.id).status == "active" and colour.verdict(person.subject).colour == "red"
    approvals.approve(approver, request.id)
    assert CaseReport.get_by_id(case.id).status == "closed" and colour.verdict(person.subject).colour == "green"

    _listed()
    notice = risk_inputs.issue_release_notice(person, reason="观察期满")
    assert colour.verdict(person.subject).colour == "green"
    request = corrections.propose_notice_revocation(owner, notice.id, "告知书开错了人")
    approvals.approve(approver, request.id)
    assert colour.verdict(person.subject).colour == "red"
    actions = [r.action for r in OperationLog.select().where(OperationLog.target_type.in_(["case_report",
                                                                                          "release_notice"]))]
    assert "case_closed" in actions and "release_notice_revoked" in actions


def test_the_person_page_is_scoped_and_shows_sources_history_and_corrections(office, citizen, as_admin, cdc):
    _listed()
    page = as_admin("jinshui").post("/admin/person-colour", {"id_number": JINSHUI_ID, "purpose": "核实申诉"})
    assert page.status_code == 200 and JINSHUI_ID not in page.text and JINSHUI_ID not in page.url
    for text in ("红码", "密切接触者名单", "来源：市疾控密接名单", "人工调整健康码", "颜色变化记录", "绿码 → 红码",
                 "撤销或结案由", "<td>录入密接名单</td>"):  # what set off the change, in words
        assert text in page.text, text
    assert "撤销错误登记</button>" not in page.text  # the district does not own the CDC's list
    owner = cdc[0].post("/admin/person-colour", {"id_number": JINSHUI_ID, "purpose": "核实申诉"})
    assert "撤销错误登记</button>" in owner.text
    refused = as_admin("erqi").post("/admin/person-colour", {"id_number": JINSHUI_ID, "purpose": "核实申诉"})
    assert refused.status_code == 403 and "无权查看" in page_error(refused)
    wrong = as_admin("jinshui").post("/admin/person-colour", {"id_number": "410105199001011234", "purpose": "核实申诉"})
    assert wrong.status_code == 400 and "校验" in page_error(wrong)


def test_an_overdue_appeal_moves_from_the_community_to_the_district(office, citizen, as_admin):
    compound = Region.get(Region.code == "410105001001001")
    Person.update(compound=compound).where(Person.name_is("王申诉")).execute()
    ColourAppeal.delete().execute()  # the demo's appeal: only this one falls due here
    _listed()
    filed = citizen.ok("submitColourAppeal", {"reason": "请社区复核"})
    appeal = ColourAppeal.get_by_id(filed["id"])
    assert appeal.region.code == "410105001001"  # the compound's community
    assert appeal_escalation.run(now=appeal.deadline - dt.timedelta(minutes=1)) == {"escalated": 0}
    assert appeal_escalation.run(now=appeal.deadline + dt.timedelta(minutes=1)) == {"escalated": 1}
    assert appeal_escalation.run(now=appeal.deadline + dt.timedelta(hours=2)) == {"escalated": 0}
    moved = ColourAppeal.get_by_id(appeal.id)
    assert moved.region.code == "410105" and moved.escalated_at is not None and moved.status == "open"
    assert citizen.ok("listMyAppeals")["items"][0]["escalated"] is True
    assert as_admin("compound").get(f"/admin/r/appeals/{appeal.id}").status_code == 403
    assert "已逾期转区县" in as_admin("jinshui").get("/admin/r/appeals/").text
    assert OperationLog.select().where(OperationLog.action == "appeal_escalated").count() == 1


def test_the_demo_has_an_open_appeal_in_the_district_queue(office, as_admin):
    appeal = ColourAppeal.get()
    assert (appeal.status, appeal.region.code, appeal.colour) == ("open", "410105", "orange")
    queue = as_admin("jinshui").get("/admin/r/appeals/?status=open")
    assert "申请复核健康码颜色" in queue.text and "待处理" in queue.text
    form = as_admin("jinshui").get(f"/admin/r/appeals/{appeal.id}/do/accept")
    assert appeals.OVERRIDE_CHOICE in form.text  # the district may set it green for a while
