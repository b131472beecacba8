"""申诉处理: the citizens' appeals in the queue of the admin's region (community first, the
district once overdue), accepted with a proposed correction or rejected with an answer
(`services/appeals.py`)."""

from __future__ import annotations

import json

from admin.resources.common import time_column, who
from admin.site import Action, Column, Filter, Resource, site
from models.corrections import ColourAppeal
from models.people import Person
from models.regions import Region
from services import appeals, audit, colour, corrections, identity
from services.forms import FormField

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


@site.register
class AppealAdmin(Resource):
    name, label, model = "appeals", "健康码申诉", ColourAppeal
    menu_group = "风险数据"
    roles = corrections.CORRECTION_ROLES
    list_display = ("person", "colour", "reason", "region", "deadline", "status")
    list_filter = ("status",)
    actions = (accept, reject)
    readonly_fields = ("person", "id_number", "colour", "reasons", "reason", "image", "region", "submitted_at",
                       "deadline", "escalated_at", "status", "answer", "decided_by", "decided_at", "correction")
    columns = {
        "person": Column("申诉人", lambda r: identity.mask_name(r.person.name)),
        "id_number": Column("证件号码", lambda r: identity.mask_id_number(r.person.id_number)),
        "colour": Column("申诉时颜色", lambda r: colour.LABELS.get(r.colour, r.colour)),
        "reasons": Column("赋码原因", lambda r: "；".join(filter(None, json.loads(r.reasons))) or "无"),
        "reason": Column("申诉理由", lambda r: r.reason),
        "image": Column("附图", lambda r: "有" if r.images.exists() else "无"),
        "region": Column("处理单位", lambda r: r.region.name),
        "submitted_at": time_column("提交时间", lambda r: r.created_at),
        "deadline": time_column("处理时限", lambda r: r.deadline),
        "escalated_at": time_column("逾期转区县时间", lambda r: r.escalated_at),
        "status": Column("状态", lambda r: appeals.STATUSES.get(r.status, r.status)
                         + ("（已逾期转区县）" if r.escalated_at and r.status == "open" else "")),
        "answer": Column("处理意见", lambda r: r.answer or ""),
        "decided_by": Column("处理人", lambda r: who(r.decided_by)),
        "decided_at": time_column("处理时间", lambda r: r.decided_at),
        "correction": Column("更正进度", lambda r: appeals.view(r)["correction"] or ""),
    }
    filters = {"status": Filter("状态", appeals.STATUSES, lambda q, v: q.where(ColourAppeal.status == v))}

    def base_query(self):
        return ColourAppeal.select(ColourAppeal, Region, Person).join(Region).switch(ColourAppeal).join(Person)

    def scoped(self, ctx, query):
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def region_of(self, row):
        return row.region

    def detail_sections(self, ctx, row):
        log = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{entry['action']}") for entry in audit.about(row)]
        return [("操作日志", log or [("", "无")])]
