"""风险地区: the high- and medium-risk areas and key regions the health authority lists, picked by
name from the country's regions (province > city > district > street), with their effective
dates; ending one keeps it in the list as ended (`services/risk_data/risk_areas.py`)."""

from __future__ import annotations

from admin.resources.common import log_section, time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.regions import LEVEL_NAMES
from models.risk_inputs import RiskArea
from services.common.forms import FormField
from services.risk_data import risk_areas


def _day(value) -> str:
    return value.isoformat() if value else ""


def _name(admin) -> str:
    return admin.name if admin else ""


EFFECTIVE = (Column("effective_from", "开始日期", lambda r: _day(r.effective_from)),
             Column("effective_until", "最后生效日", lambda r: _day(r.effective_until) or "长期"))


end_area = Action("end", "结束", lambda ctx, row, data: risk_areas.end(ctx.admin, row, data),
                  allowed=lambda row: row.ended_at is None,
                  confirm="结束后，自该地区来的人员按最后生效日重新赋码；记录保留为已结束。",
                  form=(FormField("effective_until", "最后生效日期（留空为今天）", "day", required=False),
                        FormField("reason", "结束原因", max_len=255)))


CREATE_FORM = (FormField("region", "地区", "region", levels=risk_areas.AREA_LEVELS, scoped=False),
               FormField("risk", "风险等级", "choice", choices=risk_areas.RISKS),
               FormField("effective_from", "开始日期", "day"),
               FormField("effective_until", "结束日期（可不填）", "day", required=False))


@site.register
class RiskAreaAdmin(Resource):
    name, label, model = "risk_areas", "风险地区", RiskArea
    menu_group = "风险数据"
    roles = risk_areas.ROLES
    columns = (Column("name", "地区"), Column("code", "区划代码"),
               Column("area_level", "级别", lambda r: LEVEL_NAMES.get(r.area_level, r.area_level)),
               Column("risk", "风险等级", lambda r: risk_areas.RISKS.get(r.risk, r.risk)), *EFFECTIVE,
               Column("status", "状态", lambda r: risk_areas.STATUSES[risk_areas.status(r)]),
               Column("created_by", "登记人", lambda r: r.created_by.name if r.created_by else "系统"),
               time_column("created_at", "登记时间"), Column("ended_by", "结束人", lambda r: _name(r.ended_by)),
               time_column("ended_at", "结束时间"))
    list_display = export_fields = ("name", "area_level", "risk", "effective_from", "effective_until", "status")
    searches = (Search("name", "地区名称", lambda q, v: q.where(RiskArea.name.contains(v))),)
    filters = (Filter.on(RiskArea.risk, "风险等级", risk_areas.RISKS),
               Filter("status", "状态", risk_areas.STATUSES, lambda q, v: q.where(risk_areas.status_condition(v))))
    actions, create_form = (end_area,), CREATE_FORM
    region_attr = None  # public: every role reads it all (services/risk_data/risk_areas.py checks who adds or ends)

    def create(self, ctx, data):
        return risk_areas.add(ctx.admin, data)

    def detail_sections(self, ctx, row):
        return [log_section(row)]
