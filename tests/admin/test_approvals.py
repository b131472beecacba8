"""Two-person changes: proposed with a reason, approved by another account of the same
organisation on the 待审批 page, applied in the approval's transaction; refusals keep nothing."""

from __future__ import annotations

import pytest

from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.fieldwork import OperationLog
from services.accounts import admin_auth
from services.colours import approvals
from services.common.errors import ApiError


def _rename(request, payload, approver):
    if payload.get("refuse"):
        raise ApiError("invalid_field", "不能改成这个名字", 400, "name")
    AdminUser.update(name=payload["name"]).where(AdminUser.id == payload["id"]).execute()
    return f"已改名为{payload['name']}"


approvals.register("test_rename", "测试：改名", _rename)


def _second(office):
    admin, password = admin_auth.create_admin(None, phone="13810000009", name="金水二号", role="district",
                                              region_code="410105", send_sms=False)
    return admin, "13810000009", password


def _propose(admin, **payload):
    return approvals.propose(admin, "test_rename", target=f"admin_user:{admin.id}", summary="改名",
                             reason="登记错误", payload={"id": admin.id, "name": "新名字", **payload})


def test_a_change_needs_a_reason_and_one_pending_request_per_target(office):
    jinshui = office.admins["jinshui"][0]
    for reason in ("", "   ", None):
        with pytest.raises(ApiError) as refused:
            approvals.propose(jinshui, "test_rename", target="x", summary="改名", reason=reason, payload={})
        assert (refused.value.code, refused.value.status, refused.value.field) == ("missing_field", 400, "reason")
    assert ApprovalRequest.select().count() == 0
    _propose(jinshui)
    with pytest.raises(ApiError) as again:
        _propose(jinshui)
    assert (again.value.code, again.value.status) == ("approval_pending", 409)
    assert ApprovalRequest.select().count() == 1


def test_only_another_account_of_the_same_organisation_approves(office, as_admin):
    jinshui = office.admins["jinshui"][0]
    request = _propose(jinshui)
    second, phone, password = _second(office)

    own = as_admin("jinshui").post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": ""})
    assert own.status_code == 403 and "不能审批自己提交的申请" in own.text
    for other in (office.admins["erqi"][0], office.admins["city"][0]):
        with pytest.raises(ApiError) as refused:
            approvals.approve(other, request.id)
        assert refused.value.status in (403, 404)
    assert AdminUser.get_by_id(jinshui.id).name == jinshui.name
    assert ApprovalRequest.get_by_id(request.id).status == "pending"

    from tests.admin.conftest import AdminClient
    client = AdminClient(office.base_url)
    assert client.login(phone, password).status_code == 302
    queue = client.get("/admin/r/approvals/")
    assert "改名" in queue.text and "待审批" in queue.text
    done = client.post(f"/admin/r/approvals/{request.id}/do/approve", {"remark": "同意"}, allow_redirects=False)
    assert done.status_code == 302, done.text[:300]
    assert AdminUser.get_by_id(jinshui.id).name == "新名字"
    decided = ApprovalRequest.get_by_id(request.id)
    assert (decided.status, decided.decided_by_id, decided.remark, decided.result) == (
        "approved", second.id, "同意", "已改名为新名字")
    with pytest.raises(ApiError) as twice:
        approvals.approve(second, request.id)
    assert (twice.value.code, twice.value.status) == ("approval_decided", 409)
    actions = [r.action for r in OperationLog.select().where(OperationLog.target_type == "approval_request")]
    assert actions == ["approval_proposed", "approval_approved"]


def test_a_refused_application_keeps_nothing(office):
    jinshui = office.admins["jinshui"][0]
    second, _, _ = _second(office)
    request = _propose(jinshui, refuse=True)
    with pytest.raises(ApiError) as refused:
        approvals.approve(second, request.id)
    assert refused.value.field == "name"
    assert ApprovalRequest.get_by_id(request.id).status == "pending"
    assert AdminUser.get_by_id(jinshui.id).name == jinshui.name
    assert OperationLog.select().where(OperationLog.action == "approval_approved").count() == 0


def test_a_rejection_needs_a_remark(office, as_admin):
    jinshui = office.admins["jinshui"][0]
    second, _, _ = _second(office)
    request = _propose(jinshui)
    with pytest.raises(ApiError) as refused:
        approvals.reject(second, request.id, " ")
    assert (refused.value.code, refused.value.field) == ("missing_field", "remark")
    assert approvals.reject(second, request.id, "材料不全") == "已驳回"
    rejected = ApprovalRequest.get_by_id(request.id)
    assert (rejected.status, rejected.remark) == ("rejected", "材料不全")
    assert AdminUser.get_by_id(jinshui.id).name == jinshui.name
    assert [r.id for r in approvals.queue(second)] == [request.id]
