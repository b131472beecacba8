"""赋码规则: the city admin edits a rule or the colour scheme, sees on today's data whom it would
move, and a second city account approves it; a version is kept and can be reverted to."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from models.approvals import ApprovalRequest
from models.colour import ColourRule, HealthStatus
from models.corrections import ColourOverride
from models.fields import utcnow
from models.fieldwork import OperationLog
from models.rule_versions import ColourRuleVersion
from services.accounts import admin_auth
from services.colours import approvals, colour_scheme, rule_changes
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.admin.conftest import page_error
from tests.conftest import TEST_CONFIG, make_person, row_counts


def _stored(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


def _edit_form(**changes) -> dict:
    form = {"window_days": "14", "conditions": json.dumps([{"field": "value", "op": ">=", "value": 37.3}]),
            "reason": "体温异常（≥37.3℃）", "enabled": "on",
            "guidance": "请前往发热门诊就诊；排除感染后，由医务人员开具解除医学观察告知书后恢复绿码"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _hidden(page: str) -> dict:
    return {name: value.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)}


@pytest.fixture
def city2(office):
    """A second account of the city admin's organisation (the city role in Zhengzhou)."""
    admin, password = admin_auth.create_admin(None, phone="13810000021", name="市级二号", role="city",
                                              region_code="410100", send_sms=False)
    office.admins["city2"] = (admin, "13810000021", password)
    return admin


@pytest.fixture
def feverish(db):
    """A person with a fever 8 days ago: red under a 14-day window, green under a 7-day one."""
    person = make_person(7)
    risk_inputs.record_temperature(person, 38.2, measured_at=utcnow() - dt.timedelta(days=8))
    assert _stored(person) == "red"
    return person


def _propose(client, code: str, page: str, reason: str = "疫情形势变化"):
    return client.post(f"/admin/rules/{code}/propose", {**_hidden(page), "reason": reason}, allow_redirects=False)


def test_an_edit_is_previewed_approved_by_a_second_city_account_and_reverted(office, city2, feverish, as_admin):
    first, second = as_admin("city"), as_admin("city2")
    listed = first.get("/admin/rules/")
    assert listed.status_code == 200 and "体温异常（≥37.3℃）" in listed.text and "四色" in listed.text

    preview = first.post("/admin/rules/fever/edit", _edit_form(window_days="7"))
    assert preview.status_code == 200, page_error(preview)
    assert "1 人 红→绿" in preview.text and "14 天" in preview.text and "7 天" in preview.text
    assert ColourRule.get(ColourRule.code == "fever").window_days == 14 and _stored(feverish) == "red"

    proposed = _propose(first, "fever", preview.text)
    assert proposed.status_code == 302 and "/admin/r/approvals/" in proposed.headers["Location"]
    request = ApprovalRequest.get()
    assert request.status == "pending" and "1 人 红→绿" in request.summary
    assert ColourRule.get(ColourRule.code == "fever").window_days == 14

    approved = second.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": "同意"}, allow_redirects=False)
    assert approved.status_code == 302, page_error(approved)
    assert ColourRule.get(ColourRule.code == "fever").window_days == 7 and _stored(feverish) == "green"
    assert [v.version for v in ColourRuleVersion.select().order_by(ColourRuleVersion.version)] == [1, 2]
    assert OperationLog.select().where(OperationLog.action == "colour_rule_changed").count() == 1
    detail = first.get("/admin/rules/fever")
    assert "第 2 版" in detail.text and "恢复上一版本" in detail.text

    revert = first.post("/admin/rules/fever/revert")
    assert revert.status_code == 200 and "1 人 绿→红" in revert.text and "恢复到第 1 版" in revert.text
    assert _propose(first, "fever", revert.text, "恢复原规则").status_code == 302
    back = ApprovalRequest.select().order_by(ApprovalRequest.id.desc()).first()
    assert second.post(f"/admin/r/approvals/{back.id}/do/approve", {"remark": ""},
                       allow_redirects=False).status_code == 302
    assert ColourRule.get(ColourRule.code == "fever").window_days == 14 and _stored(feverish) == "red"
    assert ColourRuleVersion.select().count() == 3


def test_disabling_a_rule_goes_through_the_same_preview(office, city2, feverish, as_admin):
    first = as_admin("city")
    preview = first.post("/admin/rules/fever/toggle")
    assert "停用规则" in preview.text and "1 人 红→绿" in preview.text
    assert _propose(first, "fever", preview.text).status_code == 302
    approvals_page = as_admin("city2")
    request = ApprovalRequest.get()
    approvals_page.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": ""})
    assert ColourRule.get(ColourRule.code == "fever").enabled is False and _stored(feverish) == "green"


@pytest.mark.parametrize("changes, code, message, field", [
    ({"conditions": '[{"field": "value", "op": ">=", "value": 37.3'}, "invalid_rule_json", "条件不是有效的 JSON",
     "conditions"),
    ({"conditions": '[{"field": "colour", "op": "=", "value": 1}]'}, "unknown_rule_field", "没有字段 colour",
     "conditions[0].field"),
    ({"window_days": "两周"}, "invalid_field", "时间窗口应为", "window_days"),
    ({"guidance": ""}, "missing_field", "红码规则必须说明如何解除", "guidance"),
])
def test_an_edit_that_does_not_parse_is_refused_and_nothing_is_written(office, city2, as_admin, changes, code,
                                                                        message, field):
    with pytest.raises(ApiError) as refused:
        rule_changes.edited(ColourRule.get(ColourRule.code == "fever"), _edit_form(**changes))
    assert (refused.value.code, refused.value.status, refused.value.field) == (code, 400, field)
    first = as_admin("city")
    before = row_counts()
    refused = first.post("/admin/rules/fever/edit", _edit_form(**changes))
    assert refused.status_code == 400 and message in page_error(refused)
    assert f'data-field="{field}"' in refused.text and f'data-code="{code}"' in refused.text
    # The same declaration sent straight to the proposal is refused there too.
    good = first.post("/admin/rules/fever/edit", _edit_form(window_days="10"))
    payload = json.loads(_hidden(good.text)["payload"])
    bad = {**_hidden(good.text), "payload": json.dumps({**payload, "conditions": "not a list"}), "reason": "x"}
    assert first.post("/admin/rules/fever/propose", bad).status_code == 400
    assert row_counts() == before


def test_approving_ones_own_change_is_refused(office, city2, feverish, as_admin):
    first = as_admin("city")
    preview = first.post("/admin/rules/fever/edit", _edit_form(window_days="7"))
    no_reason = _propose(first, "fever", preview.text, reason="")
    assert no_reason.status_code == 400 and "请填写原因" in page_error(no_reason)
    assert ApprovalRequest.select().count() == 0
    _propose(first, "fever", preview.text)
    request = ApprovalRequest.get()
    before = row_counts()
    own = first.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": ""})
    assert own.status_code == 403 and "不能审批自己提交的申请" in own.text
    with pytest.raises(ApiError) as refused:
        approvals.approve(office.admins["city"][0], request.id)
    assert (refused.value.code, refused.value.status) == ("self_approval", 403)
    assert row_counts() == before and ApprovalRequest.get_by_id(request.id).status == "pending"
    assert ColourRule.get(ColourRule.code == "fever").window_days == 14 and _stored(feverish) == "red"


def test_the_colour_scheme_lives_in_the_database(office, city2, as_admin, api):
    first = as_admin("city")
    assert colour_scheme.current(TEST_CONFIG) == 4
    preview = first.post("/admin/rules/scheme", {"scheme": "3"})
    orange = HealthStatus.select().where(HealthStatus.colour == "orange").count()  # the demo's: Hubei, a compound case
    assert orange and preview.status_code == 200 and f"{orange} 人 橙→黄" in preview.text
    assert first.post("/admin/rules/scheme/propose", {"scheme": "3", "reason": "省里统一三色"},
                      allow_redirects=False).status_code == 302
    assert colour_scheme.current(TEST_CONFIG) == 4
    request = ApprovalRequest.get()
    as_admin("city2").post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": ""})
    colour_scheme.forget()
    assert colour_scheme.current(TEST_CONFIG) == 3
    assert "三色" in first.get("/admin/rules/").text


def test_only_the_city_admin_opens_the_rules(office, as_admin):
    assert as_admin("jinshui").get("/admin/rules/").status_code == 403
    assert as_admin("jinshui").post("/admin/rules/fever/edit", _edit_form()).status_code == 403


def test_the_preview_counts_from_the_current_data_and_leaves_overrides_where_they_are(db, feverish):
    other = make_person(8)
    risk_inputs.record_temperature(other, 38.5, measured_at=utcnow() - dt.timedelta(days=9))
    fever = ColourRule.get(ColourRule.code == "fever")
    shorter = {**rule_changes.rule_data(fever), "window_days": 7}
    assert rule_changes.preview("fever", shorter).text == "2 人 红→绿"
    today = china_today()
    ColourOverride.create(subject=other.subject, colour="red", reason="仍需观察", starts_on=today,
                          expires_on=today + dt.timedelta(days=3))
    assert rule_changes.preview("fever", shorter).text == "1 人 红→绿"
    assert rule_changes.preview("fever", rule_changes.rule_data(fever)).text == "无人颜色变化"
    before = row_counts()
    rule_changes.preview("fever", {**shorter, "enabled": False})
    assert row_counts() == before and ColourRule.get(ColourRule.code == "fever").window_days == 14
