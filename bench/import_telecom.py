"""Benchmark of the investigation-list import (H1): a generated telecom roaming list (10% bad ID
numbers) imported end to end — file checks, header, parsing, cell checks, encryption, blind
indexes, person match, dispatch, INSERT, progress, error rows — beside the time openpyxl
(read-only mode) takes just to iterate the same file, in the same run; and the peak memory of an
import at 100,000 rows and at the full size.

    .venv/bin/python bench/import_telecom.py                      # 1,000,000 rows, SQLite and MariaDB
    .venv/bin/python bench/import_telecom.py --rows 100000 --backends sqlite
    .venv/bin/python bench/import_telecom.py --workdir /tmp/bench-import   # reuse generated files

Judged by: import time / bare openpyxl iteration time at the full size (goal <= 1.0 on each
backend), and peak memory at the full size / at 100,000 rows (goal <= 1.2). Each measurement runs
in a fresh child process, so peaks are its own (ru_maxrss, baseline included; the baseline before
the import is printed too) plus the peak of the import's reader process (large sheets are read,
checked and encrypted by a helper process while the import process writes). MariaDB: MYSQL_BENCH_URL (default
mysql://root@127.0.0.1:3306), a throw-away database per run. Generating the 1M-row file with
openpyxl's write-only mode takes a few minutes; it is kept in --workdir and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

MYSQL_URL = os.environ.get("MYSQL_BENCH_URL", "mysql://root@127.0.0.1:3306")
SMALL = 100_000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: str, rows: int) -> None:
    from tests.fakes.xlsx_files import TELECOM_HEADERS, telecom_rows, write_workbook

    started = time.perf_counter()
    write_workbook(path + ".part", TELECOM_HEADERS, telecom_rows(rows, bad_every=10))
    os.replace(path + ".part", path)
    print(f"  generated {rows:,} rows in {time.perf_counter() - started:.0f} s ({os.path.getsize(path) / 1e6:.0f} MB)",
          flush=True)


def child_iterate(path: str) -> dict:
    """What openpyxl needs just to go through every row of the file."""
    import openpyxl

    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mb": peak_mb()}


def child_import(path: str, backend: str) -> dict:
    """The whole import of the file, as the upload page runs it, on a fresh database."""
    import pymysql

    from config import TestConfig
    from models import db as database
    from models import schema
    from models.admin import AdminUser
    from models.fields import blind_index
    from models.regions import Region
    from models import cipher
    from services.operations.demo import ZHENGZHOU
    from services.investigations import importer, sources
    from services.common.regions import load_tree

    workdir = os.path.dirname(path)
    drop = None
    if backend == "sqlite":
        db_path = os.path.join(workdir, f"bench-{uuid.uuid4().hex[:8]}.db")
        url = f"sqlite:///{db_path}"
        drop = lambda: [os.remove(p) for p in (db_path, db_path + "-wal", db_path + "-shm") if os.path.exists(p)]
    else:
        name = f"bench_import_{uuid.uuid4().hex[:8]}"
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        url = f"{MYSQL_URL.rstrip('/')}/{name}"

        def drop():
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    config = TestConfig(database_url=url, import_max_rows=2_000_000)
    cipher.configure(cipher.DataCipher.from_setting(config.data_key))
    database.bind(url)
    try:
        schema.migrate()
        load_tree(ZHENGZHOU)
        # Not admin_auth.create_admin: its password hashing (argon2, 64 MB) would be the peak measured.
        city = AdminUser.create(phone="13810000001", phone_bidx=blind_index("13810000001", "phone"), name="市级管理员",
                                role="city", region=Region.get(Region.code == "410100"), password_hash="!")
        upload = os.path.join(workdir, f"upload-{uuid.uuid4().hex[:8]}.xlsx")
        shutil.copyfile(path, upload)  # the upload handler hands the import its own copy
        baseline = peak_mb()
        settings = importer.Settings.from_config(config)
        started = time.perf_counter()
        info, columns = importer.check_upload(upload, sources.TELECOM, settings)
        job = importer.create_job(city, sources.TELECOM, None, "telecom.xlsx", upload, info)
        job = importer.run(job.id, upload, info, columns, settings)
        seconds = time.perf_counter() - started
        os.remove(upload)
        # A large sheet is read by a helper process (services.investigations.importer): its peak
        # counts too (its own VmHWM: ru_maxrss of children would count the fork before exec).
        helper = importer.READER_PEAK_KB.get(job.id, 0) / 1024
        return {"seconds": seconds, "status": job.status, "rows": job.rows, "good": job.good, "bad": job.bad,
                "inserted": job.inserted, "peak_mb": peak_mb() + helper, "process_mb": peak_mb(),
                "helper_mb": helper, "baseline_mb": baseline}
    finally:
        database.db.close()
        if drop:
            drop()


def run_child(*args: str) -> dict:
    output = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *args], check=True,
                            capture_output=True, text=True, cwd=ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,mysql")
    parser.add_argument("--workdir", default=None, help="where the generated files are kept (default: a temp dir)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        result = child_iterate(path) if kind == "iterate" else child_import(path, rest[0])
        print(json.dumps(result))
        return

    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-import-")
    os.makedirs(workdir, exist_ok=True)
    sizes = sorted({min(SMALL, args.rows), args.rows})
    files = {}
    for rows in sizes:
        files[rows] = os.path.join(workdir, f"telecom_{rows}.xlsx")
        if not os.path.exists(files[rows]):
            generate(files[rows], rows)
    full = files[args.rows]
    print(f"file: {full} ({os.path.getsize(full) / 1e6:.0f} MB, {args.rows:,} rows, 10% bad ID numbers)", flush=True)
    bare = run_child("iterate", full)
    print(f"openpyxl read-only, bare iteration: {bare['seconds']:.1f} s ({bare['rows']:,} rows incl. header), "
          f"peak {bare['peak_mb']:.0f} MB", flush=True)
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result = {rows: run_child("import", files[rows], backend) for rows in sizes}
        big, small = result[args.rows], result[sizes[0]]
        print(f"[{backend}] import of {big['rows']:,} rows: {big['seconds']:.1f} s ({big['status']}, "
              f"{big['good']:,} good, {big['bad']:,} bad, {big['inserted']:,} inserted; "
              f"{big['rows'] / big['seconds']:,.0f} rows/s)", flush=True)
        print(f"[{backend}]   import / bare iteration = {big['seconds'] / bare['seconds']:.2f}  (goal <= 1.00)")
        for label, figures in ((f"{sizes[0]:,} rows", small), (f"{args.rows:,} rows", big)):
            print(f"[{backend}]   peak memory at {label}: {figures['peak_mb']:.0f} MB = import process "
                  f"{figures['process_mb']:.0f} MB (baseline before the import {figures['baseline_mb']:.0f} MB) "
                  f"+ reader process {figures['helper_mb']:.0f} MB", flush=True)
        print(f"[{backend}]   peak memory ratio {args.rows:,} / {sizes[0]:,} rows = "
              f"{big['peak_mb'] / small['peak_mb']:.2f}  (goal <= 1.20)", flush=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
