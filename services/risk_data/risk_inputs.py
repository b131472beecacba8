"""Entry paths for the facts the colour rules read. Each checks everything first, writes in one
transaction, and recomputes the people the fact touches in that same transaction (D4); a
transaction MySQL chose as a deadlock's victim is run again (models/transactions.py).

The back office and the import pipeline put pages and Excel on these functions; the scan and
field-worker flows call them for temperatures, travel and release notices.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from models.transactions import run_transaction
from models.fields import blind_index, utcnow
from models.people import Person
from models.regions import Region
from models.db import insert_rows
from models.risk_inputs import (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord, ReleaseNotice,
                                RiskArea, RiskListing, TemperatureRecord, TravelRecord)
from services.colours import colour
from services.colours.colour_rules import CASE_KINDS, ISOLATION_STATUSES, LISTING_KINDS, RISK_LEVELS
from services.common.errors import ApiError
from services.common.timefmt import CHINA_OFFSET, china_today
from services.oversight import audit
from services.people import identity

TEMPERATURE_MIN, TEMPERATURE_MAX = Decimal("34.0"), Decimal("43.0")
AREA_PREFIX_LENGTH = {"province": 2, "city": 4, "district": 6, "street": 9}
ISOLATING = ("pending", "confirmed")  # the statuses of someone being, or to be, isolated
TRANSPORTS = {"plane": "飞机", "train": "火车", "high_speed_rail": "高铁", "bus": "长途汽车", "car": "自驾",
              "ship": "轮船", "other": "其他"}


def subject_of(person: Person) -> str:
    """The person's subject, or a 400 when the profile has no document number yet."""
    if not person.id_number_bidx:
        raise ApiError("profile_incomplete", "请先完善实名信息（姓名和证件号码）", 400)
    return person.id_number_bidx


def past_date(value, field: str, today: dt.date | None = None) -> dt.date:
    """A date (or "YYYY-MM-DD") that is not in the future."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400, field) from None
    if not isinstance(value, dt.date):
        raise ApiError("invalid_date", "日期无效", 400, field)
    if value > (today or china_today()):
        raise ApiError("date_in_future", "日期不能晚于今天", 400, field)
    if value.year < 1900:
        raise ApiError("invalid_date", "日期不能早于 1900-01-01", 400, field)
    return value


def past_moment(value: dt.datetime | None, field: str) -> dt.datetime:
    """A naive-UTC moment not in the future (a small clock skew is tolerated); None means now."""
    if value is None:
        return utcnow()
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if value > utcnow() + dt.timedelta(minutes=5):
        raise ApiError("date_in_future", "时间不能晚于现在", 400, field)
    return value


def china_date(moment: dt.datetime) -> dt.date:
    """The China-local date of a naive-UTC moment (rule windows count China days)."""
    return (moment + CHINA_OFFSET).date()


def same_temperature(given, stored) -> bool:
    """Whether a request's temperature is the one a record holds (both none, or equal to the
    tenth): how a retried registration is told from another one under the same request id."""
    if given is None or stored is None:
        return given is None and stored is None
    return abs(float(given) - float(stored)) < 0.05


def check_temperature(value, field: str = "temperature") -> Decimal:
    """A body temperature in ℃ with one decimal, within 34.0-43.0 (C3)."""
    if isinstance(value, bool):
        raise ApiError("invalid_temperature", "体温应为数字", 400, field)
    try:
        number = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise ApiError("invalid_temperature", "体温应为数字", 400, field) from None
    if not TEMPERATURE_MIN <= number <= TEMPERATURE_MAX:
        raise ApiError("invalid_temperature", "体温应在 34.0 至 43.0 ℃ 之间", 400, field)
    return number


def check_region_code(code, field: str) -> str:
    """A 6-digit administrative division code."""
    if not isinstance(code, str) or not re.fullmatch(r"\d{6}", code):
        raise ApiError("invalid_region_code", "地区代码应为6位数字", 400, field)
    return code


def _choice(value, choices, field: str, label: str):
    if value not in choices:
        raise ApiError("invalid_field", f"{label}的取值无效", 400, field)
    return value


def _listed(entry: dict, path: str) -> dict:
    """Name, ID number and subject of a list entry about somebody who may not be registered, with
    its provenance: `batch` (a RiskBatch id, see services/risk_data/risk_records.py) and `region` (a Region
    id the list named), both None when unknown."""
    number = identity.validate_id_number(entry.get("id_number"), f"{path}id_number")
    name = (entry.get("name") or "").strip() or None
    if name and len(name) > 64:
        raise ApiError("invalid_field", "姓名过长", 400, f"{path}name")
    return {"subject": blind_index(number, "id_number"), "id_number": number, "name": name,
            "batch": entry.get("batch"), "region": entry.get("region"), "created_at": utcnow()}


def _remark(entry: dict) -> str | None:
    return (entry.get("remark") or "").strip()[:255] or None


def _store(model, rows: list[dict], subjects: list[str], why: str) -> int:
    """Insert checked rows of one fact table and recompute the people they touch, in one
    transaction (the caller's, when it has one); the rows stored."""
    def write():
        for start in range(0, len(rows), 1000):
            insert_rows(model, rows[start:start + 1000])
        colour.recompute(subjects, why=why)

    run_transaction(write)
    return len(rows)


def add_close_contacts(entries: list[dict], source: str | None = None) -> int:
    """Add close-contact list entries {name, id_number, listed_on, remark, batch, region}; all or
    nothing."""
    rows = []
    for i, entry in enumerate(entries):
        path = f"entries[{i}]."
        rows.append({**_listed(entry, path), "event_date": past_date(entry.get("listed_on") or china_today(),
                                                                      path + "listed_on"),
                     "source": (source or "")[:64] or None, "remark": _remark(entry)})
    return _store(CloseContact, rows, [r["subject"] for r in rows], "close_contact_listed")


def _compound(compound) -> Region | None:
    if compound is None or isinstance(compound, Region):
        return compound
    region = Region.get_or_none((Region.code == str(compound)) & (Region.level == "compound"))
    if region is None:
        raise ApiError("unknown_compound", "小区不存在", 400, "compound")
    return region


def compound_subjects(compound: Region | None) -> list[str]:
    """The subjects of everybody who belongs to a compound."""
    if compound is None:
        return []
    return [s for (s,) in Person.select(Person.id_number_bidx)
            .where((Person.compound == compound) & Person.id_number_bidx.is_null(False)).tuples()]


def report_cases(entries: list[dict]) -> int:
    """Record cases {name, id_number, kind, reported_on, compound (a compound's code or Region),
    remark, batch, region}: each case's person and its compound's residents are recomputed; all
    or nothing."""
    rows, subjects, compounds = [], [], {}
    for i, entry in enumerate(entries):
        path = f"entries[{i}]."
        listed = _listed(entry, path)
        kind = _choice(entry.get("kind"), CASE_KINDS, path + "kind", "病例类型")
        compound = _compound(entry.get("compound"))
        if compound is not None:
            compounds[compound.id] = compound
        rows.append({**listed, "region": listed["region"] or (compound.id if compound else None), "kind": kind,
                     "status": "active", "compound": compound.id if compound else None,
                     "event_date": past_date(entry.get("reported_on") or china_today(), path + "reported_on"),
                     "remark": _remark(entry)})
        subjects.append(listed["subject"])
    for compound in compounds.values():
        subjects.extend(compound_subjects(compound))
    return _store(CaseReport, rows, subjects, "case_reported")


def close_case(case_id: int) -> CaseReport:
    """Close a case (cured, or suspicion excluded): its reds and its compound's oranges lift."""
    case = CaseReport.get_or_none(CaseReport.id == case_id)
    if case is None:
        raise ApiError("case_not_found", "病例记录不存在", 404)

    def write():
        CaseReport.update(status="closed").where(CaseReport.id == case_id).execute()
        colour.recompute([case.subject, *compound_subjects(case.compound)], why="case_closed")

    run_transaction(write)
    return CaseReport.get_by_id(case_id)


def add_fever_medicine_purchases(entries: list[dict]) -> int:
    """Add pharmacy reports {name, id_number, pharmacy, medicine, purchased_at, batch, region}; all
    or nothing."""
    rows = []
    for i, entry in enumerate(entries):
        path = f"entries[{i}]."
        if not (entry.get("pharmacy") or "").strip():
            raise ApiError("missing_field", "缺少药店名称", 400, path + "pharmacy")
        moment = past_moment(entry.get("purchased_at"), path + "purchased_at")
        rows.append({**_listed(entry, path), "pharmacy": entry["pharmacy"].strip()[:128],
                     "medicine": (entry.get("medicine") or "").strip()[:128] or None, "purchased_at": moment,
                     "event_date": china_date(moment)})
    return _store(FeverMedicinePurchase, rows, [r["subject"] for r in rows], "fever_medicine_bought")


def add_listings(kind: str, entries: list[dict]) -> int:
    """Add entries of a list that has no table of its own (`LISTING_KINDS`: secondary contacts,
    fever-clinic visits, isolation orders, police key persons) {name, id_number, listed_on, place,
    remark, batch, region}; all or nothing."""
    _choice(kind, LISTING_KINDS, "kind", "名单类型")
    rows = []
    for i, entry in enumerate(entries):
        path = f"entries[{i}]."
        rows.append({**_listed(entry, path), "kind": kind,
                     "event_date": past_date(entry.get("listed_on") or china_today(), path + "listed_on"),
                     "place": (entry.get("place") or "").strip()[:128] or None, "remark": _remark(entry)})
    return _store(RiskListing, rows, [r["subject"] for r in rows], f"{kind}_listed")


def record_temperature(person: Person, value, *, source: str = "self", measured_at: dt.datetime | None = None,
                       recorded_by=None) -> TemperatureRecord:
    """Record a temperature (>= 37.3 ℃ is fever) and recompute the person."""
    subject = subject_of(person)
    number = check_temperature(value)
    moment = past_moment(measured_at, "measured_at")

    def write():
        record = TemperatureRecord.create(person=person, subject=subject, value=number, measured_at=moment,
                                          event_date=china_date(moment), source=source, recorded_by=recorded_by)
        colour.recompute([subject], why="temperature_recorded")
        return record

    return run_transaction(write)


def record_travel(person: Person, *, arrival_date, origin_code: str | None = None, origin_name: str | None = None,
                  from_abroad: bool = False, country: str | None = None, transport: str | None = None,
                  transport_number: str | None = None, source: str = "declaration") -> TravelRecord:
    """Record an arrival (checkpoint scan, declaration, entry registration) and recompute the person."""
    subject = subject_of(person)
    arrival = past_date(arrival_date, "arrival_date")
    if origin_code is not None:
        check_region_code(origin_code, "origin_code")
    if from_abroad and not (country or "").strip():
        raise ApiError("missing_field", "境外返回请填写国家或地区", 400, "country")
    if transport is not None:
        _choice(transport, TRANSPORTS, "transport", "交通方式")

    def write():
        record = TravelRecord.create(person=person, subject=subject, event_date=arrival, origin_code=origin_code,
                                     origin_name=origin_name, from_abroad=bool(from_abroad),
                                     country=(country or None) if from_abroad else None, transport=transport,
                                     transport_number=transport_number, source=source)
        colour.recompute([subject], why=f"travel_{source}")
        return record

    return run_transaction(write)


def set_isolation(subject: str, status: str, since=None) -> IsolationRecord:
    """Set a person's isolation status (one current status a person) and recompute them. An
    isolation (pending, confirmed) keeps the day it began while it goes on (`started_on`)."""
    _choice(status, ISOLATION_STATUSES, "status", "隔离状态")
    start = past_date(since or china_today(), "since")

    def write():
        record = IsolationRecord.get_or_none(IsolationRecord.subject == subject)
        if status not in ISOLATING:
            started = None
        elif record is not None and record.status in ISOLATING:
            started = record.started_on or record.event_date
        else:
            started = start
        if record is None:
            IsolationRecord.create(subject=subject, status=status, event_date=start, started_on=started)
        else:
            IsolationRecord.update(status=status, event_date=start, started_on=started, updated_at=utcnow()).where(
                IsolationRecord.subject == subject).execute()
        colour.recompute([subject], why=f"isolation_{status}")

    run_transaction(write)
    return IsolationRecord.get(IsolationRecord.subject == subject)


def issue_release_notice(person: Person, *, issued_by=None, reason: str | None = None,
                         issued_on=None) -> ReleaseNotice:
    """Issue a release-from-medical-observation notice: it lifts the reds dated on or before it."""
    subject = subject_of(person)
    day = past_date(issued_on or china_today(), "issued_on")

    def write():
        notice = ReleaseNotice.create(person=person, subject=subject, event_date=day, issued_by=issued_by,
                                      reason=reason)
        colour.recompute([subject], why="release_notice")
        return notice

    return run_transaction(write)


def revoke_release_notice(notice_id: int) -> ReleaseNotice:
    """Withdraw a notice issued in error: the reds it lifted come back."""
    notice = ReleaseNotice.get_or_none(ReleaseNotice.id == notice_id)
    if notice is None:
        raise ApiError("release_notice_not_found", "解除医学观察告知书不存在", 404)

    def write():
        ReleaseNotice.update(revoked_at=utcnow()).where(ReleaseNotice.id == notice_id).execute()
        colour.recompute([notice.subject], why="release_notice_revoked")

    run_transaction(write)
    return ReleaseNotice.get_by_id(notice_id)


def _travellers_from(prefix: str) -> list[str]:
    return [s for (s,) in TravelRecord.select(TravelRecord.subject).distinct()
            .where(TravelRecord.origin_code.startswith(prefix)).tuples()]


def set_risk_area(*, code: str, name: str, area_level: str, risk: str, effective_from=None,
                  effective_until=None, prefix: str | None = None, region: Region | None = None,
                  admin=None) -> RiskArea:
    """List a medium / high-risk area or a key region and recompute the people who came from it.
    `prefix`: the codes the area covers when they are not its level's digits of `code` (a
    municipality's one city covers the whole municipality); `region`: the region it was picked
    as; `admin`: the back-office account listing it (audited)."""
    _choice(area_level, AREA_PREFIX_LENGTH, "area_level", "地区级别")
    if not isinstance(code, str) or not re.fullmatch(r"\d{%d}" % max(6, AREA_PREFIX_LENGTH[area_level]), code):
        raise ApiError("invalid_region_code", "地区代码无效", 400, "code")
    _choice(risk, RISK_LEVELS, "risk", "风险等级")
    if not (name or "").strip():
        raise ApiError("missing_field", "请填写地区名称", 400, "name")
    start = any_date(effective_from or china_today(), "effective_from")
    until = any_date(effective_until, "effective_until") if effective_until else None
    if until and until < start:
        raise ApiError("invalid_date", "结束日期不能早于开始日期", 400, "effective_until")
    prefix = prefix or code[:AREA_PREFIX_LENGTH[area_level]]

    def write():
        area = RiskArea.create(code=code, name=name.strip(), area_level=area_level, prefix=prefix, risk=risk,
                               effective_from=start, effective_until=until, region=region, created_by=admin)
        if admin is not None:
            audit.record(None, admin.role, "risk_area_listed", area, admin_actor=admin, name=area.name, risk=risk,
                         effective_from=start, effective_until=until)
        colour.recompute(_travellers_from(prefix), why=f"risk_area_{risk}")
        return area

    return run_transaction(write)


def end_risk_area(area_id: int, until=None, admin=None, reason: str | None = None) -> RiskArea:
    """End a risk area's listing and recompute its travellers; the row stays, as the history of
    the listing. `until`: its last day, today by default, never later than today or than the
    last day it had (ending never lengthens a listing). An area not yet in force is withdrawn
    (its last day the eve of its first: it counts on no day); it takes no date. `admin`: who
    ends it (audited with `reason`)."""
    area = RiskArea.get_or_none(RiskArea.id == area_id)
    if area is None:
        raise ApiError("risk_area_not_found", "风险地区不存在", 404)
    today = china_today()
    if area.effective_from > today:
        if until:
            raise ApiError("invalid_date", "该风险地区尚未生效，结束即撤销，请不填最后生效日期", 400, "effective_until")
        last = area.effective_from - dt.timedelta(days=1)
    else:
        last = any_date(until or today, "effective_until")
        if last < area.effective_from:
            raise ApiError("invalid_date", "结束日期不能早于开始日期", 400, "effective_until")
        latest = min(today, area.effective_until or today)
        if last > latest:
            raise ApiError("invalid_date", f"结束日期不能晚于{'今天' if latest == today else '原定最后生效日 ' + latest.isoformat()}",
                           400, "effective_until")

    def write():
        RiskArea.update(effective_until=last, ended_by=admin, ended_at=utcnow()).where(
            RiskArea.id == area_id).execute()
        if admin is not None:
            audit.record(None, admin.role, "risk_area_ended", area, admin_actor=admin, name=area.name,
                         effective_until=last, reason=reason)
        colour.recompute(_travellers_from(area.prefix), why="risk_area_ended")

    run_transaction(write)
    return RiskArea.get_by_id(area_id)


def any_date(value, field: str) -> dt.date:
    """A date (or "YYYY-MM-DD") from 1900 to 2099, past or future: risk areas may be declared
    ahead of time."""
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value))
        except ValueError:
            raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400, field) from None
    if not 1900 <= value.year <= 2099:
        raise ApiError("invalid_date", "日期应在 1900 至 2099 年之间", 400, field)
    return value
