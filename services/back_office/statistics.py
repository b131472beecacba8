"""Scan statistics (I2, G5, G7): aggregating entries per place and hour, and every figure the
statistics pages and dashboards show.

Writing (the hourly job): `recompute(hours)` rebuilds the given hours from `entry_record`, and the
China-local days they fall in from those hours, day by day in one transaction each: the rows of
those hours are made equal to a fresh count (rows added, changed or removed; the unchanged ones
left alone), so a late or repeated hour is never counted twice and a re-run writes nothing. The
entries are read with a plain SELECT (a consistent, lock-free read on InnoDB, where an
INSERT ... SELECT would lock the index ranges scans are written into), grouped by place and
hour, through the (place, created_at) index, one short range per place. The job decides which
hours (jobs/hourly_stats.py).

Reading: the summarised hours come from `hourly_place_stat`, `daily_place_stat` and `place`, so
the pages cost the same at ten thousand and at tens of millions of entries; the summaries are kept
in memory per run of the job. Only the hours the job has not summarised yet (the hour under way,
and the one before it for the few minutes until the job has run) are counted from `entry_record`,
through its (created_at, place, colour) index, so that today's figures move as scans come in
(`live_counts`, reused for LIVE_SECONDS). The pages say both times: summarised up to the end of
the last summarised hour, counted live at `Live.counted_at`.

"Abnormal" is a red, orange or yellow code at the scan (the seed's 红码和黄码, with orange, which
the 3-colour scheme shows as yellow).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterable

import peewee
from peewee import Case, fn

from models.db import db, insert_rows, is_mysql
from models.fields import utcnow
from models.places import EntryRecord, Place
from models.statistics import DailyPlaceStat, HourlyPlaceStat, StatRun
from services.common.timefmt import CHINA, china_day_start, china_today

JOB_ID = "hourly_stats"
ABNORMAL_COLOURS = ("yellow", "orange", "red")
HOUR = dt.timedelta(hours=1)
INSERT_CHUNK = 500
# Place ids per aggregate query. MariaDB turns an IN list of 1,000 values or more into a join
# that reads every entry of each place (in_predicate_conversion_threshold), and past 200 it
# stops estimating each range (eq_range_index_dive_limit): 200 keeps one short range per place.
PLACE_CHUNK = 200

H, D = HourlyPlaceStat, DailyPlaceStat
KEY_COLUMNS = {H: ("place", "hour"), D: ("place", "day")}


# --- time helpers -------------------------------------------------------------------------------

def hour_floor(moment: dt.datetime) -> dt.datetime:
    """The start of the hour of a naive UTC time."""
    return moment.replace(minute=0, second=0, microsecond=0)


def china_day_of(hour: dt.datetime) -> dt.date:
    """The China-local date of a naive UTC time."""
    return hour.replace(tzinfo=dt.timezone.utc).astimezone(CHINA).date()


def local_text(moment: dt.datetime | None, with_time: bool = True) -> str:
    """A naive UTC time as China-local "YYYY-MM-DD HH:MM"."""
    if moment is None:
        return ""
    local = moment.replace(tzinfo=dt.timezone.utc).astimezone(CHINA)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


# --- writing: the hourly aggregation ------------------------------------------------------------

def _hour_bucket(column):
    if is_mysql():
        return fn.DATE_FORMAT(column, "%Y-%m-%d %H:00:00")
    return fn.strftime("%Y-%m-%d %H:00:00", column)


def _as_hour(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S")


def hours_touched(after_id: int, up_to_id: int) -> list[dt.datetime]:
    """The hours of the entries stored since `after_id` (late scans land in old hours)."""
    if up_to_id <= after_id:
        return []
    bucket = _hour_bucket(EntryRecord.created_at)
    query = (EntryRecord.select(bucket).where((EntryRecord.id > after_id) & (EntryRecord.id <= up_to_id))
             .distinct().tuples())
    return sorted(_as_hour(h) for (h,) in query if h is not None)


def hours_with_statistics(hours: Iterable[dt.datetime]) -> set[dt.datetime]:
    """Which of these hours already have rows."""
    hours = list(hours)
    found = set()
    for start in range(0, len(hours), 500):
        found |= {_as_hour(h) for (h,) in H.select(H.hour).where(H.hour.in_(hours[start:start + 500]))
                  .distinct().tuples()}
    return found


def _runs(hours: list[dt.datetime]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Sorted hours as [start, end) ranges of consecutive hours."""
    ranges = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour:
            ranges[-1][1] = hour + HOUR
        else:
            ranges.append([hour, hour + HOUR])
    return [tuple(r) for r in ranges]


def _aggregate(start: dt.datetime, end: dt.datetime, places: list[tuple],
               pause: Callable[[], None] | None = None) -> list[dict]:
    """Per place and hour in [start, end): scans and abnormal scans, read from the entries.

    The entries are reached through the (place, created_at) index with the place ids listed:
    `place_id IN (...) AND created_at >= a AND created_at < b` is one short index range per place
    on both databases, where a join would read every entry of each place on MySQL."""
    bucket = _hour_bucket(EntryRecord.created_at)
    abnormal = fn.SUM(Case(None, [(EntryRecord.colour.in_(ABNORMAL_COLOURS), 1)], 0))
    rows = []
    for first in range(0, len(places), PLACE_CHUNK):
        chunk = {pid: (place_type, region_id) for pid, place_type, region_id in places[first:first + PLACE_CHUNK]}
        query = (EntryRecord.select(EntryRecord.place, bucket, fn.COUNT(EntryRecord.id), abnormal)
                 .where(EntryRecord.place.in_(list(chunk)) & (EntryRecord.created_at >= start)
                        & (EntryRecord.created_at < end))
                 .group_by(EntryRecord.place, bucket).tuples())
        for place_id, hour, scans, abnormal_scans in query:
            place_type, region_id = chunk[place_id]
            rows.append({"place": place_id, "place_type": place_type, "region": region_id, "hour": _as_hour(hour),
                         "scans": int(scans), "abnormal": int(abnormal_scans or 0)})
        if pause is not None:
            pause()
    return rows




def _differences(model, where, key_of, wanted: dict) -> tuple[list, list, list]:
    """(ids to delete, rows to insert, (id, row) to update) to make the rows of `model` matching
    `where` exactly `wanted` (key -> row)."""
    existing = {}
    for row in (model.select(model.id, *[getattr(model, n) for n in KEY_COLUMNS[model]], model.place_type,
                             model.region, model.scans, model.abnormal).where(where).tuples()):
        existing[key_of(row[1:1 + len(KEY_COLUMNS[model])])] = (row[0], row[-4:])
    stale = [row_id for key, (row_id, _) in existing.items() if key not in wanted]
    fresh = [row for key, row in wanted.items() if key not in existing]
    changed = [(existing[key][0], row) for key, row in wanted.items() if key in existing and
               existing[key][1] != (row["place_type"], row["region"], row["scans"], row["abnormal"])]
    return stale, fresh, changed


def _apply(model, stale: list, fresh: list, changed: list) -> int:
    for start in range(0, len(stale), INSERT_CHUNK):
        model.delete().where(model.id.in_(stale[start:start + INSERT_CHUNK])).execute()
    for start in range(0, len(fresh), INSERT_CHUNK):
        insert_rows(model, fresh[start:start + INSERT_CHUNK])
    for row_id, row in changed:
        model.update(scans=row["scans"], abnormal=row["abnormal"], place_type=row["place_type"],
                     region=row["region"]).where(model.id == row_id).execute()
    return len(stale) + len(fresh) + len(changed)


def _sync(model, where, key_of, wanted: dict) -> int:
    """Make the rows of `model` matching `where` exactly `wanted`, writing only what differs: a
    re-run changes nothing, so it holds the write lock for next to no time."""
    return _apply(model, *_differences(model, where, key_of, wanted))


def _day_rows(day: dt.date, group: list[dt.datetime], wanted: dict) -> dict:
    """The day's row per place: the hours being rebuilt as just counted, plus the day's other
    hours as stored (read before the write transaction, so the lock is held only to write)."""
    start = china_day_start(day)
    rows: dict = {}

    def add(place_id, place_type, region_id, scans, abnormal):
        # A place has one row a day: hours stored before it moved count under its current region.
        row = rows.setdefault(place_id, {"place": place_id, "place_type": place_type, "region": region_id,
                                         "day": day, "scans": 0, "abnormal": 0})
        row["scans"] += int(scans or 0)
        row["abnormal"] += int(abnormal or 0)

    for row in wanted.values():
        add(row["place"], row["place_type"], row["region"], row["scans"], row["abnormal"])
    for stored in (H.select(H.place, H.place_type, H.region, fn.SUM(H.scans), fn.SUM(H.abnormal))
                   .where((H.hour >= start) & (H.hour < start + dt.timedelta(days=1)) & H.hour.not_in(group))
                   .group_by(H.place, H.place_type, H.region).tuples()):
        add(*stored)
    return rows


def recompute(hours: Iterable[dt.datetime], pause: Callable[[], None] | None = None) -> dict:
    """Rebuild these hours (naive UTC hour starts) and their days; safe to repeat.

    Day by day: the entries are counted first (a read, no lock held), then one short write
    transaction makes the hourly rows of those hours and the day's row per place what the counts
    say, writing only the rows that differ. `pause` (a job's pacer, see jobs/pacing.py) is called
    between two chunks of the work, never inside the write transaction."""
    from services.scanning.entry_writer import write_transaction  # BEGIN IMMEDIATE on SQLite: it writes

    pause = pause or (lambda: None)
    hours = sorted({hour_floor(h) for h in hours})
    places = list(Place.select(Place.id, Place.place_type, Place.region).order_by(Place.id).tuples()) if hours else []
    written = 0
    days = 0
    for day, group in itertools.groupby(hours, key=china_day_of):
        pause()  # after the previous day's write, not between a day's reads and its write
        group = list(group)
        wanted = {}
        for start, end in _runs(group):
            wanted.update({(row["place"], row["hour"]): row for row in _aggregate(start, end, places, pause)})
        hour_key = lambda key: (key[0], _as_hour(key[1]))  # noqa: E731
        if not any(_differences(H, H.hour.in_(group), hour_key, wanted)):
            days += 1
            continue  # a re-run of settled hours: read, compared, nothing to write, no lock taken
        day_rows = _day_rows(day, group, wanted)
        with write_transaction():
            written += _sync(H, H.hour.in_(group), hour_key, wanted)
            written += _sync(D, D.day == day, lambda key: key[0], day_rows)
        days += 1
    forget_summaries()
    return {"hours": len(hours), "days": days, "rows": written}


def move_place(place_id: int, region_id: int | None) -> None:
    """A place moved to another region: its statistics follow it."""
    for model in (H, D):
        model.update(region=region_id).where(model.place == place_id).execute()


STATE_SECONDS = 5.0  # how long a process trusts its copy of the job's progress
_state: dict = {}


def state(fresh: bool = False) -> StatRun | None:
    """How far the hourly job got (None before its first run). Every page asks, so each process
    keeps the answer a few seconds (the job, maybe in another process, moves it once an hour);
    jobs ask for a `fresh` one."""
    key = id(db.obj)
    kept = _state.get(key)
    now = time.monotonic()
    if kept is not None and kept[0] > now and not fresh:
        return kept[1]
    run = StatRun.get_or_none(StatRun.job_id == JOB_ID)
    _state[key] = (now + STATE_SECONDS, run)
    return run


NOT_YET = "尚未统计"


def updated_text(run: StatRun | None = None) -> str:
    """每小时更新: the end of the last aggregated hour, China-local, or 尚未统计."""
    run = run if run is not None else state()
    return local_text(run.completed_hour) if run and run.completed_hour else NOT_YET


# --- reading: figures over the statistics tables -------------------------------------------------

class Scope:
    """What a figure covers: some place types (None: all), the admin's region, maybe some
    places (a sub-query of place ids, for a search), and a range of China-local days."""

    def __init__(self, types: list[str] | None, region_condition, place_ids=None, day_from: dt.date | None = None,
                 day_to: dt.date | None = None) -> None:
        self.types, self.region_condition, self.place_ids = types, region_condition, place_ids
        self.day_from, self.day_to = day_from, day_to

    def where(self, model, query, dates: bool = True):
        if self.types is not None:
            query = query.where(model.place_type.in_(self.types))
        query = query.where(self.region_condition(model.region))
        if self.place_ids is not None:
            query = query.where(model.place.in_(self.place_ids))
        if dates and self.day_from is not None and model is D:
            query = query.where(D.day >= self.day_from)
        if dates and self.day_to is not None and model is D:
            query = query.where(D.day <= self.day_to)
        return query


def totals(scope: Scope, today: dt.date | None = None) -> dict:
    """扫码总次数 / 扫码异常次数 over the scope's days, and 今日扫码次数 / 今日扫码异常次数, as
    summarised (`with_live` adds the hours not summarised yet)."""
    today = today or china_today()
    total = scope.where(D, D.select(fn.SUM(D.scans), fn.SUM(D.abnormal))).tuples().first()
    day = scope.where(D, D.select(fn.SUM(D.scans), fn.SUM(D.abnormal)), dates=False).where(
        D.day == today).tuples().first()
    return {"scans": int(total[0] or 0), "abnormal": int(total[1] or 0),
            "today_scans": int(day[0] or 0), "today_abnormal": int(day[1] or 0)}


_summaries: OrderedDict = OrderedDict()
_summaries_lock = threading.Lock()
SUMMARY_CACHE_SIZE = 512


def cached(key: tuple, compute):
    """A summary kept until the next run of the hourly job (the key carries the run's time)."""
    run = state()
    full_key = (id(db.obj), run.finished_at if run else None, run.last_entry_id if run else None,
                china_today(), *key)
    with _summaries_lock:
        if full_key in _summaries:
            _summaries.move_to_end(full_key)
            return _summaries[full_key]
    value = compute()
    with _summaries_lock:
        _summaries[full_key] = value
        while len(_summaries) > SUMMARY_CACHE_SIZE:
            _summaries.popitem(last=False)
    return value


def forget_summaries() -> None:
    """Drop the kept summaries, live counts and progress (a new run of the job, a place moved elsewhere)."""
    _state.clear()
    with _summaries_lock:
        _summaries.clear()
    with _live_lock:
        _live.clear()


def place_figures(query: peewee.ModelSelect, day_from: dt.date | None, day_to: dt.date | None,
                  today: dt.date | None = None) -> peewee.ModelSelect:
    """Places with their figures as extra columns (stat_scans, stat_abnormal, stat_today,
    stat_today_abnormal): the summarised days plus the hours not summarised yet, a few small
    index ranges per place shown."""
    today = today or china_today()

    def summed(column, *conditions):
        sub = D.select(fn.COALESCE(fn.SUM(column), 0)).where(D.place == Place.id)
        for condition in conditions:
            sub = sub.where(condition)
        return fn.COALESCE(sub, 0)

    ranged = []
    if day_from is not None:
        ranged.append(D.day >= day_from)
    if day_to is not None:
        ranged.append(D.day <= day_to)
    return query.select_extend(
        (summed(D.scans, *ranged) + _live_of_place(day_from, day_to)).alias("stat_scans"),
        (summed(D.abnormal, *ranged) + _live_of_place(day_from, day_to, abnormal=True)).alias("stat_abnormal"),
        (summed(D.scans, D.day == today) + _live_of_place(today, today)).alias("stat_today"),
        (summed(D.abnormal, D.day == today) + _live_of_place(today, today, abnormal=True)).alias("stat_today_abnormal"))


def today_scans_of_place(today: dt.date | None = None):
    """今日扫码次数 of the outer query's place (summarised and live), as an expression (for "<= N")."""
    today = today or china_today()
    summarised = D.select(fn.COALESCE(fn.SUM(D.scans), 0)).where((D.place == Place.id) & (D.day == today))
    return fn.COALESCE(summarised, 0) + _live_of_place(today, today)


# --- the hours not summarised yet, counted from the entries --------------------------------------

LIVE_SECONDS = 30.0  # how long a process reuses a live count: the figures move, a busy page costs little
_live: dict = {}
_live_lock = threading.Lock()


def live_since(now: dt.datetime | None = None) -> dt.datetime:
    """Where the summarised hours end and the live count begins: the end of the last summarised
    hour, but never before the hour ahead of the one under way (an hour the job has not reached
    for longer than that shows as missing, with 统计至 saying so, rather than counted slowly)."""
    current = hour_floor(now or utcnow())
    run = state()
    done = run.completed_hour if run and run.completed_hour else None
    return max(done, current - HOUR) if done else current - HOUR


def _live_bounds(day_from: dt.date | None, day_to: dt.date | None) -> tuple[dt.datetime, dt.datetime | None]:
    start = live_since()
    if day_from is not None:
        start = max(start, china_day_start(day_from))
    return start, (china_day_start(day_to + dt.timedelta(days=1)) if day_to is not None else None)


def _live_of_place(day_from: dt.date | None, day_to: dt.date | None, abnormal: bool = False):
    """The outer query's place's entries of those days that are not summarised yet, as an expression."""
    start, end = _live_bounds(day_from, day_to)
    condition = (EntryRecord.place == Place.id) & (EntryRecord.created_at >= start)
    if end is not None:
        condition &= EntryRecord.created_at < end
    if abnormal:
        condition &= EntryRecord.colour.in_(ABNORMAL_COLOURS)
    return fn.COALESCE(EntryRecord.select(fn.COUNT(EntryRecord.id)).where(condition), 0)


class Live:
    """The scans of the hours not summarised yet in a scope, per hour and place type."""

    def __init__(self, since: dt.datetime, counted_at: dt.datetime, rows: dict) -> None:
        self.since, self.counted_at, self.rows = since, counted_at, rows  # (hour, type) -> (scans, abnormal)

    def per_hour(self) -> dict[dt.datetime, tuple[int, int]]:
        """Scans and abnormal scans per hour (naive UTC hour starts)."""
        hours: dict = {}
        for (hour, _), (scans, abnormal) in self.rows.items():
            before = hours.get(hour, (0, 0))
            hours[hour] = (before[0] + scans, before[1] + abnormal)
        return hours

    def between(self, first: dt.date | None, last: dt.date | None) -> tuple[int, int]:
        """Scans and abnormal scans on the China-local days from `first` to `last` (None: open)."""
        scans = abnormal = 0
        for (hour, _), (s, a) in self.rows.items():
            day = china_day_of(hour)
            if (first is None or day >= first) and (last is None or day <= last):
                scans, abnormal = scans + s, abnormal + a
        return scans, abnormal

    def counted_text(self) -> str:
        """When the live part was counted, China-local "YYYY-MM-DD HH:MM"."""
        return local_text(self.counted_at)


def live_counts(scope: Scope, key: tuple | None = None) -> Live:
    """The scope's scans since `live_since()`, from the entries through the (created_at, place,
    colour) index: that hour or two and no other. With a `key` (what the scope is, for the caller)
    a count is reused for LIVE_SECONDS in this process."""
    since = live_since()
    full_key = (id(db.obj), since, *key) if key is not None else None
    now = time.monotonic()
    if full_key is not None:
        with _live_lock:
            kept = _live.get(full_key)
        if kept is not None and kept[0] > now:
            return kept[1]
    bucket = _hour_bucket(EntryRecord.created_at)
    abnormal = fn.SUM(Case(None, [(EntryRecord.colour.in_(ABNORMAL_COLOURS), 1)], 0))
    query = (EntryRecord.select(bucket, Place.place_type, fn.COUNT(EntryRecord.id), abnormal)
             .join(Place, on=(EntryRecord.place == Place.id)).where(EntryRecord.created_at >= since))
    if scope.types is not None:
        query = query.where(Place.place_type.in_(scope.types))
    query = query.where(scope.region_condition(Place.region))
    if scope.place_ids is not None:
        query = query.where(Place.id.in_(scope.place_ids))
    rows = {(_as_hour(hour), place_type): (int(scans), int(abnormal_scans or 0))
            for hour, place_type, scans, abnormal_scans in query.group_by(bucket, Place.place_type).tuples()}
    live = Live(since, utcnow(), rows)
    if full_key is not None:
        with _live_lock:
            _live[full_key] = (now + LIVE_SECONDS, live)
            for stale in [k for k, (until, _) in _live.items() if until <= now]:
                del _live[stale]
    return live


def with_live(figures: dict, scope: Scope, live: Live, today: dt.date | None = None) -> dict:
    """`totals` plus the live hours: today's figures with the hour under way, the scope's days'
    too when they reach today; with `counted_at`, when the live part was counted."""
    day = today or china_today()
    scans, abnormal = live.between(scope.day_from, scope.day_to)
    today_scans, today_abnormal = live.between(day, day)
    return {**figures, "scans": figures["scans"] + scans, "abnormal": figures["abnormal"] + abnormal,
            "today_scans": figures["today_scans"] + today_scans,
            "today_abnormal": figures["today_abnormal"] + today_abnormal, "counted_at": live.counted_text()}


# --- dashboards ---------------------------------------------------------------------------------

def hourly_series(scope: Scope, hours: int = 24, end: dt.datetime | None = None) -> list[tuple[dt.datetime, int, int]]:
    """Scans and abnormal scans per hour over the `hours` hours before `end` (by default the hour
    under way included), as summarised (`add_live_hours` fills the hours not summarised yet)."""
    end = end or hour_floor(utcnow()) + HOUR
    start = end - hours * HOUR
    found = {_as_hour(h): (int(s or 0), int(a or 0)) for h, s, a in
             scope.where(H, H.select(H.hour, fn.SUM(H.scans), fn.SUM(H.abnormal)))
             .where((H.hour >= start) & (H.hour < end)).group_by(H.hour).tuples()}
    return [(start + i * HOUR, *found.get(start + i * HOUR, (0, 0))) for i in range(hours)]


def add_live_hours(series: list[tuple], live: Live) -> list[tuple]:
    """An hourly or daily series with the live scans added to their hour or China-local day."""
    if series and isinstance(series[0][0], dt.datetime):
        extra = live.per_hour()
        return [(hour, s + extra.get(hour, (0, 0))[0], a + extra.get(hour, (0, 0))[1]) for hour, s, a in series]
    return [(day, s + live.between(day, day)[0], a + live.between(day, day)[1]) for day, s, a in series]


def daily_series(scope: Scope, days: int = 30, today: dt.date | None = None) -> list[tuple[dt.date, int, int]]:
    """Scans and abnormal scans per China-local day over the last `days` days (today included)."""
    today = today or china_today()
    first = today - dt.timedelta(days=days - 1)
    found = {}
    for day, s, a in (scope.where(D, D.select(D.day, fn.SUM(D.scans), fn.SUM(D.abnormal)), dates=False)
                      .where((D.day >= first) & (D.day <= today)).group_by(D.day).tuples()):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
        found[day] = (int(s or 0), int(a or 0))
    return [(first + dt.timedelta(days=i), *found.get(first + dt.timedelta(days=i), (0, 0))) for i in range(days)]


def top_places(scope: Scope, days: int = 7, limit: int = 10, today: dt.date | None = None) -> list[dict]:
    """The places with the most scans over the last `days` days."""
    today = today or china_today()
    first = today - dt.timedelta(days=days - 1)
    total = fn.SUM(D.scans)
    rows = list(scope.where(D, D.select(D.place, total.alias("scans"), fn.SUM(D.abnormal).alias("abnormal")),
                            dates=False)
                .where((D.day >= first) & (D.day <= today)).group_by(D.place).order_by(total.desc(), D.place)
                .limit(limit).tuples())
    names = {p.id: p for p in Place.select(Place.id, Place.name, Place.place_type)
             .where(Place.id.in_([r[0] for r in rows]))} if rows else {}
    return [{"place_id": pid, "name": names[pid].name if pid in names else str(pid),
             "place_type": names[pid].place_type if pid in names else "", "scans": int(s or 0),
             "abnormal": int(a or 0)} for pid, s, a in rows]


def by_type(scope: Scope, today: dt.date | None = None) -> list[dict]:
    """Per place type: total and today's scans and abnormal scans."""
    today = today or china_today()
    found: dict[str, dict] = {}
    for place_type, s, a in scope.where(D, D.select(D.place_type, fn.SUM(D.scans), fn.SUM(D.abnormal)),
                                        dates=False).group_by(D.place_type).tuples():
        found[place_type] = {"place_type": place_type, "scans": int(s or 0), "abnormal": int(a or 0),
                             "today_scans": 0, "today_abnormal": 0}
    for place_type, s, a in (scope.where(D, D.select(D.place_type, fn.SUM(D.scans), fn.SUM(D.abnormal)),
                                         dates=False).where(D.day == today).group_by(D.place_type).tuples()):
        found[place_type].update(today_scans=int(s or 0), today_abnormal=int(a or 0))
    return sorted(found.values(), key=lambda r: -r["scans"])


def add_live_types(rows: list[dict], live: Live, today: dt.date | None = None) -> list[dict]:
    """`by_type` with the live scans added (a type with only live scans gets its row)."""
    day = today or china_today()
    found = {row["place_type"]: dict(row) for row in rows}
    for (hour, place_type), (scans, abnormal) in live.rows.items():
        row = found.setdefault(place_type, {"place_type": place_type, "scans": 0, "abnormal": 0, "today_scans": 0,
                                            "today_abnormal": 0})
        row.update(scans=row["scans"] + scans, abnormal=row["abnormal"] + abnormal)
        if china_day_of(hour) == day:
            row.update(today_scans=row["today_scans"] + scans, today_abnormal=row["today_abnormal"] + abnormal)
    return sorted(found.values(), key=lambda r: -r["scans"])


def activations_by_day(types: list[str] | None, region_condition, days: int = 30,
                       today: dt.date | None = None) -> list[tuple[dt.date, int]]:
    """Places activated per China-local day over the last `days` days (live, from `place`)."""
    today = today or china_today()
    first = today - dt.timedelta(days=days - 1)
    query = Place.select(Place.activated_at).where((Place.activated_at >= china_day_start(first))
                                                   & region_condition(Place.region))
    if types is not None:
        query = query.where(Place.place_type.in_(types))
    counts: dict[dt.date, int] = {}
    for (moment,) in query.tuples():
        day = china_day_of(moment)
        counts[day] = counts.get(day, 0) + 1
    return [(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0)) for i in range(days)]
