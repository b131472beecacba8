"""The queries of the venue types' back-office lists (地铁等其他类型后台管理): a type's places and
entries in an admin's region, the searched date range, the figures above the lists, the sums of
a search, and the entry list's paging by walking the ids back."""

from __future__ import annotations

import datetime as dt
import functools
import json

import peewee
from peewee import fn

from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from services.back_office import statistics, venue_admin
from services.common.errors import ApiError
from services.venues.place_types import PlaceType

MAX_RANGE_DAYS = 366
WALK_FIRST, WALK_MAX = 4096, 1 << 20


def parse_day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400, field) from None


def date_range(params: dict) -> tuple[dt.date | None, dt.date | None]:
    """The searched days (China-local, both ends included): a reversed range or one longer than
    a year is refused with a clear message."""
    first = parse_day(params["date_from"], "date_from") if (params.get("date_from") or "").strip() else None
    last = parse_day(params["date_to"], "date_to") if (params.get("date_to") or "").strip() else None
    if first and last:
        if first > last:
            raise ApiError("invalid_date_range", "开始日期不能晚于结束日期", 400, "date_to")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ApiError("date_range_too_long", "查询时间跨度不能超过一年", 400, "date_from")
    return first, last


def details(place: Place) -> dict:
    """The place's activation answers (read once per row)."""
    cached = getattr(place, "_venue_details", None)
    if cached is None:
        cached = json.loads(place.details or "{}")
        place._venue_details = cached
    return cached


def type_figures(admin, kind: PlaceType) -> dict:
    """A type's figures in the admin's region: the hourly summary (kept until the next run of the
    job) plus the hours not summarised yet, and when each was made (`updated`, `counted_at`)."""
    scope = statistics.Scope([kind.code], functools.partial(venue_admin.region_condition, admin))
    key = ("cards", kind.code, admin.region_id, venue_admin.city_wide(admin))
    figures = statistics.cached(key, functools.partial(statistics.totals, scope))
    return {**statistics.with_live(figures, scope, statistics.live_counts(scope, key)),
            "updated": statistics.updated_text()}


def search_sums(admin, kind: PlaceType, places, first: dt.date | None, last: dt.date | None) -> dict:
    """The sums of a search: over the places `places` selects (None: every place of the type in
    the admin's region) and the searched days."""
    if places is None and first is None and last is None:
        return type_figures(admin, kind)
    scope = statistics.Scope([kind.code], functools.partial(venue_admin.region_condition, admin), places, first, last)
    return statistics.with_live(statistics.totals(scope), scope, statistics.live_counts(scope))


def places_of(kind: PlaceType):
    """The type's places with their regions."""
    return Place.select(Place, Region).join(Region, peewee.JOIN.LEFT_OUTER).where(Place.place_type == kind.code)


def visible(admin, kind: PlaceType, query, region_field):
    """`query` limited to the admin's region; a 403 for an admin of another type."""
    venue_admin.require_type(admin, kind.code)
    return query.where(venue_admin.region_condition(admin, region_field))


def today_at_most(query, value: str):
    """当日扫码数量小于等于 N: places scanned at most N times today."""
    limit = venue_admin.validated_int(value, "today_max", "当日扫码数量")
    return query.where(statistics.today_scans_of_place() <= limit)


def _row_id(row_id) -> int:
    try:
        return int(row_id)
    except (TypeError, ValueError):
        raise ApiError("not_found", "记录不存在", 404) from None


def place_row(admin, kind: PlaceType, query, row_id):
    """A place by id, read by `query`: 404 when missing, 403 when of another type or region."""
    row_id = _row_id(row_id)
    place = Place.get_or_none(Place.id == row_id)
    if place is None:
        raise ApiError("not_found", "记录不存在", 404)
    venue_admin.require_place(admin, place, kind.code)
    return query.where(Place.id == row_id).first()


def entries_of(kind: PlaceType):
    """People's entries at the type's places, with the person and place."""
    return (EntryRecord.select(EntryRecord, Person, Place).join(Person).switch(EntryRecord).join(Place)
            .where(Place.place_type == kind.code))


def entry_row(admin, kind: PlaceType, row_id):
    """An entry by id: 404 when missing, 403 at a place of another type or region."""
    row_id = _row_id(row_id)
    entry = EntryRecord.select(EntryRecord, Place).join(Place).where(EntryRecord.id == row_id).first()
    if entry is None:
        raise ApiError("not_found", "记录不存在", 404)
    venue_admin.require_place(admin, entry.place, kind.code)
    return entries_of(kind).where(EntryRecord.id == row_id).first()


def walk_page(query, after: int | None, per_page: int) -> tuple[list, int | None]:
    """Entries newest first, by key. "ORDER BY id DESC LIMIT 21" over a join with the places of a
    type makes MySQL sort every entry of the type (millions) for 21 rows; so the ids are walked
    back in windows (WALK_FIRST ids, then twice as many each time) until the page is full: each
    query reads one short primary-key range, whatever the size of the table."""
    pk = EntryRecord.id
    top = (after - 1) if after else (EntryRecord.select(fn.MAX(pk)).scalar() or 0)
    bottom = EntryRecord.select(fn.MIN(pk)).scalar() or 0
    rows, window = [], WALK_FIRST
    while top >= bottom and len(rows) <= per_page:
        rows += list(query.where((pk <= top) & (pk > top - window)).order_by(pk.desc()).limit(per_page + 1 - len(rows)))
        top -= window
        window = min(window * 2, WALK_MAX)
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (rows[-1].get_id() if more and rows else None)
