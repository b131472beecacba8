"""From checked rows to `TaskRecord`s: personal cells encrypted together, blind indexes for look-up,
the row key for dedupe, the person matched through the ID blind index, the dispatch, and one
multi-row INSERT that ignores rows already on the list. Also the entry points that add one record:
a report typed in the back office, and a red / yellow checkpoint scan (`record_checkpoint_scan`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from models.db import db
from models.sql_literals import SqlLiterals
from models.fields import blind_index, utcnow
from models.investigations import TaskRecord
from models.people import Person
from models.regions import Region
from models import cipher
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.investigations import cells, sources
from services.investigations.dispatch import FILTERED, Dispatcher, Placed, Refused
from services.investigations.sources import Source
from services.people import identity

log = logging.getLogger("healthcode.investigations")

INSERT_FIELDS = (TaskRecord.source, TaskRecord.category, TaskRecord.row_key, TaskRecord.import_job,
                 TaskRecord.data, TaskRecord.personal, TaskRecord.subject, TaskRecord.phone_bidx,
                 TaskRecord.name_bidx, TaskRecord.region, TaskRecord.district, TaskRecord.person,
                 TaskRecord.status, TaskRecord.occurred_on, TaskRecord.transport, TaskRecord.expected_arrival,
                 TaskRecord.created_by, TaskRecord.created_at, TaskRecord.updated_at)
_IS_PERSON_DOCUMENT = {"id_number", "document"}
ROUTING_KEYS = ("station_county", "station_city", "inflow_county", "inflow_city", "boarding", "compound", "street", "district_name", "address")
# json.dumps with these arguments builds an encoder per call; a million rows call it twice each.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class RowBuilder:
    """Turns checked rows of one source into INSERT tuples (see `INSERT_FIELDS`)."""

    def __init__(self, source: Source, *, category: str | None, job_id: int | None, admin_id: int | None,
                 literals: SqlLiterals | None = None):
        self.source = source
        self.literals = literals  # MySQL through the reader process: rows as SQL text (see SqlLiterals)
        self.category = category
        self.job_id = job_id
        self.admin_id = admin_id
        self.personal_keys = tuple(c.key for c in source.columns if c.personal)
        self.plain_keys = tuple(c.key for c in source.columns if not c.personal)
        self.document_key = next((c.key for c in source.columns if c.kind in _IS_PERSON_DOCUMENT), None)
        self.row_purpose = f"task_row_{source.code}"
        self.initial = source.workflow.initial if source.workflow else None
        self.cipher = cipher.current()

    def subject(self, values: dict) -> str | None:
        number = values.get(self.document_key) if self.document_key else None
        return self.cipher.blind_index(number, "id_number") if number else None

    def row_key(self, values: dict) -> str:
        parts = [cells.text_of(_jsonable(values.get(k))) for k in self.source.key_columns]
        return self.cipher.blind_index("\x1f".join(parts), self.row_purpose)

    def prepare(self, values: dict, row_number: int | None = None) -> tuple:
        """The CPU-heavy part of a row's INSERT (encryption, blind indexes), done before the
        database is involved: (the cells the dispatch reads, subject, columns before the
        dispatch's, columns after them, the sheet's row number)."""
        personal = {k: values[k] for k in self.personal_keys if values.get(k) is not None}
        plain = {k: _jsonable(values[k]) for k in self.plain_keys if values.get(k) is not None}
        subject = self.subject(values)
        phone = values.get("phone")
        name = values.get("name")
        occurred = values.get(self.source.date_column) if self.source.date_column else None
        arrival = values.get("expected_arrival")
        if isinstance(occurred, dt.datetime):
            occurred = occurred.date()
        index = self.cipher.blind_index
        head = (self.source.code, self.category, self.row_key(values), self.job_id,
                _JSON(plain),
                # One AES-GCM seal for all of a row's personal cells (what TaskRecord.personal holds).
                self.cipher.encrypt(_JSON(personal), "task_personal") if personal else None,
                subject, index(phone, "phone") if phone else None, index(name, "task_name") if name else None)
        tail = (self.initial, occurred, values.get("transport"), cells.to_utc(arrival) if arrival else None,
                self.admin_id)
        routing = {k: values[k] for k in ROUTING_KEYS if values.get(k) is not None}
        if self.literals is not None:
            return routing, subject, self.literals.join(head), self.literals.join(tail), row_number
        return routing, subject, head, tail, row_number

    @staticmethod
    def finish(prepared: tuple, placed: Placed, person_id: int | None, now: dt.datetime) -> tuple:
        head, tail = prepared[2], prepared[3]
        return (*head, placed.region_id, placed.district_id, person_id, *tail, now, now)

    @staticmethod
    def finish_literal(prepared: tuple, placed: Placed, person_id: int | None, now: str) -> str:
        head, tail = prepared[2], prepared[3]
        ids = ",".join("NULL" if i is None else str(int(i)) for i in (placed.region_id, placed.district_id, person_id))
        return f"({head},{ids},{tail},{now},{now})"


def match_people(subjects: list[str]) -> dict[str, tuple[int, int | None]]:
    """subject -> (person id, compound id) of the registered people among `subjects`."""
    found: dict[str, tuple[int, int | None]] = {}
    if not subjects:
        return found
    query = (Person.select(Person.id_number_bidx, Person.id, Person.compound, Person.relation)
             .where(Person.id_number_bidx.in_(subjects)).tuples())
    for subject, person_id, compound_id, relation in query:
        # The account holder's own profile wins over a family member's copy of the same person.
        if subject not in found or relation == "self":
            found[subject] = (person_id, compound_id)
    return found


_SQL_CACHE: dict = {}


def insert_sql(model, fields) -> str:
    """The driver-level "INSERT, ignoring rows whose unique key exists" for one row of `fields`,
    as this database spells it. Rows go through the driver's executemany: building a peewee
    query of a thousand rows costs more than everything else the import does."""
    key = (type(db.obj), model, tuple(f.name for f in fields))
    if key not in _SQL_CACHE:
        _SQL_CACHE[key] = model.insert_many([(None,) * len(fields)], fields=fields).on_conflict_ignore().sql()[0]
    return _SQL_CACHE[key]


def execute_many(model, fields, rows: list[tuple]) -> int:
    """Insert raw tuples (values already as the database stores them); the rows inserted."""
    if not rows:
        return 0
    cursor = db.cursor()
    try:
        cursor.executemany(insert_sql(model, fields), rows)
        return cursor.rowcount
    finally:
        cursor.close()


def insert_rows(dispatcher: Dispatcher, prepared: list[tuple],
                literals: SqlLiterals | None = None) -> tuple[int, int, list[tuple]]:
    """Insert prepared rows (in the caller's transaction); (inserted, filtered, refused cells as
    (row number, column, reason)). Rows whose key is already on the list are ignored, which is how
    a second import of a file adds nothing; rows the dispatch refuses are not inserted.
    `literals`: the rows were prepared as MySQL text (`SqlLiterals`)."""
    if not prepared:
        return 0, 0, []
    people = match_people(list({p[1] for p in prepared if p[1]}))
    now = utcnow().replace(microsecond=0)
    stamp = literals.literal(now) if literals is not None else None
    rows, filtered, refused = [], 0, []
    for row in prepared:
        person_id, compound_id = people.get(row[1], (None, None)) if row[1] else (None, None)
        placed = dispatcher.place(row[0], compound_id)
        if placed is FILTERED:
            filtered += 1
            continue
        if isinstance(placed, Refused):
            refused.extend((row[4], header, reason) for _, header, reason in placed.cells)
            continue
        rows.append(RowBuilder.finish_literal(row, placed, person_id, stamp) if literals is not None
                    else RowBuilder.finish(row, placed, person_id, now))
    if literals is None:
        return execute_many(TaskRecord, INSERT_FIELDS, rows), filtered, refused
    if not rows:
        return 0, filtered, refused
    head = insert_sql(TaskRecord, INSERT_FIELDS)
    statement = head[: head.rindex("VALUES") + len("VALUES")] + " " + ",".join(rows)
    cursor = db.cursor()
    try:
        cursor.execute(statement)  # no parameters: the values are already escaped literals
        return cursor.rowcount, filtered, refused
    finally:
        cursor.close()


def check_values(source: Source, raw: dict) -> dict:
    """Check a dict of cells by column key (a back-office form); ApiError names the bad field."""
    values = {}
    for column in source.columns:
        try:
            values[column.key] = cells.check(column, raw.get(column.key))
        except cells.CellError as error:
            raise ApiError("invalid_field", error.reason, 400, column.key) from None
    return values


def add_one(source: Source, values: dict, *, admin, region: Region | None, category: str | None = None) -> TaskRecord:
    """One record typed in the back office (境外人员返郑上报): placed at the reporter's region, or
    dispatched like an imported row when the reporter is above compound level."""
    builder = RowBuilder(source, category=category, job_id=None, admin_id=admin.id if admin else None)
    dispatcher = Dispatcher(source, region)
    prepared = builder.prepare(values)
    subject = prepared[1]
    person_id, compound_id = match_people([subject]).get(subject, (None, None)) if subject else (None, None)
    if region is not None and region.level == "compound":
        placed = Placed(region.id, dispatcher.district_of_path(region.path))
    else:
        placed = dispatcher.place(values, compound_id)
        if isinstance(placed, Refused):
            key, _, reason = placed.cells[0]
            raise ApiError("unknown_county", reason, 400, key)
        if placed is FILTERED:
            placed = Placed(region.id if region else None, dispatcher.district_of_path(region.path) if region else None)
    row = builder.finish(prepared, placed, person_id, utcnow().replace(microsecond=0))
    with db.atomic():
        if not execute_many(TaskRecord, INSERT_FIELDS, [row]):
            raise ApiError("duplicate_record", "该人员的这条记录已上报过", 409)
        record = TaskRecord.get((TaskRecord.source == source.code) & (TaskRecord.row_key == row[2]))
    return record


# --- red / yellow checkpoint scans -> 中高风险返郑人员 -----------------------------------------------

SCAN_COLOURS = {"red": "scan_red", "orange": "scan_yellow", "yellow": "scan_yellow"}


def _district_id_of(region_path: str | None) -> int | None:
    """The district of a region path (one indexed query; only red / yellow scans get here)."""
    if not region_path:
        return None
    found = (Region.select(Region.id).where(Region.code.in_(region_path.strip("/").split("/"))
                                            & (Region.level == "district")).first())
    return found.id if found else None


def _get(travel, name: str):
    if travel is None:
        return None
    return travel.get(name) if isinstance(travel, dict) else getattr(travel, name, None)


def record_checkpoint_scan(person: Person, verdict_colour: str, place, travel=None) -> bool:
    """A red or yellow (orange) code scanned at a checkpoint puts the person on the medium / high-
    risk returnee list, once a day, dispatched to their compound's district (else the checkpoint's).
    Cheap enough for the scan's transaction: one INSERT that a repeat scan turns into nothing.
    Returns whether a record was added."""
    category = SCAN_COLOURS.get(verdict_colour)
    if category is None or not person.id_number_bidx:
        return False
    source = sources.RISK
    today = china_today()
    compound_path = None
    if person.compound_id:
        compound = Region.get_or_none(Region.id == person.compound_id)
        compound_path = compound.path if compound else None
    place_region = getattr(place, "region", None) if place is not None else None
    district = _district_id_of(compound_path) or _district_id_of(place_region.path if place_region else None)
    personal = {k: v for k, v in (("name", person.name), ("id_number", person.id_number),
                                  ("phone", person.phone), ("address", person.address)) if v}
    data = {"date": today.isoformat(), "origin": _get(travel, "origin_name") or _get(travel, "origin_code"),
            "checkpoint": getattr(place, "name", None), "colour": verdict_colour,
            "transport_number": _get(travel, "transport_number")}
    now = utcnow()
    row_key = blind_index(f"{person.id_number_bidx}\x1f{today.isoformat()}", "task_row_risk_scan")
    inserted = TaskRecord.insert(
        source=source.code, category=category, row_key=row_key, data=json.dumps(
            {k: v for k, v in data.items() if v}, ensure_ascii=False),
        personal=json.dumps(personal, ensure_ascii=False), subject=person.id_number_bidx,
        phone_bidx=person.phone_bidx, name_bidx=blind_index(person.name, "task_name") if person.name else None,
        region=person.compound_id if compound_path else (district or getattr(place_region, "id", None)),
        district=district, person=person.id,
        status=source.workflow.initial, occurred_on=today, created_at=now, updated_at=now,
    ).on_conflict_ignore().as_rowcount().execute()
    return bool(inserted)


def personal_of(record: TaskRecord) -> dict:
    """The record's personal cells (decrypted), cached on the row object."""
    cached = getattr(record, "_personal_cache", None)
    if cached is None:
        cached = json.loads(record.personal) if record.personal else {}
        record._personal_cache = cached
    return cached


def data_of(record: TaskRecord) -> dict:
    cached = getattr(record, "_data_cache", None)
    if cached is None:
        cached = json.loads(record.data or "{}")
        record._data_cache = cached
    return cached


def masked(key: str, value) -> str:
    """A personal cell as pages and exports show it."""
    if value in (None, ""):
        return ""
    if key == "name":
        return identity.mask_name(value)
    if key == "id_number":
        return identity.mask_id_number(value)
    if key == "phone":
        return identity.mask_phone(value)
    text = str(value)
    return text[:6] + "****" if len(text) > 6 else text[:1] + "****"

