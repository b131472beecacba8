"""The health-code API end to end on both databases: my code, verification by an inspector,
paper codes, declarations, temperatures, entry registrations and nearby risk."""

import datetime as dt
import io
import time

import pytest
import zxingcpp
from PIL import Image

from models.accounts import Account
from models.declarations import Declaration, PaperCode
from models.people import Person
from models.risk_inputs import TemperatureRecord, TravelRecord
from services.accounts import auth
from services.common.timefmt import china_today
from services.operations import demo
from services.people import health_codes
from services.risk_data import risk_inputs
from tests.conftest import ApiClient, assert_error, assert_refused, row_counts, report_case

ID = "110101199003070011"
DECLARATION = {"kind": "personal", "residence": "郑州市金水区经八路5号", "health_status": "healthy",
               "contact_with_patient": False}


@pytest.fixture
def citizen(api):
    api.dev_login("citizen-1")
    api.ok("updateProfile", {"name": "王小明", "id_number": ID, "phone": "13800000000"})
    return api


@pytest.fixture
def inspector(citizen):
    other = ApiClient(citizen.base_url)
    login = other.dev_login("inspector-1")
    auth.grant_role(Account.get_by_id(login["account"]["id"]), "inspector")
    return other


def me() -> Person:
    return Person.get(Person.relation == "self")


def test_my_health_code_needs_a_profile(api):
    api.dev_login()
    assert_error(api.call("getMyHealthCode"), 400, "profile_incomplete")


def test_my_health_code_is_green_with_a_short_lived_signed_payload(citizen):
    code = citizen.ok("getMyHealthCode")
    assert code["colour"] == "green" and code["colour_label"] == "绿码" and code["reasons"] == []
    assert code["name"] == "王**" and code["id_number"] == "110101*****0011"
    issued = dt.datetime.fromisoformat(code["code"]["issued_at"])
    expires = dt.datetime.fromisoformat(code["code"]["expires_at"])
    assert (expires - issued).total_seconds() == 60 and code["code"]["issued_at"].endswith("+08:00")
    assert code["code"]["payload"].startswith("HC1.") and ID not in code["code"]["payload"]


def test_a_fever_makes_my_code_red_with_guidance_and_history(citizen):
    risk_inputs.record_temperature(me(), 38.1)
    code = citizen.ok("getMyHealthCode")
    assert code["colour"] == "red" and code["reasons"] == ["体温异常（≥37.3℃）"] and code["guidance"]
    history = citizen.ok("listMyColourHistory")["items"]
    assert [(h["from"], h["to"], h["why"], h["why_label"]) for h in history] == [
        ("green", "red", "temperature_recorded", "体温登记")]


def test_three_colour_scheme(make_server):
    api = make_server(colour_scheme=3)
    api.dev_login()
    api.ok("updateProfile", {"name": "王小明", "id_number": ID})
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    risk_inputs.record_travel(me(), arrival_date=china_today(), origin_code="420100")
    assert api.ok("getMyHealthCode")["colour"] == "yellow"


def test_an_inspector_verifies_a_dynamic_code(citizen, inspector):
    risk_inputs.add_fever_medicine_purchases([{"id_number": ID, "pharmacy": "老百姓大药房"}])
    citizen.ok("submitDeclaration", DECLARATION)
    payload = citizen.ok("getMyHealthCode")["code"]["payload"]
    result = inspector.ok("verifyHealthCode", {"payload": payload})
    assert result["code_kind"] == "dynamic"
    assert (result["name"], result["id_number"], result["phone"]) == ("王**", "110101*****0011", "138****0000")
    assert result["colour"] == "yellow" and result["reasons"] == ["14天内购买过退烧药品"]
    assert result["latest_declaration"]["health_status"] == "healthy"
    assert ID not in str(result)


def test_a_citizen_cannot_verify_codes(citizen):
    payload = citizen.ok("getMyHealthCode")["code"]["payload"]
    assert_error(citizen.call("verifyHealthCode", {"payload": payload}), 403, "forbidden")


def test_forged_expired_and_garbage_codes_are_refused(citizen, inspector):
    payload = citizen.ok("getMyHealthCode")["code"]["payload"]
    head, claims, signature = payload.split(".")
    forged = ".".join([head, claims, ("A" if signature[0] != "A" else "B") + signature[1:]])
    assert_error(inspector.call("verifyHealthCode", {"payload": forged}), 400, "code_forged", "payload")
    expired = health_codes.dynamic_code(me(), citizen.config, now=time.time() - 120)["payload"]
    assert_error(inspector.call("verifyHealthCode", {"payload": expired}), 400, "code_expired", "payload")
    assert_error(inspector.call("verifyHealthCode", {"payload": "hello"}), 400, "code_malformed", "payload")


def test_paper_codes_print_verify_and_revoke(citizen, inspector):
    created = citizen.call("createPaperHealthCode")
    assert created.status_code == 201
    paper = created.json()["data"]
    image = citizen.call("getPaperHealthCodeImage", path={"code_id": paper["id"]})
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    payload = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))[0].text
    assert inspector.ok("verifyHealthCode", {"payload": payload})["code_kind"] == "paper"
    assert citizen.ok("listPaperHealthCodes")["items"][0]["revoked"] is False
    assert citizen.ok("revokePaperHealthCode", path={"code_id": paper["id"]})["revoked"] is True
    assert_error(inspector.call("verifyHealthCode", {"payload": payload}), 400, "code_revoked", "payload")


def test_a_revoked_or_expired_paper_code_is_no_longer_served(citizen):
    paper = citizen.call("createPaperHealthCode").json()["data"]
    citizen.ok("revokePaperHealthCode", path={"code_id": paper["id"]})
    revoked_at = PaperCode.get_by_id(paper["id"]).revoked_at
    before = row_counts()
    error = assert_error(citizen.call("getPaperHealthCodeImage", path={"code_id": paper["id"]}), 410,
                         "paper_code_revoked", "code_id")
    assert "已作废" in error["message"]
    assert row_counts() == before and PaperCode.get_by_id(paper["id"]).revoked_at == revoked_at
    assert citizen.ok("listPaperHealthCodes")["items"][0]["image_path"] is None  # nothing to fetch
    expired = citizen.call("createPaperHealthCode").json()["data"]
    PaperCode.update(expires_at=PaperCode.issued_at).where(PaperCode.id == expired["id"]).execute()
    assert_error(citizen.call("getPaperHealthCodeImage", path={"code_id": expired["id"]}), 410,
                 "paper_code_expired", "code_id")
    _, path = citizen.operations()["getPaperHealthCodeImage"]
    assert "410" in citizen.get("/openapi.json").json()["paths"][path]["get"]["responses"]


def test_another_persons_paper_code_is_not_found(citizen):
    paper = citizen.call("createPaperHealthCode").json()["data"]
    other = ApiClient(citizen.base_url)
    other.dev_login("citizen-2")
    other.ok("updateProfile", {"name": "李四", "id_number": "11010519491231002X"})
    assert_error(other.call("getPaperHealthCodeImage", path={"code_id": paper["id"]}), 404, "paper_code_not_found")
    assert_error(other.call("revokePaperHealthCode", path={"code_id": paper["id"]}), 404, "paper_code_not_found")
    assert PaperCode.get().revoked_at is None


def test_a_declared_contact_with_a_patient_turns_red(citizen):
    declared = citizen.call("submitDeclaration", {**DECLARATION, "contact_with_patient": True, "temperature": 36.6})
    assert declared.status_code == 201
    assert declared.json()["data"]["kind_label"] == "个人申报"
    assert citizen.ok("getMyHealthCode")["reasons"] == ["申报曾与确诊或疑似病例接触"]
    temperatures = citizen.ok("listTemperatures")
    assert temperatures["total"] == 1 and temperatures["items"][0]["temperature"] == 36.6


def test_a_declared_trip_from_a_key_region_turns_orange(citizen):
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    citizen.ok("submitDeclaration", {**DECLARATION, "returned_from_elsewhere": True,
                                     "arrival_date": str(china_today()), "origin_code": "420100",
                                     "origin_name": "湖北省武汉市", "transport": "high_speed_rail",
                                     "transport_number": "G507"})
    assert citizen.ok("getMyHealthCode")["colour"] == "orange"
    assert TravelRecord.get().transport_number == "G507"


def test_declarations_are_listed_newest_first_and_paged(citizen):
    for status in ("healthy", "cough", "healthy"):
        citizen.ok("submitDeclaration", {**DECLARATION, "health_status": status})
    page = citizen.ok("listDeclarations", query={"page": 1, "per_page": 2})
    assert page["total"] == 3 and len(page["items"]) == 2 and page["items"][0]["id"] > page["items"][1]["id"]
    assert citizen.ok("listDeclarations", query={"page": 2, "per_page": 2})["items"][0]["health_status"] == "healthy"
    assert_error(citizen.call("listDeclarations", query={"per_page": 500}), 400, "invalid_field", "per_page")
    assert_error(citizen.call("listDeclarations", query={"page": "x"}), 400, "invalid_field", "page")


@pytest.mark.parametrize("changes, code, field", [
    ({"temperature": 43.5}, "invalid_temperature", "temperature"),
    ({"temperature": 33}, "invalid_temperature", "temperature"),
    ({"returned_from_elsewhere": True, "arrival_date": "2999-01-01", "origin_name": "武汉"}, "date_in_future",
     "arrival_date"),
    ({"returned_from_elsewhere": True, "origin_name": "武汉"}, "missing_field", "arrival_date"),
    ({"arrival_date": "2020-02-30"}, "invalid_field", "arrival_date"),
    ({"arrival_date": "20261201"}, "invalid_field", "arrival_date"),  # YYYY-MM-DD only
    ({"origin_code": "abcdef"}, "invalid_region_code", "origin_code"),  # even with no travel declared
    ({"kind": "member"}, "missing_field", "organisation"),
    ({"health_status": "great"}, "invalid_field", "health_status"),
    ({"contact_with_patient": "no"}, "invalid_field", "contact_with_patient"),
    ({"mood": "happy"}, "unknown_field", "mood"),
])
def test_bad_declarations_are_refused_and_nothing_is_stored(citizen, changes, code, field):
    assert_refused(citizen, "submitDeclaration", {**DECLARATION, **changes}, code, field)
    assert Declaration.select().count() == 0 and TemperatureRecord.select().count() == 0


def test_province_entry_registration_and_history(citizen):
    entry = {"entry_date": str(china_today()), "origin_code": "440300", "origin_name": "广东省深圳市",
             "transport": "plane", "transport_number": "CZ3901", "destination": "郑州市金水区经八路5号"}
    assert citizen.call("registerProvinceEntry", entry).status_code == 201
    assert citizen.ok("listProvinceEntries")["items"][0]["transport_number"] == "CZ3901"
    assert TravelRecord.get().source == "province_entry"
    before = row_counts()
    assert_error(citizen.call("registerProvinceEntry", {**entry, "entry_date": "2999-01-01"}), 400,
                 "date_in_future", "entry_date")
    assert_error(citizen.call("registerProvinceEntry", {**entry, "origin_code": "44"}), 400,
                 "invalid_region_code", "origin_code")
    assert row_counts() == before


def test_nearby_risk_lists_compounds_with_cases_nearest_first(citizen):
    demo.load()
    report_case(name="甲", id_number="11010519491231002X", kind="confirmed", compound="410105001001002")
    report_case(name="乙", id_number="110101199003070038", kind="confirmed", compound="410105001001001")
    report_case(name="丙", id_number="110101199003070054", kind="suspected", compound="410105001001001")
    report_case(name="丁", id_number="110101199003070070", kind="confirmed", compound="410108001001001")
    near = citizen.ok("nearbyRisk", query={"lat": 34.7765, "lng": 113.6745, "radius": 2000})["items"]
    assert [c["name"] for c in near] == ["经八路5号院", "黄河路小区"]
    assert near[0]["confirmed"] == 1 and near[0]["suspected"] == 1 and near[0]["risk_label"] == "较低风险"
    assert 0 < near[0]["distance_m"] < near[1]["distance_m"] <= 2000


@pytest.mark.parametrize("query, code, field", [
    ({"lat": 200, "lng": 113.6}, "invalid_coordinates", "lat"),
    ({"lat": 34.7, "lng": 190}, "invalid_coordinates", "lng"),
    ({"lat": 34.7, "lng": 113.6, "radius": 100000}, "invalid_radius", "radius"),
    ({"lat": 34.7, "lng": 113.6, "radius": 0}, "invalid_radius", "radius"),  # not the default
    ({"lat": "north", "lng": 113.6}, "invalid_field", "lat"),
    ({"lng": 113.6}, "missing_field", "lat"),
])
def test_bad_nearby_queries(citizen, query, code, field):
    assert_error(citizen.call("nearbyRisk", query=query), 400, code, field)


def test_a_message_names_a_field_by_its_label_without_the_explanation(citizen):
    error = assert_error(citizen.call("nearbyRisk", query={"lat": 34.7, "lng": 113.6, "radius": "far"}), 400,
                         "invalid_field", "radius")
    assert error["message"] == "半径应为数字"  # its label is "半径（米），默认 3000"


def test_demo_accounts_show_each_role(api):
    demo.load()
    api.dev_login("demo-returnee")
    code = api.ok("getMyHealthCode")
    assert code["colour"] == "orange" and code["reasons"] == ["14天内有重点地区旅居史"]
    inspector = ApiClient(api.base_url)
    inspector.dev_login("demo-inspector")
    assert inspector.ok("verifyHealthCode", {"payload": code["code"]["payload"]})["colour"] == "orange"
