"""Benchmark: the scan endpoint (`scanPlace`) under load, beside a bare Tornado hello-world.

What is measured, in one run, on this machine:

- hello-world: a bare Tornado application in its own process answering "Hello, world" (one
  process, one IOLoop, like the real server). It is what this machine, this Python and this
  Tornado can serve at best.
- scan (sqlite) / scan (mysql): the real server (`server.py --demo`, its own throw-away
  database: SQLite in a temporary directory, or a `bench_<random>` MariaDB database created and
  dropped here; RUN_JOBS=0, LOG_LEVEL=WARNING). Before the load, the script makes a compound
  place and N people (`authDevLogin`, then a first scan with the profile, which binds each one to
  the compound), so that the load is the hot path: an existing person scanning in (token check,
  code look-up, verdict, entry record; every other request also carries a normal temperature,
  which is stored as a TemperatureRecord row). Every request has a unique `request_id` and the
  tokens rotate over the N people.

The load comes from `wrk` (a separate process, 1 thread, `--connections` connections, default 32)
driven by a generated Lua script. For each backend both servers run side by side: each is warmed up
(`--warmup` seconds, results thrown away), then the two are measured in turn, `--rounds` times
(default 6 rounds of 2 s each, `--duration` 12 s per target in all). This machine's speed drifts by
tens of percent from a few seconds to the next; measured in turn, in short rounds, both sides of
the ratio see the same drift. The figures of a target are those of its rounds together: requests/s
over all of them, and the latency percentiles of all their requests (merged from each round's
percentile table); the ratio of each round is printed too, to show the spread. After the scan
rounds, the entry records stored are counted and compared with the 2xx answers wrk received: fewer
rows than acknowledged scans would be a lost scan and is reported as such.

With `--processes N` it measures scaling instead, on MariaDB: the server with one process and
the server with N processes sharing its port (`server.py --processes N`, no nginx), both up side
by side and measured in turn as above. The figure that shows scaling on a machine whose cores one
process and MariaDB nearly fill is the rate per CPU-second of the server processes (requests
answered / CPU seconds of all the server's processes): if the processes shared something that
made each of them slower (a lock, a queue), it would fall. Goals: with N processes it stays at
least 0.9 times the one process's, the total rate is at least the one process's, p99 at most
50 ms; each process's CPU and MariaDB's are printed, and per request the times the server's
threads were preempted (taken off a core while they could run: on a machine where the processes,
MariaDB and wrk want more cores than there are, each comes back to cold caches and spends more CPU
on the same request) and the statements MariaDB answered (half the load per process: smaller
batches of reads and of group commit, so more statements per scan).

Run it from the repository root (wrk: `apt-get install -y wrk`):

    .venv/bin/python bench/scan_throughput.py                      # hello-world, SQLite, MariaDB
    .venv/bin/python bench/scan_throughput.py --backend sqlite --duration 6 --rounds 3
    .venv/bin/python bench/scan_throughput.py --py-spy /tmp/scan   # also profile the server
    .venv/bin/python bench/scan_throughput.py --processes 2        # 1 process beside 2, MariaDB

`--py-spy PREFIX` samples the server during the measured rounds (`.venv/bin/pip install py-spy`):
only the thread holding the GIL, so the stacks show where the CPU goes; they are written
collapsed (one "frame;frame;... count" line per stack) to PREFIX-<backend>.txt.

MariaDB is reached at BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306). `--app-dir` runs
another checkout's server.py (to measure "before" and "after" a change under the same
conditions).

How to read it: one row per target with requests/s, p50 and p99 latency (ms), errors (non-2xx
answers plus socket errors: connect, read, write, timeout) and the ratio of its requests/s to
the hello-world measured beside it, and the server's CPU use during the measured run (all its
threads, 100% = one core; not shown with --py-spy): near 100% the server is CPU-bound, well below
it waits (on the database's round trips or on the commits). The goals of the issue are then
checked one by one:

    scan (sqlite) ratio >= 0.40     scan (mysql) ratio >= 0.30
    p99 <= 50 ms at 32 connections  zero errors          no acknowledged scan lost

A ratio is what the scan costs compared with the least any request can cost here; it moves far
less with the machine than requests/s do. With 2 cores, wrk takes part of one: the server (one
Python process) gets about one core, as it would per core behind a proxy in production.

Other work on the machine shows in both rows of a ratio, but not always equally: when the
ratios by round differ widely, run again. The exit status is 0 when the run was
done (whatever the goals say) and 2 when it could not be done.

Everything the script starts is stopped, and the databases and directories it made are removed,
even when it fails or is interrupted (unless --keep).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306")
# Not secrets: fixed keys made here so the bench never needs (or touches) real ones.
BENCH_DATA_KEY = base64.b64encode(hashlib.sha256(b"healthcode bench key, not a secret").digest()).decode()
BENCH_SECRET = "bench-secret-key-not-a-secret-0123456789abcdef"
GOALS = {"sqlite": 0.40, "mysql": 0.30}
GOAL_P99_MS = 50.0
GOAL_PER_CPU_RATIO = 0.9  # --processes: N processes' rate per CPU-second over one process's
COMPOUND_REGION = "410105001001001"  # a compound of the demo data (server.py --demo)
# A server's environment that admits every request: a benchmark of what requests cost, not of
# what the load shedding refuses (bench/overload.py measures that), whose fixed load a busy
# machine's lag would otherwise partly refuse.
NO_SHEDDING = {"MAX_IN_FLIGHT_REQUESTS": "1000000", "MAX_LOOP_LAG_MS": "1000000"}

HELLO_SERVER = """
import sys
import tornado.httpserver, tornado.ioloop, tornado.web

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

app = tornado.web.Application([(r"/", Hello)])
tornado.httpserver.HTTPServer(app).listen(int(sys.argv[1]), "127.0.0.1")
print("ready", flush=True)
tornado.ioloop.IOLoop.current().start()
"""

# wrk's done() writes one line the script parses: requests, duration and errors, and a table of
# latency percentiles in microseconds (PERCENTILES, then 100: the maximum), from which the
# percentiles of several runs together are worked out (`merged_percentile`).
PERCENTILES = (*range(1, 100), 99.5, 99.9, 99.99)
LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  local points = {}
  for _, p in ipairs({%s}) do
    points[#points + 1] = string.format("[%%g, %%d]", p, latency:percentile(p))
  end
  points[#points + 1] = string.format("[100, %%d]", latency.max)
  io.write(string.format(
    "BENCH_RESULT {\"requests\": %%d, \"duration_us\": %%d, \"connect\": %%d, \"read\": %%d, \"write\": %%d, " ..
    "\"status\": %%d, \"timeout\": %%d, \"percentiles\": [%%s]}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(points, ", ")))
end
""" % ", ".join(f"{p:g}" for p in PERCENTILES)

LUA_SCAN = r"""
local tokens = {%(tokens)s}
local code = "%(code)s"
local counter = 0
local prefix = "x"
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

function init(args)
  -- "bench-": a request id has 8 to 64 characters, whatever the tag ("cap-0-1" would be refused).
  prefix = "bench-" .. args[1] .. "-" .. tostring(thread_id) .. "-"
end

request = function()
  counter = counter + 1
  local token = tokens[(counter %% #tokens) + 1]
  local extra = ""
  if counter %% 2 == 0 then extra = ", \"temperature\": 36.5" end
  local body = "{\"code\": \"" .. code .. "\", \"flow\": \"resident\", \"request_id\": \"" .. prefix ..
               counter .. "\"" .. extra .. "}"
  return wrk.format("POST", "/api/v1/scans",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
"""


class BenchError(Exception):
    """The run could not be done (a server did not start, wrk failed ...)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log_path: str, timeout: float = 90.0) -> None:
    """Wait until `url` answers 200, or fail with the tail of the process's log."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise BenchError(f"server did not answer {url} within {timeout:.0f} s:\n{tail(log_path)}")


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


class Resources:
    """Everything the run made, undone in reverse order by `cleanup()` whatever happened."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.undo: list = []

    def process(self, args: list[str], log_path: str, **kwargs) -> subprocess.Popen:
        log = open(log_path, "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kwargs)
        log.close()
        self.undo.append(("process", proc))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """Stop one process now (SIGTERM, then SIGKILL after 10 s)."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def cleanup(self) -> None:
        while self.undo:
            kind, what = self.undo.pop()
            try:
                if kind == "process":
                    self.stop(what)
                elif kind == "dir" and not self.keep:
                    shutil.rmtree(what, ignore_errors=True)
                elif kind == "mysql" and not self.keep:
                    drop_mysql_database(what)
                elif kind == "call":
                    what()
            except Exception as exc:  # keep cleaning the rest
                print(f"cleanup of {kind} failed: {exc}", file=sys.stderr)


def _mysql_admin():
    import pymysql

    parsed = urlparse(MYSQL_URL)
    return pymysql.connect(host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306,
                           user=parsed.username or "root", password=parsed.password or "",
                           charset="utf8mb4", connect_timeout=5, autocommit=True)


def create_mysql_database() -> str:
    name = f"bench_{secrets.token_hex(6)}"
    admin = _mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        admin.close()
    return name


def drop_mysql_database(name: str) -> None:
    admin = _mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


def run_wrk(url: str, script: str, seconds: float, connections: int, workdir: str, *args: str) -> dict:
    """Run wrk once and return its BENCH_RESULT figures."""
    path = os.path.join(workdir, f"wrk-{secrets.token_hex(4)}.lua")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "--latency",
               "-s", path, url]
    if args:
        command += ["--", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(match.group(1))
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    latency = [(p, us / 1000) for p, us in raw["percentiles"]]
    at = dict(latency)
    return {"requests": raw["requests"], "seconds": raw["duration_us"] / 1e6,
            "rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50_ms": at[50], "p99_ms": at[99],
            "max_ms": at[100], "latency": latency, "non_2xx": raw["status"], "socket_errors": socket_errors,
            "errors": raw["status"] + socket_errors, "ok": raw["requests"] - raw["status"]}


def merged_percentile(runs: list[dict], q: float) -> float:
    """The q-th latency percentile (ms) of the requests of all `runs` together: the least latency
    under which q% of them fall, each run's share read off its percentile table (linearly between
    two points of it)."""
    total = sum(run["requests"] for run in runs)
    for value in sorted({ms for run in runs for _, ms in run["latency"]}):
        if sum(run["requests"] * _share_under(run["latency"], value) for run in runs) >= q / 100 * total:
            return value
    return max(ms for run in runs for _, ms in run["latency"])


def _share_under(table: list[tuple[float, float]], value: float) -> float:
    """The share of a run's requests at or under `value` ms, from its (percentile, ms) table."""
    below_p, below_ms = 0.0, 0.0
    for p, ms in table:
        if value < ms:
            return (below_p + (p - below_p) * (value - below_ms) / (ms - below_ms)) / 100
        below_p, below_ms = p, ms
    return 1.0


def combined(runs: list[dict], warm: dict) -> dict:
    """The figures of a target's measured runs together (each of its rounds), after `warm`."""
    seconds = sum(run["seconds"] for run in runs)
    result = {key: sum(run[key] for run in runs) for key in ("requests", "non_2xx", "socket_errors", "errors", "ok")}
    result.update(rps=result["requests"] / seconds, p50_ms=merged_percentile(runs, 50),
                  p99_ms=merged_percentile(runs, 99), max_ms=max(run["max_ms"] for run in runs),
                  rounds=[run["rps"] for run in runs],
                  warmup_ok=warm["ok"], warmup_errors=warm["errors"])
    for key in ("cpu", "database_cpu"):
        used = [run[key] for run in runs]
        result[key] = None if None in used else sum(used) / sum(run["elapsed"] for run in runs)
    for key in ("preemptions", "statements"):  # per request
        counted = [run.get(key) for run in runs]
        result[key] = None if None in counted or not result["requests"] else sum(counted) / result["requests"]
    used = [run.get("cpu_by_process") for run in runs]
    if used and None not in used:
        result["cpu_seconds"] = sum(run["cpu"] for run in runs)
        result["cpu_by_process"] = {pid: sum(u[pid] for u in used) / sum(run["elapsed"] for run in runs)
                                    for pid in used[0]}
    return result


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) the process has used so far (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (a server started with --processes: the parent and its workers)."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def preemptions(pids: list[int]) -> int | None:
    """How often the threads of `pids` have been taken off a core while they could still run
    (Linux's nonvoluntary_ctxt_switches, summed over every thread), or None."""
    total = 0
    try:
        for pid in pids:
            for thread in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{thread}/status", encoding="ascii") as f:
                    total += int(next(line for line in f if line.startswith("nonvoluntary_ctxt_switches")).split()[1])
    except (OSError, ValueError, StopIteration):
        return None
    return total


def database_statements() -> int | None:
    """The statements MariaDB has answered so far (its `Questions`, every client's), or None."""
    try:
        admin = _mysql_admin()
    except Exception:
        return None
    try:
        with admin.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
            return int(cur.fetchone()[1])
    finally:
        admin.close()


def tree_cpu(pids: list[int]) -> dict[int, float] | None:
    """CPU seconds so far of each of `pids`, or None when one cannot be read."""
    used = {pid: cpu_seconds(pid) for pid in pids}
    return None if None in used.values() else used


def local_database_pid() -> int | None:
    """The pid of the MariaDB / MySQL server when it runs on this machine (its CPU is shown), or None."""
    if urlparse(MYSQL_URL).hostname not in ("127.0.0.1", "localhost"):
        return None
    for name in ("mariadbd", "mysqld"):
        found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
        if found:
            return int(found[0])
    return None


def load(target: dict, seconds: float, args, workdir: str, tag: str, spy: str | None = None) -> dict:
    """One measured run of wrk against `target`, with the CPU its server used meanwhile (seconds,
    all threads; profiled by py-spy into `spy` when given) and its database server's."""
    pid, database_pid = target["pid"], target.get("database_pid")
    recorder = None
    if spy:
        recorder = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-p", str(pid),
                                     "-o", spy, "-f", "raw", "-r", "250", "-d", str(max(1, round(seconds))),
                                     "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = target.get("pids") or [pid]
    cpu_before, started = tree_cpu(pids), time.monotonic()
    database_before = cpu_seconds(database_pid) if database_pid else None
    switches_before = preemptions(pids)
    statements_before = database_statements() if target.get("counts_statements") else None
    try:
        result = run_wrk(target["url"], target["script"], seconds, args.connections, workdir, tag)
    finally:
        if recorder is not None:
            recorder.wait(seconds + 30)
    cpu_after = tree_cpu(pids)
    result["elapsed"] = time.monotonic() - started
    switches_after = preemptions(pids)
    result["preemptions"] = (switches_after - switches_before
                             if switches_before is not None and switches_after is not None else None)
    statements_after = database_statements() if statements_before is not None else None
    result["statements"] = statements_after - statements_before if statements_after is not None else None
    by_process = ({p: cpu_after[p] - cpu_before[p] for p in pids}
                  if cpu_before is not None and cpu_after is not None and not spy else None)
    result["cpu_by_process"] = by_process
    result["cpu"] = sum(by_process.values()) if by_process is not None else None
    database_after = cpu_seconds(database_pid) if database_before is not None else None
    result["database_cpu"] = database_after - database_before if database_after is not None else None
    return result


def start_hello(res: Resources, workdir: str) -> dict:
    """The hello-world server, answering: its target (url, wrk script, pid, process)."""
    port = free_port()
    log_path = os.path.join(workdir, "hello.log")
    proc = res.process([sys.executable, "-c", HELLO_SERVER, str(port)], log_path)
    wait_http(f"http://127.0.0.1:{port}/", proc, log_path, timeout=30)
    return {"url": f"http://127.0.0.1:{port}/", "script": LUA_DONE, "pid": proc.pid, "proc": proc}


def id_number(n: int) -> str:
    from services.people import identity

    first17 = f"110101{19700101 + n % 28 + (n // 28 % 12) * 100:08d}{n % 1000:03d}"
    return first17 + identity.id_check_digit(first17)


def prepare(base: str, database_url: str, people: int) -> tuple[str, list[str]]:
    """The compound place (through the services) and `people` signed-in people whose first scan
    (with the profile) bound them to it (through the API). Returns (place token, bearer tokens)."""
    import requests

    from models import db as database
    from models.regions import Region
    from models import cipher
    from services.venues import places

    cipher.configure(cipher.DataCipher.from_setting(BENCH_DATA_KEY))
    database.bind(database_url, 2)
    try:
        with database.db.connection_context():
            region = Region.get(Region.code == COMPOUND_REGION)
            _, code = places.create_place(place_type_code="compound", name=region.name, region=region)
    finally:
        database.db.close_all() if hasattr(database.db.obj, "close_all") else database.db.close()
    session = requests.Session()
    tokens = []
    for n in range(people):
        login = session.post(f"{base}/api/v1/auth/dev/login", json={"openid": f"bench-{n:05d}"}, timeout=10)
        if login.status_code != 200:
            raise BenchError(f"authDevLogin failed: {login.status_code} {login.text[:300]}")
        token = login.json()["data"]["token"]
        profile = {"name": "压测人员", "id_number": id_number(n), "phone": f"138{n:08d}", "address": "经八路5号院",
                   "building": "1", "room": "101", "resident_category": "owner"}
        first = session.post(f"{base}/api/v1/scans", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                             json={"code": code.token, "flow": "resident", "request_id": f"prep-{n:08d}",
                                   "profile": profile})
        if first.status_code != 200:
            raise BenchError(f"first scan failed: {first.status_code} {first.text[:300]}")
        tokens.append(token)
    return code.token, tokens


def count_entries(database_url: str) -> int:
    from models import db as database
    from models.places import EntryRecord

    database.bind(database_url, 2)
    try:
        with database.db.connection_context():
            return EntryRecord.select().count()
    finally:
        database.db.close_all() if hasattr(database.db.obj, "close_all") else database.db.close()


def start_scan(res: Resources, backend: str, args, workdir: str, shedding: bool = False, processes: int = 1) -> dict:
    """The real server on a new database of `backend`, with the data prepared: its target.
    `shedding`: with the capacity configured (else none: every request is admitted);
    `processes`: served by that many processes sharing the port."""
    if backend == "sqlite":
        database_url = f"sqlite:///{os.path.join(workdir, 'bench.db')}"
    else:
        name = create_mysql_database()
        res.undo.append(("mysql", name))
        database_url = f"{MYSQL_URL.rstrip('/')}/{name}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "ALIPAY_"))}
    env.update({"DATABASE_URL": database_url, "RUN_JOBS": "0", "LOG_LEVEL": "WARNING", "APP_ENV": "development",
                "DATA_KEY": BENCH_DATA_KEY, "SECRET_KEY": BENCH_SECRET, "HOST": "127.0.0.1", "PORT": str(port),
                "PYTHONUNBUFFERED": "1"})
    if not shedding:
        env.update(NO_SHEDDING)
    log_path = os.path.join(workdir, f"server-{backend}-{processes}.log")
    command = [sys.executable, os.path.join(args.app_dir, "server.py"), "--demo", "--port", str(port)]
    proc = res.process(command + (["--processes", str(processes)] if processes > 1 else []),
                       log_path, cwd=args.app_dir, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc, log_path)
    pids = [proc.pid]
    if processes > 1:
        deadline = time.monotonic() + 30
        while len(pids) < processes + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = process_tree(proc.pid)
        if len(pids) < processes + 1:
            raise BenchError(f"{processes} processes did not start:\n{tail(log_path)}")
    code, tokens = prepare(base, database_url, args.people)
    script = LUA_SCAN % {"tokens": ", ".join(f'"{t}"' for t in tokens), "code": code} + LUA_DONE
    return {"url": f"{base}/api/v1/scans", "script": script, "code": code, "tokens": tokens, "port": port,
            "pid": proc.pid, "pids": pids, "proc": proc, "log": log_path,
            "database_url": database_url, "database_pid": local_database_pid() if backend == "mysql" else None}


def measure_pair(res: Resources, backend: str, args, workdir: str) -> tuple[dict, dict]:
    """The hello-world and the scan of `backend`, both servers up, each warmed up, then measured
    in turn `--rounds` times (`--duration` seconds each in all): a machine that slows down or
    speeds up meanwhile weighs on both alike. Returns (hello-world, scan) figures."""
    hello = start_hello(res, workdir)
    scan = start_scan(res, backend, args, workdir)
    try:
        warm = {name: run_wrk(target["url"], target["script"], args.warmup, args.connections, workdir, f"w{name}")
                for name, target in (("hello", hello), ("scan", scan))}
        seconds = args.duration / args.rounds
        runs: dict = {"hello": [], "scan": []}
        for round_ in range(args.rounds):
            runs["hello"].append(load(hello, seconds, args, workdir, f"mhello{round_}"))
            spy = f"{args.py_spy}-{backend}-{round_}.txt" if args.py_spy else None
            runs["scan"].append(load(scan, seconds, args, workdir, f"m{backend}{round_}", spy))
            if scan["proc"].poll() is not None:
                raise BenchError(f"server died during the run:\n{tail(scan['log'])}")
    finally:
        res.stop(hello["proc"])
        res.stop(scan["proc"])
    if args.py_spy:
        join_files([f"{args.py_spy}-{backend}-{r}.txt" for r in range(args.rounds)], f"{args.py_spy}-{backend}.txt")
    result = combined(runs["scan"], warm["scan"])
    result["stored"] = count_entries(scan["database_url"]) - args.people  # less the preparation scans
    result["acknowledged"] = result["warmup_ok"] + result["ok"]
    complaints = [line for line in tail(scan["log"], 200).splitlines() if "ERROR" in line or "Traceback" in line]
    result["server_errors_logged"] = len(complaints)
    return combined(runs["hello"], warm["hello"]), result


def join_files(parts: list[str], path: str) -> None:
    """Concatenate the parts into `path` (collapsed stacks add up) and remove them."""
    with open(path, "w", encoding="utf-8") as joined:
        for part in parts:
            if os.path.exists(part):
                with open(part, encoding="utf-8") as f:
                    joined.write(f.read())
                os.remove(part)


def report(rows: list[tuple[str, dict, dict | None, str | None]], args) -> bool:
    """Print the figures and the goals; True when every goal is met."""
    print()
    print(f"scanPlace under load: {args.connections} connections, {args.duration:g} s in {args.rounds} rounds "
          f"after {args.warmup:g} s of warm-up, {args.people} people, wrk -t1, {os.cpu_count()} cores")
    print(f"{'target':<26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}{'ratio':>8}"
          f"{'server CPU':>12}{'MariaDB CPU':>13}")
    for label, r, hello, _ in rows:
        ratio = f"{r['rps'] / hello['rps']:.2f}" if hello else "1.00"
        cpu = f"{r['cpu']:.0%}" if r["cpu"] is not None else "-"
        database_cpu = f"{r['database_cpu']:.0%}" if r.get("database_cpu") is not None else "-"
        print(f"{label:<26}{r['rps']:>10.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}"
              f"{r['errors']:>8}{ratio:>8}{cpu:>12}{database_cpu:>13}")
        if hello:
            print(f"{'  by round':<26}" + " ".join(f"{s / h:.2f}" for s, h in zip(r["rounds"], hello["rounds"])))
    print()
    all_met = True

    def goal(text: str, met: bool) -> None:
        nonlocal all_met
        all_met &= met
        print(f"  {'MET    ' if met else 'NOT MET'}  {text}")

    for label, r, hello, backend in rows:
        if backend is None:
            continue
        ratio = r["rps"] / hello["rps"]
        goal(f"{label}: ratio {ratio:.2f} >= {GOALS[backend]:.2f}", ratio >= GOALS[backend])
        goal(f"{label}: p99 {r['p99_ms']:.1f} ms <= {GOAL_P99_MS:.0f} ms", r["p99_ms"] <= GOAL_P99_MS)
        goal(f"{label}: errors {r['errors']} (non-2xx {r['non_2xx']}, socket {r['socket_errors']}; "
             f"warm-up {r['warmup_errors']}) == 0", r["errors"] == 0 and r["warmup_errors"] == 0)
        goal(f"{label}: entry records stored {r['stored']} >= scans acknowledged {r['acknowledged']} "
             f"(none lost)", r["stored"] >= r["acknowledged"])
        if r["server_errors_logged"]:
            print(f"           ({r['server_errors_logged']} ERROR lines in the server log)")
    return all_met


def measure_processes(res: Resources, args, workdir: str) -> tuple[dict, dict]:
    """The server with one process and with `--processes` processes, both on MariaDB and up side
    by side, warmed up, then measured in turn (the order alternating by round). Returns their
    figures, each with its requests per CPU-second of the server's processes."""
    targets = {"one": start_scan(res, "mysql", args, workdir, processes=1),
               "many": start_scan(res, "mysql", args, workdir, processes=args.processes)}
    for target in targets.values():
        target["counts_statements"] = True  # measured in turn: MariaDB answers one of them at a time
    try:
        warm = {name: run_wrk(target["url"], target["script"], args.warmup, args.connections, workdir, f"w{name}")
                for name, target in targets.items()}
        seconds = args.duration / args.rounds
        runs: dict = {"one": [], "many": []}
        for round_ in range(args.rounds):
            for name in ("one", "many") if round_ % 2 == 0 else ("many", "one"):
                runs[name].append(load(targets[name], seconds, args, workdir, f"m{name}{round_}"))
                if targets[name]["proc"].poll() is not None:
                    raise BenchError(f"server died during the run:\n{tail(targets[name]['log'])}")
    finally:
        for target in targets.values():
            res.stop(target["proc"])
    results = {}
    for name, target in targets.items():
        result = combined(runs[name], warm[name])
        result["stored"] = count_entries(target["database_url"]) - args.people
        result["acknowledged"] = result["warmup_ok"] + result["ok"]
        result["per_cpu_second"] = result["ok"] / result["cpu_seconds"] if result.get("cpu_seconds") else None
        result["pids"] = target["pids"]
        results[name] = result
    return results["one"], results["many"]


def report_processes(one: dict, many: dict, args, load_before: tuple, load_after: tuple) -> bool:
    """Print both runs (each process's CPU, MariaDB's) and the scaling goals; True when all are met."""
    print()
    print(f"scanPlace on MariaDB, 1 process beside {args.processes} sharing the port (no nginx): "
          f"{args.connections} connections, {args.duration:g} s each in {args.rounds} rounds after {args.warmup:g} s "
          f"of warm-up, {args.people} people, wrk -t1, {os.cpu_count()} cores")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"{'target':<16}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'errors':>8}{'server CPU':>12}"
          f"{'MariaDB CPU':>13}{'req/CPU-s':>11}{'preempted':>11}{'SQL':>7}  CPU by process (100% = one core)")
    for label, r in (("1 process", one), (f"{args.processes} processes", many)):
        by = r.get("cpu_by_process") or {}
        parts = ", ".join(f"{'parent ' if pid == r['pids'][0] and len(r['pids']) > 1 else ''}{pid}: {cpu:.0%}"
                          for pid, cpu in by.items())
        cpu = f"{r['cpu']:.0%}" if r["cpu"] is not None else "-"
        database_cpu = f"{r['database_cpu']:.0%}" if r.get("database_cpu") is not None else "-"
        per_cpu = f"{r['per_cpu_second']:.0f}" if r.get("per_cpu_second") else "-"
        preempted = f"{r['preemptions']:.2f}" if r.get("preemptions") is not None else "-"
        statements = f"{r['statements']:.2f}" if r.get("statements") is not None else "-"
        print(f"{label:<16}{r['rps']:>9.0f}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['errors']:>8}"
              f"{cpu:>12}{database_cpu:>13}{per_cpu:>11}{preempted:>11}{statements:>7}  {parts}")
        print(f"{'  by round':<16}" + " ".join(f"{x:.0f}" for x in r["rounds"]))
    print("preempted: times a thread of the server was taken off a core while it could still run, per request "
          "(its caches are then cold when it comes back);\nSQL: statements MariaDB answered per request (fewer "
          "scans a batch of reads or of group commit: more of them)")
    print()
    all_met = True

    def goal(text: str, met: bool) -> None:
        nonlocal all_met
        all_met &= met
        print(f"  {'MET    ' if met else 'NOT MET'}  {text}")

    if one.get("per_cpu_second") and many.get("per_cpu_second"):
        ratio = many["per_cpu_second"] / one["per_cpu_second"]
        goal(f"req per CPU-second of the server: {args.processes} processes {many['per_cpu_second']:.0f} / "
             f"1 process {one['per_cpu_second']:.0f} = {ratio:.2f} >= {GOAL_PER_CPU_RATIO}", ratio >= GOAL_PER_CPU_RATIO)
    else:
        goal("req per CPU-second: the CPU of the server's processes could not be read", False)
    goal(f"total rate: {args.processes} processes {many['rps']:.0f} req/s >= 1 process {one['rps']:.0f} req/s",
         many["rps"] >= one["rps"])
    goal(f"p99 with {args.processes} processes {many['p99_ms']:.1f} ms <= {GOAL_P99_MS:.0f} ms",
         many["p99_ms"] <= GOAL_P99_MS)
    for label, r in (("1 process", one), (f"{args.processes} processes", many)):
        goal(f"{label}: errors {r['errors']} (warm-up {r['warmup_errors']}) == 0; entry records stored "
             f"{r['stored']} >= scans acknowledged {r['acknowledged']}",
             r["errors"] == 0 and r["warmup_errors"] == 0 and r["stored"] >= r["acknowledged"])
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--duration", type=float, default=12.0, help="measured seconds per target (default 12)")
    parser.add_argument("--rounds", type=int, default=6,
                        help="measured runs per target, taken in turn with the other target's (default 6)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--people", type=int, default=200, help="people whose tokens the load rotates over")
    parser.add_argument("--app-dir", default=REPO, help="the checkout whose server.py is measured")
    parser.add_argument("--py-spy", metavar="PREFIX", help="py-spy the server into PREFIX-<backend>.txt")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the temporary directory")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="measure N processes sharing the port beside one process, on MariaDB")
    args = parser.parse_args(argv)
    if args.processes is not None and args.processes < 2:
        parser.error("--processes: at least 2 (it is compared with one process)")
    if args.rounds < 1 or args.duration / args.rounds < 1:
        parser.error("--rounds: at least 1, and at least 1 s of --duration per round")
    args.app_dir = os.path.abspath(args.app_dir)
    backends = ["sqlite", "mysql"] if args.backend == "both" else [args.backend]

    if args.processes:
        def measure_scaling(res: Resources, workdir: str) -> None:
            load_before = os.getloadavg()
            one, many = measure_processes(res, args, workdir)
            met = report_processes(one, many, args, load_before, os.getloadavg())
            print("\nall goals met" if met else "\nsome goals are not met")

        return run_bench(measure_scaling, args.keep, "scan_bench_")

    def measure(res: Resources, workdir: str) -> None:
        rows = []
        for backend in backends:
            hello, result = measure_pair(res, backend, args, workdir)
            rows.append((f"hello-world (for {backend})", hello, None, None))
            rows.append((f"scan ({backend})", result, hello, backend))
            print(f"scan ({backend}): {result['rps']:.0f} req/s, hello-world {hello['rps']:.0f} req/s", flush=True)
        met = report(rows, args)
        print("\nall goals met" if met else "\nsome goals are not met")

    return run_bench(measure, args.keep, "scan_bench_")


def run_bench(measure, keep: bool, prefix: str) -> int:
    """Run `measure(resources, workdir)` with wrk at hand, a temporary directory and everything it
    starts or makes undone afterwards (also on SIGTERM; not the directory nor the databases with
    `keep`). Returns the exit status: 0 when done, 2 when the run could not be done."""
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    res = Resources(keep)
    workdir = tempfile.mkdtemp(prefix=prefix)
    res.undo.append(("dir", workdir))
    try:
        measure(res, workdir)
        if keep:
            print(f"kept: {workdir}")
        return 0
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    finally:
        res.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
