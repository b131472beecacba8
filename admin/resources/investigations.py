"""任务排查 lists (H3, H4, H6): one resource per investigation source, made from its declaration in
`services.investigations.sources` — columns from the template, filters by keyword / time / status /
category, one action per workflow transition (with a remark), the detail with the history, the
edit of non-personal fields, and the masked, audited export. Plus 境外人员返郑上报, where community
and compound admins report overseas returnees.

Rows are limited to the admin's region (a district sees what was dispatched to it, city admins
also what is not dispatched yet); the airport / HSR / railway hub staff see the overseas returnees
coming by their mode. Another region's record asked for by id is a 403.
"""

from __future__ import annotations

import datetime as dt

import peewee

from admin.resources.common import time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.db import db
from models.fields import blind_index, utcnow
from models.investigations import ImportJob, TaskRecord
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services import audit, identity
from services.errors import ApiError
from services.forms import FormField
from services.investigations import records, sources, stats, workflow
from services.investigations.records import data_of, masked, personal_of
from services.investigations.sources import TRANSPORTS, Source
from services.timefmt import local_iso

District = Region.alias("district_region")
CITY_LEVELS = ("province", "city")
REMARK = FormField("remark", "备注", required=False, max_len=255)


def _cell_column(column) -> Column:
    if column.personal:
        return Column(column.header, lambda r, k=column.key: masked(k, personal_of(r).get(k)))
    if column.kind == "transport":
        return Column(column.header, lambda r, k=column.key: TRANSPORTS.get(data_of(r).get(k), ""))
    return Column(column.header, lambda r, k=column.key: data_of(r).get(k, "") or "")


def _keyword(query, value: str):
    """关键字: an ID number or a phone exactly (through their indexed blind indexes), else a name
    exactly or any text of the row's non-personal cells (station, flight, county...)."""
    text = value.strip()
    number = identity.normalize_id_number(text)
    if len(number) == 18 and number[:17].isdigit():
        return query.where(TaskRecord.subject == blind_index(number, "id_number"))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 11 and len(digits) >= len(text.replace(" ", "").replace("-", "")) - 3:
        return query.where(TaskRecord.phone_bidx == blind_index(digits[-11:], "phone"))
    condition = (TaskRecord.name_bidx == blind_index(text, "task_name")) | TaskRecord.data.contains(text)
    if 5 <= len(number) <= 20 and number.isalnum():  # a passport or permit number
        condition |= TaskRecord.subject == blind_index(number.upper(), "id_number")
    return query.where(condition)


def _area(query, value: str):
    """所属区域: records in any region (district, street, community, compound) named like this."""
    paths = [p for (p,) in Region.select(Region.path).where(Region.name.contains(value.strip()))
             .order_by(Region.path).limit(50).tuples()]
    if not paths:
        return query.where(TaskRecord.id.is_null())
    condition = Region.path.startswith(paths[0])
    for path in paths[1:]:
        condition |= Region.path.startswith(path)
    return query.where(condition)


def _status_filter(source: Source):
    flow = source.workflow
    groups = {code: text for code, (text, _) in flow.groups.items()}

    def apply(query, value):
        kind = flow.groups.get(value, (None, None))[1]
        if kind == "done":
            return query.where(TaskRecord.status.in_(tuple(flow.done)))
        if kind == "open":
            return query.where(TaskRecord.status.not_in(tuple(flow.done)))
        return query.where(TaskRecord.status == value)

    return Filter("状态", {**groups, **flow.statuses}, apply)


def _transition(code: str, text: str, flow) -> Action:
    return Action(
        f"to_{code}", text,
        lambda ctx, row, data: workflow.transition(ctx.admin, row, code, data.get("remark")),
        allowed=lambda row: flow.allowed(row.status, code), refusal=lambda row: workflow.refusal(row, code),
        confirm=f"将该人员的状态变更为“{text}”？", form=(REMARK,))


ASSIGN = Action(
    "assign_district", "分配到区县",
    lambda ctx, row, data: workflow.assign_district(ctx.admin, row, data["choice"], only_unassigned=True),
    allowed=lambda row: row.district_id is None,
    confirm="该记录未能按名单下发到区县，正在市级待分配队列中。请选择要下发的区县：",
    form=(FormField("choice", "区县", "choice"),),
    choices=lambda ctx, row: workflow.city_districts(ctx.admin))


def _origin(row) -> str:
    if row.import_job_id:
        job = ImportJob.get_or_none(ImportJob.id == row.import_job_id)
        return f"Excel 导入（{job.file_name}，第 {job.id} 次导入）" if job else "Excel 导入"
    if row.category in ("scan_red", "scan_yellow"):
        return "来郑扫码自动生成"
    return "后台上报"


class TaskResource(Resource):
    """The resource of one investigation source (subclassed per source by `register`)."""

    model = TaskRecord
    scope = "region"
    menu_group = "排查任务"
    source: Source
    per_page = 20

    def base_query(self):
        query = (TaskRecord.select(TaskRecord, Region, District)
                 .join(Region, peewee.JOIN.LEFT_OUTER, on=(TaskRecord.region == Region.id), attr="region")
                 .switch(TaskRecord)
                 .join(District, peewee.JOIN.LEFT_OUTER, on=(TaskRecord.district == District.id), attr="district"))
        if self.source.code == "fever":
            query = (query.select_extend(IsolationRecord).switch(TaskRecord)
                     .join(IsolationRecord, peewee.JOIN.LEFT_OUTER,
                           on=(IsolationRecord.subject == TaskRecord.subject), attr="isolation"))
        return query

    def scoped(self, ctx, query):
        query = query.where((TaskRecord.source == self.source.code) & Region.path.startswith(ctx.admin.region.path))
        mode = sources.hub_transport(ctx.admin.role)
        return query.where(TaskRecord.transport == mode) if mode else query

    def region_of(self, row):
        return row.region

    def get_row(self, ctx, row_id):
        row = super().get_row(ctx, row_id)
        if row.source != self.source.code:
            raise ApiError("not_found", "记录不存在", 404)
        mode = sources.hub_transport(ctx.admin.role)
        if mode and row.transport != mode:
            raise ApiError("out_of_scope", "无权查看或操作其他专班的数据", 403)
        return row

    def summary(self, ctx, query):
        total = query.count()
        done = query.where(TaskRecord.status.in_(tuple(self.source.workflow.done))).count()
        rate = stats.Line("", total, done).rate_text
        figures = [("应排查", total), ("已排查", done), ("完成率", rate)]
        if self.source.code == "overseas":
            figures.append(("超时预警", query.where(TaskRecord.alert_at.is_null(False)
                                                & (TaskRecord.status == "pending")).count()))
        return figures

    def initial(self, row):
        return {"remark": row.remark or "", "category": row.category or ""}

    def update(self, ctx, row, data):
        changes = {"remark": data.get("remark") or None, "updated_at": utcnow()}
        if self.source.categories and data.get("category"):
            changes["category"] = data["category"]
        code = data.get("district_code")
        with db.atomic():
            if code:
                workflow.assign_district(ctx.admin, row, code)
            TaskRecord.update(**changes).where(TaskRecord.id == row.id).execute()
            audit.record(None, ctx.admin.role, "task_edit", row, admin_actor=ctx.admin, source=row.source,
                         fields=sorted(k for k in ("remark", "category", "district_code") if data.get(k)))

    def detail_sections(self, ctx, row):
        flow = self.source.workflow
        lines = [(local_iso(row.created_at)[:16].replace("T", " "), f"{_origin(row)}：{flow.statuses[flow.initial]}")]
        for entry in workflow.history(row):
            who = entry.admin.name if entry.admin_id else (entry.actor or "系统")
            move = (workflow.label(row.source, entry.to_status) if entry.from_status == entry.to_status else
                    f"{workflow.label(row.source, entry.from_status)} → {workflow.label(row.source, entry.to_status)}")
            lines.append((local_iso(entry.created_at)[:16].replace("T", " "),
                          f"{who}：{move}" + (f"（{entry.remark}）" if entry.remark else "")))
        cells = [(c.header, self.columns[f"f_{c.key}"].get(row)) for c in self.source.columns]
        return [("名单信息", cells), ("排查记录", lines)]


def _record_columns(source: Source) -> dict[str, Column]:
    columns = {f"f_{c.key}": _cell_column(c) for c in source.columns}
    columns.update({
        "status": Column("状态", lambda r: workflow.label(r.source, r.status)),
        "district": Column("下发区县", lambda r: r.district.name if r.district_id and r.district else "未分配"),
        "region": Column("所属区域", lambda r: r.region.name if r.region_id and r.region else ""),
        "created_at": time_column("上报时间" if source.code == "overseas" else "导入时间", lambda r: r.created_at),
        "remark": Column("备注", lambda r: r.remark or ""),
        "origin": Column("来源", _origin),
    })
    if source.categories:
        columns["category"] = Column("分类", lambda r: source.categories.get(r.category, r.category or ""))
    if source.code == "overseas":
        columns["alert"] = Column("预警", lambda r: "超时未反馈" if r.alert_at and r.status == "pending" else "")
    if source.code == "fever":
        columns["risk"] = Column("风险等级", lambda r: workflow.FEVER_RISK[
            workflow.fever_risk(getattr(r, "isolation", None) if getattr(r, "isolation", None) and r.isolation.id else None)])
    return columns


def register(source: Source) -> type[TaskResource]:
    """Declare the list resource of a source (named task_<code>)."""
    flow = source.workflow
    shown = tuple(f"f_{c.key}" for c in source.columns if c.list)
    extra = (("category",) if source.categories else ()) + (("risk",) if source.code == "fever" else ()) + (
        ("alert",) if source.code == "overseas" else ())
    # The time filter reads the list's own date (日期, 来郑日期, 预计入境时间...), not the import time.
    searches = {"keyword": Search("关键字", _keyword), "area": Search("所属区域", _area),
                "date_from": Search("开始日期", lambda q, v: q.where(TaskRecord.occurred_on >= _day(v)), kind="date"),
                "date_to": Search("结束日期", lambda q, v: q.where(TaskRecord.occurred_on <= _day(v)), kind="date")}
    filters = {"status": _status_filter(source)}
    if source.categories:
        filters["category"] = Filter("分类", source.categories, lambda q, v: q.where(TaskRecord.category == v))
    if source.code == "overseas":
        filters["transport"] = Filter("预计入境方式", TRANSPORTS, lambda q, v: q.where(TaskRecord.transport == v))
        filters["alert"] = Filter("仅显示超时预警", {"1": "是"}, lambda q, v: q.where(
            TaskRecord.alert_at.is_null(False) & (TaskRecord.status == "pending")))
    filters["unassigned"] = Filter("仅显示未分配", {"1": "是"}, lambda q, v: q.where(TaskRecord.district.is_null()))
    edit_form = [REMARK]
    if source.categories:
        edit_form.append(FormField("category", "分类", "choice", required=False, choices=source.categories))
    edit_form.append(FormField("district_code", "重新下发区县（仅市级管理员）", "region", required=False,
                               levels=("district",)))
    attrs = {
        "name": source.resource_name, "label": source.label, "source": source, "roles": source.roles,
        "list_display": (*shown, *extra, "district", "status"),
        "search_fields": ("keyword", "area", "date_from", "date_to"),
        "list_filter": tuple(filters),
        "actions": (ASSIGN, *(_transition(code, text, flow) for code, text in flow.statuses.items()
                              if any(code in targets for targets in flow.transitions.values()))),
        "export_fields": (*(f"f_{c.key}" for c in source.columns), *extra, "district", "region", "status",
                          "created_at", "remark"),
        # The template's cells follow in the 名单信息 section of the detail page.
        "readonly_fields": ("status", *extra, "district", "region", "created_at", "origin", "remark"),
        "edit_form": tuple(edit_form),
        "columns": _record_columns(source), "searches": searches, "filters": filters,
    }
    cls = type(f"Task{source.code.title()}Admin", (TaskResource,), attrs)
    return site.register(cls)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400) from None


for _source in sources.SOURCES.values():
    register(_source)


# --- 境外人员返郑上报: community and compound admins report returnees ---------------------------------

REPORT_FORM = (
    FormField("name", "姓名"),
    FormField("id_number", "身份证（或护照号码）", max_len=32),
    FormField("phone", "境内手机号", "phone"),
    FormField("country", "出发国家/地区", required=False),
    FormField("port", "入境口岸"),
    FormField("expected_arrival", "预计入境时间（如 2020-03-20 21:16）", max_len=20),
    FormField("transport", "预计入境方式", "choice", choices=TRANSPORTS),
    FormField("transport_number", "航班(车次/车牌)", required=False, max_len=32),
    FormField("address", "现住地址", required=False, max_len=255),
    FormField("remark", "备注", required=False, max_len=255),
)


@site.register
class OverseasReportAdmin(TaskResource):
    """境外人员返郑上报 (H6): the reports of a community or compound; new ones start 待反馈 and show
    up on the district's list and, by their arrival mode, on the hubs' lists."""

    name, label = "overseas_reports", "境外人员返郑上报"
    source = sources.OVERSEAS
    roles = ("community", "compound")
    list_display = ("created_at", "f_name", "f_id_number", "f_phone", "f_port", "f_expected_arrival",
                    "f_transport", "f_transport_number", "status")
    search_fields = ("keyword", "date_from", "date_to")
    list_filter = ("status",)
    export_fields = list_display
    readonly_fields = ("status", "created_at", "region")
    create_form = REPORT_FORM
    edit_form = ()
    actions = ()
    columns = _record_columns(sources.OVERSEAS)
    searches = {"keyword": Search("关键字", _keyword),
                "date_from": Search("开始日期", lambda q, v: q.where(TaskRecord.occurred_on >= _day(v)), kind="date"),
                "date_to": Search("结束日期", lambda q, v: q.where(TaskRecord.occurred_on <= _day(v)), kind="date")}
    filters = {"status": _status_filter(sources.OVERSEAS)}

    def summary(self, ctx, query):
        return [("已上报", query.count())]

    def create(self, ctx, data):
        values = records.check_values(self.source, data)
        region = ctx.compound or ctx.admin.region
        record = records.add_one(self.source, values, admin=ctx.admin, region=region)
        audit.record(None, ctx.admin.role, "overseas_report", record, admin_actor=ctx.admin)
        return record
