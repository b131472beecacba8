"""Live occupancy (N8): how many people are inside a counting place now.

A place counts when its admin turns counting on (setPlaceOccupancy), with a capacity or without
one. An admitted scan there counts the person in, in the scan's own transaction
(services/scanning/scans.py sends such scans off the group-commit path); leaving (leavePlace) counts them
out, and the expiry job (jobs/occupancy.py) counts out whoever never scanned out.

At capacity a scan is refused with 人数已满，请稍候 and nothing of it is written. The count is one
row per place, changed only by conditional UPDATEs (`inside < capacity`): on MariaDB the UPDATE
locks the row until the scan commits, on SQLite the transaction holds the one write lock, so two
scans racing for the last place never both get in, whichever server process runs them. A person
already inside who scans again is not counted twice (one `Presence` row each, unique per place).
"""

from __future__ import annotations

import datetime as dt

import peewee

from models.accounts import Account
from models.db import db, is_mysql
from models.fields import utcnow
from models.occupancy import PlaceOccupancy, Presence
from models.people import Person
from models.places import Place
from models.transactions import run_transaction
from services.common.errors import ApiError
from services.oversight import audit
from services.people import family, profile
from services.venues import places

MAX_CAPACITY = 1_000_000
PLACE_FULL_MESSAGE = "人数已满，请稍候"


def place_full() -> ApiError:
    """The refusal of a scan at a full place (409 `place_full`)."""
    return ApiError("place_full", PLACE_FULL_MESSAGE, 409)


def view(place: Place, row: PlaceOccupancy | None = None) -> dict:
    """getPlaceOccupancy's answer: whether the place counts, its capacity, who is inside, full?"""
    if row is None and place.counts_occupancy:
        row = PlaceOccupancy.get_or_none(PlaceOccupancy.place == place.id)
    counting = bool(place.counts_occupancy) and row is not None
    inside = row.inside if counting else 0
    capacity = row.capacity if counting else None
    return {"place_id": place.id, "counting": counting, "capacity": capacity, "inside": inside,
            "available": None if capacity is None else max(capacity - inside, 0),
            "full": capacity is not None and inside >= capacity}


def views(places_: list[Place]) -> dict[int, dict]:
    """`view` for each of these places, in one query: the venue statistics page's live counts."""
    counting = [p.id for p in places_ if p.counts_occupancy]
    rows = ({r.place_id: r for r in PlaceOccupancy.select().where(PlaceOccupancy.place.in_(counting))}
            if counting else {})
    return {p.id: view(p, rows.get(p.id)) for p in places_}


def _capacity(value) -> int | None:
    """The capacity as given: None (no limit) or a whole number from 1 to MAX_CAPACITY."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > MAX_CAPACITY:
        raise ApiError("invalid_capacity", f"容纳人数应为 1 到 {MAX_CAPACITY} 之间的整数（不限人数请留空）", 400,
                       "capacity")
    return value


def set_occupancy(account: Account, place: Place, counting: bool, capacity=None) -> dict:
    """setPlaceOccupancy: count this place's people (with a capacity, or none), or stop counting
    (who was counted inside is forgotten). A capacity below the count admits nobody until enough
    people leave. A bad capacity writes nothing."""
    capacity = _capacity(capacity)
    now = utcnow()

    def write() -> None:
        if counting:
            updated = (PlaceOccupancy.update(capacity=capacity, updated_at=now)
                       .where(PlaceOccupancy.place == place.id).execute())
            if not updated:
                PlaceOccupancy.insert(place=place.id, capacity=capacity, inside=0, updated_at=now).execute()
        else:
            Presence.delete().where(Presence.place == place.id).execute()
            PlaceOccupancy.delete().where(PlaceOccupancy.place == place.id).execute()
        Place.update(counts_occupancy=bool(counting)).where(Place.id == place.id).execute()
        audit.record(account, "place_admin", "set_occupancy", place, counting=bool(counting), capacity=capacity)

    run_transaction(write)
    return view(Place.get_by_id(place.id))


def count_in(place: Place, person: Person, now: dt.datetime) -> bool:
    """Count an admitted person into a counting place, inside the scan's transaction. Returns
    True when counted, False when they were inside already (a second scan, admitted even when
    the place is full); raises `place_full` when there is no room, and the caller's transaction
    rolls the whole scan back."""
    room = (PlaceOccupancy.update(inside=PlaceOccupancy.inside + 1, updated_at=now)
            .where((PlaceOccupancy.place == place.id)
                   & (PlaceOccupancy.capacity.is_null() | (PlaceOccupancy.inside < PlaceOccupancy.capacity)))
            .execute())
    here = (Presence.place == place.id) & (Presence.person == person.id)
    if not room:
        if Presence.update(entered_at=now).where(here).execute():
            return False
        raise place_full()
    try:
        with db.atomic():  # a savepoint: a duplicate undoes only the insert
            Presence.insert(place=place.id, person=person.id, entered_at=now).execute()
    except peewee.IntegrityError:
        # Inside already (or another scan of theirs won the race): the place taken back.
        PlaceOccupancy.update(inside=PlaceOccupancy.inside - 1).where(PlaceOccupancy.place == place.id).execute()
        Presence.update(entered_at=now).where(here).execute()
        return False
    return True


def count_out(place_id: int, person_id: int) -> bool:
    """Count a person out of a place, in one transaction; False when they were not inside (so
    leaving twice counts once)."""

    def write() -> bool:
        gone = Presence.delete().where((Presence.place == place_id) & (Presence.person == person_id)).execute()
        if gone:
            PlaceOccupancy.update(inside=PlaceOccupancy.inside - gone, updated_at=utcnow()).where(
                PlaceOccupancy.place == place_id).execute()
        return bool(gone)

    return run_transaction(write)


def leave(account: Account, token: str, member_id: int | None = None) -> dict:
    """leavePlace: the caller (or a family member) scans out of the place behind this code.
    Nobody is counted out twice: leaving when not inside is a 409 `not_inside` and changes
    nothing."""
    place = places.find_code(token).place
    if place is None:
        raise ApiError("place_code_not_activated", "该场所码尚未激活，请联系场所管理人员", 409, "code")
    person = (family.member_of(account, member_id) if member_id is not None
              else profile.require_self_person(account))
    if not count_out(place.id, person.id):
        raise ApiError("not_inside", "您当前不在该场所内（未扫码进入或已离开）", 409, "code")
    return {"left": True, **view(Place.get_by_id(place.id))}


def expire(now: dt.datetime | None = None, hours: int = 12) -> int:
    """Count out everyone counted in more than `hours` before `now` (naive UTC) who never scanned
    out, place by place, each in one short transaction; returns how many. Safe to run twice."""
    if hours < 1:
        raise ValueError("occupancy expiry hours must be at least 1")
    cutoff = (now or utcnow()) - dt.timedelta(hours=hours)
    stale = (Presence.select(Presence.place).where(Presence.entered_at < cutoff).distinct().tuples())
    expired = 0
    for (place_id,) in list(stale):
        def write(place_id=place_id) -> int:
            gone = (Presence.delete().where((Presence.place == place_id) & (Presence.entered_at < cutoff))
                    .execute())
            if gone:
                PlaceOccupancy.update(inside=PlaceOccupancy.inside - gone, updated_at=utcnow()).where(
                    PlaceOccupancy.place == place_id).execute()
            return gone

        expired += run_transaction(write)
    return expired


def reconcile() -> int:
    """Set each counting place's count to the people recorded inside it, where the two differ
    (a presence deleted with its person, outside these functions); returns how many places were
    corrected. Each place is read with its count row locked (MariaDB: FOR UPDATE; SQLite: the
    transaction's write lock), so a scan counted meanwhile waits and is not lost."""
    fixed = 0
    for (place_id,) in list(PlaceOccupancy.select(PlaceOccupancy.place).tuples()):
        def write(place_id=place_id) -> int:
            query = PlaceOccupancy.select().where(PlaceOccupancy.place == place_id)
            row = (query.for_update() if is_mysql() else query).first()
            if row is None:
                return 0
            actual = Presence.select().where(Presence.place == place_id).count()
            if row.inside == actual:
                return 0
            PlaceOccupancy.update(inside=actual, updated_at=utcnow()).where(PlaceOccupancy.place == place_id).execute()
            return 1

        fixed += run_transaction(write)
    return fixed
