"""The queries of the 任务排查 lists: a source's records with their regions (and, for fever
clinics, the isolation record), the records an admin may see (its region, and its arrival mode
for a hub's staff), the keyword, area, date and status searches, the figures above a list, the
edit of non-personal fields, a record's origin and history, and an overseas returnee reported
by a community or compound."""

from __future__ import annotations

import datetime as dt

import peewee

from models.db import db
from models.fields import blind_index, utcnow
from models.investigations import ImportJob, TaskRecord
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.investigations import records, sources, stats, workflow
from services.investigations.sources import Source
from services.oversight import audit
from services.people import identity

District = Region.alias("district_region")


def records_of(source: Source):
    """The source's records with their region and district (and isolation, for fever clinics)."""
    query = (TaskRecord.select(TaskRecord, Region, District)
             .join(Region, peewee.JOIN.LEFT_OUTER, on=(TaskRecord.region == Region.id), attr="region")
             .switch(TaskRecord)
             .join(District, peewee.JOIN.LEFT_OUTER, on=(TaskRecord.district == District.id), attr="district"))
    if source.code == "fever":
        query = (query.select_extend(IsolationRecord).switch(TaskRecord)
                 .join(IsolationRecord, peewee.JOIN.LEFT_OUTER,
                       on=(IsolationRecord.subject == TaskRecord.subject), attr="isolation"))
    return query


def visible(admin, source: Source, query):
    """`query` limited to the source's records in the admin's region (and a hub's arrival mode)."""
    query = query.where((TaskRecord.source == source.code) & Region.path.startswith(admin.region.path))
    mode = sources.hub_transport(admin.role)
    return query.where(TaskRecord.transport == mode) if mode else query


def check_record(admin, source: Source, record: TaskRecord) -> TaskRecord:
    """A record asked for by id (already in the admin's region): 404 when of another source, 403
    when of another hub's arrival mode."""
    if record.source != source.code:
        raise ApiError("not_found", "记录不存在", 404)
    mode = sources.hub_transport(admin.role)
    if mode and record.transport != mode:
        raise ApiError("out_of_scope", "无权查看或操作其他专班的数据", 403)
    return record


def keyword(query, value: str):
    """关键字: an ID number or a phone exactly (through their indexed blind indexes), else a name
    exactly or any text of the row's non-personal cells (station, flight, county...)."""
    text = value.strip()
    number = identity.normalize_id_number(text)
    if len(number) == 18 and number[:17].isdigit():
        return query.where(TaskRecord.subject == blind_index(number, "id_number"))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 11 and len(digits) >= len(text.replace(" ", "").replace("-", "")) - 3:
        return query.where(TaskRecord.phone_bidx == blind_index(digits[-11:], "phone"))
    condition = (TaskRecord.name_bidx == blind_index(text, "task_name")) | TaskRecord.data.contains(text)
    if 5 <= len(number) <= 20 and number.isalnum():  # a passport or permit number
        condition |= TaskRecord.subject == blind_index(number.upper(), "id_number")
    return query.where(condition)


def area(query, value: str):
    """所属区域: records in any region (district, street, community, compound) named like this."""
    paths = [p for (p,) in Region.select(Region.path).where(Region.name.contains(value.strip()))
             .order_by(Region.path).limit(50).tuples()]
    if not paths:
        return query.where(TaskRecord.id.is_null())
    condition = Region.path.startswith(paths[0])
    for path in paths[1:]:
        condition |= Region.path.startswith(path)
    return query.where(condition)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400) from None


def occurred_from(query, value: str):
    """Records whose own date (日期, 来郑日期, 预计入境时间...) is on or after the day typed."""
    return query.where(TaskRecord.occurred_on >= _day(value))


def occurred_to(query, value: str):
    """Records whose own date is on or before the day typed."""
    return query.where(TaskRecord.occurred_on <= _day(value))


def with_status(source: Source, query, value: str):
    """状态: a status, or a group of them (all open, all done)."""
    flow = source.workflow
    kind = flow.groups.get(value, (None, None))[1]
    if kind == "done":
        return query.where(TaskRecord.status.in_(tuple(flow.done)))
    if kind == "open":
        return query.where(TaskRecord.status.not_in(tuple(flow.done)))
    return query.where(TaskRecord.status == value)


def overdue(query):
    """Overseas returnees still 待反馈 past their alert time."""
    return query.where(TaskRecord.alert_at.is_null(False) & (TaskRecord.status == "pending"))


def figures(source: Source, query) -> list[tuple[str, object]]:
    """应排查, 已排查, 完成率 (and 超时预警 for overseas returnees) of the records `query` selects."""
    total = query.count()
    done = query.where(TaskRecord.status.in_(tuple(source.workflow.done))).count()
    found = [("应排查", total), ("已排查", done), ("完成率", stats.Line("", total, done).rate_text)]
    if source.code == "overseas":
        found.append(("超时预警", overdue(query).count()))
    return found


def edit(admin, source: Source, record: TaskRecord, data: dict) -> None:
    """编辑: the remark, the category and (for a city admin) the district, audited."""
    changes = {"remark": data.get("remark") or None, "updated_at": utcnow()}
    if source.categories and data.get("category"):
        changes["category"] = data["category"]
    code = data.get("district_code")
    with db.atomic():
        if code:
            workflow.assign_district(admin, record, code)
        TaskRecord.update(**changes).where(TaskRecord.id == record.id).execute()
        audit.record(None, admin.role, "task_edit", record, admin_actor=admin, source=record.source,
                     fields=sorted(k for k in ("remark", "category", "district_code") if data.get(k)))


def origin(record: TaskRecord) -> str:
    """来源: the Excel import it came in by, a scan on arrival, or a report in the back office."""
    if record.import_job_id:
        job = ImportJob.get_or_none(ImportJob.id == record.import_job_id)
        return f"Excel 导入（{job.file_name}，第 {job.id} 次导入）" if job else "Excel 导入"
    if record.category in ("scan_red", "scan_yellow"):
        return "来郑扫码自动生成"
    return "后台上报"


def history_lines(source: Source, record: TaskRecord) -> list[tuple[str, str]]:
    """排查记录: where the record came from, then each status change with who made it and why."""
    flow = source.workflow
    lines = [(local_iso(record.created_at)[:16].replace("T", " "), f"{origin(record)}：{flow.statuses[flow.initial]}")]
    for entry in workflow.history(record):
        who = entry.admin.name if entry.admin_id else (entry.actor or "系统")
        before, after = (workflow.label(record.source, s) for s in (entry.from_status, entry.to_status))
        move = after if entry.from_status == entry.to_status else f"{before} → {after}"
        lines.append((local_iso(entry.created_at)[:16].replace("T", " "),
                      f"{who}：{move}" + (f"（{entry.remark}）" if entry.remark else "")))
    return lines


def report_returnee(admin, compound, data: dict) -> TaskRecord:
    """境外人员返郑上报: a returnee reported by a community or compound (starts 待反馈), audited."""
    source = sources.OVERSEAS
    values = records.check_values(source, data)
    record = records.add_one(source, values, admin=admin, region=compound or admin.region)
    audit.record(None, admin.role, "overseas_report", record, admin_actor=admin)
    return record
