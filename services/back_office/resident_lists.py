"""The queries of the 小区居民管理 list: the bindings with their people, compounds and isolation
records, limited to a compound or a region, and the isolation status each shows."""

from __future__ import annotations

import peewee

from models.admin import AdminUser, CompoundResident
from models.people import Person
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.back_office.residents import DEFAULT_STATUS
from services.people import identity


def bindings():
    """Every compound binding with its person, compound and isolation record (when there is one)."""
    return (CompoundResident.select(CompoundResident, Person, Region, IsolationRecord)
            .join(Person).switch(CompoundResident).join(Region)
            .switch(Person)
            .join(IsolationRecord, peewee.JOIN.LEFT_OUTER, on=(IsolationRecord.subject == Person.id_number_bidx),
                  attr="isolation"))


def within(admin: AdminUser, compound: Region | None, query):
    """`query` limited to the current compound, else to the admin's region."""
    if compound is not None:
        return query.where(CompoundResident.compound == compound)
    return query.where(Region.path.startswith(admin.region.path))


def current_only(query):
    """Bindings removed with 未在本小区 left out (what the list shows unless asked for them)."""
    return query.where(CompoundResident.removed_at.is_null())


def status(binding: CompoundResident) -> str:
    """The isolation status a binding read by `bindings()` shows."""
    isolation = getattr(binding.person, "isolation", None)
    return (isolation.status if isolation is not None and isolation.status else None) or DEFAULT_STATUS


def with_status(query, value: str):
    """Bindings whose person has this isolation status (no record counts as the default one)."""
    if value == DEFAULT_STATUS:
        return query.where(IsolationRecord.status.is_null() | (IsolationRecord.status == value))
    return query.where(IsolationRecord.status == value)


def form_values(binding: CompoundResident) -> dict:
    """The edit form's starting values (the phone masked: it is kept unless a new one is typed)."""
    person = binding.person
    return {"name": person.name, "phone": identity.mask_phone(person.phone), "address": person.address,
            "building": person.building, "unit": person.unit, "room": person.room,
            "resident_category": person.resident_category}
