"""The APScheduler set-up: one scheduler, each job a module-level function with an explicit id,
coalesced, never run twice at once, and run through the database lock of jobs/runner_lock.py.

Where the jobs run (I5):

- one server process: in it (RUN_JOBS=1, the default);
- several server processes: RUN_JOBS=0 on every one of them, and one `python -m jobs` process
  (started once, e.g. by systemd, beside them) runs the scheduler;
- whatever is started by mistake, each scheduled run of a job happens once: every runner claims
  the run's slot in `job_lock` first (see jobs/runner_lock.py), and a run started by hand
  (`python -m jobs run <job>`) waits for nobody but runs only while no other runner holds the job.

The runner's jobs are CPU work beside the servers' requests: give `python -m jobs` a low CPU
priority (systemd: `CPUWeight=10`, or `Nice=19`; with the kernel's autogroup scheduling a plain
`nice` only ranks processes of one session). Whatever the priority, the long jobs (hourly
statistics, colour recompute) pace themselves (jobs/pacing.py: at most a fifth of the time each)
and take the database's write lock only for short writes of what changed. bench/admin_lists.py
measures the scans with the jobs running at both priorities.

Every job is idempotent (it recomputes or deletes what is due, it never adds to a total), so a
run repeated after a crash is harmless. `coalesce=True` folds missed runs into one,
`max_instances=1` keeps a slow run from overlapping the next, and `misfire_grace_time` lets a run
up to 10 minutes late still happen (a restart at :01 does not lose the :02 statistics).
"""

from __future__ import annotations

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.tornado import TornadoScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs import (appeal_escalation, colour_recompute, every_ten_minutes, hourly_stats, not_reported, occupancy,
                  overseas_alerts, partner_nonces, retention, runner_lock)

TIMEZONE = "Asia/Shanghai"
MISFIRE_GRACE_SECONDS = 600


def _job(job_id, func, trigger):
    # JOBS holds the functions wrapped by the lock, so `python -m jobs run X` goes through it too.
    return job_id, runner_lock.exclusive(job_id, func), trigger


# (job id, function, trigger) — a new job is one line here and one module in jobs/. A trigger that
# depends on a setting is given as a function of the Config.
JOBS = [
    # Every hour at :05, so day 15 turns green in the first hour of the day.
    _job(colour_recompute.JOB_ID, colour_recompute.run, CronTrigger(minute=5, timezone=TIMEZONE)),
    # Daily at NOT_REPORTED_AT (default 10:00).
    _job(not_reported.JOB_ID, not_reported.run, lambda config: not_reported.trigger(config, TIMEZONE)),
    # Every hour at :02: the hour that just ended, and any late one.
    _job(hourly_stats.JOB_ID, hourly_stats.run, CronTrigger(minute=2, timezone=TIMEZONE)),
    # Every night at 03:30, after that hour's statistics.
    _job(retention.JOB_ID, retention.run, lambda config: retention.trigger(config, TIMEZONE)),
    # Every 10 minutes: overseas returnees still 待反馈 4 hours after their expected arrival.
    _job(overseas_alerts.JOB_ID, overseas_alerts.run, every_ten_minutes(TIMEZONE)),
    # Every 10 minutes: appeals still open 24 hours after filing move to the district (at most
    # 10 minutes late).
    _job(appeal_escalation.JOB_ID, appeal_escalation.run, every_ten_minutes(TIMEZONE)),
    # Every 10 minutes: partners' request nonces older than the replay window.
    _job(partner_nonces.JOB_ID, partner_nonces.run, every_ten_minutes(TIMEZONE)),
    # Every 10 minutes: people counted into a place OCCUPANCY_EXPIRE_HOURS ago who never left (N8).
    _job(occupancy.JOB_ID, occupancy.run, lambda config: occupancy.trigger(config, TIMEZONE)),
]


def make_scheduler(config=None, lease: runner_lock.RunnerLease | None = None) -> TornadoScheduler:
    """A scheduler holding every job; the blocking jobs run on a small thread pool. Settings come
    from `config` (default: the environment). With a `lease`, a scheduled run happens only while
    this process holds it (it is the deployment's job runner)."""
    if config is None:
        from config import Config

        config = Config.from_env()
    scheduler = TornadoScheduler(timezone=TIMEZONE, executors={"default": ThreadPoolExecutor(2)})
    for job_id, func, trigger in JOBS:
        if config.jobs_every_seconds:  # tests and demos: on the clock's multiples, the same slots everywhere
            trigger = CronTrigger(second=f"*/{config.jobs_every_seconds}", timezone=TIMEZONE)
        elif callable(trigger) and not hasattr(trigger, "get_next_fire_time"):
            trigger = trigger(config)
        # Scheduled runs claim the slot their trigger fired for, so a second runner skips it.
        scheduled = runner_lock.exclusive(job_id, getattr(func, "__wrapped__", func), trigger,
                                          MISFIRE_GRACE_SECONDS, max(30, config.job_lock_seconds))
        if lease is not None:
            scheduled = _while_held(scheduled, lease)
        scheduler.add_job(scheduled, trigger, id=job_id, name=job_id, replace_existing=True, coalesce=True,
                          max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS)
    return scheduler


def _while_held(run, lease: runner_lock.RunnerLease):
    """`run`, skipped while this process does not hold the runner's lease."""

    def scheduled(*args, **kwargs):
        if not lease.held.is_set():
            return {"skipped": "not the job runner"}
        return run(*args, **kwargs)

    scheduled.job_id = run.job_id
    return scheduled


def start_runner(config=None) -> tuple[TornadoScheduler, runner_lock.RunnerLease]:
    """This process as a candidate job runner: the scheduler starts (on the current IOLoop) once
    the runner's lease is taken, and only then; call `stop_runner` on the way out."""
    import tornado.ioloop

    loop = tornado.ioloop.IOLoop.current()
    lease = runner_lock.RunnerLease()
    scheduler = make_scheduler(config, lease)

    def acquired():
        loop.add_callback(lambda: None if scheduler.running else scheduler.start())

    lease.start(acquired)
    return scheduler, lease


def stop_runner(scheduler: TornadoScheduler, lease: runner_lock.RunnerLease) -> None:
    """Stop the scheduler and give the lease back, so a waiting runner takes over at once."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
    lease.stop()
