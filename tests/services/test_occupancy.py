"""Live occupancy (N8) in the service, on both databases: counting in and out, a full place
refusing and writing nothing, the race for the last place (threads), the count read again by a
new connection (a restart) and kept right by another process, and expiry of the forgotten."""

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import pytest

from models import db as database
from models.fields import utcnow
from models.occupancy import PlaceOccupancy, Presence
from models.places import Place
from models.transactions import run_transaction
from services.common.errors import ApiError
from services.venues import occupancy, places
from tests.conftest import make_person, row_counts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def place(db):
    made, _ = places.create_place(place_type_code="supermarket", name="东区市场")
    return made


def counting(place, capacity):
    return occupancy.set_occupancy(None, place, True, capacity)


def enter(place, person):
    return run_transaction(lambda: occupancy.count_in(Place.get_by_id(place.id), person, utcnow()))


def test_people_are_counted_in_and_out_and_a_full_place_writes_nothing(place):
    people = [make_person(n) for n in range(1, 4)]
    assert counting(place, 2) == {"place_id": place.id, "counting": True, "capacity": 2, "inside": 0,
                                  "available": 2, "full": False}
    assert enter(place, people[0]) is True and enter(place, people[1]) is True
    assert enter(place, people[0]) is False  # inside already: admitted, not counted twice
    assert occupancy.view(Place.get_by_id(place.id))["full"] is True
    before = row_counts()
    with pytest.raises(ApiError) as refused:
        enter(place, people[2])
    assert (refused.value.code, refused.value.message, refused.value.status) == ("place_full", "人数已满，请稍候", 409)
    assert row_counts() == before
    assert occupancy.count_out(place.id, people[0].id) is True
    assert occupancy.count_out(place.id, people[0].id) is False  # leaving twice counts once
    assert enter(place, people[2]) is True
    assert occupancy.view(Place.get_by_id(place.id))["inside"] == 2 == Presence.select().count()


def test_no_capacity_counts_without_a_limit_and_turning_off_forgets(place):
    counting(place, None)
    for n in range(1, 6):
        enter(place, make_person(n))
    assert occupancy.view(Place.get_by_id(place.id))["inside"] == 5
    assert occupancy.set_occupancy(None, place, False)["counting"] is False
    assert Presence.select().count() == 0 and PlaceOccupancy.select().count() == 0


@pytest.mark.parametrize("capacity", [0, -1, True, "3", 2.5, occupancy.MAX_CAPACITY + 1])
def test_a_bad_capacity_is_refused_and_nothing_is_written(place, capacity):
    before = row_counts()
    with pytest.raises(ApiError) as refused:
        occupancy.set_occupancy(None, place, True, capacity)
    assert (refused.value.code, refused.value.field, refused.value.status) == ("invalid_capacity", "capacity", 400)
    assert "容纳人数" in refused.value.message
    assert row_counts() == before and Place.get_by_id(place.id).counts_occupancy is False


def test_two_scans_racing_for_the_last_place_do_not_both_get_in(place):
    """Eight threads, each on its own connection, enter at once with one place left; each holds
    its transaction open a moment after counting, so the others really wait on it."""
    people = [make_person(n) for n in range(1, 10)]
    counting(place, 2)
    enter(place, people[0])
    start, outcomes = threading.Barrier(8), []

    def race(person):
        def write():
            counted = occupancy.count_in(Place.get_by_id(place.id), person, utcnow())
            time.sleep(0.2)
            return counted

        start.wait()
        try:
            outcomes.append(run_transaction(write))
        except ApiError as error:
            outcomes.append(error.code)
        finally:
            database.db.close()

    threads = [threading.Thread(target=race, args=(p,)) for p in people[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, outcomes)) == ["True"] + ["place_full"] * 7
    assert PlaceOccupancy.get_by_id(place.id).inside == 2 == Presence.select().count()


def test_the_count_survives_a_restart_and_another_process_keeps_it(place, backend):
    """A new connection (a restarted server) reads the same count; a second process counting
    someone in sees the first one's people: the place fills across processes."""
    people = [make_person(n) for n in range(1, 4)]
    counting(place, 2)
    enter(place, people[0])
    database.db.close()
    reopened = database.open_database(backend[1])
    with reopened.bind_ctx([PlaceOccupancy, Presence]):
        assert PlaceOccupancy.get_by_id(place.id).inside == 1 and Presence.select().count() == 1
    reopened.close()
    database.db.connect(reuse_if_open=True)

    def other_process(person):
        code = (
            "from models import db as database\n"
            "from models.fields import utcnow\n"
            "from models.people import Person\n"
            "from models.places import Place\n"
            "from models.transactions import run_transaction\n"
            "from services.venues import occupancy\n"
            "from services.common.errors import ApiError\n"
            f"database.db.initialize(database.open_database({backend[1]!r}))\n"
            "try:\n"
            f"    print(run_transaction(lambda: occupancy.count_in(Place.get_by_id({place.id}), Person(id={person.id}),"
            " utcnow())))\n"
            "except ApiError as error:\n"
            "    print(error.code)\n")
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert other_process(people[1]) == "True"
    assert occupancy.view(Place.get_by_id(place.id))["full"] is True  # this process sees the other's count
    assert other_process(people[2]) == "place_full"
    with pytest.raises(ApiError):
        enter(place, people[2])
    assert PlaceOccupancy.get_by_id(place.id).inside == 2


def test_expiry_counts_out_only_those_gone_too_long(place):
    people = [make_person(n) for n in range(1, 4)]
    counting(place, 3)
    for person in people:
        enter(place, person)
    old = utcnow() - dt.timedelta(hours=13)
    Presence.update(entered_at=old).where(Presence.person.in_([people[0].id, people[1].id])).execute()
    assert occupancy.expire(hours=12) == 2
    assert occupancy.expire(hours=12) == 0  # run twice: nothing more
    assert PlaceOccupancy.get_by_id(place.id).inside == 1
    assert [p.person_id for p in Presence.select()] == [people[2].id]
    with pytest.raises(ValueError):
        occupancy.expire(hours=0)
