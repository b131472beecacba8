"""Risk records in (D2-D4): one declaration per kind of record and one function that puts a batch
of them in, shared by the Excel risk lists (services/investigations/risk_lists.py), the one-person
form (admin/risk_record_pages.py) and the partner feed API.

Kinds (`KINDS`, each a `RecordKind`): close_contact (密接), secondary_contact (次密接), case
(confirmed / suspected / asymptomatic, with its compound when known), fever_clinic_visit (发热门诊
就诊), fever_medicine (pharmacy purchases of fever medicine), isolation_order (隔离令), key_person
(公安重点人员). A kind declares its fields as template columns (`RecordKind.fields`: the JSON name is
`key`, the Excel header `header`), which are required, and its duplicate key. Every kind has

    id_number    证件号码   required, an 18-digit resident ID with a valid check digit
    name         姓名       optional, up to 64 characters
    phone        手机号码   optional, a mainland mobile number
    date         (per kind) required, YYYY-MM-DD, not in the future: the day the fact counts from
    region_code  所属地区代码 optional, a known region code (district ... compound) within the caller's region
    remark       备注       optional

and `case` adds `kind` (confirmed | suspected | asymptomatic, or 确诊 / 疑似 / 无症状) and
`compound_code` (a known compound); `fever_clinic_visit` adds `hospital` (required);
`fever_medicine` adds `pharmacy` (required) and `medicine`; `isolation_order` adds `place`.

    ingest(kind, rows, *, source_label, source_ref, listed_on, region=None, created_by=None) -> IngestResult

checks every row (cell checks of services/investigations/cells.py and services/people/identity.py, known
regions within `region`; None means no scope), refuses the bad ones as `Rejection(index, field,
code, message)` (codes: missing_field, invalid_id_number, invalid_phone, invalid_date,
date_in_future, invalid_choice, too_long, unknown_region, unknown_compound, out_of_scope,
duplicate_row, invalid_record), and applies the good ones in ONE transaction through the colour
engine's entry paths (services/risk_data/risk_inputs.py), which recompute the people touched in that
transaction. Two rows are the same record when they have the same person and `key` (e.g. the same
close contact on the same date): a row repeating an earlier row of the call, or one stored by an
earlier call with the same `source_ref` (an import sends its file 1,000 rows a call), is refused
as duplicate_row; a row stored by another batch is counted in `duplicates` and not stored twice,
so sending a list again adds nothing. The whole call is refused (ApiError, nothing written) for an
unknown kind (400 unknown_kind), more than MAX_ROWS rows (413 too_many_records), rows that are not
a list, or no source. `IngestResult(kind, batch_id, received, accepted, duplicates, rejected)`
has `as_dict()` for an API answer; `batch_id` is None when no row was good and the batch is new.
`withdraw_batch(kind, source_ref)` removes a batch's facts again (a failed import) and recomputes.

Provenance: each call's facts point to one `RiskBatch` (models/risk_inputs.py), found or made by
(kind, source_ref): `source_label` is the organisation ("郑州市疾控中心", see `organisation`),
`source_ref` names the batch in its own system ("import:12", "partner:<key id>:<batch id>",
"form:<account id>:<UTC time>"), `listed_on` the list's date and `region` its area. The batch's
`title` ("密接名单（郑州市疾控中心 2026-12-03）") is what the citizen reads beside the reason
(services/colours/colour.reason_text); facts carry `batch_id` and `region_id` columns for the pages that
show where a reason came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from models.admin import AdminUser
from models.fields import blind_index
from models.regions import Region
from models.risk_inputs import CaseReport, CloseContact, FeverMedicinePurchase, RiskBatch, RiskListing
from models.transactions import run_transaction
from services.accounts import admin_auth
from services.colours import colour
from services.common.errors import ApiError
from services.common.timefmt import DATE_TEXT, china_today
from services.investigations import cells
from services.investigations.sources import TemplateColumn
from services.risk_data import risk_inputs

MAX_ROWS = 10_000  # rows in one call (a partner batch; the importer sends 1,000 at a time)
CASE_KIND_LABELS = (("confirmed", "确诊"), ("suspected", "疑似"), ("asymptomatic", "无症状"))
ID_ALIASES = ("身份证号码", "身份证", "身份证号")
# The organisation a back-office role speaks for, after its region's name ("郑州市" + "疾控中心").
ORGANISATIONS = {"health_city": "卫健委", "health_district": "卫健委", "cdc_city": "疾控中心",
                 "cdc_district": "疾控中心", "police": "公安局", "police_district": "公安分局",
                 "fever_clinic": "发热门诊", "city": "疫情防控指挥部", "district": "疫情防控指挥部"}


def _date(header: str, *aliases: str) -> TemplateColumn:
    return TemplateColumn("date", header, "date", required=True, list=True, aliases=(*aliases, "日期"))


def _common(date: TemplateColumn, *extra: TemplateColumn) -> tuple[TemplateColumn, ...]:
    return (
        TemplateColumn("id_number", "证件号码", "id_number", required=True, personal=True, list=True,
                       aliases=ID_ALIASES),
        TemplateColumn("name", "姓名", personal=True, list=True, max_len=64),
        TemplateColumn("phone", "手机号码", "phone", personal=True, optional=True, aliases=("手机号",)),
        date,
        *extra,
        TemplateColumn("region_code", "所属地区代码", optional=True, max_len=20, aliases=("地区代码", "区划代码")),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    )


@dataclass(frozen=True)
class RecordKind:
    """One kind of risk record: its fields, its duplicate key, where and how checked rows are stored."""

    code: str
    label: str  # the record: 密切接触者
    list_label: str  # the list, as the citizen reads its source: 密接名单
    fields: tuple[TemplateColumn, ...]
    key: tuple[str, ...]  # with the person, what makes two rows the same record (field names)
    model: type  # the fact table (models/risk_inputs.py)
    key_columns: tuple[str, ...]  # the table's columns holding `key`, in its order
    store: Callable[[list[dict]], int]  # the colour engine's entry path (stores and recomputes)
    import_roles: tuple[str, ...]  # who may put it in from the back office

    def column(self, key: str) -> TemplateColumn:
        """The field of this JSON name."""
        return next(c for c in self.fields if c.key == key)

    def facts(self):
        """The facts of this kind (a shared table is filtered by its kind)."""
        query = self.model.select()
        return query.where(RiskListing.kind == self.code) if self.model is RiskListing else query


def _entry(row: dict, batch_id: int) -> dict:
    """A checked row as the entry paths of services/risk_data/risk_inputs.py take it."""
    return {"name": row.get("name"), "id_number": row["id_number"], "listed_on": row["date"],
            "remark": row.get("remark"), "batch": batch_id, "region": row.get("_region_id")}


def _listing(code: str, label: str, list_label: str, date: TemplateColumn, roles: tuple[str, ...],
             *extra: TemplateColumn, place_key: str | None = None) -> RecordKind:
    def store(rows: list[dict]) -> int:
        return risk_inputs.add_listings(code, [{**r, "place": r.get(place_key) if place_key else None}
                                               for r in rows])
    return RecordKind(code, label, list_label, _common(date, *extra), ("date",), RiskListing, ("event_date",), store,
                      roles)


HEALTH = ("health_city", "health_district", "cdc_city", "cdc_district")
POLICE = ("police", "police_district")


def _store_contacts(rows: list[dict]) -> int:
    return risk_inputs.add_close_contacts(rows, source=rows[0]["_label"] if rows else None)


def _store_cases(rows: list[dict]) -> int:
    return risk_inputs.report_cases([{**r, "kind": r["kind"], "reported_on": r["listed_on"],
                                      "compound": r.get("_compound")} for r in rows])


def _store_purchases(rows: list[dict]) -> int:
    return risk_inputs.add_fever_medicine_purchases([{**r, "pharmacy": r["pharmacy"], "medicine": r.get("medicine"),
                                                      "purchased_at": cells.to_utc(dt.datetime.combine(
                                                          r["listed_on"], dt.time(0)))} for r in rows])


KINDS: dict[str, RecordKind] = {k.code: k for k in (
    RecordKind("close_contact", "密切接触者", "密接名单", _common(_date("判定日期", "列入日期")), ("date",),
               CloseContact, ("event_date",), _store_contacts, HEALTH),
    _listing("secondary_contact", "次密切接触者", "次密接名单", _date("判定日期", "列入日期"), HEALTH),
    RecordKind("case", "病例", "病例名单", _common(
        _date("报告日期", "诊断日期"),
        TemplateColumn("kind", "病例类型", "choice", required=True, list=True, choices=CASE_KIND_LABELS),
        TemplateColumn("compound_code", "所在小区编码", optional=True, max_len=20, aliases=("小区编码",))),
        ("kind", "date"), CaseReport, ("kind", "event_date"), _store_cases, HEALTH),
    _listing("fever_clinic_visit", "发热门诊就诊", "发热门诊就诊名单", _date("就诊日期"), (*HEALTH, "fever_clinic"),
             TemplateColumn("hospital", "就诊医院", required=True, list=True, max_len=128), place_key="hospital"),
    RecordKind("fever_medicine", "购买退烧药", "药店退烧药购买记录", _common(
        _date("购药日期"),
        TemplateColumn("pharmacy", "药店名称", required=True, list=True, max_len=128, aliases=("药店",)),
        TemplateColumn("medicine", "药品名称", optional=True, max_len=128, aliases=("药品",))),
        ("pharmacy", "date"), FeverMedicinePurchase, ("pharmacy", "event_date"), _store_purchases, HEALTH),
    _listing("isolation_order", "隔离令", "隔离令", _date("下达日期", "隔离日期"), HEALTH,
             TemplateColumn("place", "隔离地点", optional=True, max_len=128), place_key="place"),
    _listing("key_person", "公安重点人员", "公安重点人员名单", _date("列入日期"), POLICE),
)}


def _stored(kind: RecordKind, subjects: list[str]) -> dict[tuple, int | None]:
    """{key: the batch that stored it} of the facts of these people already stored."""
    model = kind.model
    found: dict[tuple, int | None] = {}
    for start in range(0, len(subjects), 500):
        query = kind.facts().select(model.subject, *(getattr(model, c) for c in kind.key_columns), model.batch) \
            .where(model.subject.in_(subjects[start:start + 500]))
        for *key, batch in query.tuples():
            found.setdefault(tuple(key), batch)
    return found


@dataclass(frozen=True)
class Rejection:
    """A refused row: its index in the batch (0-based), the field, a machine code, and the reason."""

    index: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class IngestResult:
    """What a call put in: rows received, stored, already stored (duplicates), refused."""

    kind: str
    batch_id: int | None
    received: int
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "batch_id": self.batch_id, "received": self.received, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": [r.as_dict() for r in self.rejected]}


def kind_of(code: str) -> RecordKind:
    """The declaration of a kind; a 400 naming `kind` for an unknown one."""
    kind = KINDS.get(code)
    if kind is None:
        raise ApiError("unknown_kind", f"不支持的风险数据类型：{code}", 400, "kind")
    return kind


def region_of(admin: AdminUser) -> Region | None:
    """The region an account's records are bounded by (None: the whole country)."""
    return Region.get_or_none(Region.id == admin.region_id) if admin.region_id else None


def organisation(admin: AdminUser) -> str:
    """The organisation a back-office account speaks for ("郑州市疾控中心"): the source label of
    what it puts in."""
    region = region_of(admin)
    word = ORGANISATIONS.get(admin.role)
    if word and region is not None:
        return f"{region.name}{word}"[:64]
    return admin_auth.ROLES.get(admin.role, admin.role)[:64]


def title_of(kind: RecordKind, source_label: str, listed_on: dt.date) -> str:
    """What the citizen reads as a reason's source: "密接名单（郑州市疾控中心 2026-12-03）"."""
    return f"{kind.list_label}（{source_label} {listed_on.isoformat()}）"[:128]


def _regions(codes: set[str]) -> dict[str, Region]:
    found: dict[str, Region] = {}
    codes_list = sorted(codes)
    for start in range(0, len(codes_list), 500):
        for region in Region.select().where(Region.code.in_(codes_list[start:start + 500])):
            found[region.code] = region
    return found


def _json_fault(kind: RecordKind, index: int, row: dict) -> Rejection | None:
    """What is wrong with the shape of a JSON record (a partner's feed) before its values are
    checked: a field its kind does not have, or a value of the wrong JSON type. A sheet's cells
    may be numbers or dates (cells.check reads them as text); a JSON record's texts are texts."""
    known = {column.key for column in kind.fields}
    unknown = [key for key in row if key not in known]
    if unknown:
        return Rejection(index, str(unknown[0]), "unknown_field", f"不支持的字段：{unknown[0]}")
    for column in kind.fields:
        value = row.get(column.key)
        if value is None:
            continue
        number = column.kind == "decimal"
        if not (isinstance(value, str) or number and isinstance(value, (int, float)) and not isinstance(value, bool)):
            return Rejection(index, column.key, "invalid_field", f"{column.header}应为{'数字' if number else '文本'}")
        if column.kind == "date" and value.strip() and not DATE_TEXT.fullmatch(value.strip()):
            return Rejection(index, column.key, "invalid_date", f"{column.header}应为 YYYY-MM-DD 格式的日期")
    return None


def check_rows(kind: RecordKind, rows: list, region: Region | None, today: dt.date | None = None,
               from_json: bool = False) -> tuple[list[tuple[int, dict]], list[Rejection]]:
    """Check every row: ([(index, checked values)], [Rejection]). Touches no table but regions.
    `from_json`: the rows are a partner's JSON records, held to their types (`_json_fault`)."""
    today = today or china_today()
    good: list[tuple[int, dict]] = []
    rejected: list[Rejection] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            rejected.append(Rejection(index, "", "invalid_record", "每条记录应为对象"))
            continue
        fault = _json_fault(kind, index, row) if from_json else None
        if fault:
            rejected.append(fault)
            continue
        values = {}
        for column in kind.fields:
            try:
                values[column.key] = cells.check(column, row.get(column.key), today)
            except cells.CellError as error:
                fault = Rejection(index, column.key, error.code, error.reason)
                break
        if fault:
            rejected.append(fault)
        else:
            good.append((index, values))
    good, refused = _check_regions(good, region)
    rejected.extend(refused)
    good, repeated = _repeats(kind, good)
    rejected.extend(repeated)
    rejected.sort(key=lambda r: r.index)
    return good, rejected


def _check_regions(good: list[tuple[int, dict]], scope: Region | None):
    codes = {v[k] for _, v in good for k in ("region_code", "compound_code") if v.get(k)}
    known = _regions(codes) if codes else {}
    kept, refused = [], []
    for index, values in good:
        fault = None
        for key, compound_only in (("compound_code", True), ("region_code", False)):
            code = values.get(key)
            if not code:
                continue
            region = known.get(code)
            if region is None or (compound_only and region.level != "compound"):
                what = "小区编码" if compound_only else "地区代码"
                fault = Rejection(index, key, "unknown_compound" if compound_only else "unknown_region",
                                  f"{what}不存在：{code}")
                break
            if scope is not None and not region.path.startswith(scope.path):
                fault = Rejection(index, key, "out_of_scope", f"地区 {region.name} 不在本账号的管辖范围内")
                break
            values["_compound" if compound_only else "_region_id"] = region if compound_only else region.id
        if fault:
            refused.append(fault)
            continue
        if values.get("_compound") is not None and not values.get("_region_id"):
            values["_region_id"] = values["_compound"].id
        kept.append((index, values))
    return kept, refused


def _key(kind: RecordKind, values: dict) -> tuple:
    return (values["_subject"], *(values[k] for k in kind.key))


def _repeats(kind: RecordKind, good: list[tuple[int, dict]]):
    first: dict[tuple, int] = {}
    kept, refused = [], []
    for index, values in good:
        values["_subject"] = blind_index(values["id_number"], "id_number")
        key = _key(kind, values)
        if key in first:
            refused.append(Rejection(index, "id_number", "duplicate_row",
                                     f"与第 {first[key] + 1} 条记录重复（同一人、同一{kind.column(kind.key[-1]).header}）"))
            continue
        first[key] = index
        kept.append((index, values))
    return kept, refused


def _batch(kind: RecordKind, source_label: str, source_ref: str, listed_on: dt.date, region: Region | None,
           created_by: AdminUser | None) -> RiskBatch:
    batch = RiskBatch.get_or_none((RiskBatch.kind == kind.code) & (RiskBatch.source_ref == source_ref))
    if batch is None:
        batch = RiskBatch.create(kind=kind.code, source_label=source_label[:64], source_ref=source_ref[:96],
                                 listed_on=listed_on, title=title_of(kind, source_label, listed_on), region=region,
                                 created_by=created_by)
    return batch


def ingest(kind: str, rows: list, *, source_label: str, source_ref: str, listed_on: dt.date,
           region: Region | None = None, created_by: AdminUser | None = None, from_json: bool = False,
           refused_before: int = 0) -> IngestResult:
    """Check a batch of records of one kind, store the good ones with their provenance and recompute
    the people they touch, all in one transaction; see the module docstring. `from_json`: a
    partner's records, held to their JSON types (see check_rows). `refused_before`: rows of the
    same batch its caller refused already (an import's cell checks), counted in its figures."""
    spec = kind_of(kind)
    if not isinstance(rows, list):
        raise ApiError("invalid_field", "records 应为数组", 400, "records")
    if len(rows) > MAX_ROWS:
        raise ApiError("too_many_records", f"每批最多 {MAX_ROWS:,} 条记录", 413, "records")
    if not (source_label or "").strip() or not (source_ref or "").strip():
        raise ApiError("missing_field", "缺少数据来源", 400, "source_label")
    good, rejected = check_rows(spec, rows, region, from_json=from_json)

    def write() -> IngestResult:
        if not good:  # nothing to store: no provenance row is made for it either
            known = RiskBatch.get_or_none((RiskBatch.kind == spec.code) & (RiskBatch.source_ref == source_ref.strip()))
            if known is not None:
                _count(known.id, len(rows) + refused_before, 0, 0, len({r.index for r in rejected}) + refused_before)
            return IngestResult(spec.code, known.id if known else None, len(rows), 0, 0, rejected)
        batch = _batch(spec, source_label.strip(), source_ref.strip(), listed_on, region, created_by)
        stored = _stored(spec, sorted({v["_subject"] for _, v in good}))
        fresh, repeats, duplicates = [], [], 0
        for index, values in good:
            key = _key(spec, values)
            if key not in stored:
                fresh.append(values)
            elif stored[key] == batch.id:  # stored by an earlier call of the same batch (an import's earlier rows)
                repeats.append(Rejection(index, "id_number", "duplicate_row", "与本批次中已录入的记录重复"))
            else:
                duplicates += 1
        accepted = spec.store([{**_entry(v, batch.id), **v, "_label": batch.source_label} for v in fresh]) \
            if fresh else 0
        refused = sorted(rejected + repeats, key=lambda r: r.index)
        _count(batch.id, len(rows) + refused_before, accepted, duplicates,
               len({r.index for r in refused}) + refused_before)
        return IngestResult(spec.code, batch.id, len(rows), accepted, duplicates, refused)

    return run_transaction(write)


def _count(batch_id: int, received: int, accepted: int, duplicates: int, rejected: int) -> None:
    """Add one call's figures to its batch's (an import sends a batch in several calls)."""
    RiskBatch.update(received=RiskBatch.received + received, accepted=RiskBatch.accepted + accepted,
                     duplicates=RiskBatch.duplicates + duplicates, rejected=RiskBatch.rejected + rejected).where(
        RiskBatch.id == batch_id).execute()


def withdraw_batch(kind: str, source_ref: str) -> int:
    """Remove every fact of a batch that was stopped part-way (an import that failed) and
    recompute the people it had touched; the facts removed."""
    spec = kind_of(kind)
    batch = RiskBatch.get_or_none((RiskBatch.kind == spec.code) & (RiskBatch.source_ref == source_ref))
    if batch is None:
        return 0
    model = spec.model

    def write() -> int:
        subjects = [s for (s,) in model.select(model.subject).where(model.batch == batch.id).tuples()]
        compounds = []
        if model is CaseReport:
            compounds = [c for (c,) in CaseReport.select(CaseReport.compound).distinct()
                         .where((CaseReport.batch == batch.id) & CaseReport.compound.is_null(False)).tuples()]
        removed = model.delete().where(model.batch == batch.id).execute()
        batch.delete_instance()
        for compound in compounds:
            subjects.extend(risk_inputs.compound_subjects(compound))
        colour.recompute(subjects, why="batch_withdrawn")
        return removed

    return run_transaction(write)
