"""风险地区: the high- and medium-risk areas and key regions the health authority lists, picked by
name from the country's regions (province > city > district > street), with their effective
dates; ending one keeps it in the list as ended (`services/risk_areas.py`)."""

from __future__ import annotations

from admin.resources.common import log_section, time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.regions import LEVEL_NAMES
from models.risk_inputs import RiskArea
from services import risk_areas
from services.errors import ApiError
from services.forms import FormField


def _day(value) -> str:
    return value.isoformat() if value else ""


end_area = Action("end", "结束", lambda ctx, row, data: risk_areas.end(ctx.admin, row, data),
                  allowed=lambda row: row.ended_at is None,
                  confirm="结束后，自该地区来的人员按最后生效日重新赋码；记录保留为已结束。",
                  form=(FormField("effective_until", "最后生效日期（留空为今天）", "day", required=False),
                        FormField("reason", "结束原因", max_len=255)))


@site.register
class RiskAreaAdmin(Resource):
    name, label, model = "risk_areas", "风险地区", RiskArea
    menu_group = "风险数据"
    roles = risk_areas.ROLES
    list_display = ("name", "area_level", "risk", "effective_from", "effective_until", "status")
    search_fields = ("name",)
    list_filter = ("risk", "status")
    export_fields = list_display
    readonly_fields = ("name", "code", "area_level", "risk", "effective_from", "effective_until", "status",
                       "created_by", "created_at", "ended_by", "ended_at")
    actions = (end_area,)
    create_form = (FormField("region", "地区", "region", levels=risk_areas.AREA_LEVELS, scoped=False),
                   FormField("risk", "风险等级", "choice", choices=risk_areas.RISKS),
                   FormField("effective_from", "开始日期", "day"),
                   FormField("effective_until", "结束日期（可不填）", "day", required=False))
    columns = {
        "name": Column("地区", lambda r: r.name),
        "code": Column("区划代码", lambda r: r.code),
        "area_level": Column("级别", lambda r: LEVEL_NAMES.get(r.area_level, r.area_level)),
        "risk": Column("风险等级", lambda r: risk_areas.RISKS.get(r.risk, r.risk)),
        "effective_from": Column("开始日期", lambda r: _day(r.effective_from)),
        "effective_until": Column("最后生效日", lambda r: _day(r.effective_until) or "长期"),
        "status": Column("状态", lambda r: risk_areas.STATUSES[risk_areas.status(r)]),
        "created_by": Column("登记人", lambda r: r.created_by.name if r.created_by else "系统"),
        "created_at": time_column("登记时间", lambda r: r.created_at),
        "ended_by": Column("结束人", lambda r: r.ended_by.name if r.ended_by else ""),
        "ended_at": time_column("结束时间", lambda r: r.ended_at),
    }
    searches = {"name": Search("地区名称", lambda q, v: q.where(RiskArea.name.contains(v)))}
    filters = {
        "risk": Filter("风险等级", risk_areas.RISKS, lambda q, v: q.where(RiskArea.risk == v)),
        "status": Filter("状态", risk_areas.STATUSES, lambda q, v: q.where(risk_areas.status_condition(v))),
    }

    def base_query(self):
        return RiskArea.select()

    def scoped(self, ctx, query):
        # The list of risk areas is public: every role that opens the page reads all of it;
        # what a district role may add or end is checked by services/risk_areas.py.
        return query

    def get_row(self, ctx, row_id):
        area = RiskArea.get_or_none(RiskArea.id == int(row_id)) if str(row_id).isdigit() else None
        if area is None:
            raise ApiError("not_found", "记录不存在", 404)
        return area

    def create(self, ctx, data):
        return risk_areas.add(ctx.admin, data)

    def detail_sections(self, ctx, row):
        return [log_section(row)]
