"""Benchmark: close contacts pushed by a partner system through `feedRiskRecords`, against the colour
engine's own recompute of the same people.

What is measured, per backend, on a throw-away database (SQLite in a temporary directory, or a
`bench_<random>` MariaDB database created and dropped here), in one run:

- load: --people persons (default 1,000,000), each with a valid resident ID number whose blind
  index is the person's `id_number_bidx`, spread over the compounds of a generated region tree
  (bench/colour_recompute.py's), the default colour rules, and one partner key granted close
  contacts for the city.
- feed: the real server (`server.py`, its own process, RUN_JOBS=0) receives --contacts close
  contacts (default 100,000; distinct registered people, all green before) as signed batches of
  --batch records (default 10,000), one request after the other, as a partner would send them,
  after an untimed warm-up batch of 1,000 other people.
  Timed from the first request to the last answer. Each batch is stored and its people's
  colours recomputed in the batch's own transaction, so when the last answer arrives every
  touched colour is current; the script then checks that (every contact red, untimed).
- baseline: the engine's own recompute of the same people (`services.colours.colour.recompute(subjects)`)
  from the same starting point (their stored colours removed first, untimed), in this process,
  on the same database, after the same warm-up: what putting the colours right costs without the
  feed around it. Median of --repeat runs.

How to read it: the ratio is the feed's time divided by the baseline's; the goal of the issue is
at most 1.5. On a busy machine (see the load average printed) both sides move by tens of percent
from one run to the next, the single feed run more than the median of the recomputes: run it
again when the recompute runs differ widely. What the feed adds is the HTTP requests, parsing, signature checks, the checks of
every record (ID number check digit, duplicates), encrypting the ID numbers, storing the list
entries and their provenance, and the batch's own bookkeeping. The lines above the table give the
machine's load; the per-batch times show whether later batches slow down.

Run it from the repository root:

    .venv/bin/python bench/risk_feed.py                                  # both backends, full size
    .venv/bin/python bench/risk_feed.py --backend sqlite --people 100000 --contacts 10000 --batch 2500

Options: --backend mysql|sqlite|both (default both), --people N, --contacts M, --batch B,
--compounds C (2,000), --repeat R (3), --seed S, --keep (leave the database in place).
MariaDB is reached at BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306). Everything the
script starts is stopped and what it made is removed, even when it fails (unless --keep).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

import colour_recompute as colour_bench  # noqa: E402  (bench/colour_recompute.py: databases, regions)
import requests  # noqa: E402
import scan_throughput as scan_bench  # noqa: E402  (bench/scan_throughput.py: server processes)

from models import db as database  # noqa: E402
from models import cipher, schema  # noqa: E402
from models.colour import ColourHistory, HealthStatus  # noqa: E402
from models.fields import blind_index  # noqa: E402
from services.colours import colour, colour_rules  # noqa: E402
from services.common.timefmt import china_today  # noqa: E402
from services.people import identity  # noqa: E402
from services.risk_data import partner_feed  # noqa: E402

GOAL_RATIO = 1.5
WARM_UP = 1000  # people of the untimed first batch
PATH = "/api/v1/partner/risk-records"


def id_number(n: int) -> str:
    """The n-th bench resident ID number: valid check digit, distinct for n below 999 * 36,500."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=n // 999)
    first17 = f"410105{born:%Y%m%d}{n % 999 + 1:03d}"
    return first17 + identity.id_check_digit(first17)


def load(args) -> dict:
    """Migrate, install the rules, load the people and a partner key; return what the run needs."""
    rng = random.Random(args.seed)
    cipher.configure(cipher.DataCipher.from_setting(colour_bench.BENCH_DATA_KEY))
    schema.migrate()
    colour_rules.install_defaults()
    started = time.perf_counter()
    with colour_bench.loading_mode():
        compound_ids = colour_bench.load_regions(args.compounds)
        colour_bench.load_people(args.people, compound_ids, args.seed, rng,
                                 subject=lambda n: blind_index(id_number(n), "id_number"))
    if database.is_mysql():
        database.db.execute_sql("ANALYZE TABLE `person`").fetchall()
    credential, secret = partner_feed.create_credential(None, name="基准测试合作方", kinds=["close_contact"],
                                                        region_code="410100")
    warm = min(WARM_UP, args.people - args.contacts)
    chosen = rng.sample(range(args.people), args.contacts + warm)
    return {"seconds": time.perf_counter() - started, "key_id": credential.key_id, "secret": secret,
            "contacts": chosen[:args.contacts], "warm_up": chosen[args.contacts:]}


def batches(chosen: list[int], size: int, today: dt.date, prefix: str = "bench") -> list[bytes]:
    """The request bodies: close contacts of the chosen people, `size` a batch."""
    bodies = []
    for number, start in enumerate(range(0, len(chosen), size)):
        records = [{"id_number": id_number(n), "name": "张三", "date": today.isoformat()}
                   for n in chosen[start:start + size]]
        bodies.append(json.dumps({"batch_id": f"{prefix}-{number:04d}", "kind": "close_contact",
                                  "records": records}, ensure_ascii=False).encode())
    return bodies


def send(session: requests.Session, base: str, key_id: str, secret: str, body: bytes) -> requests.Response:
    """One signed request, as a partner sends it."""
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {"Content-Type": "application/json", "X-Partner-Key": key_id, "X-Partner-Timestamp": stamp,
               "X-Partner-Nonce": nonce,
               "X-Partner-Signature": partner_feed.signature(secret, "POST", PATH, stamp, nonce,
                                                             hashlib.sha256(body).hexdigest())}
    return session.post(base + PATH, data=body, headers=headers, timeout=600)


def start_server(res: scan_bench.Resources, url: str, workdir: str) -> str:
    """The real server on this database, in its own process; its base URL."""
    port = scan_bench.free_port()
    env = {**os.environ, "DATABASE_URL": url, "DATA_KEY": colour_bench.BENCH_DATA_KEY, "RUN_JOBS": "0",
           "LOG_LEVEL": "WARNING", "APP_ENV": "development", "PORT": str(port)}
    log_path = os.path.join(workdir, "server.log")
    proc = res.process([sys.executable, os.path.join(REPO, "server.py"), "--port", str(port)], log_path,
                       cwd=workdir, env=env)
    base = f"http://127.0.0.1:{port}"
    scan_bench.wait_http(base + "/healthz", proc, log_path)
    return base


def subjects_of(chosen: list[int]) -> list[str]:
    return [blind_index(id_number(n), "id_number") for n in chosen]


def forget_colours(subjects: list[str]) -> None:
    """Remove these people's stored colours and history: they are green again, as before the feed."""
    with database.db.atomic():
        for start in range(0, len(subjects), 1000):
            group = subjects[start:start + 1000]
            HealthStatus.delete().where(HealthStatus.subject.in_(group)).execute()
            ColourHistory.delete().where(ColourHistory.subject.in_(group)).execute()


def red_count(subjects: list[str]) -> int:
    """How many of these people are stored red."""
    return sum(HealthStatus.select().where(HealthStatus.subject.in_(subjects[start:start + 1000])
                                           & (HealthStatus.colour == "red")).count()
               for start in range(0, len(subjects), 1000))


def measure(args, url: str, loaded: dict, workdir: str) -> dict:
    """Feed the batches over HTTP (timed), check the colours, then time the engine's recompute."""
    today = china_today()
    bodies = batches(loaded["contacts"], args.batch, today)
    subjects = subjects_of(loaded["contacts"])
    out: dict = {"bytes": sum(len(b) for b in bodies), "batches": [], "answers": []}
    res = scan_bench.Resources(keep=False)
    try:
        base = start_server(res, url, workdir)
        session = requests.Session()
        # Warm-up, untimed: a small batch of other people, so that the server's first request
        # (connections, compiled queries, the database's caches) is not charged to the feed.
        for body in batches(loaded["warm_up"], args.batch, today, prefix="warm-up"):
            send(session, base, loaded["key_id"], loaded["secret"], body).raise_for_status()
        colour_bench.settle()
        started = time.perf_counter()
        for body in bodies:
            sent = time.perf_counter()
            response = send(session, base, loaded["key_id"], loaded["secret"], body)
            out["batches"].append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise scan_bench.BenchError(f"feedRiskRecords answered {response.status_code}: {response.text[:300]}")
            out["answers"].append(response.json()["data"])
        out["feed"] = time.perf_counter() - started
    finally:
        res.cleanup()
    out["red_after_feed"] = red_count(subjects)
    out["recompute_runs"] = []
    warm = subjects_of(loaded["warm_up"])
    forget_colours(warm)
    colour.recompute(warm, why="bench", today=today)  # the same warm-up, untimed
    for _ in range(args.repeat):
        forget_colours(subjects)
        colour_bench.settle()
        seconds, result = colour_bench.timed(lambda: colour.recompute(subjects, why="bench", today=today))
        out["recompute_runs"].append(seconds)
        out["recompute_result"] = result
    out["red_after_recompute"] = red_count(subjects)
    out["recompute"] = statistics.median(out["recompute_runs"])
    return out


def report(backend: str, label: str, loaded: dict, measured: dict, args) -> dict:
    """Print one backend's figures; return its summary."""
    title = "MariaDB" if backend == "mysql" else "SQLite"
    accepted = sum(a["accepted"] for a in measured["answers"])
    rejected = sum(len(a["rejected"]) for a in measured["answers"])
    ratio = measured["feed"] / measured["recompute"]
    print()
    print(f"=== {title}: {args.people:,} people, {args.contacts:,} close contacts in batches of {args.batch:,} "
          f"({label}) ===")
    print(f"load: {loaded['seconds']:.1f} s; request bodies {measured['bytes'] / 2**20:.1f} MiB in all")
    for line in colour_bench.server_context():
        print(line)
    print(f"answers: {accepted:,} accepted, {rejected:,} rejected; red after the feed {measured['red_after_feed']:,}, "
          f"after the recompute {measured['red_after_recompute']:,} (of {args.contacts:,})")
    print()
    print(f"{'measurement':<40}{'seconds':>10}{'per 1k':>9}")
    per_k = 1000 / args.contacts
    print(f"{'feedRiskRecords (HTTP, all batches)':<40}{measured['feed']:>10.3f}{measured['feed'] * per_k:>9.3f}")
    print(f"{'engine recompute of the same people':<40}{measured['recompute']:>10.3f}"
          f"{measured['recompute'] * per_k:>9.3f}   runs: " + " ".join(f"{v:.3f}" for v in measured["recompute_runs"]))
    print("per batch (s): " + " ".join(f"{v:.2f}" for v in measured["batches"]))
    verdict = "MET" if ratio <= GOAL_RATIO else "NOT MET"
    complete = measured["red_after_feed"] == args.contacts
    print(f"ratio feed / recompute: {ratio:.2f}x; goal <= {GOAL_RATIO:g}x: {verdict}"
          + ("" if complete else f"  (WARNING: only {measured['red_after_feed']:,} contacts red after the feed)"))
    return {"backend": title, "ratio": ratio, "verdict": verdict, "feed": measured["feed"],
            "recompute": measured["recompute"]}


def run_backend(backend: str, args) -> dict:
    """Create the database, load, measure, report, drop."""
    with colour_bench.bench_database(backend, args.keep) as (url, label):
        print(f"\n[{backend}] loading {args.people:,} people into {label} ...", flush=True)
        loaded = load(args)
        print(f"[{backend}] loaded in {loaded['seconds']:.1f} s; feeding ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_feed_") as workdir:
            measured = measure(args, url, loaded, workdir)
        return report(backend, label, loaded, measured, args)


def main(argv=None) -> int:
    """Parse the options and run the chosen backends; 0 when the run was done, whatever the goal
    says (it is a measurement, not a test), 2 when it could not be done."""
    parser = colour_bench.population_options(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]),
                                             "runs of the recompute (the median is reported)")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not 0 < args.contacts <= args.people or not 0 < args.batch <= partner_feed.MAX_RECORDS:
        parser.error(f"need 0 < contacts <= people and 0 < batch <= {partner_feed.MAX_RECORDS:,}")
    try:
        summaries = colour_bench.each_backend(args.backend, lambda backend: run_backend(backend, args))
    except scan_bench.BenchError as exc:
        print(f"\nthe run could not be done: {exc}")
        return 2
    colour_bench.print_summary(summaries, lambda s: f"{s['backend']:<8} feed {s['feed']:.2f} s, recompute "
                                                    f"{s['recompute']:.2f} s: {s['ratio']:.2f}x -> {s['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
