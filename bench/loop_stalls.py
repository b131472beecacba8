"""Benchmark: scans while the back office's heavy work runs, beside the same scans idle.

One real server (`server.py --demo`, its own throw-away database, RUN_JOBS=0; the scan data made
as bench/scan_throughput.py makes it, plus 50,000 entry records of the compound and a compound
admin). Two phases, each `--duration` seconds of `wrk` scans (`--connections`, default 32):

- idle: the scans alone;
- busy: the same scans while a 50,000-row Excel export of the entry records runs (from the
  back office, with its purpose form) and a burst of 40 wrong password logins (8 at a time).

In both phases a probe process asks `/api/v1/loop-probe` (no such route: the loop answers its 404
with no database, where /healthz would queue behind the DB pool's work) every 5 ms;
its slowest answer, less its median, is the longest the loop made a request wait: the loop's
longest stall as a client sees it. The probe has a process of its own: in this one, the busy
work's nine threads would hold its GIL and add their own waits to the figure.

Printed per phase: scan rate (requests/s), scan p99 (ms), the loop's longest stall (ms), errors.
Goals (busy phase): p99 at most 50 ms, and a scan rate at least 70% of the idle phase's.
The exit status is 0 when the run was done (whatever the goals say), 2 when it could not be.

    .venv/bin/python bench/loop_stalls.py                    # MariaDB (BENCH_MYSQL_URL)
    .venv/bin/python bench/loop_stalls.py --backend sqlite --duration 20
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.scan_throughput import (BENCH_DATA_KEY, COMPOUND_REGION, REPO as _REPO, BenchError,  # noqa: E402
                                   load, run_bench, start_scan)

CAPTCHA = "ABCD"  # the server is started with CAPTCHA_FIXED_ANSWER (development only)
EXPORT_ROWS = 50_000
GOAL_P99_MS = 50.0
GOAL_RATE_SHARE = 0.70


def seed(database_url: str) -> tuple[str, str]:
    """50,000 entry records at the compound's place, and a compound admin: (phone, password)."""
    from models import cipher
    from models import db as database
    from models.people import Person
    from models.places import EntryRecord, Place
    from models.regions import Region
    from services.accounts import admin_auth

    cipher.configure(cipher.DataCipher.from_setting(BENCH_DATA_KEY))
    database.bind(database_url, 2)
    try:
        with database.db.connection_context():
            region = Region.get(Region.code == COMPOUND_REGION)
            place = Place.get((Place.region == region) & (Place.status == "active"))
            person = Person.select().where(Person.compound == region).first()
            rows = [{"request_id": uuid.uuid4().hex, "place": place.id, "person": person.id, "flow": "resident",
                     "source": "self", "colour": "green", "admitted": True, "verdict": "{}"}
                    for _ in range(EXPORT_ROWS)]
            for start in range(0, len(rows), 2000):
                EntryRecord.insert_many(rows[start:start + 2000]).execute()
            phone = "13899990001"
            _, password = admin_auth.create_admin(None, phone=phone, name="压测管理员", role="compound",
                                                  region_code=COMPOUND_REGION, send_sms=False)
    finally:
        database.db.close_all() if hasattr(database.db.obj, "close_all") else database.db.close()
    return phone, password


def admin_session(base: str, phone: str, password: str):
    """A signed-in back-office session (requests), or a refused one's status."""
    import requests

    http = requests.Session()
    http.get(base + "/admin/login", timeout=30)
    http.get(base + "/admin/captcha", timeout=30)
    response = http.post(base + "/admin/login", timeout=60, allow_redirects=False,
                         data={"_xsrf": http.cookies["_xsrf"], "phone": phone, "password": password,
                               "captcha": CAPTCHA})
    return http, response.status_code


def export(base: str, http) -> tuple[int, int, float]:
    """The 50,000-row export in the signed-in session `http`: (status, bytes, seconds)."""
    started = time.monotonic()
    http.get(base + "/admin/r/entries/export", timeout=60)
    response = http.post(base + "/admin/r/entries/export", timeout=600,
                         data={"_xsrf": http.cookies["_xsrf"], "purpose": "压测导出"})
    return response.status_code, len(response.content), time.monotonic() - started


# The probe's process: an unknown API route every 5 ms until SIGTERM, then its answer times as JSON.
PROBE = r"""
import json, signal, sys, time
import requests
url, times, running = sys.argv[1], [], [True]
signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
http = requests.Session()
while running[0]:
    started = time.perf_counter()
    try:
        http.get(url, timeout=10)
    except Exception:
        pass
    times.append(time.perf_counter() - started)
    time.sleep(0.005)
print(json.dumps(times))
"""


class LoopProbe:
    """Asks for an unknown API route (a 404 with no database) every 5 ms from a process of its own;
    the slowest answer less the median is the loop's longest stall as a client sees it."""

    def __init__(self, base: str) -> None:
        self.url = base + "/api/v1/loop-probe"
        self.times: list[float] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "LoopProbe":
        self._process = subprocess.Popen([sys.executable, "-c", PROBE, self.url], stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc) -> None:
        self._process.terminate()
        out, _ = self._process.communicate(timeout=30)
        try:
            self.times = json.loads(out)
        except ValueError:  # it died before answering: no figure (printed as nan)
            self.times = []

    @property
    def stall_ms(self) -> float:
        return (max(self.times) - statistics.median(self.times)) * 1000 if self.times else float("nan")


def phase(target: dict, args, workdir: str, tag: str, busy=None) -> dict:
    """One phase: wrk's scans for --duration s (with `busy()` run beside them when given)."""
    base = f"http://127.0.0.1:{target['port']}"
    extra = {}
    with LoopProbe(base) as probe, concurrent.futures.ThreadPoolExecutor(1) as side:
        work = side.submit(busy, base) if busy else None
        result = load(target, args.duration, args, workdir, tag)
        if work is not None:
            extra = work.result()
    result.update(extra, stall_ms=probe.stall_ms)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="mysql")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of scans per phase (default 30)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--people", type=int, default=100, help="people whose tokens the scans rotate over")
    parser.add_argument("--app-dir", default=_REPO, help="the checkout whose server.py is measured")
    parser.add_argument("--keep", action="store_true", help="keep the database and the temporary directory")
    args = parser.parse_args(argv)
    args.app_dir = os.path.abspath(args.app_dir)

    def measure(res, workdir: str) -> None:
        os.environ["CAPTCHA_FIXED_ANSWER"] = CAPTCHA  # read by the server start_scan launches
        target = start_scan(res, args.backend, args, workdir)
        phone, password = seed(target["database_url"])

        def heavy(base: str) -> dict:
            # Signed in before the burst: its wrong passwords for the same phone soon ask for an
            # SMS code (then lock the phone), which would refuse the export's own sign-in.
            http, status = admin_session(base, phone, password)
            if status != 302:
                raise BenchError(f"admin sign-in failed: {status}")
            with concurrent.futures.ThreadPoolExecutor(9) as pool:
                exported = pool.submit(export, base, http)
                logins = list(pool.map(lambda n: admin_session(base, phone, f"wrong-{n}")[1], range(40)))
                status, size, seconds = exported.result()
            return {"export": f"{status}, {size / 1e6:.1f} MB in {seconds:.1f} s",
                    "logins": ",".join(f"{s}x{logins.count(s)}" for s in sorted(set(logins)))}

        idle = phase(target, args, workdir, "idle")
        busy = phase(target, args, workdir, "busy", heavy)
        print(f"\n{'phase':<6} {'scans/s':>9} {'p99 ms':>8} {'stall ms':>9} {'errors':>7}")
        for name, row in (("idle", idle), ("busy", busy)):
            print(f"{name:<6} {row['rps']:>9.0f} {row['p99_ms']:>8.1f} {row['stall_ms']:>9.1f} {row['errors']:>7}")
        print(f"busy: export {busy.get('export')}; wrong logins (status x count) {busy.get('logins')}")
        share = busy["rps"] / idle["rps"] if idle["rps"] else 0.0
        goals = [(f"busy p99 {busy['p99_ms']:.1f} ms <= {GOAL_P99_MS:.0f} ms", busy["p99_ms"] <= GOAL_P99_MS),
                 (f"busy rate {share:.0%} of idle >= {GOAL_RATE_SHARE:.0%}", share >= GOAL_RATE_SHARE)]
        for text, met in goals:
            print(("met:     " if met else "NOT MET: ") + text)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shows in every figure)")

    return run_bench(measure, args.keep, "loop_stalls_")


if __name__ == "__main__":
    sys.exit(main())
