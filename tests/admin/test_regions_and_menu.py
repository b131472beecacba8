"""Regions picked by name (a cascade, never a typed code), the roles a creator is offered, and the
side menu grouped by area, each role seeing only its own entries."""

from __future__ import annotations

import re

import pytest

from admin import menu as admin_menu
from admin.site import ImproperlyDeclared, Resource, Site
from models.admin import AdminUser
from models.investigations import TaskRecord
from models.regions import Region
from services.accounts import admin_auth
from services.common import regions
from services.common.errors import ApiError
from services.investigations import records, sources
from tests.admin.conftest import office, page_error, region_names  # noqa: F401  (fixture)
from tests.conftest import make_id_number, row_counts

NEW = {"phone": "13600000031", "name": "新街道管理员"}


def error_of(page) -> tuple[str, str, str]:
    """(code, field, message) of a refused back-office form."""
    found = re.search(r'<p class="error"[^>]*data-code="([^"]*)" data-field="([^"]*)">([^<]+)<', page.text)
    assert found, page.text[:800]
    return found.groups()


def options(page, name: str) -> list[str]:
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', page.text, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def selected(page, name: str) -> str | None:
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', page.text, re.S)
    found = re.search(r'<option value="([^"]*)"[^>]* selected', select.group(1))
    return found.group(1) if found else None


# --- the cascade ----------------------------------------------------------------------------------

def test_the_account_form_picks_the_region_by_name_within_the_admins_own(as_admin):
    jinshui = as_admin("jinshui")
    form = jinshui.get("/admin/r/accounts/new")
    assert "所属区域代码" not in form.text and 'name="region_code"' not in form.text
    # Above its own level the district admin has its own city and district, chosen already.
    assert options(form, "region.city") == ["", "郑州市"] and selected(form, "region.city") == "郑州市"
    assert options(form, "region.district") == ["", "金水区"] and selected(form, "region.district") == "金水区"
    assert options(form, "region.street") == ["", "经八路街道", "花园路街道"]
    assert options(form, "region.community") == [""]  # filled by the script once a street is chosen
    # Only the roles below its own are offered.
    offered = options(form, "role")
    assert offered == admin_auth.creatable_roles(AdminUser.get(AdminUser.name == "jinshui管理员"))
    assert offered[:3] == ["street", "community", "compound"] and not {"city", "district"} & set(offered)
    created = jinshui.post("/admin/r/accounts/new", {**NEW, "role": "street",
                                                     **region_names("郑州市", "金水区", "花园路街道")},
                           allow_redirects=False)
    assert created.status_code == 302, page_error(created)
    admin = AdminUser.get(AdminUser.name == "新街道管理员")
    assert admin.role == "street" and admin.region.code == "410105002"


def test_the_script_gets_the_next_level_within_reach_only(as_admin):
    jinshui = as_admin("jinshui")
    streets = jinshui.get("/admin/regions/children", params={"parent": "410105"})
    assert streets.status_code == 200
    assert [r["name"] for r in streets.json()["data"]] == ["经八路街道", "花园路街道"]
    # From its city it reaches only its own district; another district is refused.
    assert [r["code"] for r in jinshui.get("/admin/regions/children", params={"parent": "410100"}).json()["data"]] \
        == ["410105"]
    refused = jinshui.get("/admin/regions/children", params={"parent": "410103"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "out_of_scope"
    missing = jinshui.get("/admin/regions/children", params={"parent": "999999"})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "parent"
    # Unscoped (e.g. a risk area in another province): the public divisions, never compounds.
    assert jinshui.get("/admin/regions/children", params={"parent": "410105001001", "scoped": "0"}).json() == \
        {"data": []}


@pytest.mark.parametrize("names, message", [
    (("郑州市", "金水区", "不存在街道"), "所属区域：金水区下没有名为“不存在街道”的街道，请从列表中选择"),
    (("郑州市", "金水区", "经八路街道", "兴华社区"), "所属区域：经八路街道下没有名为“兴华社区”的社区，请从列表中选择"),
    (("郑州市", "金水区", "", "黄河路社区"), "所属区域：请先选择街道"),
])
def test_a_region_name_that_matches_nothing_is_a_clear_error_and_nothing_is_stored(as_admin, names, message):
    city = as_admin("city")
    before = row_counts()
    refused = city.post("/admin/r/accounts/new", {**NEW, "role": "community", **region_names(*names)})
    assert refused.status_code == 400
    code, field, text = error_of(refused)
    assert field == "region" and text == message and code in ("unknown_region", "missing_field")
    assert row_counts() == before
    # The form comes back with the names as they were chosen.
    assert selected(refused, "region.district") == "金水区"


def test_the_region_must_sit_at_the_roles_level(as_admin):
    city = as_admin("city")
    before = row_counts()
    refused = city.post("/admin/r/accounts/new", {**NEW, "role": "street",
                                                             **region_names("郑州市", "金水区")})
    assert refused.status_code == 400
    assert error_of(refused) == ("invalid_region", "region", "街道管理员的所属区域应选到街道一级")
    assert row_counts() == before


@pytest.mark.parametrize("role, label", [("district", "区县管理员"), ("city", "市级管理员")])
def test_a_district_admin_cannot_create_a_role_at_or_above_its_own(as_admin, role, label):
    jinshui = as_admin("jinshui")
    before = row_counts()
    refused = jinshui.post("/admin/r/accounts/new", {**NEW, "role": role,
                                                                 **region_names("郑州市", "金水区")})
    assert refused.status_code == 403
    assert error_of(refused) == ("forbidden", "role", f"区县管理员只能创建下级账号，不能创建{label}")
    assert row_counts() == before


def test_the_city_re_dispatches_a_task_by_district_name(as_admin):
    record = records.add_one(sources.get("telecom"), {"name": "王排查", "id_number": make_id_number(5),
                                                      "phone": "13900000005"}, admin=AdminUser.select().first(),
                             region=Region.get(Region.code == "410100"))
    city = as_admin("city")
    form = city.get(f"/admin/r/task_telecom/{record.id}/edit")
    assert "金水区" in options(form, "district_code.district") and "区县代码" not in form.text
    before = row_counts()
    refused = city.post(f"/admin/r/task_telecom/{record.id}/edit", {"district_code.district": "火星区"})
    assert refused.status_code == 400 and error_of(refused)[:2] == ("unknown_region", "district_code")
    assert row_counts() == before and TaskRecord.get_by_id(record.id).district_id is None


def test_names_are_resolved_under_their_parent(office):  # noqa: F811
    # Two compounds may share a name in different communities; the path tells them apart.
    found = regions.region_by_names(("district", "street", "community", "compound"),
                                    ["金水区", "经八路街道", "黄河路社区", "黄河路小区"], None, "region")
    assert found.code == "410105001001002"
    with pytest.raises(ApiError) as refused:
        regions.region_by_names(("compound",), ["不存在小区"], None, "region")
    assert refused.value.code == "unknown_region" and refused.value.field == "region"


# --- the side menu ---------------------------------------------------------------------------------

def menu_groups(page) -> dict[str, list[str]]:
    nav = re.search(r'<nav class="side">(.*?)</nav>', page.text, re.S)
    assert nav, page.text[:500]
    return {title: re.findall(r'<a href="[^"]+"[^>]*>([^<]+)</a>', body)
            for title, body in re.findall(r"<h2>([^<]+)</h2>(.*?)</section>", nav.group(1), re.S)}


def test_the_side_menu_is_grouped_by_area_and_each_role_sees_its_own(as_admin):
    city = menu_groups(as_admin("city").get("/admin/password"))
    assert list(city) == ["居民与出入", "场所与场所码", "风险数据", "排查任务", "统计", "账号与系统"]  # no empty group
    assert {"赋码规则", "风险地区", "待审批"} <= set(city["风险数据"])
    assert city["居民与出入"][:2] == ["小区居民管理", "进出登记管理"]
    assert "公交列表管理" in city["场所与场所码"] and "公交扫码统计" in city["统计"]
    assert city["统计"][0] == "数据看板" and "排查统计" in city["统计"]
    assert city["排查任务"][0] == "导入名单" and "通管人员摸排" in city["排查任务"]
    assert "小区账号管理" in city["账号与系统"] and city["账号与系统"][-1] == "短信发件箱"
    compound = menu_groups(as_admin("compound").get("/admin/password"))
    assert compound["居民与出入"] == ["小区居民管理", "进出登记管理"]
    assert "小区账号管理" not in sum(compound.values(), []) and "数据看板" not in sum(compound.values(), [])
    # Every entry opens for the account that sees it.
    client = as_admin("compound")
    nav = re.search(r'<nav class="side">(.*?)</nav>', client.get("/admin/password").text, re.S).group(1)
    for href in re.findall(r'<a href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href


def test_a_page_or_resource_naming_an_unknown_group_fails_at_start_up():
    with pytest.raises(admin_menu.MenuDeclarationError, match="菜单分组 '风险' 无效"):
        admin_menu.menu(group="风险")(lambda admin: [])
    with pytest.raises(admin_menu.MenuDeclarationError, match="菜单分组 None 无效"):
        admin_menu.menu(order=5)(lambda admin: [])

    class Undeclared(Resource):
        name, label, model = "undeclared", "未分组", AdminUser

    site = Site()
    site.register(Undeclared)
    with pytest.raises(ImproperlyDeclared, match=r"Undeclared.menu_group: 菜单分组 '' 无效（可选：居民与出入、"):
        site.check()


def test_an_unscoped_cascade_reaches_every_province_for_a_risk_area(office):  # noqa: F811
    # E.g. a risk area: province > city > district > street, anywhere in the country.
    from models.regions import Region as R
    from services.common.forms import FormField
    from services.common.regions import add_region

    hubei = add_region("420000", "湖北省", "province")
    wuhan = add_region("420100", "武汉市", "city", hubei)
    add_region("420106", "武昌区", "district", wuhan)
    spec = FormField("area", "风险地区", "region", levels=("province", "city", "district", "street"), scoped=False)
    jinshui = R.get(R.code == "410105")
    assert spec.clean(["湖北省", "武汉市", "武昌区", ""], "area", within=jinshui) == "420106"
    shown = regions.cascade(spec.levels, "420106", None)
    assert [level["selected"] for level in shown] == ["湖北省", "武汉市", "武昌区", ""]
    provinces = [name for _, name in shown[0]["options"]]  # the demo loads the country's (services/risk_data/divisions.py)
    assert {"河南省", "湖北省", "北京市", "新疆维吾尔自治区"} <= set(provinces) and len(provinces) == len(set(provinces))
    with pytest.raises(ApiError) as refused:
        spec.clean(["湖北省", "武汉市", "珞珈山区"], "area", within=jinshui)
    assert (refused.value.code, refused.value.field) == ("unknown_region", "area")
    assert refused.value.message == "风险地区：武汉市下没有名为“珞珈山区”的区县，请从列表中选择"
