"""I1: the scheduled recompute turns expired windows green without anybody scanning."""

import datetime as dt

from jobs import colour_recompute
from jobs.scheduler import make_scheduler
from models.colour import HealthStatus
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.conftest import make_person
from tests.jobs.cli import run_job_once


def test_the_job_turns_day_15_green_and_is_safe_to_run_twice(db):
    person = make_person(1)
    risk_inputs.add_close_contacts([{"id_number": person.id_number}])
    day_15 = china_today() + dt.timedelta(days=14)
    assert colour_recompute.run(today=china_today() - dt.timedelta(days=0))["changed"] == 0
    assert colour_recompute.run(today=day_15)["changed"] == 1
    assert not HealthStatus.select().exists()
    assert colour_recompute.run(today=day_15)["changed"] == 0


def test_the_scheduler_holds_the_job_coalesced_and_single():
    scheduler = make_scheduler()
    job = scheduler.get_job(colour_recompute.JOB_ID)
    assert job is not None
    assert job.coalesce is True and job.max_instances == 1


def test_jobs_run_once_from_the_command_line(tmp_path):
    assert "'changed': 0" in run_job_once(tmp_path, "colour_recompute")


def test_the_job_is_paced_outside_transactions_and_says_how_long_it_paused(db, monkeypatch):
    from models import db as database

    people = [make_person(n) for n in range(1, 4)]
    risk_inputs.add_close_contacts([{"id_number": p.id_number} for p in people])
    HealthStatus.delete().execute()  # the job finds three colours to write
    pauses = []

    class SpyPacer:
        paused = 0.25

        def __call__(self):
            pauses.append(database.db.in_transaction())

    monkeypatch.setattr(colour_recompute, "Pacer", SpyPacer)
    result = colour_recompute.run()
    assert result["changed"] == 3 and result["paused_s"] == 0.25
    assert pauses and not any(pauses)
    assert colour_recompute.run(pace=False)["paused_s"] == 0.0
