"""Live occupancy (N8) over HTTP on both databases: the place admin turns counting on with a
capacity, scans count people in until 人数已满，请稍候, leavePlace counts them out, a second server
reads the same count, and every bad input is refused with a Chinese message and nothing written."""

import threading
import uuid

import pytest

from models.occupancy import Presence
from models.places import EntryRecord
from tests.api.test_field_roles import person
from tests.conftest import ApiClient, assert_error, row_counts


@pytest.fixture
def citizens(api, city):
    return [person(api, f"citizen-{n}", n, f"王小{n}") for n in range(2, 5)]


def scan(client, place):
    return client.call("scanPlace", {"code": place["token"], "quick_checkin": True, "request_id": uuid.uuid4().hex})


def test_a_counting_place_fills_refuses_and_admits_again_after_someone_leaves(api, admin, place, citizens,
                                                                              make_server):
    first, second, third = citizens
    assert admin.ok("getPlaceOccupancy")["counting"] is False
    assert admin.ok("setPlaceOccupancy", {"counting": True, "capacity": 2}) == {
        "place_id": place["id"], "counting": True, "capacity": 2, "inside": 0, "available": 2, "full": False}
    assert scan(first, place).json()["data"]["admit"] is True
    assert scan(second, place).json()["data"]["admit"] is True
    assert scan(first, place).json()["data"]["admit"] is True  # inside already: not counted twice
    assert admin.ok("getPlaceOccupancy") == {"place_id": place["id"], "counting": True, "capacity": 2, "inside": 2,
                                             "available": 0, "full": True}
    before = row_counts()
    refused = assert_error(scan(third, place), 409, "place_full")
    assert refused["message"] == "人数已满，请稍候"
    assert row_counts() == before  # no entry record, no presence, nothing
    assert first.ok("leavePlace", {"code": place["token"]})["inside"] == 1
    assert scan(third, place).json()["data"]["admit"] is True
    # Another server process on the same database sees the same count.
    other = make_server()
    again = ApiClient(other.base_url)
    again.token = admin.token
    assert again.ok("getPlaceOccupancy")["inside"] == 2
    assert EntryRecord.select().count() == 4 and Presence.select().count() == 2


def test_a_place_that_does_not_count_keeps_no_presence(admin, place, citizens):
    assert scan(citizens[0], place).json()["data"]["admit"] is True
    assert Presence.select().count() == 0 and admin.ok("getPlaceOccupancy")["inside"] == 0
    admin.ok("setPlaceOccupancy", {"counting": True, "capacity": None})
    scan(citizens[0], place)
    assert admin.ok("getPlaceOccupancy")["inside"] == 1
    assert admin.ok("setPlaceOccupancy", {"counting": False})["inside"] == 0
    scan(citizens[1], place)
    assert Presence.select().count() == 0


@pytest.mark.parametrize("capacity", [0, -1, "10", 2.5, True])
def test_a_bad_capacity_is_refused_and_nothing_is_written(admin, place, capacity):
    admin.ok("setPlaceOccupancy", {"counting": True, "capacity": 5})
    before = row_counts()
    error = assert_error(admin.call("setPlaceOccupancy", {"counting": True, "capacity": capacity}), 400,
                         "invalid_field", "capacity")
    assert "容纳人数" in error["message"]
    assert row_counts() == before and admin.ok("getPlaceOccupancy")["capacity"] == 5


def test_leaving_without_being_inside_is_refused_and_changes_nothing(admin, place, citizens):
    admin.ok("setPlaceOccupancy", {"counting": True, "capacity": 3})
    scan(citizens[0], place)
    before = row_counts()
    error = assert_error(citizens[1].call("leavePlace", {"code": place["token"]}), 409, "not_inside", "code")
    assert "不在该场所内" in error["message"]
    assert row_counts() == before
    citizens[0].ok("leavePlace", {"code": place["token"]})
    assert_error(citizens[0].call("leavePlace", {"code": place["token"]}), 409, "not_inside", "code")
    assert_error(citizens[0].call("leavePlace", {"code": "nosuchcode"}), 404, "unknown_place_code", "code")
    assert admin.ok("getPlaceOccupancy")["inside"] == 0


def test_only_the_place_admin_sees_and_sets_the_count(admin, place, citizens):
    assert_error(citizens[0].call("getPlaceOccupancy"), 404, "no_place")
    before = row_counts()
    assert_error(citizens[0].call("setPlaceOccupancy", {"counting": True, "capacity": 1}), 404, "no_place")
    assert row_counts() == before


def test_two_servers_racing_for_the_last_place_admit_one(api, admin, place, citizens, make_server):
    """Two server instances on the same database (each its own event loop and connections, as
    two processes), each sent a scan at the same moment for the one place left: one gets in, the
    other is told 人数已满，请稍候, and the count and the records say one."""
    admin.ok("setPlaceOccupancy", {"counting": True, "capacity": 1})
    other = make_server()
    clients = []
    for citizen, base_url in zip(citizens[:2], (api.base_url, other.base_url)):
        client = ApiClient(base_url)
        client.token = citizen.token
        clients.append(client)
    start, answers = threading.Barrier(2), []

    def send(client):
        start.wait()
        answers.append(scan(client, place).status_code)

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [200, 409]
    assert admin.ok("getPlaceOccupancy")["inside"] == 1
    assert EntryRecord.select().count() == 1 and Presence.select().count() == 1


def test_whoever_activated_a_pre_printed_code_sets_its_capacity(citizens):
    """A bus's code is printed blank and activated by its first scan: that account administers
    the bus (no place_admin role needed) and may limit how many ride it."""
    from services.venues import places

    driver, rider = citizens[0], citizens[1]
    token = places.generate_batch("bus", 1).codes[0].token
    driver.ok("activatePlaceCode", {"form": {"route": "B1路", "plate": "豫AAD005", "contact_name": "李四",
                                             "contact_phone": "13700000000"}}, path={"token": token})
    assert driver.ok("setPlaceOccupancy", {"counting": True, "capacity": 40})["capacity"] == 40
    assert scan(rider, {"token": token}).json()["data"]["admit"] is True
    assert driver.ok("getPlaceOccupancy")["inside"] == 1
