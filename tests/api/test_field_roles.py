"""Each field role's flow end to end over HTTP on both databases, misuse included (B4, B5, C7,
E1-E5): place admin, inspector, grid admin and worker, medical staff, and the operation log."""

import datetime as dt
import uuid

import pytest

from models.accounts import Account
from models.fieldwork import OperationLog
from models.places import EntryRecord
from models.risk_inputs import ReleaseNotice
from services.accounts import auth
from services.common.regions import load_tree
from services.fieldwork import grids
from services.operations.demo import ZHENGZHOU
from services.people import health_codes
from services.risk_data import risk_inputs
from tests.conftest import ApiClient, assert_error, assert_refused, make_id_number, row_counts

PUBLIC = {"region_code": "410105", "address": "郑州市金水区经三路21号", "place_type": "public_service",
          "name": "金水区政务服务中心"}


def person(api, openid: str, n: int, name: str = "张三") -> ApiClient:
    """A signed-in client of `api`'s server with a complete real-name profile."""
    client = ApiClient(api.base_url)
    client.config = api.config
    login = client.dev_login(openid)
    client.account_id = login["account"]["id"]
    client.ok("updateProfile", {"name": name, "id_number": make_id_number(n), "phone": f"139{n:08d}"})
    return client


def declared_place(api) -> str:
    """The demo city's regions loaded and the public place created by its admin (周管理): the
    place's declaration code, which an inspector binds with."""
    load_tree(ZHENGZHOU)
    return person(api, "admin", 1, "周管理").ok("createPlace", PUBLIC)["declaration_code"]


@pytest.fixture
def citizen(api, city):
    return person(api, "citizen", 2, "王小明")


def code_of(client) -> str:
    return client.ok("getMyHealthCode")["code"]["payload"]


def rid() -> str:
    return uuid.uuid4().hex


# --- place admin and inspector --------------------------------------------------------------------

def test_place_admin_creates_one_place_and_shares_its_declaration_code(admin):
    created = admin.call("createPlace", PUBLIC)
    assert created.status_code == 201
    place = created.json()["data"]
    assert place["type_label"] == "公共服务" and len(place["declaration_code"]) == 8
    assert place["code_url"].split("/s/")[1] and place["quick_checkin_url"].endswith("?quick=1")
    assert place["stats"] == {"inspectors": 0, "today": 0, "total": 0}
    assert admin.ok("getMyPlace")["id"] == place["id"]
    before = row_counts()
    assert_error(admin.call("createPlace", {**PUBLIC, "name": "第二个场所"}), 409, "already_place_admin")
    assert row_counts() == before


def test_a_checkpoint_has_no_quick_checkin_code(admin):
    place = admin.ok("createPlace", {**PUBLIC, "place_type": "hsr_station", "name": "郑州东站"})
    assert place["code_url"].split("/s/")[1] and place["quick_checkin_url"] is None


@pytest.mark.parametrize("changes, code, field", [
    ({"region_code": "999999"}, "unknown_region", "region_code"),
    ({"place_type": "compound"}, "invalid_field", "place_type"),
    ({"place_type": "castle"}, "invalid_field", "place_type"),
    ({"name": ""}, "missing_field", "name"),
])
def test_bad_places_are_refused(admin, changes, code, field):
    assert_refused(admin, "createPlace", {**PUBLIC, **changes}, code, field)


def test_inspectors_bind_check_temperatures_and_count(api, admin, citizen):
    declaration_code = admin.ok("createPlace", PUBLIC)["declaration_code"]
    inspector = person(api, "inspector", 3, "吴检测")
    assert_error(inspector.call("bindPlace", {"declaration_code": "NOSUCH00"}), 404, "unknown_declaration_code",
                 "declaration_code")
    places = inspector.ok("bindPlace", {"declaration_code": declaration_code.lower()})["items"]
    assert places[0]["is_current"] is True and places[0]["quick_checkin_url"].endswith("?quick=1")
    verified = inspector.ok("verifyHealthCode", {"payload": code_of(citizen)})
    assert verified["name"] == "王**" and verified["phone"] == "139****0002"
    check = inspector.ok("recordTemperatureCheck", {"payload": code_of(citizen), "result": "normal",
                                                    "temperature": 36.4, "request_id": rid()})
    assert check["admit"] is True and check["place"]["name"] == "金水区政务服务中心"
    fever = inspector.ok("recordTemperatureCheck", {"payload": code_of(citizen), "result": "fever",
                                                    "temperature": 38.2, "request_id": rid()})
    assert fever["colour"] == "red" and fever["admit"] is False
    assert citizen.ok("getMyHealthCode")["colour"] == "red"  # the engine heard it
    entries = EntryRecord.select().where(EntryRecord.source == "inspector")
    assert entries.count() == 2 and {e.account_id for e in entries} == {inspector.account_id}
    assert inspector.ok("getInspectorStats") == {"today": 2, "total": 2}
    mine = admin.ok("getMyPlace")
    assert mine["stats"] == {"inspectors": 1, "today": 2, "total": 2}
    assert mine["inspectors"][0]["name"] == "吴**"


def test_an_inspector_cannot_register_at_a_place_they_are_not_bound_to(api, admin, citizen):
    admin.ok("createPlace", PUBLIC)
    other_admin = person(api, "other-admin", 4)
    other_code = other_admin.ok("createPlace", {**PUBLIC, "name": "另一个场所"})
    inspector = person(api, "inspector", 3)
    inspector.ok("bindPlace", {"declaration_code": admin.ok("getMyPlace")["declaration_code"]})
    before = row_counts()
    assert_error(inspector.call("recordTemperatureCheck", {"payload": code_of(citizen), "result": "normal",
                                                           "place_id": other_code["id"], "request_id": rid()}),
                 403, "not_bound_to_place", "place_id")
    assert row_counts() == before


def test_a_citizen_cannot_record_checks(citizen):
    assert_error(citizen.call("recordTemperatureCheck", {"payload": "x", "result": "normal", "request_id": rid()}),
                 403, "forbidden")


def test_forged_and_expired_codes_are_refused_at_the_door(api, admin, citizen):
    admin.ok("createPlace", PUBLIC)
    inspector = person(api, "inspector", 3)
    inspector.ok("bindPlace", {"declaration_code": admin.ok("getMyPlace")["declaration_code"]})
    from models.people import Person

    expired = health_codes.dynamic_code(Person.by_id_number(make_id_number(2)).get(), api.config,
                                        now=dt.datetime.utcnow() - dt.timedelta(minutes=5))["payload"]
    before = row_counts()
    for payload, code in ((expired, "code_expired"), (code_of(citizen)[:-4] + "AAAA", "code_forged")):
        assert_error(inspector.call("recordTemperatureCheck", {"payload": payload, "result": "normal",
                                                               "request_id": rid()}), 400, code, "payload")
    assert_error(inspector.call("recordTemperatureCheck", {"payload": code_of(citizen), "result": "normal",
                                                           "temperature": 38.5, "request_id": rid()}),
                 400, "temperature_mismatch", "temperature")
    assert row_counts() == before


def test_inspectors_switch_and_unbind_and_admins_hand_over(api, admin):
    first = admin.ok("createPlace", PUBLIC)
    second_admin = person(api, "admin-2", 5)
    second = second_admin.ok("createPlace", {**PUBLIC, "name": "第二中心"})
    inspector = person(api, "inspector", 3)
    inspector.ok("bindPlace", {"declaration_code": first["declaration_code"]})
    inspector.ok("bindPlace", {"declaration_code": second["declaration_code"]})
    assert [p["is_current"] for p in inspector.ok("listInspectorPlaces")["items"]] == [True, False]
    inspector.ok("setCurrentPlace", path={"place_id": first["id"]})
    assert inspector.ok("listInspectorPlaces")["items"][0]["id"] == first["id"]
    inspector.ok("unbindPlace", path={"place_id": second["id"]})
    assert len(inspector.ok("listInspectorPlaces")["items"]) == 1
    # The admin may also be an inspector of their own place, then hands the place over.
    admin.ok("bindPlace", {"declaration_code": first["declaration_code"]})
    assert_error(admin.call("handOverPlace", {"account_id": 99999}), 400, "not_an_inspector_here", "account_id")
    handed = admin.ok("handOverPlace", {"account_id": inspector.account_id})
    assert handed["id"] == first["id"]
    assert inspector.ok("getMyPlace")["id"] == first["id"]
    assert_error(admin.call("getMyPlace"), 404, "no_place")
    assert "place_admin" not in Account.get_by_id(admin.account_id).role_names()
    inspector.ok("unbindInspector", path={"account_id": admin.account_id})
    assert inspector.ok("getMyPlace")["stats"]["inspectors"] == 1


# --- grids ----------------------------------------------------------------------------------------

def test_grid_admin_needs_a_real_name_and_has_one_grid(api, city):
    anonymous = ApiClient(api.base_url)
    anonymous.dev_login("nobody")
    assert_error(anonymous.call("createGrid", {"region_code": "410105001001", "name": "一网格"}), 400,
                 "profile_incomplete")
    grid_admin = person(api, "grid-admin", 6)
    grid = grid_admin.call("createGrid", {"region_code": "410105001001", "name": "黄河路社区一网格"})
    assert grid.status_code == 201 and grid.json()["data"]["approved"] is False
    assert_error(grid_admin.call("createGrid", {"region_code": "410105001001", "name": "二网格"}), 409,
                 "already_grid_admin")


def test_grid_workers_collect_and_see_more_once_authorised(api, city, citizen):
    grid_admin = person(api, "grid-admin", 6)
    grid = grid_admin.ok("createGrid", {"region_code": "410105001001", "name": "黄河路社区一网格"})
    worker = person(api, "worker", 7, "郑网格")
    assert_error(worker.call("bindGrid", {"declaration_code": "NOSUCH00"}), 404, "unknown_declaration_code")
    mine = worker.ok("bindGrid", {"declaration_code": grid["declaration_code"]})["items"]
    assert mine[0]["status"] == "pending" and mine[0]["authorised"] is False
    citizen.ok("submitDeclaration", {"kind": "personal", "residence": "经八路5号院", "health_status": "healthy",
                                     "contact_with_patient": False})
    collected = worker.ok("collectInfo", {"method": "scan", "payload": code_of(citizen), "health_status": "cough",
                                          "contact_with_patient": False, "temperature": 36.8})
    assert collected["authorised"] is False and "declarations" not in collected
    assert collected["latest_declaration"]["kind_label"] == "网格采集"
    manual = worker.ok("collectInfo", {"method": "manual", "health_status": "healthy", "contact_with_patient": True,
                                       "person": {"name": "孙大爷", "id_number": make_id_number(30),
                                                  "address": "经八路5号院2号楼"}})
    assert manual["name"] == "孙**" and manual["colour"] == "red"  # declared contact: the engine heard it
    before = row_counts()
    assert_error(worker.call("listPersonDeclarations", path={"person_id": collected["person_id"]}), 403,
                 "not_authorised")
    assert_error(worker.call("listGridKeyPersons"), 403, "not_authorised")
    assert row_counts() == before
    # Approved by the grid admin but the grid not yet approved in the back office: still not authorised.
    grid_admin.ok("approveGridWorker", path={"account_id": worker.account_id})
    assert_error(worker.call("listGridKeyPersons"), 403, "not_authorised")
    grids.approve_grid(grid["id"])
    full = worker.ok("listPersonDeclarations", path={"person_id": collected["person_id"]})["items"]
    assert [d["kind"] for d in full] == ["grid", "personal"]
    key = worker.ok("listGridKeyPersons")["items"]
    assert [k["name"] for k in key] == ["孙**"] and key[0]["colour"] == "red"
    assert worker.ok("getGridWorkerStats") == {"today": 2, "total": 2}
    summary = grid_admin.ok("getMyGrid")
    assert summary["stats"]["members"] == 1 and summary["stats"]["approved_members"] == 1
    assert summary["stats"]["declarations"] == 2 and summary["members"][0]["status"] == "approved"


def test_grid_workers_switch_and_unbind(api, city):
    admins = [person(api, f"grid-admin-{i}", 40 + i) for i in range(2)]
    codes = [a.ok("createGrid", {"region_code": "410105001001", "name": f"网格{i}"})["declaration_code"]
             for i, a in enumerate(admins)]
    worker = person(api, "worker", 7)
    for code in codes:
        worker.ok("bindGrid", {"declaration_code": code})
    grids_listed = worker.ok("listMyGrids")["items"]
    assert [g["is_current"] for g in grids_listed] == [True, False] and grids_listed[0]["name"] == "网格1"
    worker.ok("setCurrentGrid", path={"grid_id": grids_listed[1]["grid_id"]})
    assert worker.ok("listMyGrids")["items"][0]["name"] == "网格0"
    worker.ok("unbindGrid", path={"grid_id": grids_listed[1]["grid_id"]})
    assert [g["name"] for g in worker.ok("listMyGrids")["items"]] == ["网格1"]


# --- medical staff --------------------------------------------------------------------------------

@pytest.fixture
def doctor(api, city):
    client = person(api, "doctor", 8, "赵医生")
    auth.grant_role(Account.get_by_id(client.account_id), "medical", institution="郑州市第一人民医院")
    return client


def test_a_release_notice_lifts_the_red_and_is_not_issued_twice(doctor, citizen):
    from models.people import Person

    me = Person.by_id_number(make_id_number(2)).get()
    risk_inputs.add_close_contacts([{"id_number": me.id_number, "listed_on": dt.date.today() - dt.timedelta(days=3)}])
    risk_inputs.set_isolation(me.subject, "confirmed", since=dt.date.today() - dt.timedelta(days=3))
    assert citizen.ok("getMyHealthCode")["colour"] == "red"
    form = doctor.ok("prepareReleaseNotice", {"payload": code_of(citizen)})
    assert form["name"] == "王**" and form["institution"] == "郑州市第一人民医院"
    assert set(form["observations"]) == {"密切接触者", "正在隔离医学观察"}
    issued = doctor.call("issueReleaseNotice", {"payload": code_of(citizen)})
    assert issued.status_code == 201
    notice = issued.json()["data"]
    assert notice["number"].startswith("JC") and notice["staff_name"] == "赵**" and notice["valid"] is True
    assert citizen.ok("getMyHealthCode")["colour"] == "green"
    history = citizen.ok("listMyColourHistory")["items"]
    assert history[0]["to"] == "green" and history[0]["why"] == f"release_notice {notice['number']}"
    assert citizen.ok("getMyReleaseNotice")["number"] == notice["number"]
    assert doctor.ok("listIssuedNotices")["total"] == 1
    before = row_counts()
    assert_error(doctor.call("issueReleaseNotice", {"payload": code_of(citizen)}), 409, "already_released")
    assert row_counts() == before and ReleaseNotice.select().count() == 1


def test_nothing_to_release_and_citizens_cannot_issue(doctor, citizen):
    assert_error(doctor.call("issueReleaseNotice", {"payload": code_of(citizen)}), 409, "nothing_to_release")
    assert_error(citizen.call("issueReleaseNotice", {"payload": code_of(citizen)}), 403, "forbidden")
    assert_error(citizen.call("getMyReleaseNotice"), 404, "no_release_notice")
    assert ReleaseNotice.select().count() == 0


def test_every_role_action_is_in_the_operation_log(api, admin, citizen, doctor):
    declaration_code = admin.ok("createPlace", PUBLIC)["declaration_code"]
    inspector = person(api, "inspector", 3)
    inspector.ok("bindPlace", {"declaration_code": declaration_code})
    inspector.ok("recordTemperatureCheck", {"payload": code_of(citizen), "result": "normal", "request_id": rid()})
    actions = [(r.actor_id, r.role, r.action) for r in OperationLog.select().order_by(OperationLog.id)]
    assert actions == [(admin.account_id, "place_admin", "create_place"),
                       (inspector.account_id, "inspector", "bind_place"),
                       (inspector.account_id, "inspector", "temperature_check")]
    assert "110101" not in "".join(r.detail for r in OperationLog.select())
