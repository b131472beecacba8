"""The public scan flow end to end on both databases (C1-C8, C10, A7, A8, B2, B3)."""

import datetime as dt
import io
import json
import logging
import uuid

import pytest
import requests
import zxingcpp
from PIL import Image

from models import db as database
from models.accounts import Account, AuthToken
from models.colour import ColourRule
from models.fields import utcnow
from models.people import Person
from models.places import EntryRecord, PlaceCode
from models.risk_inputs import TemperatureRecord, TravelRecord
from services.common.timefmt import china_today
from services.operations import demo
from services.risk_data import risk_inputs
from services.venues import places
from tests.conftest import MYSQL_TEST_URL, ApiClient, _mysql_admin, assert_error, make_id_number, row_counts
from tests.deadlocks import deadlocked
from tests.demo_places import demo_places

ID = "110101199003070011"
PROFILE = {"name": "王小明", "id_number": ID, "phone": "13800000000", "address": "经八路5号院3号楼",
           "building": "3", "room": "501", "resident_category": "owner"}
VISIT = {"reason": "family", "visited_name": "张三", "building": "2", "room": "101"}
TODAY = str(china_today())


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world(db):
    """Demo regions, two compound places, a metro station, an airport, a supermarket, a hospital."""
    return demo_places("home", "other", "metro", "airport", "market", "hospital")


@pytest.fixture
def citizen(api, world):
    api.dev_login("citizen-1")
    return api


def scan(client, token, flow="resident", **body):
    return client.call("scanPlace", {"code": token, "flow": flow, "request_id": body.pop("request_id", rid()),
                                     **body})


def me() -> Person:
    """citizen-1's own person (the demo data has people of its own)."""
    return Person.get((Person.relation == "self") & (Person.id_number_bidx == Person.by_id_number(ID).get().id_number_bidx))


def test_the_code_says_what_to_fill(citizen, world):
    info = citizen.ok("getPlaceByCode", path={"token": world["home"]})
    assert info["status"] == "active" and info["place"]["name"] == "经八路5号院"
    assert info["needs_profile"] is True
    flows = {f["code"]: f for f in info["flows"]}
    assert set(flows) == {"resident", "visitor"}
    assert [f["name"] for f in flows["visitor"]["form"]][:2] == ["reason", "visited_name"]


def test_the_first_scan_asks_for_the_profile_and_nothing_is_written_without_it(citizen, world):
    before = row_counts()
    assert_error(scan(citizen, world["home"]), 400, "profile_required", "profile")
    assert row_counts() == before


def test_first_scan_registers_binds_the_compound_and_answers_the_verdict(citizen, world):
    response = scan(citizen, world["home"], profile=PROFILE, temperature=36.5)
    assert response.status_code == 200, response.text
    verdict = response.json()["data"]
    assert verdict["colour"] == "green" and verdict["admit"] is True and verdict["admit_label"] == "允许通行"
    assert verdict["name_masked"] == "王**" and verdict["id_masked"] == "110101*****0011"
    assert verdict["registered_at"].endswith("+08:00") and verdict["alert"] is None
    assert verdict["place"]["name"] == "经八路5号院"
    assert me().compound.code == "410105001001001"
    entry = EntryRecord.get()
    assert (entry.source, entry.flow, float(entry.temperature)) == ("self", "resident", 36.5)
    assert TemperatureRecord.select().count() == 1
    # "Scan once, fill once": the next scan needs nothing.
    assert citizen.ok("getPlaceByCode", path={"token": world["home"]})["needs_profile"] is False
    assert scan(citizen, world["home"]).status_code == 200


def test_a_retried_request_gives_the_same_answer_and_one_record(citizen, world):
    first = scan(citizen, world["home"], profile=PROFILE, request_id="retry-0001").json()
    again = scan(citizen, world["home"], request_id="retry-0001").json()
    assert first == again and EntryRecord.select().count() == 1
    other = ApiClient(citizen.base_url)
    other.dev_login("citizen-2")
    assert_error(scan(other, world["home"], request_id="retry-0001"), 409, "request_id_conflict", "request_id")


def test_a_request_id_used_for_another_registration_is_a_conflict_and_keeps_nothing(citizen, world):
    """A retry carries the same scan; another place, flow or temperature under a used id would
    lose its data behind the first answer (a fever among it)."""
    first = scan(citizen, world["home"], profile=PROFILE, temperature=36.5, request_id="retry-0002").json()
    assert scan(citizen, world["home"], temperature=36.5, request_id="retry-0002").json() == first
    before = row_counts()
    for changed in ({"temperature": 38.5}, {"temperature": None}, {"flow": "visitor", "form": VISIT},
                    {"token": world["other"]}):
        token = changed.pop("token", world["home"])
        error = assert_error(scan(citizen, token, request_id="retry-0002", **{"temperature": 36.5, **changed}), 409,
                             "request_id_conflict", "request_id")
        assert "另一条不同的登记" in error["message"], changed
    assert row_counts() == before and TemperatureRecord.select().where(TemperatureRecord.value > 38).count() == 0


def test_a_second_compound_is_refused_visitors_excepted(citizen, world):
    scan(citizen, world["home"], profile=PROFILE)
    before = row_counts()
    error = assert_error(scan(citizen, world["other"]), 403, "not_this_compound", "code")
    assert error["message"] == "非本小区人员，禁止入内"
    assert row_counts() == before and me().compound.code == "410105001001001"
    visit = scan(citizen, world["other"], flow="visitor", form=VISIT)
    assert visit.status_code == 200 and visit.json()["data"]["flow_label"] == "我是访客"


@pytest.mark.parametrize("body, status, code, field", [
    ({"flow": "visitor", "form": {**VISIT, "visited_name": ""}}, 400, "missing_field", "form.visited_name"),
    ({"flow": "visitor", "form": {**VISIT, "visited_phone": "123"}}, 400, "invalid_phone", "form.visited_phone"),
    ({"flow": "visitor", "form": {**VISIT, "pet": "cat"}}, 400, "unknown_field", "form.pet"),
    ({"flow": "passenger"}, 400, "unknown_flow", "flow"),
    ({"temperature": 50}, 400, "invalid_temperature", "temperature"),
    ({"temperature": "hot"}, 400, "invalid_field", "temperature"),
    ({"request_id": "x"}, 400, "invalid_field", "request_id"),
    ({"member_id": 999999}, 403, "not_your_member", "member_id"),
])
def test_bad_scans_are_refused_and_write_nothing(citizen, world, body, status, code, field):
    scan(citizen, world["home"], profile=PROFILE)
    before = row_counts()
    assert_error(scan(citizen, world["home"], **{"flow": "resident", **body}), status, code, field)
    assert row_counts() == before


def test_unknown_revoked_and_blank_codes(citizen, world):
    assert_error(scan(citizen, "no-such-code", profile=PROFILE), 404, "unknown_place_code", "code")
    home = PlaceCode.get(PlaceCode.token == world["home"]).place
    places.reissue(home)
    assert_error(scan(citizen, world["home"], profile=PROFILE), 404, "place_code_revoked", "code")
    batch = places.generate_batch("bus", 2)
    blank = batch.codes[0].token
    assert_error(scan(citizen, blank, flow="customer", profile=PROFILE), 409, "place_code_not_activated", "code")
    assert EntryRecord.select().count() == 0


def test_fever_is_red_and_refused(citizen, world):
    verdict = scan(citizen, world["home"], profile=PROFILE, temperature=38.0).json()["data"]
    assert verdict["colour"] == "red" and verdict["admit"] is False and verdict["admit_label"] == "禁止通行"
    assert "体温异常（≥37.3℃）" in verdict["reasons"]
    assert EntryRecord.get().admitted is False


def test_a_fever_scan_chosen_as_a_deadlocks_victim_is_run_again_and_answered(citizen, world, backend, caplog):
    """The fever's recompute waits for the person's colour while another transaction (as the
    hourly recompute may) holds it and then wants the fever's row: MariaDB rolls the scan back,
    and the scan runs again in a new transaction instead of answering 503."""
    if backend[0] != "mysql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    caplog.set_level(logging.WARNING, "healthcode.transactions")
    assert scan(citizen, world["home"], profile=PROFILE).status_code == 200
    other = deadlocked(backend, me().id_number_bidx)
    response = scan(citizen, world["home"], temperature=38.5, request_id="fever-in-a-deadlock")
    other.join(10)
    assert other.error is None, other.error
    assert response.status_code == 200, response.text
    assert response.json()["data"]["colour"] == "red"
    assert "deadlock victim, transaction run again" in caplog.text
    assert EntryRecord.select().where(EntryRecord.request_id == "fever-in-a-deadlock").count() == 1
    assert [float(t.value) for t in TemperatureRecord.select()] == [38.5]


def test_checkpoint_asks_every_time_and_a_key_region_flashes(citizen, world):
    trip = {"arrival_date": TODAY, "from_abroad": False, "origin_code": "420100", "origin_name": "湖北省武汉市",
            "transport_number": "G507"}
    verdict = scan(citizen, world["airport"], flow="traveller", profile=PROFILE, form=trip).json()["data"]
    assert verdict["colour"] == "orange" and verdict["admit"] is True  # arrivals are registered, not turned back
    assert verdict["alert"] == {"flash": True, "sound": True, "message": "重点地区返回人员，请重点关注"}
    assert TravelRecord.select().order_by(TravelRecord.id.desc()).first().source == "checkpoint"
    before = row_counts()
    assert_error(scan(citizen, world["airport"], flow="traveller"), 400, "missing_field", "form.arrival_date")
    assert row_counts() == before
    abroad = {**trip, "from_abroad": True, "origin_code": None, "origin_name": "意大利米兰"}
    assert_error(scan(citizen, world["airport"], flow="traveller", form=abroad), 400, "missing_field", "form.country")


@pytest.mark.parametrize("days", [-20, -1, 1])
def test_a_checkpoint_arrival_date_other_than_today_is_refused(citizen, world, days):
    """来郑日期为当天 (seed 002): a traveller from Wuhan who gives another day is refused, not green."""
    field = {f["name"]: f for f in citizen.ok("getPlaceByCode", path={"token": world["airport"]})["flows"][0]["form"]}
    assert field["arrival_date"]["today"] is True
    citizen.ok("updateProfile", {k: PROFILE[k] for k in ("name", "id_number", "phone")})
    before = row_counts()
    trip = {"arrival_date": str(china_today() + dt.timedelta(days=days)), "from_abroad": False,
            "origin_code": "420100", "origin_name": "湖北省武汉市"}
    error = assert_error(scan(citizen, world["airport"], flow="traveller", form=trip), 400, "not_today",
                         "form.arrival_date")
    assert error["message"] == f"来郑日期应为当天（{TODAY}）"
    assert row_counts() == before


def test_venues_ask_their_form_on_the_first_scan_only(citizen, world):
    info = citizen.ok("getPlaceByCode", path={"token": world["metro"]})
    assert info["flows"][0]["form_needed"] is True
    form = {"returned_from_elsewhere": False, "from_abroad": False}
    assert scan(citizen, world["metro"], flow="customer", profile=PROFILE, form=form).status_code == 200
    assert citizen.ok("getPlaceByCode", path={"token": world["metro"]})["flows"][0]["form_needed"] is False
    assert scan(citizen, world["metro"], flow="customer").status_code == 200


def test_admission_follows_the_place_type(citizen, world):
    risk_inputs.add_fever_medicine_purchases([{"id_number": ID, "pharmacy": "药房"}])
    form = {"returned_from_elsewhere": False, "from_abroad": False}
    market = scan(citizen, world["market"], flow="customer", profile=PROFILE, form=form).json()["data"]
    assert market["colour"] == "yellow" and market["admit"] is False
    hospital = scan(citizen, world["hospital"], flow="customer", form=form).json()["data"]
    assert hospital["colour"] == "yellow" and hospital["admit"] is True


def quick(client, token, **body):
    """A quick check-in (C7): no flow, no form - the place's default flow, 默认体温正常."""
    return scan(client, token, flow=None, quick_checkin=True, **body)


def test_quick_checkin_is_one_step_with_a_normal_temperature_and_no_form(citizen, world):
    assert citizen.ok("getPlaceByCode", path={"token": world["market"]})["quick_checkin"] == {
        "offered": True, "flow": "customer"}
    # A first-time visitor of the supermarket: the profile (once) is all that is asked, not the
    # supermarket's travel form.
    travels, temperatures = TravelRecord.select().count(), TemperatureRecord.select().count()
    response = quick(citizen, world["market"], profile=PROFILE)
    assert response.status_code == 200, response.text
    verdict = response.json()["data"]
    assert (verdict["colour"], verdict["admit"], verdict["flow"]) == ("green", True, "customer")
    assert verdict["quick_checkin"] is True and verdict["temperature_label"] == "体温正常（快速打卡）"
    entry = EntryRecord.get()
    assert entry.temperature is None and entry.colour == "green" and entry.source == "self"
    assert json.loads(entry.form) == {"quick_checkin": True, "result": "normal"}
    assert TravelRecord.select().count() == travels
    # Known people take the group-commit path: still one step, with a typed temperature kept.
    verdict = quick(citizen, world["metro"], temperature=36.6).json()["data"]
    assert verdict["quick_checkin"] is True and verdict["flow"] == "customer"
    assert float(EntryRecord.select().order_by(EntryRecord.id.desc()).first().temperature) == 36.6
    assert TemperatureRecord.select().count() == temperatures + 1
    # At a compound the default flow is the resident's, which binds the compound (C5).
    assert quick(citizen, world["home"]).json()["data"]["flow"] == "resident"
    assert me().compound.code == "410105001001001"
    # A yellow code is still shown as it is, and refused where the type refuses it.
    risk_inputs.add_fever_medicine_purchases([{"id_number": ID, "pharmacy": "药房"}])
    verdict = quick(citizen, world["market"]).json()["data"]
    assert (verdict["colour"], verdict["admit"]) == ("yellow", False)


def test_quick_checkin_with_a_fever_is_refused_and_nothing_is_stored(citizen, world):
    before = row_counts()
    error = assert_error(quick(citizen, world["market"], profile=PROFILE, temperature=38.2), 400, "fever_not_quick",
                         "temperature")
    assert "体温异常" in error["message"]
    assert row_counts() == before  # not even the profile sent with it


def test_a_checkpoint_offers_no_quick_checkin_and_says_so(citizen, world):
    assert citizen.ok("getPlaceByCode", path={"token": world["airport"]})["quick_checkin"] == {
        "offered": False, "message": "机场为入郑卡口，每次扫码须填写入郑登记信息，不提供体温正常快速打卡"}
    before = row_counts()
    error = assert_error(quick(citizen, world["airport"], profile=PROFILE), 400, "quick_checkin_unavailable",
                         "quick_checkin")
    assert error["message"] == "机场为入郑卡口，每次扫码须填写入郑登记信息，不提供体温正常快速打卡"
    assert_error(scan(citizen, world["airport"], flow="traveller", quick_checkin=True, profile=PROFILE), 400,
                 "quick_checkin_unavailable", "quick_checkin")
    # A compound's visitor form is asked on every visit: no quick check-in with that flow either.
    assert_error(scan(citizen, world["home"], flow="visitor", quick_checkin=True, profile=PROFILE), 400,
                 "quick_checkin_unavailable", "flow")
    assert row_counts() == before


def test_quick_checkin_without_a_profile_asks_for_it_and_stores_nothing(citizen, world):
    before = row_counts()
    assert_error(quick(citizen, world["market"]), 400, "profile_required", "profile")
    assert_error(quick(citizen, world["market"], profile={"name": "王小明"}), 400, "missing_field")
    assert row_counts() == before
    # A scan that is not quick still needs its flow.
    assert_error(scan(citizen, world["market"], flow=None, profile=PROFILE), 400, "missing_field", "flow")
    assert row_counts() == before


def test_family_members_scan_and_show_their_own_code(citizen, world, sms):
    scan(citizen, world["home"], profile=PROFILE)
    member = citizen.call("addFamilyMember", {"name": "王奶奶", "relationship": "grandparent",
                                              "id_number": "11010519491231002X"})
    assert member.status_code == 201
    member = member.json()["data"]
    assert member["name"] == "王**" and member["id_number"] == "110105*****002X"
    assert member["consent_status"] == "pending"  # an adult: her consent first (N4)
    assert_error(scan(citizen, world["home"], member_id=member["id"]), 403, "consent_required", "member_id")
    citizen.ok("sendFamilyConsentCode", {"phone": "13700000001"}, path={"member_id": member["id"]})
    citizen.ok("confirmFamilyConsent", {"code": sms.last_code("13700000001")}, path={"member_id": member["id"]})
    verdict = scan(citizen, world["home"], member_id=member["id"]).json()["data"]
    assert verdict["source"] == "family" and verdict["name_masked"] == "王**"
    assert citizen.ok("getMyHealthCode", query={"member_id": member["id"]})["id_number"] == "110105*****002X"
    assert citizen.ok("listMyEntries", query={"member_id": member["id"]})["total"] == 1
    assert citizen.ok("listMyEntries")["total"] == 1
    assert_error(citizen.call("addFamilyMember", {"name": "王奶奶", "relationship": "grandparent",
                                                  "id_number": "11010519491231002X"}), 409, "duplicate_person")
    other = ApiClient(citizen.base_url)
    other.dev_login("citizen-2")
    other.ok("updateProfile", {"name": "李四", "id_number": make_id_number(9), "phone": "13900000000"})
    before = row_counts()
    assert_error(scan(other, world["home"], member_id=member["id"]), 403, "not_your_member", "member_id")
    assert_error(other.call("getMyHealthCode", query={"member_id": member["id"]}), 403, "not_your_member")
    assert_error(other.call("removeFamilyMember", path={"member_id": member["id"]}), 403, "not_your_member")
    assert row_counts() == before
    assert citizen.ok("removeFamilyMember", path={"member_id": member["id"]}) == {"removed": True}
    assert citizen.ok("listFamilyMembers")["items"] == []


def test_a_shared_phone_remembers_proxy_identities(citizen, world):
    scan(citizen, world["home"], profile=PROFILE)
    neighbour = {"name": "何大爷", "id_number": make_id_number(21)}
    verdict = scan(citizen, world["home"], flow="visitor", form=VISIT, identity=neighbour).json()["data"]
    assert verdict["source"] == "proxy" and verdict["name_masked"] == "何**"
    listed = citizen.ok("listProxyIdentities")["items"]
    assert len(listed) == 1 and listed[0]["name"] == "何**" and "*" in listed[0]["id_number"]
    again = scan(citizen, world["home"], flow="visitor", form=VISIT, proxy_identity_id=listed[0]["id"])
    assert again.json()["data"]["source"] == "proxy"
    scan(citizen, world["home"], flow="visitor", form=VISIT, identity=neighbour)  # the same identity is reused
    assert len(citizen.ok("listProxyIdentities")["items"]) == 1
    assert citizen.ok("deleteProxyIdentity", path={"identity_id": listed[0]["id"]}) == {"removed": True}
    assert citizen.ok("listProxyIdentities")["items"] == []
    assert EntryRecord.select().where(EntryRecord.source == "proxy").count() == 3  # records stay


def test_a_proxy_learns_a_registered_persons_colour_but_not_why_and_only_with_their_name(citizen, world):
    """A8 against a registered holder of the number: the name must be theirs, and the proxy is
    told the colour and the decision (what the gate needs), never the reasons."""
    scan(citizen, world["home"], profile=PROFILE)
    holder = ApiClient(citizen.base_url)
    holder.dev_login("citizen-holder")
    number = make_id_number(22)
    own = scan(holder, world["home"], profile={"name": "何大爷", "id_number": number, "phone": "13900000022"},
               temperature=38.2).json()["data"]
    assert own["colour"] == "red" and own["reasons"]  # the holder sees why
    before = row_counts()
    error = assert_error(scan(citizen, world["home"], flow="visitor", form=VISIT,
                              identity={"name": "随便", "id_number": number}), 400, "name_mismatch", "identity.name")
    assert error["message"] == "姓名与证件号码不符" and row_counts() == before
    verdict = scan(citizen, world["home"], flow="visitor", form=VISIT,
                   identity={"name": "何大爷", "id_number": number}).json()["data"]
    assert (verdict["colour"], verdict["admit"], verdict["reasons"], verdict["guidance"]) == ("red", False, [], [])
    remembered = citizen.ok("listProxyIdentities")["items"][0]["id"]
    assert scan(citizen, world["home"], flow="visitor", form=VISIT,
                proxy_identity_id=remembered).json()["data"]["reasons"] == []
    before = row_counts()
    assert_error(scan(citizen, world["home"], flow="visitor", form=VISIT,  # remembered, typed with another name
                      identity={"name": "何小姐", "id_number": number}), 400, "name_mismatch", "identity.name")
    assert row_counts() == before


def test_a_scan_names_one_subject_and_the_identitys_own_fields(citizen, world):
    scan(citizen, world["home"], profile=PROFILE)
    member = citizen.ok("addFamilyMember", {"name": "王小宝", "relationship": "child", "id_number": make_id_number(23)})
    proxy = {"name": "何大爷", "id_number": make_id_number(24)}
    scan(citizen, world["home"], flow="visitor", form=VISIT, identity=proxy)
    remembered = citizen.ok("listProxyIdentities")["items"][0]["id"]
    before = row_counts()
    assert_error(scan(citizen, world["home"], member_id=member["id"], proxy_identity_id=remembered), 400,
                 "conflicting_fields", "proxy_identity_id")
    assert_error(scan(citizen, world["home"], flow="visitor", form=VISIT, proxy_identity_id=remembered,
                      identity=proxy), 400, "conflicting_fields", "identity")
    assert_error(scan(citizen, world["home"], flow="visitor", form=VISIT,
                      identity={"name": "赵六", "id_number": "123"}), 400, "invalid_id_number", "identity.id_number")
    assert_error(scan(citizen, world["home"], flow="visitor", form=VISIT,  # one's own number: scan as oneself
                      identity={"name": "王小明", "id_number": ID}), 409, "is_self", "identity.id_number")
    assert row_counts() == before


def test_a_family_member_is_someone_else_under_their_registered_name(citizen, world):
    scan(citizen, world["home"], profile=PROFILE)
    before = row_counts()
    assert_error(citizen.call("addFamilyMember", {"name": "王自己", "relationship": "other", "id_number": ID}),
                 409, "is_self", "id_number")
    assert row_counts() == before
    holder = ApiClient(citizen.base_url)
    holder.dev_login("citizen-grandma")
    number = make_id_number(25)
    holder.ok("updateProfile", {"name": "王奶奶", "id_number": number, "phone": "13900000025"})
    before = row_counts()
    assert_error(citizen.call("addFamilyMember", {"name": "王姥姥", "relationship": "grandparent", "id_number": number}),
                 400, "name_mismatch", "name")
    assert row_counts() == before
    assert citizen.ok("addFamilyMember", {"name": "王奶奶", "relationship": "grandparent",
                                          "id_number": number})["consent_status"] == "pending"


def test_blank_codes_are_activated_by_their_first_scan(citizen, world):
    token = places.generate_batch("bus", 3).codes[0].token
    info = citizen.ok("getPlaceByCode", path={"token": token})
    assert info["status"] == "blank" and [f["name"] for f in info["activation_form"]] == [
        "route", "plate", "contact_name", "contact_phone"]
    before = row_counts()
    bad = {"route": "B1路", "plate": "ABC", "contact_name": "李四", "contact_phone": "13700000000"}
    assert_error(citizen.call("activatePlaceCode", {"form": bad}, path={"token": token}), 400, "invalid_field",
                 "form.plate")
    assert row_counts() == before
    good = {**bad, "plate": "豫AAD005"}
    created = citizen.call("activatePlaceCode", {"form": good}, path={"token": token})
    assert created.status_code == 201 and created.json()["data"]["name"] == "B1路"
    assert_error(citizen.call("activatePlaceCode", {"form": good}, path={"token": token}), 409,
                 "place_code_already_active")
    form = {"returned_from_elsewhere": False, "from_abroad": False}
    assert scan(citizen, token, flow="customer", profile=PROFILE, form=form).json()["data"]["place"]["type_label"] \
        == "公交"


def test_the_place_admin_downloads_and_reissues_the_code(citizen, world):
    token = places.generate_batch("supermarket", 1).codes[0].token
    form = {"name": "丹尼斯人民路店", "district_code": "410105", "credit_code": "91410100MA3X00000A",
            "contact_name": "李四", "contact_phone": "13700000000"}
    place_id = citizen.ok("activatePlaceCode", {"form": form}, path={"token": token})["id"]
    png = citizen.call("getPlaceCodeImage", path={"place_id": place_id})
    assert png.headers["Content-Type"] == "image/png"
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))[0].text.endswith(f"/s/{token}")
    svg = citizen.call("getPlaceCodeImage", path={"place_id": place_id}, query={"format": "svg"})
    assert svg.headers["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    pdf = citizen.call("getPlaceCodeImage", path={"place_id": place_id}, query={"format": "poster.pdf"})
    assert pdf.content.startswith(b"%PDF")
    other = ApiClient(citizen.base_url)
    other.dev_login("citizen-2")
    assert_error(other.call("getPlaceCodeImage", path={"place_id": place_id}), 403, "not_your_place")
    new = citizen.ok("reissuePlaceCode", path={"place_id": place_id})
    assert new["token"] != token and new["url"].endswith(new["token"])
    assert_error(citizen.call("getPlaceByCode", path={"token": token}), 404, "place_code_revoked")


def test_my_entries_are_paged_newest_first(citizen, world):
    scan(citizen, world["home"], profile=PROFILE)
    for _ in range(3):
        scan(citizen, world["home"])
    page = citizen.ok("listMyEntries", query={"per_page": 2})
    assert page["total"] == 4 and len(page["items"]) == 2
    assert page["items"][0]["id"] > page["items"][1]["id"] and page["items"][0]["place"] == "经八路5号院"


def test_scan_needs_sign_in(api, world):
    assert_error(scan(api, world["home"]), 401, "unauthorized")
    assert Account.select().count() == len(demo.DEMO_ACCOUNTS)


def test_the_scan_checks_its_token_before_anything_else(citizen, world):
    """scanPlace reads the token with its other rows (ApiHandler.signs_in_itself): an unknown,
    revoked, expired or disabled sign-in is refused as on every other endpoint, before the
    request id or the code is looked at, and nothing is written."""
    assert scan(citizen, world["home"], profile=PROFILE).status_code == 200
    before = row_counts()
    good = citizen.token
    citizen.token = "not-a-token"
    assert_error(scan(citizen, world["home"], request_id="bad"), 401, "unauthorized")
    citizen.token = good
    AuthToken.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    assert_error(scan(citizen, "no-such-code"), 401, "token_expired")
    AuthToken.update(expires_at=utcnow() + dt.timedelta(days=1), revoked_at=utcnow()).execute()
    assert_error(scan(citizen, world["home"]), 401, "unauthorized")
    AuthToken.update(revoked_at=None).execute()
    Account.update(status="disabled").where(Account.id == me().account_id).execute()
    assert_error(scan(citizen, world["home"]), 403, "account_disabled")
    assert row_counts() == before


def test_a_scan_survives_its_database_connections_being_dropped(citizen, world, backend):
    """The loop keeps its connections between requests (peewee's, and on MySQL its own for the
    scan's reads and writes): a connection the server dropped (restart, wait_timeout, KILL) is
    opened again by the next scan itself, which answers normally."""
    if backend[0] != "mysql":
        pytest.skip("MariaDB only")
    for _ in range(6):  # every connection has been opened by now
        assert scan(citizen, world["home"], profile=PROFILE).status_code == 200
    admin = _mysql_admin(MYSQL_TEST_URL)
    with admin.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                    (backend[1].rsplit("/", 1)[1],))
        for (conn_id,) in cur.fetchall():
            cur.execute(f"KILL {int(conn_id)}")
    admin.close()
    for _ in range(6):
        answer = scan(citizen, world["home"])
        assert answer.status_code == 200, answer.text
    database.db.execute_sql("SELECT 1")  # this thread's connection, killed too, comes back as well


def test_a_database_out_of_reach_is_a_503_phone_page_too(citizen, world, database_out_of_reach):
    """The H5 page a poster leads to says the same as the API: 503, to retry, in Chinese."""
    url = f"{citizen.base_url}/s/{world['home']}"
    with database_out_of_reach():
        page = requests.get(url, timeout=10)
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    assert "服务暂时不可用，请稍后重试" in page.text and "Traceback" not in page.text
    assert requests.get(url, timeout=10).status_code == 200


def test_rules_changed_behind_the_services_back_turn_the_scan_unknown(citizen, world):
    """The scan checks the colour rules through their fingerprint, read in its own statement:
    a rule corrupted straight in the table makes the verdict unknown at once (fail closed);
    repaired, the next scan is green again."""
    assert scan(citizen, world["home"], profile=PROFILE).json()["data"]["colour"] == "green"
    last = ColourRule.select().order_by(ColourRule.position.desc(), ColourRule.id.desc()).get()
    ColourRule.update(input="no_such_input").where(ColourRule.id == last.id).execute()
    refused = scan(citizen, world["home"]).json()["data"]
    assert refused["colour"] == "unknown" and refused["admit"] is False
    ColourRule.update(input=last.input).where(ColourRule.id == last.id).execute()
    assert scan(citizen, world["home"]).json()["data"]["colour"] == "green"


def test_a_red_or_orange_checkpoint_scan_joins_the_risk_returnee_list(citizen, world):
    from models.investigations import TaskRecord

    trip = {"arrival_date": TODAY, "from_abroad": False, "origin_code": "420100", "origin_name": "湖北省武汉市"}
    scan(citizen, world["airport"], flow="traveller", profile=PROFILE, form=trip)
    assert TaskRecord.select().where(TaskRecord.source == "risk").count() == 1
    scan(citizen, world["airport"], flow="traveller", form=trip)  # once a day
    assert TaskRecord.select().where(TaskRecord.source == "risk").count() == 1


def test_a_database_out_of_reach_answers_503_to_retry_and_the_retry_is_stored(citizen, world, database_out_of_reach):
    """The database goes away (down, unreachable): the scan answers 503 with Retry-After, the
    envelope and a Chinese message, not a 500; nothing is kept, and the client's retry with the
    same request id, once the database is back, is stored once."""
    assert scan(citizen, world["home"], profile=PROFILE).status_code == 200
    before = row_counts()
    with database_out_of_reach():
        response = scan(citizen, world["home"], request_id="retry-after-outage")
    assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert row_counts() == before
    assert scan(citizen, world["home"], request_id="retry-after-outage").status_code == 200
    assert EntryRecord.select().where(EntryRecord.request_id == "retry-after-outage").count() == 1
