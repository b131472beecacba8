"""One run of each job per deployment (I5), whatever the number of processes that schedule it.

How jobs run:

- One server process: its in-process scheduler runs the jobs (RUN_JOBS=1, the default).
- Several server processes: they run with RUN_JOBS=0 and ONE `python -m jobs` process runs the
  scheduler. If two runners are started anyway (a second `python -m jobs`, a server left with
  RUN_JOBS=1, a deploy that overlaps the old and the new runner), the database lock below still
  lets only one of them run each scheduled run of a job.

The lock is one `job_lock` row per job. A runner takes it with ONE conditional UPDATE:

    UPDATE job_lock SET holder = me, expires_at = now + ttl, last_slot = slot, runs = runs + 1
    WHERE job_id = ? AND (holder IS NULL OR expires_at < now) AND (last_slot IS NULL OR last_slot < slot)

which the database applies to at most one runner (the row is locked by the first writer; the
second re-reads it and no longer matches). So a second runner cannot take a held lock, nor run a
scheduled slot already run: when two schedulers both fire the 11:02 run, whichever comes second,
even after the first has finished, finds `last_slot` = 11:02 and skips. A heartbeat thread pushes
`expires_at` on while the job runs; a runner that dies leaves a lock that lapses after
JOB_LOCK_SECONDS, and the next slot runs elsewhere. A run started by hand (`python -m jobs run X`)
has no slot: it runs unless another runner holds the job right now.

Above the per-job locks, the deployment has ONE job runner at a time: the `runner` row of the same
table is a lease (`RunnerLease`) that a runner takes with the same conditional UPDATE and keeps
alive every RUNNER_LEASE_SECONDS / 3. A runner starts its scheduler only once it holds the lease,
and each scheduled run checks it still does; a second runner started by mistake finds the lease
held, says so once in its log, and waits, running nothing, until the lease is given back (a
runner that stops in order releases it) or lapses (one that died: after RUNNER_LEASE_SECONDS).

Each job is idempotent anyway (it recomputes, it does not add), coalesced, with `max_instances=1`
and a misfire grace: the lock is about not doing the work twice, not about correctness.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, Callable

import peewee

from models.db import db, request_connections
from models.fields import utcnow
from models.statistics import JobLock
from services.operations import metrics

log = logging.getLogger("healthcode.jobs.lock")

DEFAULT_TTL_SECONDS = 600
RUNNER_ID = "runner"  # the job_lock row that is the runner's lease (no job has this id)
RUNNER_LEASE_SECONDS = 30
RUNNER_POLL_SECONDS = 5.0  # how often a waiting runner asks again


def new_holder() -> str:
    """Who is asking: host, process and a random part (two threads of one process differ too)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _ensure_row(job_id: str) -> None:
    # Two runners may both insert the first time: the unique job_id keeps one row.
    JobLock.insert(job_id=job_id, runs=0, created_at=utcnow()).on_conflict_ignore().execute()


def acquire(job_id: str, holder: str, *, slot: dt.datetime | None = None, ttl_seconds: int = DEFAULT_TTL_SECONDS,
            now: dt.datetime | None = None) -> bool:
    """Take the job's lock for `holder` (and mark `slot` as run); False when another runner holds
    it, or when `slot` was already run."""
    now = now or utcnow()
    _ensure_row(job_id)
    free = JobLock.holder.is_null() | (JobLock.expires_at < now)
    changes = {JobLock.holder: holder, JobLock.acquired_at: now, JobLock.last_started_at: now,
               JobLock.expires_at: now + dt.timedelta(seconds=ttl_seconds), JobLock.runs: JobLock.runs + 1}
    condition = (JobLock.job_id == job_id) & free
    if slot is not None:
        condition &= JobLock.last_slot.is_null() | (JobLock.last_slot < slot)
        changes[JobLock.last_slot] = slot
    return JobLock.update(changes).where(condition).execute() == 1


def heartbeat(job_id: str, holder: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> bool:
    """Push the lock's expiry on; False when `holder` no longer holds it."""
    return JobLock.update(expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds)).where(
        (JobLock.job_id == job_id) & (JobLock.holder == holder)).execute() == 1


def release(job_id: str, holder: str, status: str, result: Any = None) -> None:
    """Give the lock back and note how the run ended."""
    text = json.dumps(result, ensure_ascii=False, default=str)[:4000] if result is not None else None
    JobLock.update(holder=None, expires_at=None, last_finished_at=utcnow(), last_status=status,
                   last_result=text).where((JobLock.job_id == job_id) & (JobLock.holder == holder)).execute()


class _Heartbeat(threading.Thread):
    """Keeps the lock alive while a long job runs, on its own connection."""

    def __init__(self, job_id: str, holder: str, ttl_seconds: int) -> None:
        super().__init__(name=f"job-lock-{job_id}", daemon=True)
        self.job_id, self.holder, self.ttl = job_id, holder, ttl_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(1.0, self.ttl / 3)
        while not self.stopped.wait(interval):
            try:
                with db.connection_context():
                    if not heartbeat(self.job_id, self.holder, self.ttl):
                        log.warning("job %s: lock lost by %s", self.job_id, self.holder)
                        return
            except peewee.PeeweeException as exc:  # a busy database: try again at the next beat
                log.warning("job %s: heartbeat failed: %s", self.job_id, type(exc).__name__)


def run_exclusively(job_id: str, func: Callable[[], Any], *, slot: dt.datetime | None = None,
                    ttl_seconds: int = DEFAULT_TTL_SECONDS, holder: str | None = None) -> Any:
    """Run `func` only if this runner gets the job's lock (for `slot`, when scheduled); returns
    its result, or {"skipped": reason} when another runner has it or had this slot."""
    holder = holder or new_holder()
    request_connections.opened()
    try:
        if not acquire(job_id, holder, slot=slot, ttl_seconds=ttl_seconds):
            row = JobLock.get_or_none(JobLock.job_id == job_id)
            if row is not None and row.holder:
                reason = f"held by {row.holder}"
            elif slot is not None:
                reason = f"slot {slot:%Y-%m-%d %H:%M} UTC already run"
            else:
                reason = "held by another runner"
            log.info("job %s skipped: %s", job_id, reason)
            metrics.JOB_RUNS.labels(job_id, "skipped").inc()
            return {"skipped": reason}
        beat = _Heartbeat(job_id, holder, ttl_seconds)
        beat.start()
        started = time.monotonic()
        try:
            result = func()
        except BaseException as exc:
            beat.stopped.set()
            _ran(job_id, "failed", started)
            release(job_id, holder, "failed", {"error": type(exc).__name__})
            raise
        beat.stopped.set()
        _ran(job_id, "ok", started)
        release(job_id, holder, "ok", result)
        log.info("job %s ran%s in %s", job_id, f" for slot {slot:%Y-%m-%d %H:%M:%S} UTC" if slot else "", holder)
        return result
    finally:
        request_connections.closed()


def _ran(job_id: str, outcome: str, started: float) -> None:
    """Count a run that ran, and its duration (services/operations/metrics.py)."""
    metrics.JOB_RUNS.labels(job_id, outcome).inc()
    metrics.JOB_SECONDS.labels(job_id).observe(time.monotonic() - started)


def current_slot(trigger, now: dt.datetime | None = None, grace_seconds: int = 600) -> dt.datetime | None:
    """The scheduled fire time of `trigger` this run belongs to: the latest one at or before now
    and within the grace period (naive UTC), or None for a run started by hand."""
    now_aware = (now.replace(tzinfo=dt.timezone.utc) if now else dt.datetime.now(dt.timezone.utc))
    fire = trigger.get_next_fire_time(None, now_aware - dt.timedelta(seconds=grace_seconds))
    found = None
    while fire is not None and fire <= now_aware:
        found = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
    return found.astimezone(dt.timezone.utc).replace(tzinfo=None) if found else None


def exclusive(job_id: str, func: Callable[[], Any], trigger=None, grace_seconds: int = 600,
              ttl_seconds: int | None = None) -> Callable[..., Any]:
    """`func` wrapped to run through the lock: with a trigger, each run claims the slot the
    trigger fired for; without one (a run by hand), it runs unless the job is held."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        slot = current_slot(trigger, grace_seconds=grace_seconds) if trigger is not None else None
        ttl = ttl_seconds or _configured_ttl()
        return run_exclusively(job_id, functools.partial(func, *args, **kwargs), slot=slot, ttl_seconds=ttl)

    run.job_id = job_id
    return run


def _configured_ttl() -> int:
    from config import Config

    try:
        return max(30, Config.from_env().job_lock_seconds)
    except (ValueError, TypeError):
        return DEFAULT_TTL_SECONDS


class RunnerLease:
    """The deployment's one job runner (see the module docstring): a thread that takes the
    `runner` lease, keeps it alive while held, and asks again while another runner has it.
    `on_acquired` is called (on that thread) each time this process becomes the runner."""

    def __init__(self, holder: str | None = None, ttl_seconds: int = RUNNER_LEASE_SECONDS,
                 poll_seconds: float = RUNNER_POLL_SECONDS) -> None:
        self.holder = holder or new_holder()
        self.ttl, self.poll = ttl_seconds, poll_seconds
        self.held = threading.Event()
        self.stopped = threading.Event()
        self.on_acquired: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="job-runner-lease", daemon=True)

    def start(self, on_acquired: Callable[[], None] | None = None) -> "RunnerLease":
        self.on_acquired = on_acquired
        self._thread.start()
        return self

    def _run(self) -> None:
        told = None  # the holder the log last named, so a long wait says it once
        while not self.stopped.is_set():
            try:
                with db.connection_context():
                    told = self._step(told)
            except peewee.PeeweeException as exc:  # a busy or unreachable database: ask again later
                log.warning("job runner lease: %s", type(exc).__name__)
            self.stopped.wait(self.ttl / 3 if self.held.is_set() else self.poll)

    def _step(self, told: str | None) -> str | None:
        if self.held.is_set():
            if not heartbeat(RUNNER_ID, self.holder, self.ttl):
                self.held.clear()  # lapsed while this process was stalled: another runner may have it
                log.warning("job runner lease lost by %s: scheduled jobs skip until it is taken again", self.holder)
            return told
        if acquire(RUNNER_ID, self.holder, ttl_seconds=self.ttl):
            self.held.set()
            log.info("this process is the job runner (%s)", self.holder)
            if self.on_acquired is not None:
                self.on_acquired()
            return None
        row = JobLock.get_or_none(JobLock.job_id == RUNNER_ID)
        other = row.holder if row is not None else None
        if other != told:
            log.warning("another job runner is active (%s): this one waits and runs nothing", other)
        return other

    def stop(self) -> None:
        """Stop asking, and give the lease back at once if held (a waiting runner takes over)."""
        self.stopped.set()
        if self.held.is_set():
            self.held.clear()
            try:
                with db.connection_context():
                    release(RUNNER_ID, self.holder, "stopped")
            except peewee.PeeweeException as exc:
                log.warning("job runner lease not released (%s): it lapses in %s s", type(exc).__name__, self.ttl)
