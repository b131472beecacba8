"""Health declarations (D6) and entry-to-province registrations (D7). A declaration's answers
feed the colour rules: its temperature, its travel, and a declared contact with a patient."""

from __future__ import annotations

import json

from models.db import db
from models.declarations import Declaration, ProvinceEntry
from models.people import Person
from models.risk_inputs import TemperatureRecord
from models.transactions import run_transaction
from services.colours import colour
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.risk_data import risk_inputs
from services.scanning.scans import FEVER

KINDS = {"personal": "个人申报", "member": "单位成员申报", "student_staff": "师生员工申报", "grid": "网格采集"}
SELF_KINDS = ("personal", "member", "student_staff")  # "grid" is a grid worker's collection
HEALTH_STATUSES = {"healthy": "健康", "fever": "发热", "cough": "咳嗽、乏力等症状", "other": "其他症状"}
ISOLATION_MODES = {"none": "无需隔离", "home": "居家隔离", "central": "集中隔离"}
# Kept as JSON beside the columns the rules read.
ANSWER_FIELDS = ("residence", "household_registration", "returned_from_elsewhere", "arrival_date", "transport",
                 "transport_number", "from_abroad", "country", "origin_code", "origin_name", "isolation_mode",
                 "temperature", "remark")


def submit_declaration(person: Person, data: dict, declared_by=None) -> dict:
    """Store a declaration and the facts it carries (temperature, travel) in one transaction."""
    subject = risk_inputs.subject_of(person)
    if data["kind"] != "personal" and not (data.get("organisation") or "").strip():
        raise ApiError("missing_field", "单位或学校申报请填写单位（学校）名称", 400, "organisation")
    travelled = data.get("returned_from_elsewhere") or data.get("from_abroad")
    if travelled and not data.get("arrival_date"):
        raise ApiError("missing_field", "外地或境外返回请填写抵达日期", 400, "arrival_date")
    if travelled and not (data.get("origin_name") or data.get("country")):
        raise ApiError("missing_field", "外地或境外返回请填写出发地", 400, "origin_name")
    if data.get("temperature") is not None:
        risk_inputs.check_temperature(data["temperature"])
    if data.get("arrival_date") is not None:
        risk_inputs.past_date(data["arrival_date"], "arrival_date")
    if data.get("origin_code") is not None:  # kept in the answers even when no travel is declared
        risk_inputs.check_region_code(data["origin_code"], "origin_code")
    answers = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items() if k in ANSWER_FIELDS}

    def write():
        declaration = Declaration.create(person=person, subject=subject, kind=data["kind"],
                                          organisation=data.get("organisation"),
                                          health_status=data["health_status"],
                                          contact_with_patient=data["contact_with_patient"],
                                          answers=json.dumps(answers, ensure_ascii=False), event_date=china_today(),
                                          declared_by=declared_by)
        if data.get("temperature") is not None:
            risk_inputs.record_temperature(person, data["temperature"], source="declaration", recorded_by=declared_by)
        if travelled:
            risk_inputs.record_travel(person, arrival_date=data["arrival_date"], origin_code=data.get("origin_code"),
                                      origin_name=data.get("origin_name"), from_abroad=bool(data.get("from_abroad")),
                                      country=data.get("country"), transport=data.get("transport"),
                                      transport_number=data.get("transport_number"), source="declaration")
        colour.recompute([subject], why="declaration")
        return declaration

    return declaration_view(run_transaction(write))


def declaration_view(declaration: Declaration) -> dict:
    """A declaration as the API shows it."""
    return {"id": declaration.id, "kind": declaration.kind, "kind_label": KINDS[declaration.kind],
            "organisation": declaration.organisation, "health_status": declaration.health_status,
            "health_status_label": HEALTH_STATUSES.get(declaration.health_status, declaration.health_status),
            "contact_with_patient": declaration.contact_with_patient, "answers": json.loads(declaration.answers),
            "declared_at": local_iso(declaration.declared_at)}


def declarations_of(person: Person):
    """The person's declarations, newest first (a query, for paging)."""
    return Declaration.select().where(Declaration.person == person).order_by(Declaration.declared_at.desc(),
                                                                             Declaration.id.desc())


def latest_declaration(person: Person) -> dict | None:
    """The person's latest declaration, or None."""
    latest = declarations_of(person).first()
    return declaration_view(latest) if latest else None


def temperatures_of(person: Person):
    """The person's temperatures, newest first (a query, for paging)."""
    return TemperatureRecord.select().where(TemperatureRecord.person == person).order_by(
        TemperatureRecord.measured_at.desc(), TemperatureRecord.id.desc())


def temperature_view(record: TemperatureRecord) -> dict:
    """A temperature as the API shows it."""
    return {"id": record.id, "temperature": float(record.value), "fever": record.value >= FEVER,
            "source": record.source, "measured_at": local_iso(record.measured_at)}


def register_province_entry(person: Person, data: dict) -> dict:
    """An entry-to-province registration; it is also an arrival the rules read."""
    risk_inputs.subject_of(person)
    entry_date = risk_inputs.past_date(data["entry_date"], "entry_date")
    if data.get("origin_code") is not None:
        risk_inputs.check_region_code(data["origin_code"], "origin_code")
    with db.atomic():
        entry = ProvinceEntry.create(person=person, entry_date=entry_date, origin_code=data.get("origin_code"),
                                     origin_name=data["origin_name"], transport=data["transport"],
                                     transport_number=data.get("transport_number"), destination=data["destination"])
        risk_inputs.record_travel(person, arrival_date=entry_date, origin_code=data.get("origin_code"),
                                  origin_name=data["origin_name"], transport=data["transport"],
                                  transport_number=data.get("transport_number"), source="province_entry")
    return province_entry_view(entry)


def province_entries_of(person: Person):
    """The person's entry registrations, newest first (a query, for paging)."""
    return ProvinceEntry.select().where(ProvinceEntry.person == person).order_by(ProvinceEntry.entry_date.desc(),
                                                                                 ProvinceEntry.id.desc())


def province_entry_view(entry: ProvinceEntry) -> dict:
    """An entry registration as the API shows it."""
    return {"id": entry.id, "entry_date": str(entry.entry_date), "origin_code": entry.origin_code,
            "origin_name": entry.origin_name, "transport": entry.transport,
            "transport_number": entry.transport_number, "destination": entry.destination,
            "registered_at": local_iso(entry.created_at)}
