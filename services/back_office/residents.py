"""Residents of a compound (G3): their bindings, isolation statuses with the seed's rules, and
what the back office adds or edits. Status changes go through the colour engine and the log."""

from __future__ import annotations

import datetime as dt

from models.admin import AdminUser, CompoundResident
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.colours import colour
from services.common.errors import ApiError
from services.common.timefmt import china_day_start
from services.oversight import audit
from services.people import identity
from services.risk_data import risk_inputs

STATUSES = {"released": "已解除隔离", "pending": "待确认隔离", "confirmed": "已确认隔离", "not_needed": "无需隔离",
            "not_in_compound": "未到本小区"}
DEFAULT_STATUS = "not_needed"
ISOLATING = risk_inputs.ISOLATING
# The colour rules whose people the epidemic HQ isolates (seed 002): a returnee from a key region
# such as Hubei, a close contact, someone who declared contact with a patient. Their compound scan
# puts them to 待确认隔离 for the compound admin to confirm or release.
ISOLATION_RULES = frozenset({"key_region", "close_contact", "declared_contact"})


def bind(person: Person, compound: Region, source: str = "scan") -> CompoundResident:
    """The person's binding to the compound (restored if it had been removed)."""
    binding = CompoundResident.get_or_none((CompoundResident.person == person)
                                           & (CompoundResident.compound == compound))
    if binding is None:
        return CompoundResident.create(person=person, compound=compound, source=source)
    if binding.removed_at is not None:
        CompoundResident.update(removed_at=None, removed_remark=None).where(CompoundResident.id == binding.id).execute()
    return CompoundResident.get_by_id(binding.id)


def status_of(person: Person) -> str:
    """The person's isolation status (无需隔离 when none was ever set)."""
    record = IsolationRecord.get_or_none(IsolationRecord.subject == person.id_number_bidx)
    return record.status if record else DEFAULT_STATUS


def _change(admin: AdminUser, binding: CompoundResident, new: str, action: str, **detail) -> None:
    person = binding.person
    old = status_of(person)
    with db.atomic():
        risk_inputs.set_isolation(risk_inputs.subject_of(person), new)
        audit.record(None, admin.role, action, person, admin_actor=admin, compound=binding.compound.code,
                     status_from=old, status_to=new, subjects=[person.id_number_bidx], **detail)


def confirm_isolation(admin: AdminUser, binding: CompoundResident) -> str:
    """确认隔离: only a pending person; the status becomes confirmed (and the colour red)."""
    if status_of(binding.person) != "pending":
        raise ApiError("not_pending", "只有“待确认隔离”状态的人员才能确认隔离", 409)
    _change(admin, binding, "confirmed", "confirm_isolation")
    return "已确认隔离"


def release_warning(binding: CompoundResident) -> str | None:
    """A key-region returnee's release warns that their isolation period is 14 days (G3): a health
    certificate releases only people whose origin is not a key region (Hubei, Henan's level-1
    areas), so theirs waits for the period's end, when the key-region reason lapses."""
    hit = next((h for h in colour.verdict(binding.person.subject).hits if h["rule"] == "key_region"), None)
    return f"此人隔离期14天（至 {hit['until']}），期满前不能凭健康证明解除隔离" if hit else None


def release_isolation(admin: AdminUser, binding: CompoundResident, reason: str, certificate: bool) -> str:
    """解除隔离: pending (PC pages) or confirmed (the mobile pages) people, with a reason and the
    health certificate ticked; a key-region returnee is refused until their 14 days are over."""
    if status_of(binding.person) not in ISOLATING:
        raise ApiError("not_isolated", "只有待确认隔离或已确认隔离的人员才能解除隔离", 409)
    if not (reason or "").strip():
        raise ApiError("missing_field", "请填写解除隔离原因", 400, "reason")
    if not certificate:
        raise ApiError("missing_field", "请确认已提交健康证明", 400, "certificate")
    warning = release_warning(binding)
    if warning:
        raise ApiError("isolation_period", warning, 409, "certificate")
    _change(admin, binding, "released", "release_isolation", reason=reason.strip()[:255])
    return "已解除隔离"


def isolation_due(details: list[dict]) -> dt.date | None:
    """The latest fact date among a verdict's reasons that call for isolation (ISOLATION_RULES);
    None when none does: what a compound scan checks before reading anything more."""
    days = [h["since"] for h in details if h.get("rule") in ISOLATION_RULES and h.get("since")]
    return dt.date.fromisoformat(max(days)) if days else None


def awaits_confirmation(person: Person, due: dt.date) -> bool:
    """Whether a person to be isolated since `due` goes to 待确认隔离 on their compound scan: nobody
    has decided about this episode yet (no status, or released / not needed before the fact), or
    they had been found not to have arrived and are here now."""
    record = IsolationRecord.get_or_none(IsolationRecord.subject == person.id_number_bidx)
    if record is None or record.status == "not_in_compound":
        return True
    return record.status not in ISOLATING and record.event_date < due


def mark_pending(person: Person, compound: Region) -> None:
    """A compound scan's part of G3: the person becomes 待确认隔离, for the compound admin to confirm
    or release; the change is in the person's operation log (inside the scan's transaction)."""
    old = status_of(person)
    risk_inputs.set_isolation(risk_inputs.subject_of(person), "pending")
    audit.record(None, "system", "pending_isolation", person, compound=compound.code, status_from=old,
                 status_to="pending")


def remove_binding(admin: AdminUser, binding: CompoundResident, remark: str | None) -> str:
    """未在本小区: remove one of the person's compound bindings (kept, marked removed)."""
    if binding.removed_at is not None:
        raise ApiError("already_removed", "该人员已与此小区解除关联", 409)
    with db.atomic():
        CompoundResident.update(removed_at=utcnow(), removed_remark=(remark or None)).where(
            CompoundResident.id == binding.id).execute()
        person = binding.person
        if person.compound_id == binding.compound_id:
            # The scan flow's one-compound rule follows the binding that is left, if any.
            left = (CompoundResident.select().where((CompoundResident.person == person)
                                                    & CompoundResident.removed_at.is_null()).first())
            Person.update(compound=left.compound_id if left else None).where(Person.id == person.id).execute()
        audit.record(None, admin.role, "not_in_compound", person, admin_actor=admin, compound=binding.compound.code,
                     remark=remark or "")
    return "已解除与该小区的关联"


def bindings_of(person: Person, admin: AdminUser) -> dict:
    """The person's live compound bindings within the admin's scope, for 未在本小区's choice."""
    rows = (CompoundResident.select(CompoundResident, Region).join(Region)
            .where((CompoundResident.person == person) & CompoundResident.removed_at.is_null()
                   & Region.path.startswith(admin.region.path)))
    return {str(b.id): b.compound.name for b in rows}


def add_resident(admin: AdminUser, compound: Region | None, data: dict) -> CompoundResident:
    """新建: a person the compound staff already knew of, bound to the compound."""
    if compound is None:
        raise ApiError("no_compound", "请先在右上角切换到一个小区", 400)
    number = identity.validate_document(data.get("id_type") or "resident_id", data.get("id_number"))
    existing = Person.select().where((Person.id_number_bidx == blind_index(number, "id_number"))
                                     & (Person.relation == "self")).first()
    with db.atomic():
        person = existing or Person(account=None, relation="self", id_type=data.get("id_type") or "resident_id")
        if existing is None:
            person.set_id_number(number)
        _apply(person, data)
        person.save()
        if person.compound_id is None:
            Person.update(compound=compound).where(Person.id == person.id).execute()
        binding = bind(person, compound, source="admin")
        if data.get("isolation_status"):
            risk_inputs.set_isolation(person.subject, data["isolation_status"])
        audit.record(None, admin.role, "add_resident", person, admin_actor=admin, compound=compound.code)
    return binding


def _apply(person: Person, data: dict) -> None:
    for name in ("name", "address", "building", "unit", "room", "resident_category"):
        if name in data and data[name] is not None:
            setattr(person, name, data[name])
    if data.get("phone"):
        person.set_phone(identity.validate_phone(data["phone"]), verified=person.phone_verified)
    if person.id_type == "resident_id" and person.id_number:
        person.gender = identity.gender_of(person.id_number)
    person.updated_at = utcnow()


def edit_resident(admin: AdminUser, binding: CompoundResident, data: dict) -> None:
    """编辑: correct a person's information. The form shows the phone masked: that mask sent back
    unchanged keeps the stored number; anything else must be a whole new number."""
    data = {k: v for k, v in data.items() if v not in (None, "")}  # a field left empty is kept
    person = binding.person
    phone = data.get("phone")
    if phone and "*" in phone:
        if phone != identity.mask_phone(person.phone):
            raise ApiError("invalid_phone", "手机号码应为11位数字；保留原号码请勿修改显示的号码", 400, "phone")
        data = {k: v for k, v in data.items() if k != "phone"}
    with db.atomic():
        _apply(person, data)
        person.save()
        audit.record(None, admin.role, "edit_resident", person, admin_actor=admin,
                     fields=sorted(k for k, v in data.items() if v is not None))


def abnormal_movements(person: Person, limit: int = 100) -> list[EntryRecord]:
    """The detail page's 异常信息: every scan of the person since their isolation began (pending or
    confirmed), wherever it was and whoever scanned for them: matched by the ID number's blind
    index, so a family member's or a proxy's registration of the same person counts too."""
    record = IsolationRecord.get_or_none(IsolationRecord.subject == person.id_number_bidx)
    if person.id_number_bidx is None or record is None or record.status not in ISOLATING:
        return []
    same_person = Person.select(Person.id).where(Person.id_number_bidx == person.id_number_bidx)
    since = china_day_start(record.started_on or record.event_date)
    return list(EntryRecord.select(EntryRecord, Place).join(Place)
                .where(EntryRecord.person.in_(same_person) & (EntryRecord.created_at >= since))
                .order_by(EntryRecord.created_at.desc(), EntryRecord.id.desc()).limit(limit))
