"""I3: the overseas returnees' overdue alert on both databases: a record still 待反馈 4 hours after
its expected arrival is flagged once (with a history line), nothing else is, and a second run
changes nothing."""

from __future__ import annotations

import datetime as dt

from jobs import overseas_alerts, scheduler
from models.investigations import TaskHistory, TaskRecord
from models.regions import Region
from services.accounts import admin_auth
from services.common.regions import load_tree
from services.investigations import records, sources, workflow
from services.operations.demo import ZHENGZHOU
from tests.fakes import xlsx_files as files


def _report(n: int, arrival_local: dt.datetime, admin, region) -> TaskRecord:
    values = {"name": f"境外{n}号", "id_number": files.id_number(n), "phone": f"1391234{n:04d}", "port": "新郑机场",
              "expected_arrival": arrival_local, "transport": "plane", "transport_number": "C888"}
    return records.add_one(sources.OVERSEAS, values, admin=admin, region=region)


def test_records_pending_four_hours_after_arrival_are_flagged_once(db):
    load_tree(ZHENGZHOU)
    admin, _ = admin_auth.create_admin(None, phone="13810000009", name="小区管理员", role="compound",
                                       region_code="410105001001001", send_sms=False)
    compound = Region.get(Region.code == "410105001001001")
    now = dt.datetime(2020, 3, 21, 4, 0)  # UTC: 12:00 in Zhengzhou
    due = _report(1, dt.datetime(2020, 3, 21, 7, 30), admin, compound)  # 4.5 h ago (local 07:30)
    recent = _report(2, dt.datetime(2020, 3, 21, 9, 0), admin, compound)  # 3 h ago
    handled = _report(3, dt.datetime(2020, 3, 20, 9, 0), admin, compound)
    workflow.transition(admin, handled, "received")

    assert overseas_alerts.run(now) == {"flagged": 1}
    flagged = TaskRecord.get_by_id(due.id)
    assert flagged.alert_at == now and flagged.status == "pending"
    assert TaskRecord.get_by_id(recent.id).alert_at is None and TaskRecord.get_by_id(handled.id).alert_at is None
    note = TaskHistory.get(TaskHistory.record == due)
    assert (note.actor, note.to_status) == ("系统预警", "pending") and "4小时" in note.remark

    assert overseas_alerts.run(now + dt.timedelta(minutes=10)) == {"flagged": 0}  # idempotent
    assert TaskHistory.select().where(TaskHistory.record == due).count() == 1
    assert overseas_alerts.run(now + dt.timedelta(hours=1)) == {"flagged": 1}  # the second one is due now
    assert TaskRecord.get_by_id(recent.id).alert_at is not None


def test_the_job_is_scheduled_every_ten_minutes():
    entry = next(job for job in scheduler.JOBS if job[0] == overseas_alerts.JOB_ID)
    trigger = entry[2]
    start = dt.datetime(2026, 1, 1, 10, 3, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert trigger.get_next_fire_time(None, start).minute == 10
