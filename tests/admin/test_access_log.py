"""A citizen's access log (N10, PIPL Art. 45) on both databases: an official's view of the full
record (with its purpose), a full view of the ID number (with its purpose), an export that held
the person, a change of their colour or isolation status, each in `listMyDataAccess` with the
organisation, role, masked official and purpose; another person's log is a 403, a view without a
purpose a 400, and neither writes anything."""

from __future__ import annotations

import datetime as dt

import pytest

from models.admin import CompoundResident
from models.fieldwork import OperationLog
from models.people import Person
from models.privacy import PersonAccess
from models.regions import Region
from services.accounts import admin_auth
from services.back_office import residents
from services.colours import approvals, corrections
from services.common.timefmt import china_today
from tests.admin.conftest import EXPORT_PURPOSE, page_error
from tests.conftest import ApiClient, assert_error, make_id_number, row_counts

JINGBA = "410105001001001"  # 经八路5号院, in 金水区
MY_ID = make_id_number(41, region="410105")


@pytest.fixture
def me(office):
    client = ApiClient(office.base_url)
    client.dev_login("watched")
    client.ok("updateProfile", {"name": "王小明", "id_number": MY_ID, "phone": "13900000041"})
    return client


def _bind(number: str, name: str, status: str | None = "pending") -> CompoundResident:
    city = admin_auth.find_admin("13810000001")
    data = {"name": name, "id_number": number, "phone": "13900000042", "building": "3", "room": "501"}
    if status:
        data["isolation_status"] = status
    return residents.add_resident(city, Region.get(Region.code == JINGBA), data)


def test_views_exports_and_changes_reach_the_persons_access_log(office, me, as_admin):
    binding = _bind(MY_ID, "王小明")
    _bind(make_id_number(43, region="410105"), "李邻居")
    assert me.ok("listMyDataAccess")["total"] == 0

    compound = as_admin("compound")
    assert compound.post(f"/admin/r/residents/{binding.id}/do/confirm_isolation",
                         allow_redirects=False).status_code == 302
    district = as_admin("jinshui")
    page = district.post("/admin/person-colour", {"id_number": MY_ID, "purpose": "核实申诉材料"})
    assert page.status_code == 200 and "当前健康码" in page.text and MY_ID not in page.text
    shown = district.post("/admin/person-colour/id-number", {"s": binding.person.subject, "purpose": "核对身份"})
    assert shown.status_code == 200 and MY_ID in shown.text and shown.headers["Cache-Control"] == "no-store"
    exported = compound.export("/admin/r/residents/export")
    assert exported.status_code == 200
    export_line = OperationLog.get(OperationLog.action == "export")
    assert PersonAccess.select().where(PersonAccess.log == export_line).count() == 2  # both people of the file

    log = me.ok("listMyDataAccess")
    assert log["total"] == 4
    items = log["items"]
    assert [(i["action"], i["action_label"]) for i in items] == [
        ("export", "导出"), ("view", "查看"), ("view", "查看"), ("isolation", "变更隔离状态")]
    assert [i["purpose"] for i in items] == [EXPORT_PURPOSE, "核对身份", "核实申诉材料", "待确认隔离→已确认隔离"]
    assert items[0]["what"] == "导出名单（小区居民管理）" and items[1]["what"] == "查看完整证件号码"
    assert (items[1]["organisation"], items[1]["role"]) == ("金水区疫情防控指挥部", "区县管理员")
    assert (items[3]["organisation"], items[3]["role"]) == ("经八路5号院", "小区管理员")
    assert items[1]["official"] == "j" + "*" * 9 and "jinshui" not in str(log)
    assert items[0]["time"].endswith("+08:00")

    # The neighbour sees the export that held them too, and nothing about me.
    neighbour = ApiClient(office.base_url)
    neighbour.dev_login("neighbour")
    neighbour.ok("updateProfile", {"name": "李邻居", "id_number": make_id_number(43, region="410105"),
                                   "phone": "13900000043"})
    assert [i["action"] for i in neighbour.ok("listMyDataAccess")["items"]] == ["export"]


def test_a_colour_override_is_in_the_log_with_its_reason(office, me):
    _bind(MY_ID, "王小明", status=None)
    proposer = admin_auth.find_admin("13810000002")
    second, _ = admin_auth.create_admin(None, phone="13810000009", name="金水复核", role="district",
                                        region_code="410105", send_sms=False)
    subject = Person.get(Person.name_is("王小明")).subject
    request = corrections.propose_override(proposer, subject, "yellow", "密接身份待核实",
                                           china_today() + dt.timedelta(days=3))
    approvals.approve(second, request.id)
    item = me.ok("listMyDataAccess")["items"][0]
    assert (item["action"], item["action_label"], item["what"], item["purpose"], item["official"]) == (
        "colour", "变更赋码颜色", "人工调整健康码", "密接身份待核实", "金***")


def test_a_view_needs_a_purpose_and_a_link_asks_for_it(office, me, as_admin):
    binding = _bind(MY_ID, "王小明")
    district = as_admin("jinshui")
    before = row_counts()
    for purpose, code in (("", "purpose_required"), ("x", "invalid_purpose"), ("a\x01b", "invalid_purpose")):
        refused = district.post("/admin/person-colour", {"id_number": MY_ID, "purpose": purpose})
        assert refused.status_code == 400 and "查看用途" in page_error(refused), (purpose, refused.text[:300])
        assert "当前健康码" not in refused.text
        refused = district.post("/admin/person-colour/id-number", {"s": binding.person.subject, "purpose": purpose})
        assert refused.status_code == 400 and MY_ID not in refused.text
    assert row_counts() == before
    # A link (from an appeal) shows only the purpose form; the view comes after it.
    linked = district.get(f"/admin/person-colour?s={binding.person.subject}")
    assert linked.status_code == 200 and 'id="person-purpose"' in linked.text and "当前健康码" not in linked.text
    stale = district.get(f"/admin/person-colour?s={binding.person.subject}&v=999999")
    assert "当前健康码" not in stale.text
    assert row_counts() == before
    opened = district.post("/admin/person-colour", {"s": binding.person.subject, "purpose": "处理申诉"})
    assert opened.status_code == 200 and "当前健康码" in opened.text and "&v=" in opened.url
    assert me.ok("listMyDataAccess")["items"][0]["purpose"] == "处理申诉"
    # Another district's official sees nothing and logs nothing.
    erqi = as_admin("erqi")
    before = row_counts()
    assert erqi.post("/admin/person-colour/id-number",
                                 {"s": binding.person.subject, "purpose": "核对身份"}).status_code == 403
    assert row_counts() == before


def test_another_persons_log_is_forbidden(office, me):
    other = ApiClient(office.base_url)
    other.dev_login("other")
    other.ok("updateProfile", {"name": "李四", "id_number": make_id_number(44, region="410105"),
                               "phone": "13900000044"})
    child = me.ok("addFamilyMember", {"name": "王小宝", "relationship": "child",
                                      "id_number": make_id_number(45, birth="20200101", region="410105")})
    adult = me.ok("addFamilyMember", {"name": "王爷爷", "relationship": "parent",
                                      "id_number": make_id_number(46, birth="19500101", region="410105")})
    before = row_counts()
    assert_error(other.call("listMyDataAccess", query={"member_id": child["id"]}), 403, "forbidden", "member_id")
    assert_error(other.call("listMyDataAccess", query={"member_id": 999999}), 403, "forbidden", "member_id")
    assert_error(me.call("listMyDataAccess", query={"member_id": adult["id"]}), 403, "consent_required", "member_id")
    assert row_counts() == before
    assert me.ok("listMyDataAccess", query={"member_id": child["id"]})["total"] == 0


def test_an_exports_people_are_linked_in_bulk_each_once(db):
    from services.oversight import audit
    subjects = [f"s{n:031d}" for n in range(2500)]
    line = audit.record(None, "city", "export", resource="residents", purpose="核查", subjects=subjects + subjects[:10]
                        + [None, ""])
    linked = PersonAccess.select().where(PersonAccess.log == line)
    assert linked.count() == 2500 and {a.subject for a in linked} == set(subjects)
