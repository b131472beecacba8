"""I2: the hourly statistics job on both databases: counts per place and hour (and day), no person
in the table, re-runs and late scans without double counting, the first run's backfill, and old
hours left alone once their entries may be gone."""

from __future__ import annotations

import datetime as dt
import uuid

from jobs import hourly_stats
from models import db as database
from models.places import EntryRecord
from models.statistics import DailyPlaceStat, HourlyPlaceStat, StatRun
from services.back_office import statistics
from services.common.timefmt import china_day_start
from services.venues import places
from tests.conftest import make_person

DAY = china_day_start(dt.date(2024, 3, 10))  # 2024-03-10 00:00 China = 2024-03-09 16:00 UTC
NOW = DAY + dt.timedelta(hours=10, minutes=2)  # the job runs at 10:02 China time


def entry(place, person, when: dt.datetime, colour: str = "green") -> EntryRecord:
    return EntryRecord.create(request_id=uuid.uuid4().hex, place=place, person=person, flow="customer", source="self",
                              colour=colour, admitted=colour == "green", verdict="{}", created_at=when)


def hourly() -> dict:
    return {(r.place_id, r.hour): (r.scans, r.abnormal) for r in HourlyPlaceStat.select()}


def daily() -> dict:
    def day(value):
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

    return {(r.place_id, day(r.day)): (r.scans, r.abnormal) for r in DailyPlaceStat.select()}


def setup_places():
    bus, _ = places.create_place(place_type_code="bus", name="1路")
    shop, _ = places.create_place(place_type_code="supermarket", name="丹尼斯")
    return bus, shop, make_person(1)


def test_counts_per_place_and_hour_and_day_with_no_person(db):
    bus, shop, person = setup_places()
    at = DAY + dt.timedelta(hours=8)  # 08:00-09:00 China
    for minute, colour in enumerate(("green", "yellow", "orange", "red", "unknown")):
        entry(bus, person, at + dt.timedelta(minutes=minute), colour)
    entry(bus, person, at + dt.timedelta(hours=1, minutes=30))
    entry(shop, person, at + dt.timedelta(minutes=59, seconds=59), "red")
    result = hourly_stats.run(now=NOW, retention_days=28)
    assert hourly() == {(bus.id, at): (5, 3), (bus.id, at + dt.timedelta(hours=1)): (1, 0), (shop.id, at): (1, 1)}
    assert daily() == {(bus.id, dt.date(2024, 3, 10)): (6, 3), (shop.id, dt.date(2024, 3, 10)): (1, 1)}
    assert result["completed_hour"] == "2024-03-10 10:00"
    row = HourlyPlaceStat.get(HourlyPlaceStat.place == shop)
    assert (row.place_type, row.region_id) == ("supermarket", None)
    # Counts only: no column of the statistics tables names a person or an entry.
    for model in (HourlyPlaceStat, DailyPlaceStat):
        columns = {c.name for c in database.db.get_columns(model._meta.table_name)}
        assert columns == {"id", "place_id", "place_type", "region_id", "scans", "abnormal",
                           "hour" if model is HourlyPlaceStat else "day"}


def test_a_rerun_and_a_late_scan_never_count_twice(db):
    bus, _, person = setup_places()
    at = DAY + dt.timedelta(hours=7)
    entry(bus, person, at)
    entry(bus, person, at + dt.timedelta(minutes=5), "red")
    hourly_stats.run(now=NOW, retention_days=28)
    hourly_stats.run(now=NOW, retention_days=28)
    assert hourly() == {(bus.id, at): (2, 1)}
    # A scan made offline yesterday, stored now: its hour (outside the 3-hour window) is rebuilt.
    yesterday = DAY - dt.timedelta(hours=5)
    entry(bus, person, yesterday + dt.timedelta(minutes=1))
    later = NOW + dt.timedelta(hours=1)
    hourly_stats.run(now=later, retention_days=28)
    hourly_stats.run(now=later, retention_days=28)
    assert hourly() == {(bus.id, at): (2, 1), (bus.id, yesterday): (1, 0)}
    assert daily() == {(bus.id, dt.date(2024, 3, 10)): (2, 1), (bus.id, dt.date(2024, 3, 9)): (1, 0)}
    state = StatRun.get(StatRun.job_id == hourly_stats.JOB_ID)
    assert state.completed_hour == statistics.hour_floor(later)
    assert state.last_entry_id == EntryRecord.select().order_by(EntryRecord.id.desc()).first().id


def test_the_hour_under_way_waits_for_the_next_run(db):
    bus, _, person = setup_places()
    entry(bus, person, NOW - dt.timedelta(minutes=1))  # 10:01, the hour under way
    hourly_stats.run(now=NOW, retention_days=28)
    assert hourly() == {}
    entry(bus, person, NOW + dt.timedelta(minutes=30))
    hourly_stats.run(now=NOW + dt.timedelta(hours=1), retention_days=28)
    assert hourly() == {(bus.id, statistics.hour_floor(NOW)): (2, 0)}


def test_hours_missed_while_the_job_was_down_are_caught_up(db):
    bus, _, person = setup_places()
    hourly_stats.run(now=NOW, retention_days=28)
    early = statistics.hour_floor(NOW)
    entry(bus, person, early + dt.timedelta(minutes=10))
    # The ids stored before that run would not reveal this hour; the gap since the run does.
    state = StatRun.get(StatRun.job_id == hourly_stats.JOB_ID)
    StatRun.update(last_entry_id=state.last_entry_id + 1000).execute()
    hourly_stats.run(now=NOW + dt.timedelta(hours=9), retention_days=28)
    assert hourly() == {(bus.id, early): (1, 0)}


def test_the_first_run_backfills_and_old_counted_hours_are_left_alone(db):
    bus, _, person = setup_places()
    old = DAY - dt.timedelta(days=40)
    recent = DAY - dt.timedelta(days=2)
    for i in range(3):
        entry(bus, person, old + dt.timedelta(minutes=i))
    entry(bus, person, recent, "yellow")
    hourly_stats.run(now=NOW, retention_days=28)  # the first run: every hour with entries
    assert hourly() == {(bus.id, old): (3, 0), (bus.id, recent): (1, 1)}
    # The old hour's entries are deleted (retention); a scan arriving that late changes nothing.
    EntryRecord.delete().where(EntryRecord.created_at < DAY - dt.timedelta(days=30)).execute()
    entry(bus, person, old + dt.timedelta(minutes=30))
    hourly_stats.run(now=NOW + dt.timedelta(hours=1), retention_days=28)
    assert hourly()[(bus.id, old)] == (3, 0)


def test_a_moved_place_takes_its_statistics_along(db):
    from models.regions import Region
    from services.operations.demo import ZHENGZHOU
    from services.common.regions import load_tree

    load_tree(ZHENGZHOU)
    bus, _, person = setup_places()
    entry(bus, person, DAY + dt.timedelta(hours=8))
    hourly_stats.run(now=NOW, retention_days=28)
    district = Region.get(Region.code == "410105")
    statistics.move_place(bus.id, district.id)
    assert {r.region_id for r in HourlyPlaceStat.select()} == {district.id}
    assert {r.region_id for r in DailyPlaceStat.select()} == {district.id}


def test_a_day_keeps_one_row_per_place_when_its_hours_disagree_on_the_region(db):
    """Hours counted before a place changed region, and after: the day still has one row."""
    from services.operations.demo import ZHENGZHOU
    from models.regions import Region
    from services.common.regions import load_tree

    load_tree(ZHENGZHOU)
    bus, _, person = setup_places()
    entry(bus, person, DAY + dt.timedelta(hours=1))
    hourly_stats.run(now=DAY + dt.timedelta(hours=2, minutes=2), window_hours=1, retention_days=28)
    district = Region.get(Region.code == "410105")
    bus.region = district
    bus.save()  # not through the back office: the stored hour keeps the old region
    entry(bus, person, DAY + dt.timedelta(hours=2))
    hourly_stats.run(now=DAY + dt.timedelta(hours=3, minutes=2), window_hours=1, retention_days=28)
    assert daily() == {(bus.id, dt.date(2024, 3, 10)): (2, 0)}
    assert DailyPlaceStat.get().region_id == district.id


class SpyPacer:
    """Stands in for jobs.pacing.Pacer: records whether each pause fell inside a transaction."""

    made: list = []

    def __init__(self) -> None:
        self.in_transaction: list[bool] = []
        self.paused = 0.0
        SpyPacer.made.append(self)

    def __call__(self) -> None:
        self.in_transaction.append(database.db.in_transaction())


def test_a_paced_run_in_small_chunks_counts_the_same_and_pauses_outside_transactions(db, monkeypatch):
    bus, shop, person = setup_places()
    for hours, colour in ((8, "red"), (8.5, "green"), (9, "green"), (-3, "yellow")):  # two China days
        entry(bus, person, DAY + dt.timedelta(hours=hours), colour)
        entry(shop, person, DAY + dt.timedelta(hours=hours, minutes=1))
    hourly_stats.run(now=NOW, retention_days=28, pace=False)
    whole = (hourly(), daily())

    HourlyPlaceStat.delete().execute()
    DailyPlaceStat.delete().execute()
    StatRun.delete().execute()
    monkeypatch.setattr(statistics, "PLACE_CHUNK", 1)  # one place per aggregate query
    monkeypatch.setattr(hourly_stats, "Pacer", SpyPacer)
    SpyPacer.made.clear()
    result = hourly_stats.run(now=NOW, retention_days=28)
    assert (hourly(), daily()) == whole and result["rows"] > 0
    pauses = SpyPacer.made[0].in_transaction
    assert len(pauses) >= 2 * 2 and not any(pauses)  # each place's query on each day, none in a write
