"""进出登记 typed in from paper (G4): the back office's manual entry registration.

A compound's staff copy a paper form: the person is found by ID number, or registered; a
temperature at or above the scan's fever line (`services.scanning.scans.FEVER`) is recorded as the scan
records it and recomputes the colour; the entry takes the colour the person has then, and the
step is audited. Everything is checked before anything is written, and written in one
transaction.
"""

from __future__ import annotations

import json
import uuid

from models.admin import AdminUser
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person
from models.places import EntryRecord
from models.regions import Region
from services.back_office import compounds
from services.colours import colour
from services.common.errors import ApiError
from services.oversight import audit
from services.people import identity
from services.risk_data import risk_inputs
from services.scanning.scans import FEVER


def _person(number: str, data: dict) -> Person:
    """The registered person with this ID number, or a new one without an account."""
    person = Person.select().where((Person.id_number_bidx == blind_index(number, "id_number"))
                                   & (Person.relation == "self")).first()
    if person is None:
        person = Person(account=None, relation="self", name=data["name"])
        person.set_id_number(number)
        if data.get("phone"):
            person.set_phone(data["phone"])
        person.save()
    return person


def register(admin: AdminUser, compound: Region | None, data: dict) -> EntryRecord:
    """A paper registration form for `compound`'s place (source "manual"): `data` holds name,
    id_number, phone (optional), flow and temperature (optional, ℃). Returns the entry."""
    if compound is None:
        raise ApiError("no_compound", "请先在右上角切换到一个小区", 400)
    place = compounds.active_place(compound)
    if place is None:
        raise ApiError("no_place", "该小区还没有场所码", 400)
    number = identity.validate_id_number(data["id_number"])
    temperature = risk_inputs.check_temperature(data["temperature"]) if data.get("temperature") else None
    with db.atomic():
        person = _person(number, data)
        if temperature is not None and temperature >= FEVER:
            risk_inputs.record_temperature(person, temperature, source="manual")
        verdict = colour.verdict(person.subject)
        entry = EntryRecord.create(
            request_id=f"manual-{uuid.uuid4().hex}", place=place, person=person, account=None, flow=data["flow"],
            source="manual", temperature=temperature, colour=verdict.colour,
            admitted=verdict.colour == "green", form=json.dumps({"paper_form": True}),
            verdict=json.dumps({"colour": verdict.colour}), created_at=utcnow())
        audit.record(None, admin.role, "add_entry", entry, admin_actor=admin, compound=compound.code)
    return entry
