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

from admin.resources.common import time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.investigations import TaskRecord
from services.common.forms import FormField
from services.investigations import sources, task_lists, workflow
from services.investigations.records import data_of, masked, personal_of
from services.investigations.sources import TRANSPORTS, Source

REMARK = FormField("remark", "备注", required=False, max_len=255)


def _cell_column(column) -> Column:
    key = f"f_{column.key}"
    if column.personal:
        return Column(key, column.header, lambda r, k=column.key: masked(k, personal_of(r).get(k)))
    if column.kind == "transport":
        return Column(key, column.header, lambda r, k=column.key: TRANSPORTS.get(data_of(r).get(k), ""))
    return Column(key, column.header, lambda r, k=column.key: data_of(r).get(k, "") or "")


def _status_filter(source: Source) -> Filter:
    groups = {code: text for code, (text, _) in source.workflow.groups.items()}
    return Filter("status", "状态", {**groups, **source.workflow.statuses},
                  lambda q, v: task_lists.with_status(source, q, v))


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
KEYWORD = Search("keyword", "关键字", task_lists.keyword)
AREA = Search("area", "所属区域", task_lists.area)
# The time filter reads the list's own date (日期, 来郑日期, 预计入境时间...), not the import time.
DATES = (Search("date_from", "开始日期", task_lists.occurred_from, kind="date"),
         Search("date_to", "结束日期", task_lists.occurred_to, kind="date"))


class TaskResource(Resource):
    """The resource of one investigation source (subclassed per source by `register`)."""

    model, menu_group = TaskRecord, "排查任务"
    source: Source
    initial = staticmethod(lambda row: {"remark": row.remark or "", "category": row.category or ""})

    def base_query(self):
        return task_lists.records_of(self.source)

    def scoped(self, ctx, query):
        return task_lists.visible(ctx.admin, self.source, query)

    def get_row(self, ctx, row_id):
        return task_lists.check_record(ctx.admin, self.source, super().get_row(ctx, row_id))

    def summary(self, ctx, query):
        return task_lists.figures(self.source, query)

    def update(self, ctx, row, data):
        task_lists.edit(ctx.admin, self.source, row, data)

    def detail_sections(self, ctx, row):
        cells = [(c.header, self.column(f"f_{c.key}").get(row)) for c in self.source.columns]
        return [("名单信息", cells), ("排查记录", task_lists.history_lines(self.source, row))]


def _fever_risk(row) -> str:
    isolation = getattr(row, "isolation", None)
    return workflow.FEVER_RISK[workflow.fever_risk(isolation if isolation and isolation.id else None)]


def _record_columns(source: Source) -> tuple[Column, ...]:
    """A source's columns: the template's cells, then the record's own (status, district...)."""
    columns = [_cell_column(c) for c in source.columns] + [
        Column("status", "状态", lambda r: workflow.label(r.source, r.status)),
        Column("district", "下发区县", lambda r: r.district.name if r.district_id and r.district else "未分配"),
        Column("region", "所属区域", lambda r: r.region.name if r.region_id and r.region else ""),
        time_column("created_at", "上报时间" if source.code == "overseas" else "导入时间"),
        Column("remark", "备注", lambda r: r.remark or ""), Column("origin", "来源", task_lists.origin)]
    if source.categories:
        columns.append(Column("category", "分类", lambda r: source.categories.get(r.category, r.category or "")))
    if source.code == "overseas":
        columns.append(Column("alert", "预警", lambda r: "超时未反馈" if r.alert_at and r.status == "pending" else ""))
    if source.code == "fever":
        columns.append(Column("risk", "风险等级", _fever_risk))
    return tuple(columns)


def _filters(source: Source) -> tuple[Filter, ...]:
    found = [_status_filter(source)]
    if source.categories:
        found.append(Filter.on(TaskRecord.category, "分类", source.categories))
    if source.code == "overseas":
        found += [Filter.on(TaskRecord.transport, "预计入境方式", TRANSPORTS),
                  Filter("alert", "仅显示超时预警", {"1": "是"}, lambda q, v: task_lists.overdue(q))]
    found.append(Filter("unassigned", "仅显示未分配", {"1": "是"}, lambda q, v: q.where(TaskRecord.district.is_null())))
    return tuple(found)


def _edit_form(source: Source) -> tuple[FormField, ...]:
    category = (FormField("category", "分类", "choice", required=False, choices=source.categories),)
    return (REMARK, *(category if source.categories else ()),
            FormField("district_code", "重新下发区县（仅市级管理员）", "region", required=False, levels=("district",)))


def register(source: Source) -> type[TaskResource]:
    """Declare the list resource of a source (named task_<code>)."""
    flow = source.workflow
    shown = tuple(f"f_{c.key}" for c in source.columns if c.list)
    extra = (("category",) if source.categories else ()) + (("risk",) if source.code == "fever" else ()) + (
        ("alert",) if source.code == "overseas" else ())
    attrs = {
        "name": source.resource_name, "label": source.label, "source": source, "roles": source.roles,
        "columns": _record_columns(source), "searches": (KEYWORD, AREA, *DATES), "filters": _filters(source),
        "list_display": (*shown, *extra, "district", "status"),
        "actions": (ASSIGN, *(_transition(code, text, flow) for code, text in flow.statuses.items()
                              if any(code in targets for targets in flow.transitions.values()))),
        "export_fields": (*(f"f_{c.key}" for c in source.columns), *extra, "district", "region", "status",
                          "created_at", "remark"),
        # The template's cells follow in the 名单信息 section of the detail page.
        "readonly_fields": ("status", *extra, "district", "region", "created_at", "origin", "remark"),
        "edit_form": _edit_form(source),
    }
    cls = type(f"Task{source.code.title()}Admin", (TaskResource,), attrs)
    return site.register(cls)


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
    columns = _record_columns(sources.OVERSEAS)
    list_display = export_fields = ("created_at", "f_name", "f_id_number", "f_phone", "f_port", "f_expected_arrival",
                                    "f_transport", "f_transport_number", "status")
    readonly_fields = ("status", "created_at", "region")
    searches, filters = (KEYWORD, *DATES), (_status_filter(sources.OVERSEAS),)
    create_form, edit_form, actions = REPORT_FORM, (), ()

    def summary(self, ctx, query):
        return [("已上报", query.count())]

    def create(self, ctx, data):
        return task_lists.report_returnee(ctx.admin, ctx.compound, data)
