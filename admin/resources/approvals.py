"""待审批: the changes an organisation's accounts proposed, for another account of the same
organisation to approve or reject (`services/colours/approvals.py`)."""

from __future__ import annotations

from admin.resources.common import log_section, time_column, who
from admin.site import Action, Column, Filter, Resource, site
from models.approvals import ApprovalRequest
from services.colours import approvals, corrections
from services.common.forms import FormField

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
    columns = (Column("kind", "类型", lambda r: approvals.KINDS[r.kind].label if r.kind in approvals.KINDS else r.kind),
               Column("summary", "内容"), Column("reason", "原因"),
               Column("proposed_by", "提交人", lambda r: who(r.proposed_by)), time_column("proposed_at", "提交时间"),
               Column("status", "状态", lambda r: approvals.STATUSES.get(r.status, r.status)),
               Column("decided_by", "审批人", lambda r: who(r.decided_by)), time_column("decided_at", "审批时间"),
               Column("remark", "审批意见", lambda r: r.remark or ""), Column("result", "执行结果", lambda r: r.result or ""))
    list_display = ("kind", "summary", "proposed_by", "proposed_at", "status")
    filters = (Filter.on(ApprovalRequest.status, "状态", approvals.STATUSES),)
    actions = (approve, reject)
    # The roles that propose changes: corrections of risk data, and the city's rule changes.
    roles = tuple(dict.fromkeys(("city", *corrections.CORRECTION_ROLES)))

    def scoped(self, ctx, query):
        return query.where(approvals.of_organisation(ctx.admin))

    def detail_sections(self, ctx, row):
        return [log_section(row)]
