"""待审批: the changes an organisation's accounts proposed, for another account of the same
organisation to approve or reject (`services/approvals.py`)."""

from __future__ import annotations

from admin.resources.common import log_section, time_column, who
from admin.site import Action, Column, Filter, Resource, site
from models.approvals import ApprovalRequest
from services import approvals, corrections
from services.forms import FormField

approve = Action("approve", "批准", lambda ctx, row, data: approvals.approve(ctx.admin, row.id, data.get("remark")),
                 allowed=lambda row: row.status == "pending", confirm="批准后立即生效，确认批准？",
                 form=(FormField("remark", "审批意见", required=False, max_len=255),))
reject = Action("reject", "驳回", lambda ctx, row, data: approvals.reject(ctx.admin, row.id, data.get("remark")),
                allowed=lambda row: row.status == "pending", confirm="驳回该申请？",
                form=(FormField("remark", "驳回理由", max_len=255),))


@site.register
class ApprovalAdmin(Resource):
    name, label, model = "approvals", "待审批", ApprovalRequest
    menu_group = "风险数据"
    list_display = ("kind", "summary", "proposed_by", "proposed_at", "status")
    list_filter = ("status",)
    actions = (approve, reject)
    readonly_fields = ("kind", "summary", "reason", "proposed_by", "proposed_at", "status", "decided_by",
                       "decided_at", "remark", "result")
    columns = {
        "kind": Column("类型", lambda r: approvals.KINDS[r.kind].label if r.kind in approvals.KINDS else r.kind),
        "summary": Column("内容", lambda r: r.summary),
        "reason": Column("原因", lambda r: r.reason),
        "proposed_by": Column("提交人", lambda r: who(r.proposed_by)),
        "proposed_at": time_column("提交时间", lambda r: r.proposed_at),
        "status": Column("状态", lambda r: approvals.STATUSES.get(r.status, r.status)),
        "decided_by": Column("审批人", lambda r: who(r.decided_by)),
        "decided_at": time_column("审批时间", lambda r: r.decided_at),
        "remark": Column("审批意见", lambda r: r.remark or ""),
        "result": Column("执行结果", lambda r: r.result or ""),
    }
    filters = {"status": Filter("状态", approvals.STATUSES, lambda q, v: q.where(ApprovalRequest.status == v))}

    # The roles that propose changes: corrections of risk data, and the city's rule changes.
    roles = tuple(dict.fromkeys(("city", *corrections.CORRECTION_ROLES)))

    def base_query(self):
        return ApprovalRequest.select()

    def scoped(self, ctx, query):
        return query.where(approvals.of_organisation(ctx.admin))

    def region_of(self, row):
        return row.region

    def detail_sections(self, ctx, row):
        return [log_section(row)]
