"""Status workflows (H3): a transition must be one the source's workflow allows from the record's
current status; it is written with its remark to the record's history, logged, and its effects
reach the colour engine (an isolation status, an arrival from abroad) in the same transaction.
Also the overdue alert of the overseas list (I3) and the fever list's risk levels (H6).
"""

from __future__ import annotations

import datetime as dt

from models.db import db
from models.fields import utcnow
from models.investigations import TaskHistory, TaskRecord
from models.people import Person
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.investigations import sources
from services.investigations.records import data_of
from services.oversight import audit
from services.risk_data import risk_inputs

ALERT_AFTER = dt.timedelta(hours=4)
ALERT_REMARK = "预计入境时间已过4小时，状态仍为待反馈，请重点排查"
_TRAVEL_MODES = {"plane": "plane", "hsr": "high_speed_rail", "train": "train", "car": "car", "other": "other"}


def label(source_code: str, status: str) -> str:
    return sources.get(source_code).workflow.statuses.get(status, status)


def refusal(record: TaskRecord, to_status: str) -> ApiError:
    """The 409 for a change the workflow does not allow from the record's status, naming what the
    record may become instead (a 待反馈 overseas record: only 已接收)."""
    now, then = label(record.source, record.status), label(record.source, to_status)
    targets = sources.get(record.source).workflow.transitions.get(record.status, ())
    instead = (f"，只能变更为{'、'.join(f'“{label(record.source, t)}”' for t in targets)}" if targets
               else "，该状态已是最终状态")
    return ApiError("invalid_transition", f"当前状态“{now}”不能变更为“{then}”{instead}", 409, "status")


def transition(admin, record: TaskRecord, to_status: str, remark: str | None = None) -> str:
    """Move a record to `to_status` (409 when the workflow does not allow it); the message shown."""
    source = sources.get(record.source)
    workflow = source.workflow
    if to_status not in workflow.statuses:
        raise ApiError("invalid_status", "状态无效", 400, "status")
    if not workflow.allowed(record.status, to_status):
        raise refusal(record, to_status)
    remark = (remark or "").strip()[:255] or None
    with db.atomic():
        # Only from the status the page showed: two people acting at once cannot both win.
        changed = (TaskRecord.update(status=to_status, updated_at=utcnow())
                   .where((TaskRecord.id == record.id) & (TaskRecord.status == record.status)).execute())
        if not changed:
            raise ApiError("status_changed", "该记录的状态已被他人修改，请刷新后重试", 409)
        notes = _apply_effect(source, record, to_status)
        TaskHistory.create(record=record, from_status=record.status, to_status=to_status,
                           remark="；".join(filter(None, [remark, *notes])) or None, admin=admin)
        # A status whose effect sets the person's isolation is in their access log (N10).
        effect = workflow.effects.get(to_status)
        audit.record(None, admin.role, "task_status", record, admin_actor=admin, source=record.source,
                     status_from=record.status, status_to=to_status, remark=remark or "",
                     subjects=[record.subject] if effect is not None and effect.kind == "isolation" else None)
    return f"状态已变更为“{label(record.source, to_status)}”"


def city_districts(admin) -> dict[str, str]:
    """The districts a city admin may send records to (code -> name); {} for anyone else."""
    if not admin_auth.is_level_role(admin.role) or admin.region.level not in ("province", "city"):
        return {}
    return {code: name for code, name in Region.select(Region.code, Region.name).where(
        (Region.level == "district") & Region.path.startswith(admin.region.path)).order_by(Region.code).tuples()}


def assign_district(admin, record: TaskRecord, district_code: str, *, only_unassigned: bool = False) -> str:
    """分配到区县 / 重新下发: a city admin sends a record to one of the city's districts (written
    to its history, audited); `only_unassigned`: from the city queue only. The message shown."""
    if not admin_auth.is_level_role(admin.role) or admin.region.level not in ("province", "city"):
        raise ApiError("forbidden", "只有市级管理员可以分配或重新下发", 403, "district_code")
    district = Region.get_or_none((Region.code == (district_code or "").strip()) & (Region.level == "district"))
    if district is None or not district.path.startswith(admin.region.path):
        raise ApiError("invalid_region", "区县不存在或不在本市", 400, "district_code")
    with db.atomic():
        query = TaskRecord.update(region=district, district=district, updated_at=utcnow()).where(
            TaskRecord.id == record.id)
        if only_unassigned and not query.where(TaskRecord.district.is_null()).execute():
            raise ApiError("already_assigned", "该记录已下发到区县，请刷新后查看", 409)
        if not only_unassigned:
            query.execute()
        TaskHistory.create(record=record, from_status=record.status, to_status=record.status,
                           remark=f"下发至{district.name}", admin=admin)
        audit.record(None, admin.role, "task_assign", record, admin_actor=admin, source=record.source,
                     district=district.code)
    return f"已下发至{district.name}"


def _apply_effect(source, record: TaskRecord, status: str) -> list[str]:
    """The status's effect beyond the list; notes for the history when it could not apply."""
    effect = source.workflow.effects.get(status)
    if effect is None:
        return []
    if effect.kind == "isolation":
        if not record.subject:
            return ["无证件号码，未同步隔离状态"]
        current = IsolationRecord.get_or_none(IsolationRecord.subject == record.subject)
        if effect.value == "pending" and current is not None and current.status == "confirmed":
            return []  # already isolated: 待确认 would be a step back
        if current is None or current.status != effect.value:
            risk_inputs.set_isolation(record.subject, effect.value)
        return []
    if effect.kind == "abroad_arrival":
        person = Person.get_or_none(Person.id == record.person_id) if record.person_id else None
        if person is None or not person.id_number_bidx:
            return ["该人员尚未在系统中实名登记，未记录入境行程"]
        data = data_of(record)
        risk_inputs.record_travel(person, arrival_date=china_today(), from_abroad=True,
                                  country=data.get("country") or data.get("port") or "境外",
                                  transport=_TRAVEL_MODES.get(record.transport),
                                  transport_number=data.get("transport_number"), source="overseas_list")
        return []
    raise ValueError(f"unknown effect {effect.kind!r}")


def history(record: TaskRecord) -> list[TaskHistory]:
    """The record's status changes and notes, oldest first."""
    return list(TaskHistory.select().where(TaskHistory.record == record).order_by(TaskHistory.id))


def raise_overdue_alerts(now: dt.datetime | None = None) -> int:
    """Flag overseas records still 待反馈 4 hours after their expected arrival (once each: a
    second run finds them flagged). Returns how many were flagged now."""
    now = now or utcnow()
    due = (TaskRecord.select(TaskRecord.id)
           .where((TaskRecord.source == sources.OVERSEAS.code) & (TaskRecord.status == "pending")
                  & TaskRecord.alert_at.is_null() & (TaskRecord.expected_arrival <= now - ALERT_AFTER))
           .order_by(TaskRecord.id).limit(5000))
    flagged = 0
    for (record_id,) in due.tuples():
        with db.atomic():
            if TaskRecord.update(alert_at=now).where((TaskRecord.id == record_id) & TaskRecord.alert_at.is_null()
                                                     & (TaskRecord.status == "pending")).execute():
                TaskHistory.create(record=record_id, from_status="pending", to_status="pending", remark=ALERT_REMARK,
                                   actor="系统预警", created_at=now)
                flagged += 1
    return flagged


FEVER_RISK = {"high": "高", "medium": "中", "low": "低"}


def fever_risk(isolation: IsolationRecord | None, today: dt.date | None = None) -> str:
    """The fever list's risk level from the person's isolation (H6): isolated more than 7 days ->
    high (red on the residents page), isolated up to 7 days -> medium (yellow), else low."""
    if isolation is None or isolation.status not in ("pending", "confirmed") or isolation.event_date is None:
        return "low"
    days = ((today or china_today()) - isolation.event_date).days
    return "high" if days > 7 else "medium"
