"""待审批: the changes an organisation's accounts proposed, for another account of the same
organisation to approve or reject (`services/approvals.py`)."""

from __future__ import annotations

from admin.resources.common import time_column
from admin.site import Action, Column, Filter, Resource, site
from models.admin import AdminUser
from models.approvals import ApprovalRequest
from services import admin_auth, approvals, audit
from services.forms import FormField

approve = Action("approve", "批准", lambda ctx, row, data: approvals.approve(ctx.admin, row.id, data.get("remark")),
                 allowed=lambda row: row.status == "pending", confirm="批准后立即生效，确认批准？",
                 form=(FormField("remark", "审批意见", required=False, max_len=255),))
reject = Action("reject", "驳回", lambda ctx, row, data: approvals.reject(ctx.admin, row.id, data.get("remark")),
                allowed=lambda row: row.status == "pending", confirm="驳回该申请？",
                form=(FormField("remark", "驳回理由", max_len=255),))


def _who(admin: AdminUser | None) -> str:
    return f"{admin.name}（{admin_auth.ROLES.get(admin.role, admin.role)}）" if admin else ""


@site.register
class ApprovalAdmin(Resource):
    name, label, model = "approvals", "待审批", ApprovalRequest
    list_display = ("kind", "summary", "proposed_by", "proposed_at", "status")
    list_filter = ("status",)
    actions = (approve, reject)
    readonly_fields = ("kind", "summary", "reason", "proposed_by", "proposed_at", "status", "decided_by",
                       "decided_at", "remark", "result")
    columns = {
        "kind": Column("类型", lambda r: approvals.KINDS[r.kind].label if r.kind in approvals.KINDS else r.kind),
        "summary": Column("内容", lambda r: r.summary),
        "reason": Column("原因", lambda r: r.reason),
        "proposed_by": Column("提交人", lambda r: _who(r.proposed_by)),
        "proposed_at": time_column("提交时间", lambda r: r.proposed_at),
        "status": Column("状态", lambda r: approvals.STATUSES.get(r.status, r.status)),
        "decided_by": Column("审批人", lambda r: _who(r.decided_by)),
        "decided_at": time_column("审批时间", lambda r: r.decided_at),
        "remark": Column("审批意见", lambda r: r.remark or ""),
        "result": Column("执行结果", lambda r: r.result or ""),
    }
    filters = {"status": Filter("状态", approvals.STATUSES, lambda q, v: q.where(ApprovalRequest.status == v))}

    @property
    def roles(self) -> tuple[str, ...]:
        # Any organisation may have changes waiting: every role sees its own queue.
        return tuple(admin_auth.ROLES)

    def base_query(self):
        return ApprovalRequest.select()

    def scoped(self, ctx, query):
        return query.where(approvals.of_organisation(ctx.admin))

    def region_of(self, row):
        return row.region

    def detail_sections(self, ctx, row):
        log = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{entry['action']}") for entry in audit.about(row)]
        return [("操作日志", log or [("", "无")])]
