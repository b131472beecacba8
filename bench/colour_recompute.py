"""Benchmark: a full colour recompute against one plain full-table UPDATE of the people table.

What is measured (per backend, on a throw-away database, in one run):

- load: 1,000,000 `person` rows (distinct 32-hex `id_number_bidx`, spread over ~2,000 compounds
  of a generated region tree) and 100,000 list entries spread over the rule inputs (close
  contacts, temperatures, travel, fever-medicine purchases, isolation, cases, release notices)
  with event dates over the last 30 days, plus ~20 risk areas and the default rules.
- baseline: `UPDATE person SET updated_at = ?` over every row, one statement, committed. It is
  the cost of touching every person once, on this machine, with this database's settings.
- full recompute (first): `services.colours.colour.recompute(None)` on an empty HealthStatus table, so
  every non-green person is inserted with a history row.
- full recompute (steady): the same again; nothing changes (the nightly job's usual case).
- full recompute (day +14): `recompute(None, today=today + 14 days)`, when many windows have
  expired (the state is put back to "today" before each repetition, untimed).
- evaluate only: `services.colours.colour.evaluate(None)`, i.e. the rule queries and building the hits,
  without reading or writing HealthStatus; and the time of each rule's query on its own.

Each timing is the median of `--repeat` runs (3 by default), taken after a warm-up (a full read
of the people table and one evaluation) and after the database has settled (InnoDB purge and
page flushing from the previous step; a WAL checkpoint on SQLite), so that no step pays for the
one before it.

How to read it: the ratio printed beside each recompute is its time divided by the baseline
UPDATE's, both measured in the same run on the same data, so the speed of the machine largely
cancels out. The goal of the issue is a full recompute within 5x that single pass (ratio <= 5);
the verdict line judges the worst of the three recomputes (normally the first). A ratio below 1
means the recompute costs less than touching every person once. The lines above the table say
what the figures depend on: the machine's load average (other work on the machine slows both
sides, but not equally) and, on MariaDB, innodb_buffer_pool_size against the size of the people
table (a pool smaller than the tables a rule reads turns its index look-ups into disk reads).
Below the table: the non-green counts per colour (a sanity check that the rules matched), each
rule's query on its own, and the plan of the slowest one.

Run it from the repository root:

    .venv/bin/python bench/colour_recompute.py --backend mysql
    .venv/bin/python bench/colour_recompute.py --backend sqlite --people 20000 --entries 2000
    .venv/bin/python bench/colour_recompute.py                      # both, full size

Options: --backend mysql|sqlite|both (default both), --people N (1,000,000), --entries M
(100,000), --compounds C (2,000), --repeat R (3), --seed S, --keep (leave the database in place).

MariaDB is reached at BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306); the script creates
`bench_<random>` there and drops it at the end (unless --keep). SQLite lives in a temporary
directory that is removed at the end (unless --keep). The ID blind indexes are a deterministic
hash of the person's number (same form as the real ones, 32 hex characters); the encrypted
columns are left empty, which the rules never read.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pymysql  # noqa: E402

from models import db as database  # noqa: E402
from models import cipher, schema  # noqa: E402
from models.colour import ColourHistory, HealthStatus  # noqa: E402
from models.fields import utcnow  # noqa: E402
from models.people import Person  # noqa: E402
from models.regions import Region  # noqa: E402
from models.risk_inputs import (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord,  # noqa: E402
                                ReleaseNotice, RiskArea, TemperatureRecord, TravelRecord)
from services.colours import colour, colour_rules  # noqa: E402
from services.common.regions import add_region  # noqa: E402
from services.common.timefmt import china_today  # noqa: E402

MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306")
# Not a secret: a fixed key made here so the bench never needs (or touches) a real DATA_KEY.
BENCH_DATA_KEY = base64.b64encode(hashlib.sha256(b"healthcode bench key, not a secret").digest()).decode()
GOAL_RATIO = 5.0
PERSON_CHUNK = 5000  # rows per multi-row INSERT
COMMIT_EVERY = 50000  # rows per transaction while loading
FACT_CHUNK = 2000

# Share of the list entries per input (sums to 1).
MIX = {"close_contact": 0.40, "temperature": 0.25, "travel": 0.15, "fever_medicine": 0.10,
       "isolation": 0.05, "case": 0.03, "release": 0.02}
REGISTERED_SHARE = 0.85  # list entries about registered people; the rest never opened the app
CASE_COMPOUND_SHARE = 0.10  # compounds that have had a case in the last 30 days

KEY_ORIGINS = ["420102", "420106", "420111", "420502", "421002", "420902"]  # Hubei: a key region
HIGH_ORIGINS = ["110105", "110106", "310115", "440305", "330106", "210204", "650102", "320583"]
OTHER_ORIGINS = ["410102", "410103", "410105", "410122", "410202", "410305", "411002", "411302", "320106",
                 "370102", "510104", "610113", "130102", "140105", "350203", "430104", "500103", "120101",
                 "220102", "340104", "360102", "450103", "520102", "530102", "620102", "640104", "110108"]


# --- databases -----------------------------------------------------------------------------------

def _mysql_admin():
    """An autocommit connection to the MariaDB server (no database selected)."""
    parsed = urlparse(MYSQL_URL)
    return pymysql.connect(host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306,
                           user=parsed.username or "root", password=parsed.password or "",
                           charset="utf8mb4", connect_timeout=5, autocommit=True)


@contextmanager
def bench_database(backend: str, keep: bool):
    """Create an empty database for `backend`, bind the proxy to it, yield (url, label); drop it after."""
    if backend == "mysql":
        name = f"bench_{secrets.token_hex(6)}"
        admin = _mysql_admin()
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        url = f"{MYSQL_URL.rstrip('/')}/{name}"
        label = f"MariaDB database `{name}`"
    else:
        directory = tempfile.mkdtemp(prefix="bench_colour_")
        url = f"sqlite:///{directory}/bench.db"
        label = f"SQLite file {directory}/bench.db"
    db_object = None
    try:
        db_object = database.bind(url)
        database.db.connect(reuse_if_open=True)
        yield url, label
    finally:
        if db_object is not None:
            if not db_object.is_closed():
                db_object.close()
            if hasattr(db_object, "close_all"):
                db_object.close_all()
        if keep:
            print(f"  (--keep: {label} was left in place)")
        elif backend == "mysql":
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            print(f"  dropped {label}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
            print(f"  removed {label}")
        if backend == "mysql":
            admin.close()


@contextmanager
def loading_mode():
    """Relax durability and checks for the bulk load only (the data is consistent by construction)."""
    if database.is_mysql():
        database.db.execute_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    else:
        database.db.execute_sql("PRAGMA synchronous = OFF")
        database.db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        if database.is_mysql():
            database.db.execute_sql("SET SESSION unique_checks = 1, foreign_key_checks = 1")
        else:
            database.db.execute_sql("PRAGMA foreign_keys = ON")
            database.db.execute_sql("PRAGMA synchronous = NORMAL")


# --- data ----------------------------------------------------------------------------------------

def subject_of(seed: int, number: int) -> str:
    """The 32-hex blind index of bench person `number` (numbers >= --people are unregistered)."""
    return hashlib.blake2b(b"%d:%d" % (seed, number), digest_size=16).hexdigest()


def load_regions(compounds: int) -> list[int]:
    """Province > city > districts > streets > communities through add_region, then `compounds`
    compound regions in bulk; return the compound ids."""
    districts, streets_each, communities_each = 4, 5, 5
    communities = []
    with database.db.atomic():
        province = add_region("410000", "河南省", "province")
        city = add_region("410100", "郑州市", "city", province)
        for d in range(districts):
            district = add_region(f"4101{2 + d:02d}", f"第{d + 1}区", "district", city)
            for s in range(streets_each):
                street = add_region(f"{district.code}{s + 1:03d}", f"{district.name}第{s + 1}街道", "street", district)
                for c in range(communities_each):
                    communities.append(add_region(f"{street.code}{c + 1:03d}", f"{street.name}第{c + 1}社区",
                                                  "community", street))
    if -(-compounds // len(communities)) > 999:
        raise ValueError("too many compounds for the generated tree (at most 99,900)")
    rows = []
    for k in range(compounds):
        community = communities[k % len(communities)]
        number = k // len(communities) + 1
        code = f"{community.code}{number:03d}"
        rows.append((code, f"{community.name}{number}号院", "compound", community.id, f"{community.path}{code}/"))
    with database.db.atomic():
        for start in range(0, len(rows), FACT_CHUNK):
            Region.insert_many(rows[start:start + FACT_CHUNK],
                               fields=[Region.code, Region.name, Region.level, Region.parent, Region.path]).execute()
    return [r for (r,) in Region.select(Region.id).where(Region.level == "compound").order_by(Region.id).tuples()]


def load_people(people: int, compound_ids: list[int], seed: int, rng: random.Random,
                subject=None) -> list[int]:
    """Insert `people` persons with raw multi-row INSERTs; return each person's compound index.
    Person n's blind index is `subject(n)` (default: subject_of(seed, n))."""
    subject = subject or (lambda n: subject_of(seed, n))
    home = [rng.randrange(len(compound_ids)) for _ in range(people)]
    stamp = str(utcnow().replace(microsecond=0))
    p = database.db.obj.param
    sql = ("INSERT INTO person (relation, id_type, id_number_bidx, phone_verified, compound_id, created_at, "
           f"updated_at) VALUES ({', '.join([p] * 7)})")
    for start in range(0, people, COMMIT_EVERY):
        with database.db.atomic():
            cursor = database.db.cursor()
            for chunk in range(start, min(start + COMMIT_EVERY, people), PERSON_CHUNK):
                rows = [("self", "resident_id", subject(i), 0, compound_ids[home[i]], stamp, stamp)
                        for i in range(chunk, min(chunk + PERSON_CHUNK, start + COMMIT_EVERY, people))]
                cursor.executemany(sql, rows)
    return home


def _insert(model, fields, rows) -> None:
    """insert_many in chunks, in one transaction."""
    with database.db.atomic():
        for start in range(0, len(rows), FACT_CHUNK):
            model.insert_many(rows[start:start + FACT_CHUNK], fields=fields).execute()


def load_facts(entries: int, people: int, home: list[int], compound_ids: list[int], seed: int,
               rng: random.Random, today: dt.date) -> dict[str, int]:
    """Insert `entries` list entries spread over the inputs per MIX, and the risk areas; return counts."""
    counts = {name: round(entries * share) for name, share in MIX.items()}
    now = utcnow().replace(microsecond=0)
    unregistered = max(1, people // 10)

    def pick() -> str:
        if rng.random() < REGISTERED_SHARE:
            return subject_of(seed, rng.randrange(people))
        return subject_of(seed, people + rng.randrange(unregistered))

    def day(span: int = 30) -> dt.date:
        return today - dt.timedelta(days=rng.randrange(span))

    liftable = []  # subjects a release notice could be about (reds lifted by release)

    rows = []
    for _ in range(counts["close_contact"]):
        subject = pick()
        liftable.append(subject)
        rows.append((subject, day(), now, rng.choice(["疾控中心", "街道排查", "外省协查"])))
    _insert(CloseContact, [CloseContact.subject, CloseContact.event_date, CloseContact.created_at,
                           CloseContact.source], rows)

    rows = []
    for _ in range(counts["temperature"]):
        subject, when = pick(), day()
        if rng.random() < 0.15:
            value = round(rng.uniform(37.3, 39.5), 1)
            liftable.append(subject)
        else:
            value = round(rng.uniform(36.0, 37.2), 1)
        measured = dt.datetime.combine(when, dt.time(rng.randrange(0, 14), rng.randrange(60)))
        rows.append((subject, when, now, value, measured, rng.choice(["self", "inspector", "declaration"])))
    _insert(TemperatureRecord, [TemperatureRecord.subject, TemperatureRecord.event_date, TemperatureRecord.created_at,
                                TemperatureRecord.value, TemperatureRecord.measured_at, TemperatureRecord.source], rows)

    rows = []
    for _ in range(counts["travel"]):
        draw = rng.random()
        if draw < 0.03:
            origin, abroad, country = None, True, rng.choice(["日本", "韩国", "意大利", "美国"])
        elif draw < 0.13:
            origin, abroad, country = rng.choice(KEY_ORIGINS), False, None
        elif draw < 0.33:
            origin, abroad, country = rng.choice(HIGH_ORIGINS), False, None
        else:
            origin, abroad, country = rng.choice(OTHER_ORIGINS), False, None
        rows.append((pick(), day(), now, origin, abroad, country, rng.choice(["plane", "train", "car"]),
                     rng.choice(["declaration", "checkpoint", "province_entry"])))
    _insert(TravelRecord, [TravelRecord.subject, TravelRecord.event_date, TravelRecord.created_at,
                           TravelRecord.origin_code, TravelRecord.from_abroad, TravelRecord.country,
                           TravelRecord.transport, TravelRecord.source], rows)

    rows = []
    for _ in range(counts["fever_medicine"]):
        when = day()
        rows.append((pick(), when, now, rng.choice(["大药房金水店", "仁和堂药店", "百姓大药房"]),
                     rng.choice(["布洛芬", "对乙酰氨基酚"]), dt.datetime.combine(when, dt.time(rng.randrange(0, 14)))))
    _insert(FeverMedicinePurchase, [FeverMedicinePurchase.subject, FeverMedicinePurchase.event_date,
                                    FeverMedicinePurchase.created_at, FeverMedicinePurchase.pharmacy,
                                    FeverMedicinePurchase.medicine, FeverMedicinePurchase.purchased_at], rows)

    rows = []  # one row a person: distinct subjects
    for number in rng.sample(range(people), min(people, counts["isolation"])):
        subject = subject_of(seed, number)
        status = rng.choices(["confirmed", "released", "pending", "not_needed"], [50, 30, 10, 10])[0]
        if status == "confirmed":
            liftable.append(subject)
        rows.append((subject, day(), now, status, now))
    _insert(IsolationRecord, [IsolationRecord.subject, IsolationRecord.event_date, IsolationRecord.created_at,
                              IsolationRecord.status, IsolationRecord.updated_at], rows)

    # Cases cluster in a few compounds; every active case of the last 14 days turns its compound orange.
    case_compounds = rng.sample(range(len(compound_ids)), max(1, round(len(compound_ids) * CASE_COMPOUND_SHARE)))
    wanted = set(case_compounds)
    residents: dict[int, list[int]] = {c: [] for c in case_compounds}
    for number, c in enumerate(home):
        if c in wanted:
            residents[c].append(number)
    rows = []
    for _ in range(counts["case"]):
        if rng.random() < 0.1:
            subject, compound = pick(), None  # lives outside the city's compounds
        else:
            c = rng.choice(case_compounds)
            subject = subject_of(seed, rng.choice(residents[c])) if residents[c] else pick()
            compound = compound_ids[c]
        rows.append((subject, day(), now, rng.choices(["confirmed", "suspected"], [70, 30])[0],
                     rng.choices(["active", "closed"], [80, 20])[0], compound))
    _insert(CaseReport, [CaseReport.subject, CaseReport.event_date, CaseReport.created_at, CaseReport.kind,
                         CaseReport.status, CaseReport.compound], rows)

    rows = []
    for _ in range(counts["release"]):
        revoked = now if rng.random() < 0.05 else None
        rows.append((rng.choice(liftable) if liftable else pick(), day(), now, "解除医学观察", revoked))
    _insert(ReleaseNotice, [ReleaseNotice.subject, ReleaseNotice.event_date, ReleaseNotice.created_at,
                            ReleaseNotice.reason, ReleaseNotice.revoked_at], rows)

    listed_from = today - dt.timedelta(days=60)
    areas = [("420000", "湖北省", "province", "42", "key", listed_from, None),
             ("420100", "武汉市", "city", "4201", "key", listed_from, None),
             ("110100", "北京市", "city", "1101", "medium", listed_from, None),
             ("210200", "大连市", "city", "2102", "high", listed_from, None),
             ("650100", "乌鲁木齐市", "city", "6501", "high", listed_from, None),
             ("330100", "杭州市", "city", "3301", "medium", listed_from, None)]
    areas += [(code, f"高风险区{code}", "district", code, "high", listed_from, None) for code in HIGH_ORIGINS[:6]]
    areas += [(code, f"中风险区{code}", "district", code, "medium", listed_from, None) for code in OTHER_ORIGINS[:5]]
    # Listed once and lifted again: must not match any more.
    areas += [(code, f"已解除{code}", "district", code, "high", listed_from, today - dt.timedelta(days=40))
              for code in OTHER_ORIGINS[5:8]]
    _insert(RiskArea, [RiskArea.code, RiskArea.name, RiskArea.area_level, RiskArea.prefix, RiskArea.risk,
                       RiskArea.effective_from, RiskArea.effective_until], areas)
    counts["risk_area"] = len(areas)
    counts["case_compounds"] = len(case_compounds)
    return counts


def load(people: int, entries: int, compounds: int, seed: int, today: dt.date) -> dict:
    """Migrate, install the default rules and load everything; return counts and timings."""
    rng = random.Random(seed)
    cipher.configure(cipher.DataCipher.from_setting(BENCH_DATA_KEY))
    schema.migrate()
    colour_rules.install_defaults()
    started = time.perf_counter()
    with loading_mode():
        compound_ids = load_regions(compounds)
        home = load_people(people, compound_ids, seed, rng)
        people_seconds = time.perf_counter() - started
        counts = load_facts(entries, people, home, compound_ids, seed, rng, today)
    if database.is_mysql():
        # The statistics InnoDB would recalculate on its own after such a load, taken now.
        for model in (Person, Region, CloseContact, TemperatureRecord, TravelRecord, FeverMedicinePurchase,
                      IsolationRecord, CaseReport, ReleaseNotice, RiskArea):
            database.db.execute_sql(f"ANALYZE TABLE `{model._meta.table_name}`").fetchall()
    else:
        database.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"counts": counts, "people_seconds": people_seconds, "seconds": time.perf_counter() - started}


# --- measuring -----------------------------------------------------------------------------------

def timed(action) -> tuple[float, object]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


SETTLED = {"seconds": 0.0, "gave_up": 0}  # time spent in settle(), for the report


def settle(purge_limit: float = 60.0, flush_limit: float = 20.0) -> None:
    """Let the database finish the background work the previous step left, so that it is not
    charged to the next measurement. On MariaDB: wait until InnoDB has purged the undo log (a big
    UPDATE leaves one; up to `purge_limit` s), then until the dirty pages are under 5% of the pool
    or stop going down for 2 s (up to `flush_limit` s; the count is server-wide, and InnoDB keeps
    a few hundred when idle). On SQLite: checkpoint the WAL."""
    started = time.monotonic()
    if not database.is_mysql():
        database.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        SETTLED["seconds"] += time.monotonic() - started
        return

    def history_length() -> int:
        status = database.db.execute_sql("SHOW ENGINE INNODB STATUS").fetchone()[2]
        found = re.search(r"History list length (\d+)", status)
        return int(found.group(1)) if found else 0

    def pages() -> dict[str, int]:
        return {name.upper(): int(value) for name, value in database.db.execute_sql(
            "SELECT variable_name, variable_value FROM information_schema.global_status WHERE variable_name IN "
            "('INNODB_BUFFER_POOL_PAGES_DIRTY', 'INNODB_BUFFER_POOL_PAGES_TOTAL')").fetchall()}

    deadline = time.monotonic() + purge_limit
    while history_length() >= 1000:
        if time.monotonic() > deadline:
            SETTLED["gave_up"] += 1
            break
        time.sleep(0.5)
    deadline, lowest, still = time.monotonic() + flush_limit, None, 0
    while True:
        now = pages()
        dirty = now["INNODB_BUFFER_POOL_PAGES_DIRTY"]
        if dirty < 0.05 * now["INNODB_BUFFER_POOL_PAGES_TOTAL"] or still >= 4:
            break
        if time.monotonic() > deadline:
            SETTLED["gave_up"] += 1
            break
        still = 0 if lowest is None or dirty < lowest else still + 1
        lowest = dirty if lowest is None else min(lowest, dirty)
        time.sleep(0.5)
    SETTLED["seconds"] += time.monotonic() - started


def baseline_update() -> int:
    """One plain UPDATE of every person row, committed; return the rows touched."""
    with database.db.atomic():
        cursor = database.db.execute_sql("UPDATE person SET updated_at = " + database.db.obj.param,
                                         (str(utcnow()),))
        return cursor.rowcount


def reset_colours() -> None:
    """Empty HealthStatus and ColourHistory (everyone green, no history)."""
    for model in (HealthStatus, ColourHistory):
        table = model._meta.table_name
        database.db.execute_sql(f"TRUNCATE TABLE `{table}`" if database.is_mysql() else f"DELETE FROM {table}")
    settle()


def colour_counts() -> dict[str, int]:
    """Non-green people per colour, from HealthStatus."""
    return dict(database.db.execute_sql(
        "SELECT colour, COUNT(*) FROM health_status GROUP BY colour").fetchall())


def registered_non_green() -> int:
    """HealthStatus rows that belong to a registered person (the rest are list entries only)."""
    return database.db.execute_sql(
        "SELECT COUNT(*) FROM health_status h JOIN person p ON p.id_number_bidx = h.subject").fetchone()[0]


def per_rule(today: dt.date) -> list[tuple[str, float, int]]:
    """(rule code, seconds, rows) of each enabled rule's query on its own, read to the end."""
    out = []
    for rule in colour_rules.load_rules():
        seconds, rows = timed(lambda: list(rule.query(today)))
        out.append((rule.code, seconds, len(rows)))
    return out


def explain(rule_code: str, today: dt.date) -> list:
    """The query plan of one rule's query (EXPLAIN on MariaDB, EXPLAIN QUERY PLAN on SQLite)."""
    rule = next(r for r in colour_rules.load_rules() if r.code == rule_code)
    sql, params = rule.query(today).sql()
    prefix = "EXPLAIN " if database.is_mysql() else "EXPLAIN QUERY PLAN "
    cursor = database.db.execute_sql(prefix + sql, params)
    return [tuple(c[0] for c in cursor.description)] + list(cursor.fetchall())


def server_context() -> list[str]:
    """What the figures depend on: CPUs and load on this machine; on MariaDB, the buffer pool
    against the size of the people table (a pool smaller than the tables read means disk reads)."""
    lines = [f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min)"]
    if database.is_mysql():
        version = database.db.execute_sql("SELECT VERSION()").fetchone()[0]
        pool = int(database.db.execute_sql("SELECT @@innodb_buffer_pool_size").fetchone()[0])
        data, index = database.db.execute_sql(
            "SELECT data_length, index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'person'").fetchone()
        note = " (smaller than the people table: expect disk reads)" if pool < int(data) + int(index) else ""
        lines.append(f"server: MariaDB {version}, innodb_buffer_pool_size {pool / 2**20:.0f} MiB{note}; "
                     f"person table {int(data) / 2**20:.0f} MiB data + {int(index) / 2**20:.0f} MiB indexes")
    else:
        import sqlite3
        lines.append(f"server: SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)")
    return lines


def measure(repeat: int, today: dt.date) -> dict:
    """Warm up, then time the baseline and the recomputes (median of `repeat` each)."""
    out: dict = {"runs": {}, "context": server_context()}
    # Warm-up: read the whole people table and run every rule query once.
    database.db.execute_sql("SELECT COUNT(*), MAX(updated_at) FROM person").fetchall()
    colour.evaluate(None, today)

    runs = out["runs"]
    runs["baseline UPDATE person"] = []
    for _ in range(repeat):
        settle()
        seconds, touched = timed(baseline_update)
        runs["baseline UPDATE person"].append(seconds)
        out["updated_rows"] = touched
    settle()

    runs["evaluate only (rule queries)"] = [timed(lambda: colour.evaluate(None, today))[0] for _ in range(repeat)]

    runs["full recompute (first)"] = []
    for _ in range(repeat):
        reset_colours()
        seconds, result = timed(lambda: colour.recompute(None, why="bench", today=today))
        runs["full recompute (first)"].append(seconds)
        out["first_result"] = result
    settle()
    out["colours_today"] = colour_counts()
    out["registered_non_green"] = registered_non_green()

    runs["full recompute (steady)"] = []
    for _ in range(repeat):
        seconds, result = timed(lambda: colour.recompute(None, why="bench", today=today))
        runs["full recompute (steady)"].append(seconds)
        out["steady_result"] = result

    later = today + dt.timedelta(days=14)
    runs["full recompute (day +14)"] = []
    for _ in range(repeat):
        colour.recompute(None, why="bench_reset", today=today)  # back to today's state, untimed
        settle()
        seconds, result = timed(lambda: colour.recompute(None, why="bench", today=later))
        runs["full recompute (day +14)"].append(seconds)
        out["later_result"] = result
    out["colours_later"] = colour_counts()

    colour.recompute(None, why="bench_reset", today=today)
    out["rules"] = per_rule(today)  # just after a recompute: what the nightly job finds
    out["rules_again"] = per_rule(today)  # the same, with the cache the first pass warmed
    slowest = max(out["rules"], key=lambda r: r[1])[0]
    out["explain"] = (slowest, explain(slowest, today))
    out["medians"] = {name: statistics.median(values) for name, values in runs.items()}
    out["context"].append(f"load average at the end {os.getloadavg()[0]:.1f} (1 min); waited {SETTLED['seconds']:.0f} s"
                          f" in all for the database to settle between steps (gave up {SETTLED['gave_up']} times)")
    return out


# --- reporting -----------------------------------------------------------------------------------

def report(backend: str, label: str, loaded: dict, measured: dict, args) -> dict:
    """Print one backend's table; return its summary."""
    medians, runs = measured["medians"], measured["runs"]
    baseline = medians["baseline UPDATE person"]
    title = "MariaDB" if backend == "mysql" else "SQLite"
    print()
    print(f"=== {title}: {args.people:,} people, {args.entries:,} list entries ({label}) ===")
    counts = loaded["counts"]
    print(f"load: {loaded['seconds']:.1f} s (people {loaded['people_seconds']:.1f} s)")
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    print(f"baseline UPDATE touched {measured['updated_rows']:,} rows")
    for line in measured["context"]:
        print(line)
    print()
    print(f"{'measurement':<32}{'median s':>10}{'ratio':>9}{'<= 5x':>7}   runs (s)")
    for name, median in medians.items():
        if name.startswith("baseline"):
            ratio = within = ""
        else:
            ratio = f"{median / baseline:8.2f}x"
            within = "" if not name.startswith("full") else ("yes" if median / baseline <= GOAL_RATIO else "no")
        print(f"{name:<32}{median:>10.3f}{ratio:>9}{within:>7}   " + " ".join(f"{v:.3f}" for v in runs[name]))
    worst_name = max((n for n in medians if n.startswith("full recompute")), key=medians.get)
    worst = medians[worst_name] / baseline
    verdict = "MET" if worst <= GOAL_RATIO else "NOT MET"
    print(f"goal: ratio <= {GOAL_RATIO:g}x: {verdict} (worst: {worst_name}, {worst:.2f}x)")
    print()
    print("first recompute: " + ", ".join(f"{k} {v:,}" for k, v in measured["first_result"].items()) +
          "; steady: " + ", ".join(f"{k} {v:,}" for k, v in measured["steady_result"].items()) +
          "; day +14: " + ", ".join(f"{k} {v:,}" for k, v in measured["later_result"].items()))
    for when, key in (("today", "colours_today"), ("day +14", "colours_later")):
        found = measured[key]
        print(f"non-green {when}: " + ", ".join(f"{c} {found.get(c, 0):,}" for c in ("red", "orange", "yellow")) +
              f" (total {sum(found.values()):,})")
    print(f"of today's non-green, registered people: {measured['registered_non_green']:,}")
    print()
    print("per rule (each query alone, read to the end; first pass / second pass):")
    for (code, seconds, rows), (_, again, _) in zip(measured["rules"], measured["rules_again"]):
        print(f"  {code:<18}{seconds:>8.3f} s {again:>8.3f} s {rows:>9,} rows")
    slowest, plan = measured["explain"]
    print(f"plan of the slowest rule query ({slowest}):")
    for row in plan:
        print("  " + " | ".join("" if v is None else str(v) for v in row))
    return {"backend": title, "baseline": baseline, "worst": worst, "verdict": verdict, "medians": medians}


def run_backend(backend: str, args) -> dict:
    """Create the database, load, measure, report, drop."""
    today = china_today()
    SETTLED.update(seconds=0.0, gave_up=0)
    with bench_database(backend, args.keep) as (url, label):
        print(f"\n[{backend}] loading {args.people:,} people and {args.entries:,} list entries into {label} ...",
              flush=True)
        loaded = load(args.people, args.entries, args.compounds, args.seed, today)
        print(f"[{backend}] loaded in {loaded['seconds']:.1f} s; measuring ...", flush=True)
        measured = measure(args.repeat, today)
        return report(backend, label, loaded, measured, args)


def population_options(parser: argparse.ArgumentParser, repeat_help: str) -> argparse.ArgumentParser:
    """The options this benchmark shares with those built on its population: --backend, --people,
    --compounds, --repeat, --seed, --keep."""
    parser.add_argument("--backend", choices=("mysql", "sqlite", "both"), default="both")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--compounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help=repeat_help)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    return parser


def each_backend(choice: str, run) -> list:
    """`run(backend)` for each backend chosen (mysql, sqlite or both), in that order; with both,
    a MariaDB that cannot be reached is skipped, and said so."""
    summaries = []
    for backend in ["mysql", "sqlite"] if choice == "both" else [choice]:
        try:
            summaries.append(run(backend))
        except pymysql.err.OperationalError as exc:
            if backend != "mysql" or choice == "mysql":
                raise
            print(f"\n[mysql] MariaDB not usable at {MYSQL_URL} ({exc}); skipped")
    return summaries


def print_summary(summaries: list, line) -> None:
    """After more than one backend, one line each: `line(summary)`."""
    if len(summaries) > 1:
        print("\n=== summary ===")
        for summary in summaries:
            print(line(summary))


def main(argv=None) -> int:
    """Parse the options and run the chosen backends; the exit status is 0 even when the goal is
    missed (it is a measurement, not a test)."""
    parser = population_options(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]),
                                "runs per measurement (the median is reported)")
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args(argv)
    summaries = each_backend(args.backend, lambda backend: run_backend(backend, args))
    print_summary(summaries, lambda s: f"{s['backend']:<8} baseline {s['baseline']:.3f} s; "
                                       f"worst recompute {s['worst']:.2f}x -> {s['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
