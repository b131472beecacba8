"""申诉处理: the citizens' appeals in the queue of the admin's region (community first, the
district once overdue), accepted with a proposed correction or rejected with an answer
(`services/colours/appeals.py`)."""

from __future__ import annotations

import json

from admin.resources.common import log_section, time_column, who
from admin.site import Action, Column, Filter, Resource, site
from models.corrections import ColourAppeal
from services.colours import appeals, colour, corrections
from services.common.forms import FormField
from services.people import identity

accept = Action(
    "accept", "受理并提交更正",
    lambda ctx, row, data: appeals.accept(ctx.admin, row.id, data.get("choice"), data.get("reason"),
                                          data.get("expires_on")),
    allowed=lambda row: row.status == "open", confirm="受理后，所选更正须由同单位另一账号审批后生效。",
    form=(FormField("choice", "要提交的更正", kind="choice"),
          FormField("reason", "受理意见（更正原因）", max_len=255),
          FormField("expires_on", "人工调整的有效期至（YYYY-MM-DD，仅人工调整时填写）", required=False, max_len=10)),
    choices=lambda ctx, row: appeals.correction_choices(ctx.admin, row))
reject = Action("reject", "驳回",
                lambda ctx, row, data: appeals.reject(ctx.admin, row.id, data.get("answer")),
                allowed=lambda row: row.status == "open", confirm="驳回理由将告知申诉人。",
                form=(FormField("answer", "驳回理由", max_len=255),))


def _status(row) -> str:
    overdue = "（已逾期转区县）" if row.escalated_at and row.status == "open" else ""
    return appeals.STATUSES.get(row.status, row.status) + overdue


@site.register
class AppealAdmin(Resource):
    name, label, model = "appeals", "健康码申诉", ColourAppeal
    menu_group = "风险数据"
    roles = corrections.CORRECTION_ROLES
    columns = (Column("person", "申诉人", lambda r: identity.mask_name(r.person.name)),
               Column("id_number", "证件号码", lambda r: identity.mask_id_number(r.person.id_number)),
               Column("colour", "申诉时颜色", lambda r: colour.LABELS.get(r.colour, r.colour)),
               Column("reasons", "赋码原因", lambda r: "；".join(filter(None, json.loads(r.reasons))) or "无"),
               Column("reason", "申诉理由"), Column("image", "附图", lambda r: "有" if r.images.exists() else "无"),
               Column("region", "处理单位", lambda r: r.region.name),
               time_column("submitted_at", "提交时间", lambda r: r.created_at), time_column("deadline", "处理时限"),
               time_column("escalated_at", "逾期转区县时间"), Column("status", "状态", _status),
               Column("answer", "处理意见", lambda r: r.answer or ""),
               Column("decided_by", "处理人", lambda r: who(r.decided_by)), time_column("decided_at", "处理时间"),
               Column("correction", "更正进度", lambda r: appeals.view(r)["correction"] or ""))
    list_display = ("person", "colour", "reason", "region", "deadline", "status")
    filters = (Filter.on(ColourAppeal.status, "状态", appeals.STATUSES),)
    actions = (accept, reject)
    base_query = staticmethod(appeals.with_people)

    def detail_sections(self, ctx, row):
        return [log_section(row)]
