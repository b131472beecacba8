"""The queries of the back office's entry lists (进出登记管理): entries with their people, places
and regions, the figures above the list, and the removal of an entry typed in from paper."""

from __future__ import annotations

from models.admin import AdminUser
from models.db import db
from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from services.common.errors import ApiError
from services.common.timefmt import china_day_start
from services.oversight import audit


def entries():
    """Every entry with its person, place and the place's region."""
    return (EntryRecord.select(EntryRecord, Person, Place, Region).join(Person).switch(EntryRecord)
            .join(Place).join(Region))


def figures(query) -> list[tuple[str, int]]:
    """今日进出人次 and 累计进出人次 of the entries `query` selects."""
    return [("今日进出人次", query.where(EntryRecord.created_at >= china_day_start()).count()),
            ("累计进出人次", query.count())]


def delete_manual(admin: AdminUser, entry: EntryRecord) -> None:
    """Delete an entry typed in from paper (audited); a scan is evidence and is never deleted."""
    if entry.source != "manual":
        raise ApiError("not_manual", "只能删除人工录入的登记记录", 403)
    with db.atomic():
        audit.record(None, admin.role, "delete_entry", entry, admin_actor=admin,
                     registered_at=str(entry.created_at), place=entry.place.name)
        entry.delete_instance()
