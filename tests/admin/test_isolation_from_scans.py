"""小区居民管理 fed by the scans, on both databases (G3, seed 002): people to be isolated go to
待确认隔离 on their compound scan; 异常信息 lists every scan of the person while isolated, whoever
scanned for them; a key-region returnee cannot be released with a health certificate before the
14 days are over; the edit form keeps the phone unless a new one is typed."""

import datetime as dt
import json
import re
import uuid

import pytest

from models.accounts import AuthIdentity
from models.admin import CompoundResident
from models.fieldwork import OperationLog
from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.accounts import admin_auth
from services.back_office import residents
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from services.venues import places
from tests.admin.conftest import page_error
from tests.conftest import ApiClient, make_id_number, row_counts

JINGBA = "410105001001001"  # 经八路5号院, the compound admin's compound
RETURNEE = "demo-returnee"  # demo data: back from Hubei (a key region) 3 days ago, orange


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world(office):
    """The compound's code, an airport and a supermarket in 金水区."""
    district = Region.get(Region.code == "410105")
    home = Place.get(Place.region == Region.get(Region.code == JINGBA))
    _, airport = places.create_place(place_type_code="airport", name="新郑国际机场", region=district)
    _, market = places.create_place(place_type_code="supermarket", name="丹尼斯百货", region=district)
    return {"home": places.current_code(home).token, "airport": airport.token, "market": market.token}


def citizen(office, openid: str) -> ApiClient:
    client = ApiClient(office.base_url)
    client.dev_login(openid)
    return client


def scan(client: ApiClient, token: str, flow: str = "resident", **body):
    response = client.call("scanPlace", {"code": token, "flow": flow, "request_id": rid(), **body})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def binding_of(openid: str) -> CompoundResident:
    """The compound binding of the person a development sign-in acts as."""
    account = AuthIdentity.get(AuthIdentity.subject == openid).account_id
    person = Person.get((Person.relation == "self") & (Person.account == account))
    return CompoundResident.get(CompoundResident.person == person)


def statuses(page) -> list[str]:
    return re.findall(r'<td data-label="隔离状态">([^<]*)</td>', page.text)


def test_a_key_region_returnee_is_pending_after_the_first_compound_scan(office, world, as_admin):
    verdict = scan(citizen(office, RETURNEE), world["home"])
    assert verdict["colour"] == "orange" and verdict["alert"]["flash"] is True
    binding = binding_of(RETURNEE)
    assert residents.status_of(binding.person) == "pending"
    client = as_admin("compound")
    assert statuses(client.get("/admin/r/residents/")) == ["待确认隔离"]
    detail = client.get(f"/admin/r/residents/{binding.id}")
    for action in ("确认隔离", "解除隔离", "未在本小区"):
        assert f"/do/{_action_name(action)}" in detail.text
    assert "系统：扫码后判定待确认隔离（无需隔离 → 待确认隔离）" in detail.text  # the operation log
    # Confirmed by the compound admin, a later scan leaves the status alone.
    assert client.post(f"/admin/r/residents/{binding.id}/do/confirm_isolation",
                       allow_redirects=False).status_code == 302
    scan(citizen(office, RETURNEE), world["home"])
    assert residents.status_of(binding.person) == "confirmed"


def _action_name(label: str) -> str:
    return {"确认隔离": "confirm_isolation", "解除隔离": "release_isolation", "未在本小区": "not_in_compound"}[label]


def test_a_bound_resident_listed_later_goes_pending_on_the_next_scan_and_a_release_holds(office, world, as_admin):
    """The ordinary scan path (already bound, green) turns to the transaction only for such people."""
    resident = citizen(office, "resident-1")
    profile = {"name": "王小明", "id_number": make_id_number(1), "phone": "13900000001", "address": "经八路5号院",
               "building": "3", "room": "501"}
    assert scan(resident, world["home"], profile=profile)["colour"] == "green"
    binding = CompoundResident.get()
    assert residents.status_of(binding.person) == "not_needed" and not IsolationRecord.select().exists()
    scan(resident, world["home"])  # green again: nothing changes
    assert not IsolationRecord.select().exists()
    risk_inputs.add_close_contacts([{"name": "王小明", "id_number": make_id_number(1)}], source="疾控")
    assert scan(resident, world["home"])["colour"] == "red"
    assert residents.status_of(binding.person) == "pending"
    # A close contact's origin is no key region: a health certificate releases them, and it holds.
    client = as_admin("compound")
    done = client.post(f"/admin/r/residents/{binding.id}/do/release_isolation",
                       {"reason": "核酸阴性，居家观察期满", "certificate": "on"}, allow_redirects=False)
    assert done.status_code == 302 and residents.status_of(binding.person) == "released"
    scan(resident, world["home"])
    assert residents.status_of(binding.person) == "released"


def test_a_visitor_scan_never_sets_a_status(office, world):
    scan(citizen(office, RETURNEE), world["home"], flow="visitor",
         form={"reason": "family", "visited_name": "张三", "building": "2", "room": "101"})
    assert not IsolationRecord.select().exists() and not CompoundResident.select().exists()


def test_releasing_a_key_region_returnee_with_a_certificate_is_refused_until_the_14_days_are_over(
        office, world, as_admin):
    scan(citizen(office, RETURNEE), world["home"])
    binding = binding_of(RETURNEE)
    until = china_today() - dt.timedelta(days=3) + dt.timedelta(days=13)
    warning = f"此人隔离期14天（至 {until.isoformat()}），期满前不能凭健康证明解除隔离"
    client = as_admin("compound")
    page = client.get(f"/admin/r/residents/{binding.id}/do/release_isolation")
    assert warning in page.text
    before = row_counts()
    refused = client.post(f"/admin/r/residents/{binding.id}/do/release_isolation",
                          {"reason": "提供了健康证明", "certificate": "on"})
    assert refused.status_code == 409 and page_error(refused) == warning
    assert 'data-field="certificate"' in refused.text  # shown at the certificate box
    assert row_counts() == before and residents.status_of(binding.person) == "pending"
    assert not OperationLog.select().where(OperationLog.action == "release_isolation").exists()
    # The service says the same to any caller: code, message and field.
    admin = admin_auth.find_admin(office.admins["compound"][1])
    with pytest.raises(ApiError) as error:
        residents.release_isolation(admin, binding, "提供了健康证明", True)
    assert (error.value.code, error.value.field, error.value.message) == ("isolation_period", "certificate", warning)


def test_abnormal_movements_follow_the_person_wherever_and_whoever_scanned(office, world, as_admin):
    returnee = citizen(office, RETURNEE)
    scan(returnee, world["home"])
    binding = binding_of(RETURNEE)
    before_isolation = EntryRecord.create(
        request_id="before-isolation", place=Place.get(Place.region == binding.compound), person=binding.person,
        flow="resident", source="self", colour="green", admitted=True, verdict="{}",
        created_at=dt.datetime.utcnow() - dt.timedelta(days=5))
    # The same person (same ID number) registered by somebody else's account, as a family member.
    relative = citizen(office, "relative-1")
    relative.ok("updateProfile", {"name": "李亲属", "id_number": make_id_number(7), "phone": "13900000007"})
    returnee_id = binding.person.id_number
    member = relative.ok("addFamilyMember", {"name": binding.person.name, "relationship": "child",
                                             "id_number": returnee_id})
    returnee.ok("grantFamilyConsent", path={"member_id": member["id"]})  # an adult: consent from her own account
    scan(relative, world["market"], flow="customer", member_id=member["id"],
         form={"returned_from_elsewhere": False, "from_abroad": False})
    scan(returnee, world["airport"], flow="traveller",
         form={"arrival_date": str(china_today()), "from_abroad": False, "origin_code": "420100",
               "origin_name": "湖北省武汉市"})
    client = as_admin("compound")
    detail = client.get(f"/admin/r/residents/{binding.id}").text
    section = detail.split("异常信息")[1].split("操作日志")[0]
    assert "丹尼斯百货（家属代扫，橙码，禁止通行）" in section
    assert "新郑国际机场（本人扫码，橙码，允许通行）" in section
    assert "经八路5号院（本人扫码，橙码，禁止通行）" in section
    assert len(residents.abnormal_movements(binding.person)) == 3
    assert before_isolation.id not in [e.id for e in residents.abnormal_movements(binding.person)]


def test_abnormal_movements_count_from_the_day_isolation_began_through_its_confirmation(office, world, as_admin):
    admin = admin_auth.find_admin(office.admins["compound"][1])
    binding = residents.add_resident(admin, Region.get(Region.code == JINGBA), {
        "name": "赵隔离", "id_number": make_id_number(3), "phone": "13900000003"})
    subject = binding.person.id_number_bidx
    risk_inputs.set_isolation(subject, "pending", since=china_today() - dt.timedelta(days=3))
    two_days_ago = EntryRecord.create(
        request_id="two-days-ago", place=Place.get(Place.region == binding.compound), person=binding.person,
        flow="resident", source="manual", colour="green", admitted=True, verdict="{}",
        created_at=dt.datetime.utcnow() - dt.timedelta(days=2))
    residents.confirm_isolation(admin, binding)
    record = IsolationRecord.get(IsolationRecord.subject == subject)
    assert record.event_date == china_today() and record.started_on == china_today() - dt.timedelta(days=3)
    assert [e.id for e in residents.abnormal_movements(binding.person)] == [two_days_ago.id]
    residents.release_isolation(admin, binding, "隔离期满", True)
    assert IsolationRecord.get(IsolationRecord.subject == subject).started_on is None
    assert residents.abnormal_movements(binding.person) == []


def test_the_edit_form_shows_the_phone_masked_and_keeps_it_unless_retyped(office, as_admin):
    admin = admin_auth.find_admin(office.admins["compound"][1])
    binding = residents.add_resident(admin, Region.get(Region.code == JINGBA), {
        "name": "钱编辑", "id_number": make_id_number(4), "phone": "13900000004", "building": "1", "room": "101"})
    client = as_admin("compound")
    form = client.get(f"/admin/r/residents/{binding.id}/edit")
    assert 'name="phone" value="139****0004"' in form.text and "13900000004" not in form.text
    kept = client.post(f"/admin/r/residents/{binding.id}/edit",
                       {"name": "钱改名", "phone": "139****0004", "room": "102"}, allow_redirects=False)
    assert kept.status_code == 302
    person = Person.get_by_id(binding.person_id)
    assert (person.name, person.phone, person.room) == ("钱改名", "13900000004", "102")
    log = OperationLog.select().where(OperationLog.action == "edit_resident").order_by(OperationLog.id.desc()).get()
    assert "phone" not in json.loads(log.detail)["fields"]
    changed = client.post(f"/admin/r/residents/{binding.id}/edit", {"name": "钱改名", "phone": "13700000044"},
                          allow_redirects=False)
    assert changed.status_code == 302 and Person.get_by_id(binding.person_id).phone == "13700000044"


@pytest.mark.parametrize("phone, message", [
    ("1370000", "手机号码应为11位数字，以1开头"),
    ("137****0044", "手机号码应为11位数字；保留原号码请勿修改显示的号码"),  # another number's mask
])
def test_a_bad_new_phone_is_refused_and_nothing_changes(office, as_admin, phone, message):
    admin = admin_auth.find_admin(office.admins["compound"][1])
    binding = residents.add_resident(admin, Region.get(Region.code == JINGBA), {
        "name": "孙电话", "id_number": make_id_number(5), "phone": "13900000005"})
    client = as_admin("compound")
    before = row_counts()
    refused = client.post(f"/admin/r/residents/{binding.id}/edit", {"name": "孙改名", "phone": phone})
    assert refused.status_code == 400 and page_error(refused) == message
    assert 'data-field="phone"' in refused.text
    person = Person.get_by_id(binding.person_id)
    assert (person.name, person.phone) == ("孙电话", "13900000005") and row_counts() == before
    # The service refuses it the same way (code and field) when called directly.
    if "*" in phone:
        with pytest.raises(ApiError) as error:
            residents.edit_resident(admin, binding, {"phone": phone})
        assert (error.value.code, error.value.field) == ("invalid_phone", "phone")
