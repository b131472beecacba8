"""Two people for every correction (D8, D9, C9): one account proposes a change with a reason,
another account of the same organisation (the same role in the same region) approves it, and only
then does it take effect, in the approval's own transaction; or it rejects it with a remark.

Each kind of change registers once what approving it does:

    approvals.register("withdraw_close_contact", "撤销密接登记", _withdraw)   # apply(request, payload, approver) -> message
    approvals.propose(admin, "withdraw_close_contact", target=f"close_contact:{row.id}",
                      summary="撤销 王* 的密接登记", reason=reason, payload={"id": row.id})

The back office's 待审批 page (`admin/resources/approvals.py`) lists an organisation's queue.
Every proposal and decision is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.fields import utcnow
from models.transactions import run_transaction
from services.common.errors import ApiError
from services.oversight import audit

STATUSES = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}


@dataclass(frozen=True)
class Kind:
    """A kind of change: its label and what approving it does (inside the approval's transaction;
    an ApiError refuses the approval and nothing is kept)."""

    code: str
    label: str
    apply: Callable[[ApprovalRequest, dict, AdminUser], str]


KINDS: dict[str, Kind] = {}


def register(code: str, label: str, apply: Callable[[ApprovalRequest, dict, AdminUser], str]) -> Kind:
    """Declare a kind of change (at import time of the module that owns it)."""
    if code in KINDS and KINDS[code].apply is not apply:
        raise ValueError(f"approval kind {code!r} registered twice")
    KINDS[code] = Kind(code, label, apply)
    return KINDS[code]


def _text(value, field: str, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise ApiError("invalid_field", f"{label}应为文本", 400, field)
    if not text:
        raise ApiError("missing_field", f"请填写{label}", 400, field)
    if len(text) > 255:
        raise ApiError("invalid_field", f"{label}不能超过255个字", 400, field)
    return text


def propose(admin: AdminUser, code: str, *, target: str, summary: str, reason, payload: dict) -> ApprovalRequest:
    """File a change for a second person of `admin`'s organisation to approve."""
    if code not in KINDS:
        raise ValueError(f"unknown approval kind {code!r}")
    reason = _text(reason, "reason", "原因")

    def write() -> ApprovalRequest:
        pending = ApprovalRequest.select().where((ApprovalRequest.kind == code) & (ApprovalRequest.target == target)
                                                 & (ApprovalRequest.status == "pending"))
        if pending.exists():
            raise ApiError("approval_pending", "该记录已有待审批的申请，请等待审批结果", 409)
        request = ApprovalRequest.create(kind=code, target=target, summary=summary[:255], reason=reason,
                                         payload=json.dumps(payload, ensure_ascii=False, default=str),
                                         role=admin.role, region=admin.region_id, proposed_by=admin)
        audit.record(None, admin.role, "approval_proposed", request, admin_actor=admin, kind=code, about=target,
                     reason=reason)
        return request

    return run_transaction(write)


def _pending(admin: AdminUser, request_id) -> ApprovalRequest:
    """A pending request the admin may decide: 404 outside its organisation's queue, 403 for its
    own proposal or another organisation's, 409 once decided."""
    try:
        request = ApprovalRequest.get_or_none(ApprovalRequest.id == int(request_id))
    except (TypeError, ValueError):
        request = None
    if request is None:
        raise ApiError("not_found", "审批申请不存在", 404)
    if request.proposed_by_id == admin.id:
        raise ApiError("self_approval", "不能审批自己提交的申请，请由同单位的另一账号审批", 403)
    if request.role != admin.role or request.region_id != admin.region_id:
        raise ApiError("other_organisation", "只能由提交申请的同一单位的其他账号审批", 403)
    if request.status != "pending":
        raise ApiError("approval_decided", f"该申请已{STATUSES[request.status]}", 409)
    return request


def approve(admin: AdminUser, request_id, remark=None) -> str:
    """Approve and apply a change; returns what applying it said."""
    def write() -> str:
        request = _pending(admin, request_id)
        # Decided first, under the row's lock: two approvers at once cannot both apply it.
        claimed = (ApprovalRequest.update(status="approved", decided_by=admin, decided_at=utcnow(),
                                          remark=(remark or "").strip()[:255] or None)
                   .where((ApprovalRequest.id == request.id) & (ApprovalRequest.status == "pending")).execute())
        if not claimed:
            raise ApiError("approval_decided", "该申请已被审批", 409)
        message = KINDS[request.kind].apply(request, json.loads(request.payload), admin)
        ApprovalRequest.update(result=(message or "")[:255]).where(ApprovalRequest.id == request.id).execute()
        audit.record(None, admin.role, "approval_approved", request, admin_actor=admin, kind=request.kind,
                     about=request.target, result=message)
        return message

    return run_transaction(write)


def reject(admin: AdminUser, request_id, remark) -> str:
    """Reject a change with a remark; nothing of it takes effect."""
    remark = _text(remark, "remark", "驳回理由")

    def write() -> str:
        request = _pending(admin, request_id)
        ApprovalRequest.update(status="rejected", decided_by=admin, decided_at=utcnow(), remark=remark).where(
            ApprovalRequest.id == request.id).execute()
        audit.record(None, admin.role, "approval_rejected", request, admin_actor=admin, kind=request.kind,
                     about=request.target, remark=remark)
        return "已驳回"

    return run_transaction(write)


def of_organisation(admin: AdminUser):
    """The condition that selects the requests of the admin's organisation (its role in its region)."""
    return (ApprovalRequest.role == admin.role) & (ApprovalRequest.region == admin.region_id)


def queue(admin: AdminUser):
    """The requests of the admin's organisation, newest first."""
    return ApprovalRequest.select().where(of_organisation(admin)).order_by(ApprovalRequest.id.desc())
