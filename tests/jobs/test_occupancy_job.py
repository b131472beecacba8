"""N8: the job that counts out whoever never scanned out of a counting place, on both databases,
and its setting (OCCUPANCY_EXPIRE_HOURS) and schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from config import Config, TestConfig
from jobs import occupancy as occupancy_job
from jobs.scheduler import make_scheduler
from models.fields import utcnow
from models.occupancy import PlaceOccupancy, Presence
from models.places import Place
from models.transactions import run_transaction
from services.venues import occupancy, places
from tests.conftest import make_person


def test_people_counted_in_too_long_ago_are_counted_out(db):
    place, _ = places.create_place(place_type_code="supermarket", name="湿地公园")
    occupancy.set_occupancy(None, place, True, 2)
    people = [make_person(n) for n in (1, 2)]
    for person in people:
        run_transaction(lambda person=person: occupancy.count_in(Place.get_by_id(place.id), person, utcnow()))
    assert occupancy.view(Place.get_by_id(place.id))["full"] is True
    Presence.update(entered_at=utcnow() - dt.timedelta(hours=5)).where(Presence.person == people[0].id).execute()
    later = utcnow() + dt.timedelta(hours=8)  # the first is 13 hours in, the second 8
    assert occupancy_job.run(now=later, hours=12) == {"expired": 1, "corrected": 0}
    assert occupancy_job.run(now=later, hours=12) == {"expired": 0, "corrected": 0}  # safe to run twice
    assert PlaceOccupancy.get_by_id(place.id).inside == 1
    assert occupancy.view(Place.get_by_id(place.id))["full"] is False
    assert occupancy_job.run(now=later + dt.timedelta(hours=5)) == {"expired": 1, "corrected": 0}  # default: 12 h


def test_a_count_that_lost_its_presences_is_set_right(db):
    """A presence deleted behind the count's back (its person deleted, the row cascading) no
    longer holds a place: the job sets the count to the people recorded inside."""
    place, _ = places.create_place(place_type_code="supermarket", name="湿地公园")
    occupancy.set_occupancy(None, place, True, 2)
    people = [make_person(n) for n in (1, 2)]
    for person in people:
        run_transaction(lambda person=person: occupancy.count_in(Place.get_by_id(place.id), person, utcnow()))
    Presence.delete().where(Presence.person == people[0].id).execute()
    assert occupancy.view(Place.get_by_id(place.id))["full"] is True
    assert occupancy_job.run(hours=12) == {"expired": 0, "corrected": 1}
    assert occupancy_job.run(hours=12) == {"expired": 0, "corrected": 0}
    assert PlaceOccupancy.get_by_id(place.id).inside == 1


def test_the_expiry_is_configured_and_scheduled():
    assert Config().occupancy_expire_hours == 12
    assert Config.from_env({"OCCUPANCY_EXPIRE_HOURS": "4"}).occupancy_expire_hours == 4
    with pytest.raises(SystemExit, match="OCCUPANCY_EXPIRE_HOURS"):
        make_scheduler(TestConfig(occupancy_expire_hours=0))
    job = make_scheduler(TestConfig()).get_job(occupancy_job.JOB_ID)
    assert job.coalesce is True and job.max_instances == 1
    assert {f.name: str(f) for f in job.trigger.fields}["minute"] == "*/10"
