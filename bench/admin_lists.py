"""Benchmark: the venue statistics page and the entry-record list with 10,000 and with 10,000,000
entry rows, and the scan rate while the hourly statistics job and a full recolour run.

What is measured, per backend, on one throw-away database (MariaDB: `bench_<random>`, created and
dropped here; SQLite: a file in a temporary directory, removed here):

1. Load: the colour bench's people and list entries (--people, --facts: the population a full
   recolour works through), 200 activated places of each venue type spread over the districts,
   1,000 registered people with encrypted names and phones, and a venue admin (医疗机构管理员,
   city-wide). Then --small entry rows (default 10,000), generated straight into `entry_record`
   with one INSERT ... SELECT per chunk over a numbers sequence, spread over the last 28 days and
   over every place, 2% red, 1% orange, 4% yellow; and the hourly job's first run (the backfill).
2. Pages at the small size: the real server (the venue routes included), signed in as the venue
   admin, loaded by wrk (--connections, default 8) for --duration seconds after a warm-up:
     statistics  GET /admin/r/venue_medical_stats/    cards, rows, the search's sums
     entries     GET /admin/r/venue_medical_entries/  医疗机构人员进出列表, newest first
3. The same after growing the table to --large rows (default 10,000,000; --sqlite-large for
   SQLite, default the same) and running the hourly job again (its backfill time is printed).
   Goal: at the large size each page keeps at least 50% of its requests/s at the small size.
4. Scans under jobs: scan_throughput's hot path (200 people, one compound, wrk with 32
   connections) idle, then while one job-runner process (like `python -m jobs`: two threads)
   runs the hourly statistics job and a full colour recompute over and over for the whole
   measurement (each hourly run finds its newest hour missing and writes it again, as the real
   :02 run writes the hour that just ended). Goal: at least 70% of the idle scan rate. The runner is measured at normal
   priority and at nice 19 (--nice; with autogroup scheduling its session's nice too), as a
   deployment would run `python -m jobs` (systemd: Nice=19 or a low CPUWeight); the database
   server works for it at normal priority either way. Idle and busy runs alternate, twice.
   The jobs pace themselves as deployed (jobs/pacing.py); the loading steps' runs (the backfill,
   the first recolour) are unpaced, nothing running beside them. --skip-pages measures the
   scans only (steps 2 and 3's pages are left out, the table is still grown).

Run it from the repository root (wrk: apt-get install -y wrk):

    .venv/bin/python bench/admin_lists.py                                   # both, full size
    .venv/bin/python bench/admin_lists.py --backend mysql
    .venv/bin/python bench/admin_lists.py --backend sqlite --sqlite-large 1000000
    .venv/bin/python bench/admin_lists.py --small 2000 --large 50000 --people 20000 --duration 3   # a quick look

Everything the script starts is stopped and the databases and directories it made are removed,
even when it fails or is interrupted (unless --keep).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

import colour_recompute as colour_bench  # noqa: E402  (bench/colour_recompute.py: the population)
import scan_throughput as scan_bench  # noqa: E402  (bench/scan_throughput.py: wrk, servers, scans)

from models import db as database  # noqa: E402
from models.fields import utcnow  # noqa: E402

PASSWORD = "Bench-admin-2024"
ADMIN_PHONE = "13899990001"
CAPTCHA = "ABCD"
PLACES_PER_TYPE = 200
SCANNERS = 1000
PAGE_GOAL, SCAN_GOAL = 0.50, 0.70
SPAN_DAYS = 28
CHUNK = 200_000  # rows per INSERT ... SELECT
PAGES = {"statistics": "/admin/r/venue_medical_stats/", "entries": "/admin/r/venue_medical_entries/"}

SERVER = """
import sys
sys.path.insert(0, {repo!r})
import tornado.httpserver, tornado.ioloop
from config import Config
from server import http_server_options, make_app, setup
from admin import venue_pages
config = Config.from_env()
setup(config)
app = make_app(config, extra_routes=venue_pages.routes(config))
tornado.httpserver.HTTPServer(app, **http_server_options(config)).listen(config.port, config.host)
print("ready", flush=True)
tornado.ioloop.IOLoop.current().start()
"""

JOB_RUNNER = """
import os, sys, threading, time
sys.path.insert(0, {repo!r})
if int(sys.argv[2]):
    os.nice(int(sys.argv[2]))
    try:  # with autogroup scheduling, nice only ranks processes of one session: rank the session too
        with open("/proc/self/autogroup", "w") as f:
            f.write(sys.argv[2])
    except OSError:
        pass
from config import Config
from server import setup
setup(Config.from_env())
from jobs import colour_recompute, hourly_stats
from models.db import db
from models.statistics import HourlyPlaceStat
from services.back_office import statistics
stop_at = time.time() + float(sys.argv[1])


def hourly():
    # Every run has a new hour to write, as the real :02 run has: the newest one is taken away first.
    newest = statistics.hour_floor(statistics.utcnow()) - statistics.HOUR
    with db.connection_context():
        HourlyPlaceStat.delete().where(HourlyPlaceStat.hour == newest).execute()
    return hourly_stats.run()

runs = {{"hourly_stats": [], "colour_recompute": []}}
failures = {{"hourly_stats": [], "colour_recompute": []}}

def loop(name, job):
    while time.time() < stop_at:
        started = time.perf_counter()
        try:
            job()
        except Exception as exc:  # counted and shown: a failed run is part of the result
            failures[name].append(type(exc).__name__ + ": " + str(exc)[:80])
        runs[name].append(round(time.perf_counter() - started, 2))

chosen = sys.argv[3].split(",")
threads = [threading.Thread(target=loop, args=(n, j)) for n, j in
           (("hourly_stats", hourly), ("colour_recompute", colour_recompute.run)) if n in chosen]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("RUNS", runs, "FAILED", failures, flush=True)
"""

LUA_COOKIE = 'wrk.headers["Cookie"] = [[%(cookie)s]]\n'


def say(text: str) -> None:
    print(text, flush=True)


# --- loading -------------------------------------------------------------------------------------

def load_base(args) -> dict:
    """The population, the venue places, the registered scanners, the venue admin."""
    from models.places import Place
    from models.regions import Region
    from services.accounts import admin_auth
    from services.back_office import venue_admin
    from services.common.timefmt import china_today

    started = time.perf_counter()
    colour_bench.load(args.people, args.facts, args.compounds, 7, china_today())
    rng = random.Random(7)
    districts = [r.id for r in Region.select(Region.id).where(Region.level == "district")]
    rows = []
    for kind in venue_admin.venue_types():
        for i in range(PLACES_PER_TYPE):
            phone = f"139{len(rows):08d}"
            details = {f.name: f"{kind.label}{i}" for f in kind.activation_form if f.kind == "text"}
            details.update(contact_phone=phone, contact_name="联系人")
            rows.append({"place_type": kind.code, "name": f"{kind.label}{i:03d}", "region": rng.choice(districts),
                         "contact_name": "联系人", "contact_phone": phone,
                         "contact_phone_bidx": f"{len(rows):032x}", "details": json.dumps(details, ensure_ascii=False),
                         "status": "active", "activated_at": utcnow() - dt.timedelta(days=rng.randrange(60))})
    with database.db.atomic():
        for start in range(0, len(rows), 500):
            Place.insert_many(rows[start:start + 500]).execute()
    codes = [k.code for k in venue_admin.venue_types()]
    place_ids = [p for (p,) in Place.select(Place.id).where(Place.place_type.in_(codes)).order_by(Place.id).tuples()]
    person_ids = load_scanners()
    admin_auth.create_admin(None, phone=ADMIN_PHONE, name="医疗机构管理员", role=venue_admin.role_code(
        venue_admin.PLACE_TYPES["medical"]), region_code="410100", send_sms=False, password=PASSWORD)
    return {"place_ids": place_ids, "person_ids": person_ids, "seconds": time.perf_counter() - started}


def load_scanners() -> list[int]:
    """SCANNERS registered people with encrypted ID numbers and phones (what the list shows)."""
    from models.people import Person
    from services.people import identity

    ids = []
    with database.db.atomic():
        for n in range(SCANNERS):
            first17 = f"320102{19800101 + n % 28 + (n // 28 % 12) * 100:08d}{n % 1000:03d}"
            person = Person(name=f"扫码人{n}", relation="self")
            person.set_id_number(first17 + identity.id_check_digit(first17))
            person.set_phone(f"137{n:08d}")
            person.save()
            ids.append(person.id)
    return ids


def contiguous(ids: list[int]) -> tuple[int, int]:
    """(first id, count) of a run of consecutive ids (the generated rows index into it)."""
    assert ids == list(range(ids[0], ids[0] + len(ids))), "ids are not consecutive"
    return ids[0], len(ids)


def add_entries(first_k: int, end_k: int, base: dict) -> float:
    """Entry rows k in [first_k, end_k), straight into the table, spread over the last 28 days
    (older rows first, as scans arrive), every place and scanner; returns the seconds taken."""
    p0, places = contiguous(base["place_ids"])
    q0, people = contiguous(base["person_ids"])
    count = end_k - first_k
    span = SPAN_DAYS * 86400 - 600
    start = (utcnow() - dt.timedelta(days=SPAN_DAYS)).replace(microsecond=0)
    colour = ("CASE WHEN k % 100 < 2 THEN 'red' WHEN k % 100 < 3 THEN 'orange' WHEN k % 100 < 7 THEN 'yellow' "
              "ELSE 'green' END")
    values = (f"{p0} + (k * 7919) % {places}, {q0} + (k * 104729) % {people}, 'customer', 'self', {colour}, "
              f"k % 100 >= 7, '{{}}', '{{}}'")
    columns = "request_id, place_id, person_id, flow, source, colour, admitted, form, verdict, created_at"
    started = time.perf_counter()
    mysql = database.is_mysql()
    if mysql:
        database.db.execute_sql("CREATE TABLE IF NOT EXISTS bench_seq (n INT PRIMARY KEY)")
        if not database.db.execute_sql("SELECT COUNT(*) FROM bench_seq").fetchone()[0]:
            database.db.execute_sql("INSERT INTO bench_seq VALUES " + ",".join(f"({i})" for i in range(1000)))
    with colour_bench.loading_mode():
        if not mysql:
            database.db.execute_sql("PRAGMA cache_size = -1000000")
        for low in range(first_k, end_k, CHUNK):
            high = min(end_k, low + CHUNK)
            if mysql:  # pymysql formats the query with %: the modulo signs are doubled
                sql = (f"INSERT INTO entry_record ({columns}) SELECT CONCAT('bench-', k), {values.replace('%', '%%')}, "
                       f"DATE_ADD(%s, INTERVAL FLOOR((k - {first_k}) * {span} / {count}) SECOND) "
                       f"FROM (SELECT {low} + a.n * 1000 + b.n AS k FROM bench_seq a CROSS JOIN bench_seq b "
                       f"WHERE a.n < {-(-(high - low) // 1000)}) t WHERE k < {high}")
            else:
                sql = (f"WITH RECURSIVE seq(k) AS (SELECT {low} UNION ALL SELECT k + 1 FROM seq WHERE k + 1 < {high}) "
                       f"INSERT INTO entry_record ({columns}) SELECT 'bench-' || k, {values}, "
                       f"datetime(?, '+' || ((k - {first_k}) * {span} / {count}) || ' seconds') FROM seq")
            with database.db.atomic():
                database.db.execute_sql(sql, (start,) if mysql else (str(start),))
    if mysql:
        database.db.execute_sql("ANALYZE TABLE entry_record").fetchall()
    else:
        database.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def settle(limit: float = 60.0) -> float:
    """Wait (up to `limit` s) until InnoDB has purged its undo log and flushed most dirty pages
    after a load, so that this background work is not charged to the next measurement; on
    SQLite, checkpoint the WAL. Returns the seconds waited."""
    import re

    started = time.monotonic()
    if not database.is_mysql():
        database.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.monotonic() - started

    def history() -> int:
        status = database.db.execute_sql("SHOW ENGINE INNODB STATUS").fetchone()[2]
        found = re.search(r"History list length (\d+)", status)
        return int(found.group(1)) if found else 0

    def dirty() -> int:
        return int(database.db.execute_sql("SELECT variable_value FROM information_schema.global_status "
                                           "WHERE variable_name = 'INNODB_BUFFER_POOL_PAGES_DIRTY'").fetchone()[0])

    deadline = started + limit
    while (history() > 1000 or dirty() > 500) and time.monotonic() < deadline:
        time.sleep(1.0)
    return time.monotonic() - started


def backfill() -> tuple[float, dict]:
    """The hourly job's run over every hour with new entries (unpaced: nothing runs beside it)."""
    from jobs import hourly_stats

    started = time.perf_counter()
    result = hourly_stats.run(pace=False)
    return time.perf_counter() - started, result


# --- the server and the pages --------------------------------------------------------------------

def server_env(database_url: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "ALIPAY_"))}
    env.update({"DATABASE_URL": database_url, "RUN_JOBS": "0", "LOG_LEVEL": "WARNING", "APP_ENV": "development",
                "DATA_KEY": scan_bench.BENCH_DATA_KEY, "SECRET_KEY": scan_bench.BENCH_SECRET, "HOST": "127.0.0.1",
                "PORT": str(port), "CAPTCHA_FIXED_ANSWER": CAPTCHA, "PYTHONUNBUFFERED": "1",
                **scan_bench.NO_SHEDDING})
    return env


def start_server(res, database_url: str, workdir: str, tag: str):
    port = scan_bench.free_port()
    log_path = os.path.join(workdir, f"server-{tag}.log")
    proc = res.process([sys.executable, "-c", SERVER.format(repo=REPO)], log_path, cwd=REPO,
                       env=server_env(database_url, port))
    base = f"http://127.0.0.1:{port}"
    scan_bench.wait_http(f"{base}/healthz", proc, log_path)
    return proc, base


def sign_in(base: str) -> str:
    """The venue admin's session cookie, through the real sign-in (fixed captcha)."""
    import requests

    http = requests.Session()
    http.get(f"{base}/admin/login", timeout=10)
    http.get(f"{base}/admin/captcha", timeout=10)
    answer = http.post(f"{base}/admin/login", timeout=10, allow_redirects=False,
                       data={"_xsrf": http.cookies["_xsrf"], "phone": ADMIN_PHONE, "password": PASSWORD,
                             "captcha": CAPTCHA})
    if answer.status_code != 302:
        raise scan_bench.BenchError(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
    cookie = f"admin_session={http.cookies['admin_session']}"
    for path in PAGES.values():
        page = http.get(base + path, headers={"Cookie": cookie}, timeout=60)
        if page.status_code != 200:
            raise scan_bench.BenchError(f"{path}: {page.status_code} {page.text[:300]}")
    return cookie


def measure(url: str, script: str, seconds: float, warmup: float, connections: int, workdir: str, tag: str) -> dict:
    """A warm-up (thrown away), then the measured wrk run."""
    warm = scan_bench.run_wrk(url, script, warmup, connections, workdir, f"w{tag}")
    result = scan_bench.run_wrk(url, script, seconds, connections, workdir, f"m{tag}")
    result["warmup_errors"] = warm["errors"]
    return result


def measure_pages(base: str, cookie: str, args, workdir: str, tag: str) -> dict:
    script = LUA_COOKIE % {"cookie": cookie} + scan_bench.LUA_DONE
    return {name: measure(base + path, script, args.duration, args.warmup, args.connections, workdir, f"{tag}-{name}")
            for name, path in PAGES.items()}


def measure_scans(res, base: str, database_url: str, args, workdir: str, tag: str) -> dict:
    """Idle scan rate and the rate while a job runner loops the hourly job and a full recolour,
    twice each, alternated (idle, busy, idle, busy), so that a change in the machine's load
    meanwhile weighs on both sides."""
    code, tokens = scan_bench.prepare(base, database_url, 200)
    database.bind(database_url, 2)  # prepare() left the proxy on its own binding
    from jobs import colour_recompute

    # The runner's recolours below are the steady, hourly kind: the colours were computed once.
    recolour_first = time.perf_counter()
    colour_recompute.run(pace=False)  # alone: nothing to make room for
    recolour_first = time.perf_counter() - recolour_first
    database.db.close()
    script = scan_bench.LUA_SCAN % {"tokens": ", ".join(f'"{t}"' for t in tokens), "code": code} + scan_bench.LUA_DONE
    env = server_env(database_url, 0)
    levels = [int(n) for n in str(args.nice).split(",")]
    idle, busy, runs = [], {n: [] for n in levels}, {n: [] for n in levels}
    for round_ in range(2):
        idle.append(measure(f"{base}/api/v1/scans", script, args.duration, args.warmup, 32, workdir,
                            f"{tag}-idle{round_}"))
        for level in levels:
            log_path = os.path.join(workdir, f"jobs-{tag}-{round_}-{level}.log")
            runner = res.process([sys.executable, "-c", JOB_RUNNER.format(repo=REPO),
                                  str(args.warmup + args.duration + 2), str(level), args.jobs], log_path, cwd=REPO,
                                 env=env)
            time.sleep(1.0)  # the runner has imported and started its first runs
            busy[level].append(measure(f"{base}/api/v1/scans", script, args.duration, args.warmup, 32, workdir,
                                       f"{tag}-busy{round_}-{level}"))
            runner.wait(600)
            out = scan_bench.tail(log_path, 5).strip()
            runs[level].append(out.splitlines()[-1] if out else "(no output)")
    return {"idle": _combined(idle), "busy": {n: _combined(b) for n, b in busy.items()}, "runs": runs,
            "recolour_first_s": recolour_first}


def _combined(results: list[dict]) -> dict:
    """Several wrk runs as one: requests over time, the worst p99, the errors added up."""
    seconds = sum(r["requests"] / r["rps"] for r in results if r["rps"])
    return {"rps": sum(r["requests"] for r in results) / seconds if seconds else 0.0,
            "p99_ms": max(r["p99_ms"] for r in results), "errors": sum(r["errors"] for r in results),
            "each": [round(r["rps"]) for r in results]}


def stop_server(res, proc) -> None:
    res.stop(proc)


# --- one backend ---------------------------------------------------------------------------------

def run_backend(backend: str, args, res, workdir: str) -> dict:
    if backend == "sqlite":
        database_url = f"sqlite:///{os.path.join(workdir, 'bench.db')}"
        large = args.sqlite_large
    else:
        name = scan_bench.create_mysql_database()
        res.undo.append(("mysql", name))
        database_url = f"{scan_bench.MYSQL_URL.rstrip('/')}/{name}"
        large = args.large
    from models import cipher

    cipher.configure(cipher.DataCipher.from_setting(scan_bench.BENCH_DATA_KEY))
    database.bind(database_url, 2)
    database.db.connect(reuse_if_open=True)
    out = {"backend": backend, "small": args.small, "large": large}
    say(f"[{backend}] loading {args.people:,} people, {args.facts:,} list entries, "
        f"{PLACES_PER_TYPE} places per venue type ...")
    base_data = load_base(args)
    say(f"[{backend}] loaded in {base_data['seconds']:.0f} s; {args.small:,} entry rows ...")
    out["load_small_s"] = add_entries(0, args.small, base_data)
    out["backfill_small_s"], out["backfill_small"] = backfill()
    database.db.connect(reuse_if_open=True)
    settle()  # the database's background work after the load is not the pages' cost
    database.db.close()
    if not args.skip_pages:
        proc, base = start_server(res, database_url, workdir, f"{backend}-small")
        cookie = sign_in(base)
        out["pages_small"] = measure_pages(base, cookie, args, workdir, f"{backend}-small")
        stop_server(res, proc)
        say(f"[{backend}] small: " + ", ".join(f"{k} {v['rps']:.0f} req/s" for k, v in out["pages_small"].items()))

    say(f"[{backend}] growing entry_record to {large:,} rows ...")
    database.db.connect(reuse_if_open=True)
    out["load_large_s"] = add_entries(args.small, large, base_data)
    say(f"[{backend}] {large - args.small:,} rows in {out['load_large_s']:.0f} s; hourly job ...")
    out["backfill_large_s"], out["backfill_large"] = backfill()
    out["entry_rows"] = database.db.execute_sql("SELECT COUNT(*) FROM entry_record").fetchone()[0]
    out["stat_rows"] = database.db.execute_sql("SELECT COUNT(*) FROM hourly_place_stat").fetchone()[0]
    settle(limit=300)
    database.db.close()
    proc, base = start_server(res, database_url, workdir, f"{backend}-large")
    try:
        if not args.skip_pages:
            cookie = sign_in(base)
            out["pages_large"] = measure_pages(base, cookie, args, workdir, f"{backend}-large")
            say(f"[{backend}] large: " + ", ".join(f"{k} {v['rps']:.0f} req/s" for k, v in out["pages_large"].items()))
        if not args.skip_scans:
            say(f"[{backend}] scans idle, then under the jobs ...")
            out["scans"] = measure_scans(res, base, database_url, args, workdir, backend)
    finally:
        stop_server(res, proc)
        if not database.db.is_closed():
            database.db.close()
        if hasattr(database.db.obj, "close_all"):
            database.db.obj.close_all()
    return out


def report_pages(r: dict, goal) -> None:
    """The pages' table and goals of one backend."""
    b = r["backend"]
    print(f"  {'page':<12}{'small req/s':>13}{'p99 ms':>9}{'large req/s':>13}{'p99 ms':>9}{'ratio':>8}")
    for name in PAGES:
        small, large = r["pages_small"][name], r["pages_large"][name]
        ratio = large["rps"] / small["rps"] if small["rps"] else 0
        print(f"  {name:<12}{small['rps']:>13.0f}{small['p99_ms']:>9.1f}{large['rps']:>13.0f}"
              f"{large['p99_ms']:>9.1f}{ratio:>8.2f}")
    for name in PAGES:
        small, large = r["pages_small"][name], r["pages_large"][name]
        ratio = large["rps"] / small["rps"] if small["rps"] else 0
        goal(f"{b} {name}: {r['entry_rows']:,} rows at {ratio:.2f} of the speed at {r['small']:,} (>= {PAGE_GOAL})",
             ratio >= PAGE_GOAL)
        goal(f"{b} {name}: no errors ({small['errors']} / {large['errors']})",
             small["errors"] == 0 and large["errors"] == 0)


def report(results: list[dict], args) -> bool:
    all_met = True

    def goal(text: str, met: bool) -> None:
        nonlocal all_met
        all_met &= met
        print(f"  {'MET    ' if met else 'NOT MET'}  {text}")

    print()
    print(f"admin pages: wrk -t1 -c{args.connections}, {args.duration:g} s after {args.warmup:g} s of warm-up, "
          f"{os.cpu_count()} cores; scans: 32 connections")
    for r in results:
        b = r["backend"]
        print(f"\n[{b}] entry rows: {r['small']:,} then {r['entry_rows']:,}; hourly statistics rows at the large size: "
              f"{r['stat_rows']:,}")
        print(f"  load {r['small']:,}: {r['load_small_s']:.1f} s; hourly job backfill: {r['backfill_small_s']:.1f} s")
        print(f"  load {r['large'] - r['small']:,} more: {r['load_large_s']:.0f} s; hourly job backfill: "
              f"{r['backfill_large_s']:.1f} s ({r['backfill_large']['hours']} hours)")
        if "pages_small" in r:
            report_pages(r, goal)
        if "scans" in r:
            idle = r["scans"]["idle"]
            print(f"  scans idle {idle['rps']:.0f} req/s {idle['each']} (p99 {idle['p99_ms']:.1f} ms); first full "
                  f"recolour (alone, before): {r['scans']['recolour_first_s']:.1f} s")
            for level, busy in r["scans"]["busy"].items():
                ratio = busy["rps"] / idle["rps"] if idle["rps"] else 0
                print(f"  scans with the jobs running, runner at nice {level}: {busy['rps']:.0f} req/s {busy['each']} "
                      f"(p99 {busy['p99_ms']:.1f} ms); ratio {ratio:.2f}")
                for line in r["scans"]["runs"][level]:
                    print(f"    job runs (seconds each): {line}")
                goal(f"{b} scans with the jobs (runner at nice {level}) at {ratio:.2f} of idle (>= {SCAN_GOAL})",
                     ratio >= SCAN_GOAL)
                goal(f"{b} scans: no errors ({idle['errors']} / {busy['errors']})",
                     idle["errors"] == 0 and busy["errors"] == 0)
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000, help="entry rows at the large size (MariaDB)")
    parser.add_argument("--sqlite-large", type=int, default=10_000_000, help="entry rows at the large size (SQLite)")
    parser.add_argument("--people", type=int, default=200_000, help="people the full recolour goes through")
    parser.add_argument("--facts", type=int, default=20_000, help="colour-rule list entries")
    parser.add_argument("--compounds", type=int, default=500)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--nice", default="0,19",
                        help="the job runner's nice level(s), e.g. 0 or 0,19 (each measured beside the idle rate)")
    parser.add_argument("--jobs", default="hourly_stats,colour_recompute",
                        help="the jobs the runner loops during the scans (to tell their shares apart)")
    parser.add_argument("--skip-scans", action="store_true")
    parser.add_argument("--skip-pages", action="store_true", help="measure the scans under the jobs only")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    res = scan_bench.Resources(args.keep)
    workdir = tempfile.mkdtemp(prefix="admin_lists_bench_")
    res.undo.append(("dir", workdir))
    results = []
    try:
        for backend in (["mysql", "sqlite"] if args.backend == "both" else [args.backend]):
            results.append(run_backend(backend, args, res, workdir))
        met = report(results, args)
        print("\nall goals met" if met else "\nsome goals are not met")
        return 0
    except scan_bench.BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    finally:
        res.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
