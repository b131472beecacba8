"""I3: the daily not-reported lists of the enterprises, built at NOT_REPORTED_AT, safe to rerun."""

import datetime as dt
import json

import pytest

from config import TestConfig
from jobs import not_reported
from jobs.scheduler import make_scheduler
from models.accounts import Account
from models.enterprise import DailyReport, Enterprise, EnterpriseMember, NotReportedList
from services.common.timefmt import china_today
from tests.conftest import make_person
from tests.jobs.cli import run_job_once


def _enterprise(name: str, code: str) -> Enterprise:
    return Enterprise.create(name=name, address="北京市", admin=Account.create(), invite_code=code)


def _member(enterprise: Enterprise, n: int, name: str) -> EnterpriseMember:
    account = Account.create()
    return EnterpriseMember.create(enterprise=enterprise, account=account,
                                   person=make_person(n, name=name, account=account))


def _report(member: EnterpriseMember, day: dt.date) -> None:
    DailyReport.create(person=member.person, account=member.account, report_date=day, current_on=day, answers="{}")


def test_each_enterprise_gets_its_list_and_a_rerun_replaces_it(db):
    today = china_today()
    first, second, empty = _enterprise("甲公司", "AAAA2222"), _enterprise("乙公司", "BBBB3333"), _enterprise("丙", "CCCC4444")
    reported, silent, left = _member(first, 1, "李平安"), _member(first, 2, "赵未报"), _member(first, 3, "钱离职")
    EnterpriseMember.update(removed_at=dt.datetime.utcnow()).where(EnterpriseMember.id == left.id).execute()
    other = _member(second, 4, "孙其他")
    _report(reported, today)
    _report(other, today - dt.timedelta(days=1))  # yesterday's report does not count today

    result = not_reported.run(today=today)
    assert result == {"report_date": today.isoformat(), "enterprises": 3, "not_reported": 2}
    lists = {row.enterprise_id: row for row in NotReportedList.select()}
    assert json.loads(lists[first.id].people) == [{"member_id": silent.id, "name": "赵**"}]
    assert (lists[first.id].count, lists[first.id].total) == (1, 2)
    assert (lists[second.id].count, lists[empty.id].count, lists[empty.id].total) == (1, 0, 0)

    _report(silent, today)
    assert not_reported.run(today=today)["not_reported"] == 1  # rerun: replaced, not duplicated
    assert NotReportedList.select().count() == 3
    assert NotReportedList.get(NotReportedList.enterprise == first).count == 0
    # Another day is another list; today's stays.
    not_reported.run(today=today + dt.timedelta(days=1))
    assert NotReportedList.select().count() == 6


def test_the_scheduler_runs_the_job_daily_at_the_configured_time():
    job = make_scheduler(TestConfig(not_reported_at="09:30")).get_job(not_reported.JOB_ID)
    assert job is not None and job.coalesce is True and job.max_instances == 1
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("9", "30")
    assert str(job.trigger.timezone) == "Asia/Shanghai"
    default = make_scheduler(TestConfig()).get_job(not_reported.JOB_ID)
    assert {f.name: str(f) for f in default.trigger.fields}["hour"] == "10"


@pytest.mark.parametrize("value", ["25:00", "10", "ten", "10:60", ""])
def test_a_malformed_time_stops_the_start_up_clearly(value):
    with pytest.raises(SystemExit, match="NOT_REPORTED_AT"):
        make_scheduler(TestConfig(not_reported_at=value))


def test_the_job_runs_once_from_the_command_line(tmp_path):
    assert "'enterprises': 0" in run_job_once(tmp_path, "not_reported")
