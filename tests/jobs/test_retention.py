"""I4: the retention job, with an injected clock, on both databases: entry records and
temperatures older than RETENTION_DAYS go, newer ones and the statistics stay; entries the
hourly job has not counted yet stay; a temperature rule that looks further back keeps its
evidence; a second run deletes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from config import Config, TestConfig
from jobs import hourly_stats, retention
from jobs.scheduler import make_scheduler
from models.colour import ColourRule
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from models.statistics import DailyPlaceStat, HourlyPlaceStat
from services.venues import places
from tests.conftest import make_person

NOW = dt.datetime(2024, 6, 1, 2, 0)  # naive UTC: 10:00 in China
AGES_DAYS = (40, 29, 27, 1)


def world():
    """One place, one person; an entry and a temperature 40, 29, 27 and 1 day(s) old."""
    place, _ = places.create_place(place_type_code="metro", name="紫荆山站")
    person = make_person(1)
    for age in AGES_DAYS:
        moment = NOW - dt.timedelta(days=age)
        EntryRecord.create(request_id=uuid.uuid4().hex, place=place, person=person, flow="customer", source="self",
                           colour="green", admitted=True, verdict="{}", created_at=moment)
        TemperatureRecord.create(person=person, subject=person.id_number_bidx, value=Decimal("36.5"),
                                 measured_at=moment, event_date=moment.date(), source="scan")
    return place, person


def ages(model, column) -> list[int]:
    return sorted(((NOW - getattr(r, column)).days for r in model.select()), reverse=True)


def statistics_rows() -> tuple:
    return (sorted((r.place_id, r.hour, r.scans) for r in HourlyPlaceStat.select()),
            sorted((r.place_id, str(r.day), r.scans) for r in DailyPlaceStat.select()))


def test_old_rows_go_and_the_statistics_stay(db):
    world()
    hourly_stats.run(now=NOW, retention_days=60)
    counted = statistics_rows()
    assert sum(scans for _, _, scans in counted[0]) == 4
    result = retention.run(now=NOW, days=28)
    assert (result["entries"], result["temperatures"]) == (2, 2)
    assert ages(EntryRecord, "created_at") == [27, 1]
    assert ages(TemperatureRecord, "measured_at") == [27, 1]
    assert statistics_rows() == counted  # what was deleted is still counted
    # The next hourly run does not undo the counts of the deleted hours either.
    hourly_stats.run(now=NOW + dt.timedelta(hours=1), retention_days=28)
    assert statistics_rows() == counted
    # Safe to run twice.
    assert retention.run(now=NOW, days=28)["entries"] == 0


def test_entries_the_hourly_job_has_not_counted_stay(db):
    world()
    result = retention.run(now=NOW, days=28)
    assert result["entries"] == 0 and result["temperatures"] == 2  # never counted: kept
    assert len(ages(EntryRecord, "created_at")) == 4
    # Counted up to 35 days ago only: only what is older than that goes.
    hourly_stats.run(now=NOW - dt.timedelta(days=35), retention_days=60)
    assert retention.run(now=NOW, days=28)["entries"] == 1
    assert ages(EntryRecord, "created_at") == [29, 27, 1]


def test_a_temperature_rule_looking_further_back_keeps_its_evidence(db):
    world()
    hourly_stats.run(now=NOW, retention_days=60)
    ColourRule.update(window_days=45).where(ColourRule.input == "temperature").execute()
    result = retention.run(now=NOW, days=28)
    assert (result["entries"], result["temperatures"]) == (2, 0)
    assert ages(TemperatureRecord, "measured_at") == [40, 29, 27, 1]


def test_deletes_in_batches(db):
    place, person = world()
    for i in range(7):
        EntryRecord.create(request_id=uuid.uuid4().hex, place=place, person=person, flow="customer", source="self",
                           colour="red", admitted=False, verdict="{}",
                           created_at=NOW - dt.timedelta(days=50, minutes=i))
    hourly_stats.run(now=NOW, retention_days=60)
    assert retention.run(now=NOW, days=28, batch=2)["entries"] == 9
    assert ages(EntryRecord, "created_at") == [27, 1]


def test_the_period_is_configured_and_scheduled():
    assert Config().retention_days == 28
    assert Config.from_env({"RETENTION_DAYS": "90"}).retention_days == 90
    with pytest.raises(SystemExit, match="RETENTION_DAYS"):
        make_scheduler(TestConfig(retention_days=0))
    scheduler = make_scheduler(TestConfig())
    for job_id in (retention.JOB_ID, hourly_stats.JOB_ID):
        job = scheduler.get_job(job_id)
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 600
    fields = {f.name: str(f) for f in scheduler.get_job(retention.JOB_ID).trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "30")


def test_sign_in_failures_older_than_a_day_go(db):
    from models.accounts import SignInFailure

    for hours in (1, 23, 25, 100):
        SignInFailure.create(key="phone:x", ip="127.0.0.1", failed_at=NOW - dt.timedelta(hours=hours))
    assert retention.run(now=NOW, days=28)["sign_in_failures"] == 2
    assert sorted(round((NOW - r.failed_at).total_seconds() / 3600) for r in SignInFailure.select()) == [1, 23]
