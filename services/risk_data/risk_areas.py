"""Risk areas and key regions as the health authority lists them in the back office (D2, D6):
picked by name from the region tree, listed with a level and effective dates, ended with a
reason; ended listings stay as history. The colour effects are risk_inputs' (`set_risk_area`,
`end_risk_area`): the travellers from the area are recomputed in the same transaction."""

from __future__ import annotations

import datetime as dt

from models.admin import AdminUser
from models.regions import Region
from models.risk_inputs import RiskArea
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.risk_data import divisions, risk_inputs

RISKS = {"high": "高风险地区", "medium": "中风险地区", "key": "重点地区"}
STATUSES = {"active": "生效中", "upcoming": "未生效", "expired": "已到期", "ended": "已结束"}
# City roles list areas anywhere in the country; district roles only inside their district.
CITY_ROLES = ("city", "health_city", "cdc_city")
DISTRICT_ROLES = ("health_district", "cdc_district")
ROLES = CITY_ROLES + DISTRICT_ROLES
AREA_LEVELS = ("province", "city", "district", "street")


def status(area: RiskArea, today: dt.date | None = None) -> str:
    """active | upcoming | expired | ended (ended by somebody, whatever its last day)."""
    today = today or china_today()
    if area.ended_at is not None:
        return "ended"
    if area.effective_until is not None and area.effective_until < today:
        return "expired"
    return "upcoming" if area.effective_from > today else "active"


def status_condition(value: str, today: dt.date | None = None):
    """The WHERE condition of a status (what the list's filter applies)."""
    today = today or china_today()
    open_ = RiskArea.ended_at.is_null()
    return {"ended": RiskArea.ended_at.is_null(False),
            "expired": open_ & (RiskArea.effective_until < today),
            "upcoming": open_ & (RiskArea.effective_from > today),
            "active": open_ & (RiskArea.effective_from <= today)
            & (RiskArea.effective_until.is_null() | (RiskArea.effective_until >= today))}[value]


def _may_act_on(admin: AdminUser, region: Region | None) -> None:
    if admin.role in CITY_ROLES:
        return
    if region is None or not admin_auth.in_scope(admin, region):
        raise ApiError("out_of_scope", f"{admin_auth.ROLES.get(admin.role, admin.role)}只能登记或结束本辖区内的风险地区",
                       403, "region")


def add(admin: AdminUser, data: dict) -> RiskArea:
    """List an area from the back-office form: {region (its code, found by name), risk,
    effective_from, effective_until}."""
    region = Region.get_or_none(Region.code == (data.get("region") or ""))
    if region is None:
        raise ApiError("unknown_region", "请从列表中选择地区", 400, "region")
    if region.level not in AREA_LEVELS:
        raise ApiError("invalid_region_level", "风险地区应选到省、市、区县或街道一级", 400, "region")
    _may_act_on(admin, region)
    _not_listed_twice(region, data)
    return risk_inputs.set_risk_area(code=region.code, name=divisions.display_name(region), area_level=region.level,
                                     risk=data.get("risk"), effective_from=data.get("effective_from"),
                                     effective_until=data.get("effective_until"),
                                     prefix=divisions.area_prefix(region), region=region, admin=admin)


def _not_listed_twice(region: Region, data: dict) -> None:
    """The same region at the same risk, in force on any of the same days, is one listing: a
    second is refused (a form sent twice), naming the first."""
    start = risk_inputs.any_date(data.get("effective_from") or china_today(), "effective_from")
    until = risk_inputs.any_date(data["effective_until"], "effective_until") if data.get("effective_until") else None
    overlapping = RiskArea.select().where(
        (RiskArea.code == region.code) & (RiskArea.risk == data.get("risk")) & RiskArea.ended_at.is_null()
        & (RiskArea.effective_until.is_null() | (RiskArea.effective_until >= start)))
    if until is not None:
        overlapping = overlapping.where(RiskArea.effective_from <= until)
    first = overlapping.first()
    if first is not None:
        raise ApiError("risk_area_listed", f"{first.name}已列为{RISKS.get(first.risk, first.risk)}（自 "
                       f"{first.effective_from.isoformat()} 起），无需重复登记", 409, "region")


def end(admin: AdminUser, area: RiskArea, data: dict) -> str:
    """End a listing with a reason from the back-office form: {effective_until (blank: today), reason}."""
    if area.ended_at is not None:
        raise ApiError("risk_area_ended", "该风险地区已结束", 409)
    _may_act_on(admin, area.region)
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise ApiError("missing_field", "请填写结束原因", 400, "reason")
    ended = risk_inputs.end_risk_area(area.id, data.get("effective_until"), admin=admin, reason=reason)
    if ended.effective_until < ended.effective_from:
        return f"已撤销：{ended.name}（未生效）"
    return f"已结束：{ended.name}（最后生效日 {ended.effective_until.isoformat()}）"
