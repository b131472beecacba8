"""The Excel import (H1): an upload is checked (`xlsx.inspect`, then its header row) while the
uploader waits, becomes an `ImportJob`, and is imported off the IOLoop on one import thread with
its own database connection. Rows are read, checked and prepared (encrypted, blind-indexed) in
batches of `BATCH`; the sheet is read by a helper process (`python -m
services.investigations.importer`) so that this CPU half runs on a second core, up to `READ_AHEAD`
batches ahead, while the import thread writes: person match, dispatch, one multi-row INSERT per
batch, the refused cells, the job's progress, committed every `TRANSACTION_ROWS` rows. Good rows
are kept, bad ones are reported cell by cell (row number, column, reason) and downloadable as an
xlsx; rows already on the list are ignored (dedupe by row key), so importing the same file again
adds nothing. A risk list's checked rows go to risk_records.ingest instead (risk_lists.py): its
refusals join the bad-row report and rows already stored count as duplicates. A job that stops
part-way (too many rows, a broken sheet, a database error) removes what it wrote.

A job whose process dies (a restart, a crash) cannot undo anything: every progress write moves
its heartbeat, and a reader finding a queued or running job whose heartbeat is older than
IMPORT_STALE_SECONDS marks it interrupted (`expire_stale`, one conditional UPDATE). What it had
committed stays, its counters agree with it (they are written in the same transactions), and
uploading the same file again imports the rest without duplicates.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import itertools
import logging
import os
import pickle
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass

import peewee

from models.db import db, is_mysql
from models.fields import utcnow
from models.investigations import ImportJob, ImportRowError, TaskRecord
from models.sql_literals import SqlLiterals
from models.regions import Region
from services.common import excel
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.investigations import cells, risk_lists, sources, xlsx
from services.investigations.dispatch import Dispatcher, district_key
from services.investigations.records import RowBuilder, execute_many, insert_rows
from services.investigations.sources import Source
from services.operations import metrics
from services.oversight import audit

log = logging.getLogger("healthcode.investigations.import")

BATCH = 1000
# Rows per transaction: fewer commits write each index page fewer times (progress moves per commit).
TRANSACTION_ROWS = 10_000
SQLITE_CACHE_KB = 32 * 1024  # bounded: the import's memory must not grow with the file
# Sheets at least this large are read by a helper process while this thread writes. Every sheet:
# parsing holds the GIL in long C calls (expat, zlib), which stalled the server's event loop by
# 60-100 ms even for a 3,000-row sheet; the helper costs about a second's start per import.
PARALLEL_MIN_BYTES = 0
# Batches the helper process may prepare ahead of the import thread (about 1 MB each).
READ_AHEAD = 4
STATUS_LABELS = {"queued": "排队中", "running": "导入中", "done": "已完成", "failed": "已失败",
                 "interrupted": "已中断"}
ACTIVE = ("queued", "running")  # the statuses a live process owns (and must keep heartbeating)
FINISHED = ("done", "failed", "interrupted")
_HEADER_NOISE = re.compile(r"[\s*＊:：]")
ERROR_FIELDS = (ImportRowError.job, ImportRowError.row_number, ImportRowError.column, ImportRowError.reason)
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="import")
# Jobs of this process waiting for the import thread: the running import keeps their heartbeat
# too, so a job queued behind a long import is not taken for one whose process died.
_QUEUED: set[int] = set()


@dataclass(frozen=True)
class Settings:
    """What an import needs from the configuration."""

    limits: xlsx.Limits
    watched_stations: tuple[str, ...] = ()
    data_key: str = ""  # the helper process encrypts too: it needs DATA_KEY
    parallel: bool | None = None  # None: a helper process for sheets of PARALLEL_MIN_BYTES or more

    @classmethod
    def from_config(cls, config, parallel: bool | None = None) -> "Settings":
        return cls(xlsx.Limits(max_bytes=config.import_max_bytes, max_uncompressed=config.import_max_uncompressed_bytes,
                               max_rows=config.import_max_rows, max_columns=config.import_max_columns),
                   tuple(s.strip() for s in (config.railway_boarding_stations or "").split(",") if s.strip()),
                   config.data_key, parallel)


def _normal(header) -> str:
    return _HEADER_NOISE.sub("", cells.text_of(header)).replace("（", "(").replace("）", ")")


def _header_map(template: tuple, label: str, header_row: list) -> dict[str, int]:
    """Column key -> index in the sheet, found by header text (any order); a missing column
    refuses the whole file, naming it (`label`: the template's name, for the message)."""
    positions: dict[str, int] = {}
    for index, header in enumerate(header_row):
        positions.setdefault(_normal(header), index)
    found, missing = {}, []
    for column in template:
        for name in (column.header, *column.aliases):
            if _normal(name) in positions:
                found[column.key] = positions[_normal(name)]
                break
        else:
            if not column.optional:
                missing.append(column.header)
    if missing:
        raise ApiError("missing_columns", f"缺少必需的列：{'、'.join(missing)}（请使用“{label}”的模板）",
                       400, "file")
    return found


def open_sheet(path: str, info: xlsx.SheetInfo, template: tuple, label: str, max_columns: int):
    """The checked header row's column map, and the data rows (row number, cells) after it;
    an empty sheet, one with only a header, or a header wider than `max_columns` is refused."""
    rows = xlsx.SheetReader(path, info).rows()
    first = next(rows, None)
    if first is None:
        raise ApiError("empty_sheet", "工作表为空：没有表头，也没有数据", 400, "file")
    if len(first[1]) > max_columns:  # a sheet that declared no dimension: its header's width
        raise xlsx.too_many_columns(len(first[1]), max_columns)
    columns = _header_map(template, label, first[1])
    second = next(rows, None)
    if second is None:
        raise ApiError("no_rows", "文件中只有表头，没有数据行", 400, "file")
    return columns, itertools.chain([second], rows)


def check_upload(path: str, source: Source, settings: Settings) -> tuple[xlsx.SheetInfo, dict[str, int]]:
    """Everything checked before a job exists: the file (before parsing), then its header row."""
    info = xlsx.inspect(path, settings.limits)
    columns, _ = open_sheet(path, info, source.columns, source.label, settings.limits.max_columns)
    return info, columns


def file_hash(path: str) -> str:
    """The upload's sha256 (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def create_job(admin, source: Source, category: str | None, file_name: str, path: str,
               info: xlsx.SheetInfo, digest: str | None = None) -> ImportJob:
    """The job of a checked upload (queued); `digest` is the file's sha256 when already known."""
    if source.categories and category not in source.categories:
        raise ApiError("invalid_field", "请选择所属分类", 400, "category")
    if admin.role not in source.import_roles:
        raise ApiError("forbidden", "当前账号不能导入该名单", 403)
    return ImportJob.create(source=source.code, category=category if source.categories else None,
                            file_name=(os.path.basename(file_name or "upload.xlsx"))[:255], file_hash=digest or file_hash(path),
                            file_size=os.path.getsize(path), bytes_total=info.sheet_size, uploaded_by=admin)


def start(job: ImportJob, path: str, info: xlsx.SheetInfo, columns: dict[str, int], settings: Settings):
    """Queue the job on the import thread; the file is removed when it ends."""
    _QUEUED.add(job.id)
    return _EXECUTOR.submit(_run_in_thread, job.id, path, info, columns, settings)


def _run_in_thread(job_id: int, path: str, info, columns, settings: Settings) -> None:
    _QUEUED.discard(job_id)
    # peewee connections are per thread: this thread opens its own and closes it at the end.
    db.connect(reuse_if_open=True)
    try:
        run(job_id, path, info, columns, settings)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
        db.close()


class _RowLimit(Exception):
    pass


class _Lost(Exception):
    """The job is no longer running (marked interrupted elsewhere): stop without touching it."""


def _checker(column, today, districts=None):
    """A column's check, with a fast path for the common cells (plain text, repeated dates).
    `districts`: the names a "district" column may hold (None: not checked)."""
    if column.kind == "district" and districts is not None:
        def check_district(value):
            text = cells.check(column, value, today)
            if text is not None and district_key(districts, text) is None:
                raise cells.CellError(f"{column.header}“{text[:32]}”不是本市的区县")
            return text
        return check_district
    if column.kind == "text":
        def check_text(value):
            if type(value) is str:
                text = value.strip()
                if text and len(text) <= column.max_len:
                    return text
            return cells.check(column, value, today)
        return check_text
    if column.kind == "date":
        seen: dict = {}

        def check_date(value):
            # Lists carry few distinct dates: each is checked once (bounded, so memory stays flat).
            try:
                return seen[value]
            except (KeyError, TypeError):
                pass
            result = cells.check(column, value, today)
            if len(seen) < 4096:
                try:
                    seen[value] = result
                except TypeError:
                    pass
            return result
        return check_date
    return lambda value: cells.check(column, value, today)


def _batches(path: str, info: xlsx.SheetInfo, columns: dict[str, int], builder: RowBuilder, max_rows: int,
             districts: frozenset | None = None):
    """Read, check and prepare the rows: yields (prepared rows, error cells, rows, bad rows, bytes
    read) per `BATCH`; raises _RowLimit past `max_rows`. Touches no database: `districts` are the
    district names of the uploader's city, read beforehand."""
    reader = xlsx.SheetReader(path, info)
    today = china_today()
    job_id = builder.job_id
    checks = [(c.key, c.header, columns[c.key], _checker(c, today, districts)) for c in builder.source.columns
              if c.key in columns]
    # A risk list's rows go to risk_records.ingest as checked values, with their row numbers.
    risk = builder.source.risk_kind is not None
    prepare = builder.prepare
    prepared: list = []
    errors: list = []
    rows = bad = total = 0
    row_iter = reader.rows()
    next(row_iter, None)  # the header row, checked before the job was made
    for row_number, raw in row_iter:
        rows += 1
        total += 1
        if total > max_rows:
            raise _RowLimit()
        values, row_errors = {}, None
        width = len(raw)
        for key, header, index, check in checks:
            try:
                values[key] = check(raw[index] if index < width else None)
            except cells.CellError as error:
                if row_errors is None:
                    row_errors = []
                row_errors.append((job_id, row_number, header, error.reason[:255]))
        if row_errors:
            bad += 1
            errors.extend(row_errors)
        else:
            prepared.append((row_number, values) if risk else prepare(values, row_number))
        if len(prepared) + len(errors) >= BATCH:
            yield prepared, errors, rows, bad, reader.bytes_done
            prepared, errors, rows, bad = [], [], 0, 0
    yield prepared, errors, rows, bad, reader.bytes_done


def _reader_main() -> None:
    """`python -m services.investigations.importer FD`: the helper process of a large import.
    Reads its arguments (with DATA_KEY: it encrypts too) as one pickle on stdin, then writes the
    batches as pickles to the pipe FD, so the import thread writes one batch while this reads the
    next. Not to stdout: whatever else writes there (a library's print, a sitecustomize) would
    end up inside the stream of pickles."""
    from models import cipher

    stdin, pipe = sys.stdin.buffer, os.fdopen(int(sys.argv[1]), "wb")
    args = pickle.load(stdin)
    cipher.configure(cipher.DataCipher.from_setting(args["data_key"]))
    literals = SqlLiterals(args["no_backslash_escapes"]) if args["literals"] else None
    builder = RowBuilder(sources.get(args["source"]), category=args["category"], job_id=args["job_id"],
                         admin_id=args["admin_id"], literals=literals)
    # A thread writes to the pipe: a batch waits in this queue, not in a blocked write, while the
    # import thread is busy with the database, so reading goes on (a pipe holds 64 KB, a batch 1 MB).
    pending: queue.Queue = queue.Queue(maxsize=READ_AHEAD)

    def send() -> None:
        try:
            while (data := pending.get()) is not None:
                pipe.write(data)
                pipe.flush()
        except OSError:
            os._exit(1)  # the import process is gone: nobody will read the rest

    sender = threading.Thread(target=send, name="import-reader-send", daemon=True)
    sender.start()
    try:
        for batch in _batches(args["path"], args["info"], args["columns"], builder, args["max_rows"],
                              args["districts"]):
            pending.put(pickle.dumps(("batch", batch), protocol=pickle.HIGHEST_PROTOCOL))
        message = ("done", _peak_kb())
    except _RowLimit:
        message = ("row_limit", None)
    except ApiError as error:
        message = ("refused", error.message)
    except Exception as exc:  # reported by the import thread, which undoes the job
        message = ("crashed", type(exc).__name__)
    pending.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    pending.put(None)
    sender.join()


def _peak_kb() -> int:
    """This process's peak memory since it started (VmHWM: not inherited across exec)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    except (OSError, StopIteration, ValueError):
        return 0


READER_PEAK_KB: dict[int, int] = {}  # job id -> its reader process's peak memory (the benchmark reads it)


def _batches_from_process(path, info, columns, builder: RowBuilder, max_rows: int, data_key: str,
                          literals: SqlLiterals | None = None, districts: frozenset | None = None):
    """`_batches`, computed by a helper process (a second core does the CPU half of the import).
    A fresh interpreter, not multiprocessing: nothing of the server is imported or forked there."""
    receiving, sending = os.pipe()
    with os.fdopen(receiving, "rb") as batches:
        try:
            process = subprocess.Popen([sys.executable, "-m", "services.investigations.importer", str(sending)],
                                       cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       pass_fds=(sending,))
        finally:
            os.close(sending)  # the helper has its own: the pipe ends when the helper does
        try:
            pickle.dump({"data_key": data_key, "path": path, "info": info, "columns": columns,
                         "source": builder.source.code, "category": builder.category, "job_id": builder.job_id,
                         "admin_id": builder.admin_id, "max_rows": max_rows, "districts": districts,
                         "literals": literals is not None,
                         "no_backslash_escapes": bool(literals and literals.no_backslash_escapes)}, process.stdin)
            process.stdin.close()
            while True:
                try:
                    kind, payload = pickle.load(batches)
                except (EOFError, pickle.UnpicklingError):
                    raise RuntimeError("import reader process ended unexpectedly") from None
                if kind == "batch":
                    yield payload
                elif kind == "done":
                    READER_PEAK_KB[builder.job_id] = payload or 0
                    while len(READER_PEAK_KB) > 100:
                        READER_PEAK_KB.pop(next(iter(READER_PEAK_KB)))
                    return
                elif kind == "row_limit":
                    raise _RowLimit()
                elif kind == "refused":
                    raise ApiError("not_xlsx", payload, 400, "file")
                else:
                    raise RuntimeError(f"import reader process failed: {payload}")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def _mysql_literals() -> SqlLiterals | None:
    """On MySQL, the reader process writes the rows as SQL text, escaped for this server's mode."""
    return SqlLiterals.for_connection(db.connection()) if is_mysql() else None


def _bigger_sqlite_cache():
    """SQLite only: a larger page cache for this connection while it imports (the previous
    setting, to put back). The keyed-hash indexes (row key, ID, phone) take rows in random order:
    with the default 2 MB cache a million rows cost nearly twice what they cost with this."""
    if is_mysql():
        return None
    previous = db.execute_sql("PRAGMA cache_size").fetchone()[0]
    db.execute_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
    return previous


def run(job_id: int, path: str, info: xlsx.SheetInfo, columns: dict[str, int], settings: Settings) -> ImportJob:
    """Import a checked file for its job, on the calling thread and connection. A large file is
    read and checked by a helper process meanwhile (`Settings.parallel`)."""
    job = ImportJob.get_by_id(job_id)
    source = sources.get(job.source)
    uploader = job.uploaded_by if job.uploaded_by_id else None
    region = Region.get_by_id(uploader.region_id) if uploader else None
    now = utcnow()
    # Only a queued job starts: one already marked interrupted (its wait looked dead) stays so.
    if not ImportJob.update(status="running", started_at=now, heartbeat_at=now).where(
            (ImportJob.id == job_id) & (ImportJob.status == "queued")).execute():
        log.warning("import %s is no longer queued: not started", job_id)
        return ImportJob.get_by_id(job_id)
    existing = TaskRecord.select().where(TaskRecord.source == source.code).count() if \
        source.dispatch == "boarding_station" else 0
    dispatcher = None if source.risk_kind else Dispatcher(source, region, watched_stations=settings.watched_stations,
                                                          start=existing)
    builder = RowBuilder(source, category=job.category, job_id=job_id, admin_id=uploader.id if uploader else None)
    parallel = settings.parallel if settings.parallel is not None else info.sheet_size >= PARALLEL_MIN_BYTES
    districts = frozenset(dispatcher.district_names) if dispatcher else None
    literals = None
    if parallel and settings.data_key:
        literals = _mysql_literals()
        batches = _batches_from_process(path, info, columns, builder, settings.limits.max_rows, settings.data_key,
                                        literals, districts)
    else:
        batches = _batches(path, info, columns, builder, settings.limits.max_rows, districts)
    counts = {"rows": 0, "good": 0, "bad": 0, "inserted": 0, "duplicates": 0, "filtered": 0}
    failure, lost = None, False
    transaction, in_transaction = None, 0
    previous_cache = _bigger_sqlite_cache()
    try:
        for prepared, errors, rows, bad, bytes_done in batches:
            if transaction is None:
                transaction = db.atomic()
                transaction.__enter__()
            if source.risk_kind:
                inserted, duplicates, refused, refused_rows = risk_lists.import_rows(
                    source, job_id, prepared, uploader, region, bad)
                errors, filtered = errors + refused, 0
            else:
                inserted, filtered, refused = insert_rows(dispatcher, prepared, literals)
                # A row naming a county outside the city is a bad row, like one with a bad cell.
                refused_rows = len({number for number, _, _ in refused})
                errors = errors + [(job_id, number, header, reason[:255]) for number, header, reason in refused]
                duplicates = len(prepared) - refused_rows - filtered - inserted
            counts["rows"] += rows
            counts["bad"] += bad + refused_rows
            counts["good"] += len(prepared) - refused_rows
            metrics.IMPORT_ROWS.labels(source.code, "good").inc(len(prepared) - refused_rows)
            metrics.IMPORT_ROWS.labels(source.code, "bad").inc(bad + refused_rows)
            counts["inserted"] += inserted
            counts["filtered"] += filtered
            counts["duplicates"] += duplicates
            execute_many(ImportRowError, ERROR_FIELDS, errors)
            _write_progress(job_id, counts, bytes_done)
            in_transaction += rows
            if in_transaction >= TRANSACTION_ROWS:
                transaction.__exit__(None, None, None)
                transaction, in_transaction = None, 0
        if transaction is not None:
            transaction.__exit__(None, None, None)
            transaction = None
    except _Lost:
        # Another reader decided this job was dead: what it says was kept is what is committed,
        # so the open batch is rolled back (below) and nothing else is touched.
        log.warning("import %s was marked interrupted while it ran: stopped", job_id)
        lost = True
    except _RowLimit:
        failure = f"行数超过上限（最多 {settings.limits.max_rows:,} 行），本次导入已撤销，请拆分文件后重新上传"
    except ApiError as error:
        failure = error.message
    except Exception:
        log.exception("import %s failed", job_id)
        failure = "导入失败（服务器内部错误），本次导入已撤销，请稍后重试"
    finally:
        if transaction is not None:
            transaction.__exit__(RuntimeError, RuntimeError("import stopped"), None)  # rolls back
        batches.close()
        if previous_cache is not None:
            db.execute_sql(f"PRAGMA cache_size = {int(previous_cache)}")
    if failure is not None:
        _undo(job_id, failure)
    elif not lost:
        now = utcnow()
        ImportJob.update(status="done", finished_at=now, heartbeat_at=now, message=summary_text(counts)).where(
            (ImportJob.id == job_id) & (ImportJob.status == "running")).execute()
    return ImportJob.get_by_id(job_id)


def _write_progress(job_id: int, counts: dict, bytes_done: int) -> None:
    """The job's counters and heartbeat (committed with the batch they count), and the heartbeat
    of this process's jobs queued behind it. Raises _Lost when the job is no longer running."""
    now = utcnow()
    if not ImportJob.update(**counts, bytes_done=bytes_done, heartbeat_at=now).where(
            (ImportJob.id == job_id) & (ImportJob.status == "running")).execute():
        raise _Lost()
    waiting = list(_QUEUED)
    if waiting:
        ImportJob.update(heartbeat_at=now).where(ImportJob.id.in_(waiting) & (ImportJob.status == "queued")).execute()


def _stale_condition(cutoff: dt.datetime):
    # COALESCE: a row written before the heartbeat column existed counts from its creation.
    return ImportJob.status.in_(ACTIVE) & (peewee.fn.COALESCE(ImportJob.heartbeat_at, ImportJob.created_at) < cutoff)


def interrupted_text(job: ImportJob) -> str:
    """What an interrupted job says: what was kept, and that the same file can simply be sent again."""
    if job.status == "queued" or not job.rows:
        kept = "尚未保存任何数据行"
    else:
        kept = f"已读 {job.rows} 行，其中成功的 {job.good} 行（新增 {job.inserted} 行）已保存并保留"
        if job.bad:
            kept += f"，失败 {job.bad} 行可下载错误报告"
    return (f"导入已中断（处理导入的服务进程已停止）：{kept}。请重新上传同一文件继续导入，"
            "已导入的行不会重复添加")


def expire_stale(limit_seconds: int, job_ids: list[int] | None = None, now: dt.datetime | None = None) -> list[int]:
    """Mark queued / running imports (of `job_ids`, or all) whose heartbeat is older than
    `limit_seconds` as interrupted, audited; return the ids changed.

    A plain read finds the candidates, so a live import is never waited for; each is then changed
    by one conditional UPDATE (still active, heartbeat still old), which the database applies once:
    two readers cannot both change a job, and an import that wrote progress meanwhile is left
    alone (the UPDATE re-reads the row it would change)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=limit_seconds)
    query = ImportJob.select().where(_stale_condition(cutoff))
    if job_ids is not None:
        query = query.where(ImportJob.id.in_(list(job_ids)))
    changed = []
    for job in list(query.limit(100)):
        message = interrupted_text(job)
        try:
            with db.atomic():
                if not ImportJob.update(status="interrupted", message=message[:255], finished_at=now).where(
                        (ImportJob.id == job.id) & _stale_condition(cutoff)).execute():
                    continue
                audit.record(None, "system", "import_status", job, source=job.source, status_from=job.status,
                             status_to="interrupted", heartbeat_at=job.heartbeat_at or job.created_at,
                             stale_seconds=limit_seconds, rows=job.rows, good=job.good, inserted=job.inserted)
        except peewee.OperationalError:
            # SQLite: another import holds the write lock past the busy timeout; the next read retries.
            log.warning("import %s looks interrupted but the database is busy: left for the next read", job.id)
            continue
        log.warning("import %s marked interrupted: no heartbeat since %s", job.id, job.heartbeat_at)
        changed.append(job.id)
    return changed


def checked(job: ImportJob, limit_seconds: int, now: dt.datetime | None = None) -> ImportJob:
    """`job` as a reader should show it: marked interrupted first if its process is gone. A live
    or finished job costs no query."""
    now = now or utcnow()
    if job.status not in ACTIVE:
        return job
    if (job.heartbeat_at or job.created_at) >= now - dt.timedelta(seconds=limit_seconds):
        return job
    expire_stale(limit_seconds, [job.id], now)
    return ImportJob.get_by_id(job.id)


def _undo(job_id: int, message: str) -> None:
    """A job that stops part-way leaves nothing behind: its records go (a risk list's with the
    colours they had turned), the job says why."""
    source = sources.get(ImportJob.get_by_id(job_id).source)
    with db.atomic():
        if source.risk_kind:
            risk_lists.withdraw(source, job_id)
        while True:
            ids = [i for (i,) in TaskRecord.select(TaskRecord.id).where(TaskRecord.import_job == job_id)
                   .limit(5000).tuples()]
            if not ids:
                break
            TaskRecord.delete().where(TaskRecord.id.in_(ids)).execute()
        ImportRowError.delete().where(ImportRowError.job == job_id).execute()
        ImportJob.update(status="failed", message=message[:255], finished_at=utcnow(), inserted=0).where(
            ImportJob.id == job_id).execute()


def summary_text(counts: dict) -> str:
    """The finished job's one-line result (what the job page and the import list show)."""
    text = f"共 {counts['rows']} 行：成功 {counts['good']} 行（新增 {counts['inserted']} 行"
    if counts["duplicates"]:
        text += f"，已存在 {counts['duplicates']} 行未重复添加"
    if counts["filtered"]:
        text += f"，按上车站筛除 {counts['filtered']} 行"
    return text + f"），失败 {counts['bad']} 行"


def progress(job: ImportJob) -> dict:
    """What the upload page's progress bar polls."""
    finished = job.status in FINISHED
    percent = 100 if job.status == "done" else (
        min(99, int(job.bytes_done * 100 / job.bytes_total)) if job.bytes_total else 0)
    return {"id": job.id, "status": job.status, "status_label": STATUS_LABELS.get(job.status, job.status),
            "percent": percent, "rows": job.rows, "good": job.good, "bad": job.bad, "inserted": job.inserted,
            "duplicates": job.duplicates, "filtered": job.filtered, "finished": finished,
            "message": job.message or "", "has_errors": job.bad > 0}


def error_report(job: ImportJob) -> bytes:
    """The refused cells as an xlsx: 行号, 列, 原因 (nothing personal in it)."""
    rows = (ImportRowError.select(ImportRowError.row_number, ImportRowError.column, ImportRowError.reason)
            .where(ImportRowError.job == job.id).order_by(ImportRowError.row_number, ImportRowError.id).tuples()
            .iterator())
    return excel.write_xlsx(["行号", "列", "原因"], rows, sheet_title="导入错误报告", widths=[10, 18, 48])


def blank_template(source: Source) -> bytes:
    """The source's template: just its header row."""
    return excel.write_xlsx(source.headers, [], sheet_title=source.label,
                            widths=[max(12, 2 * len(h) + 4) for h in source.headers])


if __name__ == "__main__":
    _reader_main()
