"""The platform's Prometheus metrics, shared by every process of a deployment (prometheus-client's
multiprocess mode), and what `/metrics` answers (handlers/metrics.py).

Each process writes its figures to memory-mapped files of its own in one directory
(`PROMETHEUS_MULTIPROC_DIR`; this module sets it from `METRICS_DIR`, default `data/metrics`,
before prometheus-client is imported, so that every metric below is born multiprocess); whichever
process answers `/metrics` reads them all (`MultiProcessCollector`). A forked child notices its
new pid at its first write and opens files of its own, so the metrics may be made at import, before
the server forks. A deployment's server processes and its job runner (`python -m jobs`, same
working directory or METRICS_DIR) thus show in one answer. `prune()` at the server's start deletes
the files of processes no longer alive (a fresh start; counters restart from zero, which Prometheus
reads as a reset); a dead process's gauges are dropped at each collection.

What is counted where (keep it cheap: the scan's path is benchmarked):
- requests by operation and status, and their latency: routing.Application.log_request (every
  answered request), refusals of the load shedder in routing.Application.find_handler;
- scans by colour and admitted: services.scanning.scans, once the scan's entry is committed;
- group-commit batch sizes: services.scanning.entry_writer, per committed batch;
- database pools in use and waiting, requests in flight and the event loop's lag: sampled once a
  second on the serving loop (`Sampler`), never on each acquire;
- jobs' runs (by outcome), durations: jobs.runner_lock.run_exclusively;
- import rows (good, bad) by source: services.investigations.importer, per batch.
"""

from __future__ import annotations

import asyncio
import glob
import os

METRICS_DIR_DEFAULT = os.path.join("data", "metrics")


def _directory() -> str:
    """Where this process's metric files go: PROMETHEUS_MULTIPROC_DIR if the environment names it,
    else METRICS_DIR (the environment, then `.env`, as Config reads it), else data/metrics."""
    named = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("METRICS_DIR")
    if not named and os.path.exists(".env"):
        from dotenv import dotenv_values

        named = dotenv_values(".env").get("METRICS_DIR")
    return os.path.abspath(named or METRICS_DIR_DEFAULT)


DIRECTORY = _directory()
try:
    os.makedirs(DIRECTORY, exist_ok=True)
except OSError:  # a read-only working directory (a one-off command): the metrics go to the temp dir
    import tempfile

    DIRECTORY = os.path.join(tempfile.gettempdir(), f"healthcode-metrics-{os.getuid()}")
    os.makedirs(DIRECTORY, exist_ok=True)
# Before prometheus_client is imported: its value class is chosen from this at import.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = DIRECTORY

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,  # noqa: E402
                               generate_latest, values)
from prometheus_client import multiprocess  # noqa: E402

if not getattr(values.ValueClass, "_multiprocess", False):
    # prometheus_client was imported before this module (by a library): switch it now, before
    # any metric below is made.
    values.ValueClass = values.MultiProcessValue()

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

REQUESTS = Counter("healthcode_requests_total", "Requests answered, by operation (operationId, or the page's "
                   "handler) and HTTP status", ("operation", "status"))
REQUEST_SECONDS = Histogram("healthcode_request_duration_seconds", "Time from a request's arrival to its answer, "
                            "by operation", ("operation",), buckets=LATENCY_BUCKETS)
SCANS = Counter("healthcode_scans_total", "Scans stored (scanPlace), by colour and whether the person was admitted",
                ("colour", "admitted"))
BATCH_SIZE = Histogram("healthcode_group_commit_batch_size", "Entry records per group-commit transaction",
                       ("backend",), buckets=BATCH_BUCKETS)
POOL_IN_USE = Gauge("healthcode_db_pool_in_use", "Database connections lent out, by pool (peewee: the threads' "
                    "MySQL pool; loop_read, loop_write: the event loop's asyncmy connections; sign_in: the "
                    "sign-in threads at work)", ("pool",),
                    multiprocess_mode="livesum")
POOL_WAITING = Gauge("healthcode_db_pool_waiting", "Callers waiting for a database connection, by pool", ("pool",),
                     multiprocess_mode="livesum")
IN_FLIGHT = Gauge("healthcode_requests_in_flight", "Requests admitted and not yet answered", (),
                  multiprocess_mode="livesum")
LOOP_LAG = Gauge("healthcode_event_loop_lag_seconds", "How late the event loop runs a timer (the load shedder's "
                 "probe), worst process", (), multiprocess_mode="livemax")
JOB_RUNS = Counter("healthcode_job_runs_total", "Runs of scheduled jobs, by job and outcome (ok, failed, skipped)",
                   ("job", "outcome"))
JOB_SECONDS = Histogram("healthcode_job_duration_seconds", "Duration of the jobs' runs that ran, by job", ("job",),
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))
IMPORT_ROWS = Counter("healthcode_import_rows_total", "Rows of list imports, by source and result (good, bad)",
                      ("source", "result"))

# (operation, status) -> the counter's child, and operation -> the histogram's: a label look-up
# takes a lock and builds a tuple; these take a dictionary look-up.
_requests: dict = {}
_latency: dict = {}
_scans: dict = {}


def observe_request(operation: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    key = (operation, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(operation, str(status))
    counter.inc()
    histogram = _latency.get(operation)
    if histogram is None:
        histogram = _latency[operation] = REQUEST_SECONDS.labels(operation)
    histogram.observe(seconds)


def count_request(operation: str, status: int) -> None:
    """Count a request answered without a handler (a refusal of the load shedder)."""
    key = (operation, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(operation, str(status))
    counter.inc()


def count_scan(colour: str, admitted: bool) -> None:
    """Count one stored scan."""
    key = (colour, admitted)
    counter = _scans.get(key)
    if counter is None:
        counter = _scans[key] = SCANS.labels(colour, "true" if admitted else "false")
    counter.inc()


def collect(directory: str = DIRECTORY) -> bytes:
    """Every process's metrics in Prometheus's text format (what /metrics answers)."""
    _drop_dead_gauges(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, directory)
    return generate_latest(registry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _pid_of(path: str) -> int | None:
    stem = os.path.basename(path)[:-len(".db")]
    try:
        return int(stem.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return None


def _drop_dead_gauges(directory: str) -> None:
    """A dead process's live gauges (pools, lag) stop counting (prometheus-client's
    mark_process_dead, for every pid whose process is gone)."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = _pid_of(path)
        if pid is not None and not _alive(pid):
            multiprocess.mark_process_dead(pid, directory)


def prune() -> int:
    """At a server's start (before it forks): delete the files of processes no longer alive, so
    that the figures start afresh; a running job runner's stay. Returns how many went."""
    removed = 0
    for path in glob.glob(os.path.join(DIRECTORY, "*.db")):
        pid = _pid_of(path)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            try:
                os.remove(path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed


class Sampler:
    """Once a second on the serving loop: the database pools (in use, waiting), the requests in
    flight and the loop's lag, as gauges. Reading a few counters costs nothing on the requests'
    path; a gauge set on every acquire would."""

    INTERVAL_SECONDS = 1.0

    def __init__(self, shedder=None, sign_in_pool=None) -> None:
        self.shedder = shedder
        self.sign_in_pool = sign_in_pool
        self._loop = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start_here(self) -> None:
        """Begin sampling on the running asyncio loop (the one that serves the requests), once;
        outside a loop (a test of the routing alone), nothing."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._loop is None:
            self._loop = loop
            loop.call_soon(self._tick)

    def _tick(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self.sample()
        finally:
            self._loop.call_later(self.INTERVAL_SECONDS, self._tick)

    def sample(self) -> None:
        """Set the gauges from the current state."""
        from models import mysql_loop
        from models.db import db

        database = db.obj
        in_use = getattr(database, "_in_use", None)  # peewee's PooledDatabase (MySQL)
        if in_use is not None:
            POOL_IN_USE.labels("peewee").set(len(in_use))
            POOL_WAITING.labels("peewee").set(len(getattr(database, "waiting_threads", ())))
        for use, (lent, waiting) in mysql_loop.pool_stats(self._loop).items():
            POOL_IN_USE.labels(f"loop_{use}").set(lent)
            POOL_WAITING.labels(f"loop_{use}").set(waiting)
        if self.sign_in_pool is not None:  # its threads each hold a connection while they work
            busy, workers = self.sign_in_pool.waiting, self.sign_in_pool.workers
            POOL_IN_USE.labels("sign_in").set(min(busy, workers))
            POOL_WAITING.labels("sign_in").set(max(0, busy - workers))
        if self.shedder is not None:
            IN_FLIGHT.set(self.shedder.in_flight)
            LOOP_LAG.set(self.shedder.lag)
