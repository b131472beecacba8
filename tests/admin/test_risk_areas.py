"""风险地区: areas and key regions picked by name from the country's regions, listed with their
dates, ended with a reason (kept as ended); ending one lowers its travellers' colours at once."""

from __future__ import annotations

import datetime as dt

import pytest

from models.colour import HealthStatus
from models.regions import Region
from models.risk_inputs import RiskArea
from admin.resources.risk_areas import RiskAreaAdmin
from services.common.errors import ApiError
from services.common.forms import clean_form
from services.common.timefmt import china_today
from services.risk_data import risk_areas, risk_inputs
from tests.admin.conftest import create_admins, page_error
from tests.conftest import make_person, row_counts

TODAY = china_today()


def _picked(*names: str) -> dict:
    return {f"region.{level}": name for level, name in zip(("province", "city", "district", "street"), names)}


def _form(*names: str, risk: str = "high", start: dt.date | None = None, until: dt.date | None = None) -> dict:
    return {**_picked(*names), "risk": risk, "effective_from": (start or TODAY - dt.timedelta(days=10)).isoformat(),
            "effective_until": until.isoformat() if until else ""}


def _stored(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


@pytest.fixture
def health(office):
    """A city health-commission account and a Jinshui district CDC account; no risk area yet."""
    RiskArea.delete().execute()
    office.admins.update(create_admins(("health", "13810000011", "health_city", "410100"),
                                       ("cdc_jinshui", "13810000012", "cdc_district", "410105"), title="账号"))
    return office


def test_an_area_picked_by_name_colours_its_travellers_and_ending_it_keeps_it_as_ended(health, as_admin):
    traveller = make_person(1)
    risk_inputs.record_travel(traveller, arrival_date=TODAY - dt.timedelta(days=3), origin_code="420103")
    client = as_admin("health")
    form = client.get("/admin/r/risk_areas/new")
    assert form.status_code == 200 and 'name="region.province"' in form.text and "湖北省" in form.text

    added = client.post("/admin/r/risk_areas/new", _form("湖北省", "武汉市", "江汉区"), allow_redirects=False)
    assert added.status_code == 302, page_error(added)
    area = RiskArea.get()
    assert (area.code, area.name, area.area_level, area.prefix, area.risk) == (
        "420103", "湖北省武汉市江汉区", "district", "420103", "high")
    assert area.created_by_id == health.admins["health"][0].id and _stored(traveller) == "yellow"
    listed = client.get("/admin/r/risk_areas/?status=active")
    assert "湖北省武汉市江汉区" in listed.text and "生效中" in listed.text

    ended = client.post(f"/admin/r/risk_areas/{area.id}/do/end",
                        {"effective_until": (TODAY - dt.timedelta(days=5)).isoformat(), "reason": "已调整为低风险"},
                        allow_redirects=False)
    assert ended.status_code == 302, page_error(ended)
    assert _stored(traveller) == "green"
    area = RiskArea.get_by_id(area.id)
    assert area.ended_by_id == health.admins["health"][0].id and area.effective_until == TODAY - dt.timedelta(days=5)
    history = client.get("/admin/r/risk_areas/?status=ended")
    assert "湖北省武汉市江汉区" in history.text and "已结束" in history.text
    detail = client.get(f"/admin/r/risk_areas/{area.id}")
    assert "登记风险地区" in detail.text and "结束风险地区" in detail.text  # the 操作日志, in words
    again = client.post(f"/admin/r/risk_areas/{area.id}/do/end", {"reason": "再次结束"})
    assert again.status_code == 409


def test_a_key_region_on_a_municipality_covers_all_of_it(health, as_admin):
    traveller = make_person(2)
    risk_inputs.record_travel(traveller, arrival_date=TODAY - dt.timedelta(days=2), origin_code="500243")
    added = as_admin("city").post("/admin/r/risk_areas/new", _form("重庆市", "重庆市", risk="key"),
                                  allow_redirects=False)
    assert added.status_code == 302, page_error(added)
    area = RiskArea.get()
    assert (area.name, area.area_level, area.prefix) == ("重庆市", "city", "50")
    assert _stored(traveller) == "orange"


@pytest.mark.parametrize("names, message", [
    (("湖北省", "武汉市", "不存在区"), "没有名为“不存在区”的区县"),
    (("火星省",), "没有名为“火星省”的省"),
])
def test_an_unknown_region_name_is_refused_and_nothing_is_stored(health, as_admin, names, message):
    with pytest.raises(ApiError) as refused:
        clean_form(RiskAreaAdmin.create_form, {"region": list(names), "risk": "high",
                                               "effective_from": TODAY.isoformat()}, prefix="")
    assert (refused.value.code, refused.value.status, refused.value.field) == ("unknown_region", 400, "region")
    client = as_admin("health")
    before = row_counts()
    refused = client.post("/admin/r/risk_areas/new", _form(*names))
    assert refused.status_code == 400 and message in page_error(refused)
    assert 'data-field="region"' in refused.text and 'data-code="unknown_region"' in refused.text
    assert row_counts() == before


def test_an_end_date_before_the_start_is_refused_and_nothing_is_written(health, as_admin):
    with pytest.raises(ApiError) as wrong:
        risk_areas.add(health.admins["health"][0], {"region": "420000", "risk": "key", "effective_from": TODAY,
                                                    "effective_until": TODAY - dt.timedelta(days=1)})
    assert (wrong.value.code, wrong.value.status, wrong.value.field) == ("invalid_date", 400, "effective_until")
    client = as_admin("health")
    before = row_counts()
    refused = client.post("/admin/r/risk_areas/new", _form("湖北省", start=TODAY, until=TODAY - dt.timedelta(days=1)))
    assert refused.status_code == 400 and "结束日期不能早于开始日期" in page_error(refused)
    assert 'data-field="effective_until"' in refused.text and 'data-code="invalid_date"' in refused.text
    assert row_counts() == before

    client.post("/admin/r/risk_areas/new", _form("湖北省", start=TODAY - dt.timedelta(days=3), risk="key"))
    area = RiskArea.get()
    before = row_counts()
    too_early = client.post(f"/admin/r/risk_areas/{area.id}/do/end",
                            {"effective_until": (TODAY - dt.timedelta(days=4)).isoformat(), "reason": "错误"})
    assert too_early.status_code == 400 and "结束日期不能早于开始日期" in too_early.text
    assert row_counts() == before
    area = RiskArea.get_by_id(area.id)
    assert area.ended_at is None and area.effective_until is None
    no_reason = client.post(f"/admin/r/risk_areas/{area.id}/do/end", {"effective_until": ""})
    assert no_reason.status_code == 400 and "请填写结束原因" in no_reason.text
    assert RiskArea.get_by_id(area.id).ended_at is None


def test_ending_never_lengthens_a_listing_and_withdraws_one_not_yet_in_force(health, as_admin):
    client = as_admin("health")
    client.post("/admin/r/risk_areas/new", _form("上海市", "上海市", risk="medium", start=TODAY - dt.timedelta(days=2),
                                                 until=TODAY + dt.timedelta(days=3)))
    area = RiskArea.get()
    before = row_counts()
    for later, said in ((TODAY + dt.timedelta(days=13), "不能晚于今天"), (TODAY + dt.timedelta(days=1), "不能晚于今天")):
        refused = client.post(f"/admin/r/risk_areas/{area.id}/do/end", {"effective_until": later.isoformat(),
                                                                        "reason": "疫情缓和"})
        assert refused.status_code == 400 and said in page_error(refused)
    assert row_counts() == before and RiskArea.get_by_id(area.id).effective_until == TODAY + dt.timedelta(days=3)
    # The same region at the same risk on overlapping days is one listing: the form sent twice.
    again = client.post("/admin/r/risk_areas/new", _form("上海市", "上海市", risk="medium", start=TODAY))
    assert again.status_code == 409 and "无需重复登记" in page_error(again) and row_counts() == before
    assert client.post("/admin/r/risk_areas/new", _form("上海市", "上海市", risk="high", start=TODAY)).ok
    assert RiskArea.select().where(RiskArea.risk == "high").count() == 1  # another risk is another listing

    client.post("/admin/r/risk_areas/new", _form("广东省", "广州市", risk="high", start=TODAY + dt.timedelta(days=30)))
    upcoming = RiskArea.get(RiskArea.name.contains("广州"))
    dated = client.post(f"/admin/r/risk_areas/{upcoming.id}/do/end",
                        {"effective_until": (TODAY + dt.timedelta(days=31)).isoformat(), "reason": "误登记"})
    assert dated.status_code == 400 and "结束即撤销" in page_error(dated)
    withdrawn = client.post(f"/admin/r/risk_areas/{upcoming.id}/do/end", {"effective_until": "", "reason": "误登记"})
    assert withdrawn.ok and "已撤销" in withdrawn.text, withdrawn.text
    upcoming = RiskArea.get_by_id(upcoming.id)
    assert upcoming.ended_at is not None and upcoming.effective_until < upcoming.effective_from  # on no day
    assert risk_areas.status(upcoming) == "ended"
    detail = client.get(f"/admin/r/risk_areas/{upcoming.id}").text
    assert "登记风险地区" in detail and "结束风险地区" in detail and "risk_area_" not in detail  # 操作日志 in words


def test_a_district_role_lists_areas_only_inside_its_district(health, as_admin):
    client = as_admin("cdc_jinshui")
    before = row_counts()
    outside = client.post("/admin/r/risk_areas/new", _form("湖北省"))
    assert outside.status_code == 403 and "只能登记或结束本辖区内的风险地区" in page_error(outside)
    assert row_counts() == before
    inside = client.post("/admin/r/risk_areas/new", _form("河南省", "郑州市", "金水区", "经八路街道"),
                         allow_redirects=False)
    assert inside.status_code == 302, page_error(inside)
    area = RiskArea.get()
    assert (area.area_level, area.code, area.region_id) == (
        "street", "410105001", Region.get(Region.code == "410105001").id)
    # Others' listings are shown but cannot be ended by a district role.
    hubei = risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key")
    assert client.get(f"/admin/r/risk_areas/{hubei.id}").status_code == 200
    refused = client.post(f"/admin/r/risk_areas/{hubei.id}/do/end", {"reason": "试图结束"})
    assert refused.status_code == 403 and RiskArea.get_by_id(hubei.id).ended_at is None
    assert as_admin("jinshui").get("/admin/r/risk_areas/").status_code == 403  # not a health role
