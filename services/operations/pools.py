"""The bounded pools that keep blocking calls off the event loop (sizes in config).

One event loop answers every request of a process, so a call that waits (a peewee query through
PyMySQL or SQLite, an SDK's HTTP call) or computes for long (a poster, a spreadsheet) stalls every
scan behind it. Such work goes to one of these pools, each bounded so that a burst of it cannot
take every database connection or core:

- DB: peewee work (the back office's pages, the API's operations and their sign-in, /healthz,
  the H5 pages' look-ups, a scan that needs more than its one statement of reads), each thread
  with a connection of its own, kept between calls (DB_POOL_THREADS);
- CPU: CPU work with no database: drawings, posters, spreadsheets (CPU_POOL_THREADS);
- SDK: calls to WeChat, Alipay and the SMS provider, which wait on the network (SDK_POOL_THREADS);
- EXPORT: processes that build big exports (EXPORT_PROCESSES): their row building is pure Python,
  which in a thread would hold the GIL from the loop for long stretches.

Password checks have their own pool (handlers.base.SignInPool), with a queue limit.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import gc
import multiprocessing
import os
import threading

DB, CPU, SDK = "db", "cpu", "sdk"
_DEFAULT_SIZES = {DB: 4, CPU: 1, SDK: 4}
_sizes = dict(_DEFAULT_SIZES)
_export_processes = 1
_threads: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
_processes: concurrent.futures.ProcessPoolExecutor | None = None
_process_setup: tuple = ()
_lock = threading.Lock()
_on_pool = threading.local()


def configure(config) -> None:
    """Size the pools from `config` (pools already running keep their threads; a new size takes
    effect for pools made after this)."""
    global _export_processes, _process_setup, _processes
    _sizes.update({DB: config.db_pool_threads, CPU: config.cpu_pool_threads, SDK: config.sdk_pool_threads})
    with _lock:
        if _processes is not None and _process_setup != (config,):
            # Set up for another configuration (another database: a test's next server): start anew.
            _processes.shutdown(wait=False, cancel_futures=True)
            _processes = None
        _export_processes = config.export_processes
        _process_setup = (config,)


def on_pool_thread() -> bool:
    """True on one of these pools' threads, where blocking calls are what the thread is for."""
    return getattr(_on_pool, "active", False)


def _executor(pool: str) -> concurrent.futures.ThreadPoolExecutor:
    with _lock:
        executor = _threads.get(pool)
        if executor is None:
            executor = _threads[pool] = concurrent.futures.ThreadPoolExecutor(
                max(1, _sizes[pool]), thread_name_prefix=f"pool-{pool}", initializer=_STARTS.get(pool))
        return executor


def _keep_connections() -> None:
    from models.db import request_connections

    request_connections.keeps_connections()


def _call(pool: str, work, args, kwargs):
    from handlers.base import with_connection  # the base imports this module

    _on_pool.active = True
    try:
        if pool == DB:
            return with_connection(lambda: work(*args, **kwargs))
        return work(*args, **kwargs)
    finally:
        _on_pool.active = False


async def run_in(pool: str, work, *args, **kwargs):
    """`work(*args, **kwargs)` on a thread of `pool` (DB, CPU or SDK), in the caller's context
    (its log lines keep the request id); DB work gets a database connection of its thread's own,
    closed (or handed back to the pool) after (SDK work that needs one: handlers.base.on_executor)."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_executor(pool), context.run, _call, pool, work, args, kwargs)


def _process_start(config) -> None:
    import server

    lower_priority()
    server.setup(config)


def _process_pool() -> concurrent.futures.ProcessPoolExecutor:
    global _processes
    with _lock:
        if _processes is None:
            # spawn: a fork of a process with threads (the loop's, the pools') may inherit a held lock.
            _processes = concurrent.futures.ProcessPoolExecutor(
                max(1, _export_processes), mp_context=multiprocessing.get_context("spawn"),
                initializer=_process_start, initargs=_process_setup)
        return _processes


async def run_in_process(work, *args):
    """`work(*args)` in an export process (a module-level function; arguments and result are
    pickled). The process is set up like the server (cipher, database binding) from the
    configuration last given to `configure`."""
    loop = asyncio.get_running_loop()
    return _raised(await loop.run_in_executor(_process_pool(), _in_process, work, args))


def call_in_process(work, *args):
    """`run_in_process` for a caller on a pool thread (never the loop): waits for the result."""
    return _raised(_process_pool().submit(_in_process, work, args).result())


def _raised(result):
    """An ApiError refused in the process (sent back as its fields: it does not pickle) raised here."""
    if isinstance(result, _Refusal):
        from services.common.errors import ApiError

        raise ApiError(*result.fields)
    return result


class _Refusal:
    def __init__(self, error) -> None:
        self.fields = (error.code, error.message, error.status, error.field, error.retry_after)


def lower_priority() -> None:
    """Make the calling thread (and the threads it starts: argon2's lanes) yield the cores to the
    event loop's thread: CPU work of a pool must not keep the loop from being scheduled."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the priority stays
        pass


# What each pool's threads do first: the DB pool's keep their connections between calls (a
# check-out costs a ping), the CPU pool's yield the cores to the loop.
_STARTS = {DB: _keep_connections, CPU: lower_priority}


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off for the block, back on after (however it ends).

    For an export process's work: it accumulates tens of thousands of objects (a 50,000-row
    export's models and rows), none in a cycle that must be freed before it ends, and as they
    accumulate the collector walks all of them again and again (full passes of 100 to 400 ms
    towards the end): a quarter of the export's CPU (medians of six, 8.5 s against 6.3 s). The
    objects go by reference counting when the work returns."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _in_process(work, args):
    from handlers.base import with_connection
    from services.common.errors import ApiError

    try:
        with collector_paused():
            return with_connection(work, *args)
    except ApiError as error:
        return _Refusal(error)


def shutdown() -> None:
    """Stop every pool (tests, and a server's exit)."""
    global _processes
    with _lock:
        for executor in _threads.values():
            executor.shutdown(wait=False, cancel_futures=True)
        _threads.clear()
        if _processes is not None:
            _processes.shutdown(wait=False, cancel_futures=True)
            _processes = None


@atexit.register
def _stop_processes() -> None:
    # Before the interpreter tears its modules down, which the executor's own clean-up needs.
    if _processes is not None:
        _processes.shutdown(wait=True, cancel_futures=True)
