"""I5: one run of each job per deployment, on both databases. Two runners (two processes, and two
threads) start the same scheduled run at the same moment: the job runs once, the other runner
skips it, even when it comes after the first has finished. A held lock cannot be taken; a lapsed
one (a runner that died) can; a failed run gives the lock back."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from apscheduler.triggers.cron import CronTrigger

from jobs import hourly_stats, runner_lock
from jobs.scheduler import JOBS, MISFIRE_GRACE_SECONDS, make_scheduler
from models import db as database
from models.places import EntryRecord
from models.statistics import HourlyPlaceStat, JobLock
from services.venues import places
from tests.conftest import make_person

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLOT = dt.datetime(2024, 6, 1, 2, 2)  # naive UTC: the 10:02 (China) run
NOW = dt.datetime(2024, 6, 1, 2, 2, 30)

RUNNER = """
import datetime as dt, json, sys, time
sys.path.insert(0, {root!r})
from config import TestConfig
from server import setup
setup(TestConfig(database_url=sys.argv[1]))
from jobs import hourly_stats, runner_lock

def job():
    result = hourly_stats.run(now=dt.datetime(2024, 6, 1, 2, 2, 30), retention_days=28)
    time.sleep(0.5)  # hold the lock a moment while the other runner tries
    return result

time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print("RESULT " + json.dumps(runner_lock.run_exclusively(hourly_stats.JOB_ID, job, slot=dt.datetime(2024, 6, 1, 2, 2)),
                             default=str))
"""


def scans():
    place, _ = places.create_place(place_type_code="metro", name="紫荆山站")
    person = make_person(1)
    for minute in range(3):
        EntryRecord.create(request_id=uuid.uuid4().hex, place=place, person=person, flow="customer", source="self",
                           colour="green", admitted=True, verdict="{}",
                           created_at=dt.datetime(2024, 6, 1, 1, 10 + minute))


def test_two_runner_processes_run_the_job_once(db, backend):
    scans()
    start_at = time.time() + 3  # both processes have imported everything by then
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "RUN_JOBS"))}
    runners = [subprocess.Popen([sys.executable, "-c", RUNNER.format(root=ROOT), backend[1], str(start_at)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 0, err
        outputs.append(json.loads(out.split("RESULT ", 1)[1]))
    ran = [o for o in outputs if "skipped" not in o]
    skipped = [o for o in outputs if "skipped" in o]
    assert len(ran) == 1 and len(skipped) == 1, outputs
    assert ran[0]["completed_hour"] == "2024-06-01 10:00"
    lock = JobLock.get(JobLock.job_id == hourly_stats.JOB_ID)
    assert lock.runs == 1 and lock.holder is None and lock.last_status == "ok" and lock.last_slot == SLOT
    assert [r.scans for r in HourlyPlaceStat.select()] == [3]


def test_two_runner_threads_run_the_job_once(db):
    calls = []
    start = threading.Barrier(2)
    results = [None, None]

    def job():
        calls.append(threading.get_ident())
        time.sleep(0.3)
        return {"done": True}

    def runner(i):
        start.wait()
        try:
            results[i] = runner_lock.run_exclusively("probe", job, slot=SLOT)
        finally:
            database.db.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    assert sorted(("skipped" in r) for r in results) == [False, True], results
    # A runner whose scheduler fires late, after the run is over, skips the slot too...
    assert "skipped" in runner_lock.run_exclusively("probe", job, slot=SLOT)
    # ...and the next slot runs.
    assert runner_lock.run_exclusively("probe", job, slot=SLOT + dt.timedelta(hours=1)) == {"done": True}
    assert JobLock.get(JobLock.job_id == "probe").runs == 2 and len(calls) == 2


def test_a_held_lock_cannot_be_taken_until_it_lapses(db):
    assert runner_lock.acquire("probe", "runner-a", ttl_seconds=60, now=NOW)
    assert not runner_lock.acquire("probe", "runner-b", ttl_seconds=60, now=NOW + dt.timedelta(seconds=59))
    assert runner_lock.heartbeat("probe", "runner-a", 60)
    assert not runner_lock.heartbeat("probe", "runner-b", 60)
    # Runner a died: once its lock has lapsed, b takes it.
    later = runner_lock.utcnow() + dt.timedelta(seconds=61)
    assert runner_lock.acquire("probe", "runner-b", ttl_seconds=60, now=later)
    assert JobLock.get(JobLock.job_id == "probe").holder == "runner-b"


def test_a_failed_run_gives_the_lock_back(db):
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        runner_lock.run_exclusively("probe", broken, slot=SLOT)
    lock = JobLock.get(JobLock.job_id == "probe")
    assert lock.holder is None and lock.last_status == "failed" and "RuntimeError" in lock.last_result
    # A run by hand (no slot) is not blocked by the slot already tried.
    assert runner_lock.run_exclusively("probe", lambda: 42) == 42


def test_a_scheduled_run_knows_its_slot():
    trigger = CronTrigger(minute=2, timezone="Asia/Shanghai")
    assert runner_lock.current_slot(trigger, now=dt.datetime(2024, 6, 1, 2, 5)) == SLOT
    assert runner_lock.current_slot(trigger, now=dt.datetime(2024, 6, 1, 2, 2)) == SLOT
    assert runner_lock.current_slot(trigger, now=dt.datetime(2024, 6, 1, 2, 30)) is None  # by hand


def test_every_job_goes_through_the_lock(db):
    from config import TestConfig

    scheduler = make_scheduler(TestConfig())
    for job_id, func, _ in JOBS:
        assert func.job_id == job_id and callable(func.__wrapped__)  # `python -m jobs run` takes the lock too
        job = scheduler.get_job(job_id)
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == MISFIRE_GRACE_SECONDS
        assert job.func.job_id == job_id
    by_hand = dict((job_id, func) for job_id, func, _ in JOBS)[hourly_stats.JOB_ID]
    assert "completed_hour" in by_hand()
    assert JobLock.get(JobLock.job_id == hourly_stats.JOB_ID).runs == 1


def test_one_runner_holds_the_lease_a_second_waits_and_takes_over_when_it_stops(db):
    first = runner_lock.RunnerLease(poll_seconds=0.1).start()
    assert first.held.wait(10)
    second = runner_lock.RunnerLease(poll_seconds=0.1).start()
    try:
        time.sleep(0.5)
        assert not second.held.is_set()  # waits
        # A scheduled run in the waiting runner does nothing.
        job = make_scheduler(lease=second).get_job(JOBS[0][0])
        assert job.func() == {"skipped": "not the job runner"}
        first.stop()
        assert second.held.wait(10)  # the lease was given back: taken within a poll
        assert JobLock.get(JobLock.job_id == runner_lock.RUNNER_ID).holder == second.holder
    finally:
        first.stop()
        second.stop()
    assert JobLock.get(JobLock.job_id == runner_lock.RUNNER_ID).holder is None


def test_a_dead_runners_lease_lapses(db):
    assert runner_lock.acquire(runner_lock.RUNNER_ID, "gone:1:x", ttl_seconds=30)
    waiting = runner_lock.RunnerLease(poll_seconds=0.1)
    with database.db.connection_context():
        assert waiting._step(None) == "gone:1:x" and not waiting.held.is_set()
    JobLock.update(expires_at=dt.datetime(2000, 1, 1)).where(JobLock.job_id == runner_lock.RUNNER_ID).execute()
    with database.db.connection_context():
        waiting._step(None)
    assert waiting.held.is_set()
