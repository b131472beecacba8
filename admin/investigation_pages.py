"""任务排查's own pages (H1, H5): upload a list (streamed to a temp file, checked, imported in the
background with a progress bar), the error report, the blank templates, and the completion
statistics with their chart and export. The lists themselves are resources
(admin/resources/investigations.py).

    /admin/imports/                       导入记录: recent imports, upload links, templates
    /admin/imports/new?source=telecom     上传 (GET form; POST multipart, streamed, _xsrf in the query)
    /admin/imports/{id}                   one import: progress bar, counts, error report link
                                          (a job whose process died is shown as 已中断: every
                                          reader here checks its heartbeat, importer.checked)
    /admin/imports/{id}/progress          JSON the progress bar polls
    /admin/imports/{id}/errors.xlsx       错误报告 (row, column, reason)
    /admin/imports/template/{source}.xlsx 模板下载
    /admin/investigations/stats           排查统计 / 境外排查完成率 (?format=xlsx: the export's purpose form, POST: the file)

The upload body is streamed to disk as it arrives (never held in memory), so files larger than the
server's general body limit are fine: the limit here is IMPORT_MAX_BYTES. Tornado checks the XSRF
token before the body is read, so the upload form carries it in its URL.
"""

from __future__ import annotations

import datetime as dt
import mmap
import os
import re
import tempfile
import urllib.parse

import tornado.web

from admin.handlers import AdminHandler, AdminJsonHandler, menu
from handlers import shedding
from services.common import excel
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.investigations import import_jobs, importer, sources, stats, xlsx
from services.operations import pools
from services.oversight import exports

MULTIPART_SLACK = 64 * 1024  # the form's other fields and the part headers around the file
STATS_ROLES = ("city", "district")
_DISPOSITION_RE = re.compile(r'(\w+)\*?="([^"]*)"')


class InvestigationPage(AdminHandler):
    """Rendering of this area's templates (in admin/templates/investigations/)."""

    def page(self, template: str, **values):
        self.render_page(f"investigations/{template}", sources=sources, local_iso=local_iso, **values)


class ImportListHandler(InvestigationPage):
    def get(self):
        self.page("imports.html", importable=sources.importable_by(self.admin.role),
                  jobs=import_jobs.recent(self.admin, self.config.import_stale_seconds), labels=importer.STATUS_LABELS)


def _multipart(path: str, boundary: bytes, complete: bool = True) -> tuple[dict, tuple | None]:
    """The form fields of a multipart body on disk and the (filename, start, end) of its file part,
    found without reading the file into memory. `complete=False`: the body was cut short; the
    fields before the file are all that is wanted."""
    fields: dict[str, str] = {}
    upload = None
    if os.path.getsize(path) == 0:
        return fields, upload
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
        delimiter = b"--" + boundary
        position = body.find(delimiter)
        while position != -1:
            position += len(delimiter)
            if body[position:position + 2] == b"--":
                break
            header_end = body.find(b"\r\n\r\n", position)
            end = body.find(b"\r\n" + delimiter, header_end + 4) if header_end != -1 else -1
            if end == -1:
                if not complete:
                    break
                raise ApiError("bad_upload", "上传内容不完整，请重新上传", 400, "file")
            headers = body[position:header_end].decode("utf-8", "replace")
            disposition = next((line for line in headers.split("\r\n")
                                if line.lower().startswith("content-disposition")), "")
            params = {k.lower(): v for k, v in _DISPOSITION_RE.findall(disposition)}
            if "filename" in params:
                upload = (params["filename"], header_end + 4, end)
            elif "name" in params and end - header_end < 4096:
                fields[params["name"]] = body[header_end + 4:end].decode("utf-8", "replace")
            position = end + 2
    return fields, upload


def _copy_range(source_path: str, start: int, end: int, target_dir: str | None) -> str:
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="import-", dir=target_dir or None)
    with open(source_path, "rb") as source, os.fdopen(handle, "wb") as target:
        source.seek(start)
        left = end - start
        while left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                break
            target.write(chunk)
            left -= len(chunk)
    return path


@tornado.web.stream_request_body
class ImportNewHandler(InvestigationPage):
    """上传: the form, then the upload streamed to a temp file, checked, queued."""

    shed_priority = shedding.BULK

    _spool = None

    def _source(self, code: str | None):
        importable = {s.code: s for s in sources.importable_by(self.admin.role)}
        if not importable:
            raise ApiError("forbidden", "当前账号不能导入名单", 403)
        if code in sources.SOURCES and code not in importable:
            raise ApiError("forbidden", "当前账号不能导入该名单", 403, "source")
        if code not in importable:
            raise ApiError("invalid_field", "请选择要导入的名单", 400, "source")
        return importable[code]

    def _form(self, source, error=None, status=200, category=None, error_code=None, field=None):
        self.set_status(status)
        self.page("upload.html", source=source, error=error, category=category, error_code=error_code, field=field,
                  max_mb=self.config.import_max_bytes // (1024 * 1024),
                  action="/admin/imports/new?_xsrf=" + urllib.parse.quote(self.xsrf_token.decode()))

    def initialize(self):
        self._refusal = None

    def check_xsrf_cookie(self):
        # A refusal is answered once the body has been read (and dropped): answering while the
        # browser is still sending makes it see a reset connection instead of the page.
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError as error:
            if self.request.method != "POST":
                raise
            self._refusal = error

    def prepare(self):
        super().prepare()
        self._spool = None
        if self._finished or self.request.method != "POST":
            return
        if self._refusal is None and not sources.importable_by(self.admin.role):
            self._refusal = ApiError("forbidden", "当前账号不能导入名单", 403)
        self._limit = self.config.import_max_bytes + MULTIPART_SLACK
        self._received = 0
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > 4 * self._limit:
            raise self._too_large()
        # A body somewhat over the limit is read (and dropped) so that the answer is a clear 413
        # page; one far over it is cut off by Tornado, which closes the connection.
        self.request.connection.set_max_body_size(4 * self._limit)
        if self._refusal is None:
            handle, self._spool_path = tempfile.mkstemp(suffix=".upload", dir=self.config.import_tmp_dir or None)
            self._spool = os.fdopen(handle, "wb")

    def _too_large(self) -> ApiError:
        return ApiError("file_too_large", f"文件过大（上限 {xlsx.size_text(self.config.import_max_bytes)}）", 413, "file")

    def data_received(self, chunk: bytes) -> None:
        if self._spool is not None:
            self._received += len(chunk)
            if self._received <= self._limit:
                self._spool.write(chunk)

    def on_finish(self):
        self._discard()
        super().on_finish()

    def on_connection_close(self):
        self._discard()

    def _discard(self):
        if self._spool is not None:
            self._spool.close()
            try:
                os.remove(self._spool_path)
            except OSError:
                pass
            self._spool = None

    def get(self):
        source = self._source(self.get_query_argument("source", None))
        self._form(source)

    async def post(self):
        if self._refusal is not None:
            raise self._refusal
        self._spool.close()
        path = None
        fields: dict = {}
        source = None
        try:
            boundary = re.search(r"boundary=\"?([^\";]+)\"?", self.request.headers.get("Content-Type", ""))
            if boundary is None:
                raise ApiError("bad_upload", "请通过上传表单选择文件", 400, "file")
            if self._received > self._limit:
                # Only the beginning was kept: the form's fields come first, then the file.
                fields, _ = await pools.run_in(pools.CPU, _multipart, self._spool_path, boundary.group(1).encode(),
                                               complete=False)
                source = self._source(fields.get("source"))
                raise self._too_large()
            # Reading the spooled body and copying the file out of it: file work of up to IMPORT_MAX_BYTES.
            fields, upload = await pools.run_in(pools.CPU, _multipart, self._spool_path, boundary.group(1).encode())
            source = self._source(fields.get("source"))
            if upload is None or not upload[0]:
                raise ApiError("missing_file", "请选择要上传的 Excel 文件", 400, "file")
            filename, start, end = upload
            if end - start > self.config.import_max_bytes:
                raise self._too_large()
            path = await pools.run_in(pools.CPU, _copy_range, self._spool_path, start, end, self.config.import_tmp_dir)
            self._discard()
            settings = importer.Settings.from_config(self.config)
            # Parsing the header and hashing a large file must not stall the other requests.
            info, columns = await pools.run_in(pools.CPU, importer.check_upload, path, source, settings)
            digest = await pools.run_in(pools.CPU, importer.file_hash, path)
            job = await pools.run_in(pools.DB, import_jobs.accept, self.admin, source, fields.get("category") or None,
                                     filename, path, info, columns, digest, settings)
            path = None  # the import thread owns it now
            self.redirect(f"/admin/imports/{job.id}", status=303)
        except ApiError as error:
            if source is None or error.status == 403:
                raise
            self._form(source, error=error.message, status=error.status, category=fields.get("category"),
                       error_code=error.code, field=error.field)
        finally:
            if path is not None:
                try:
                    os.remove(path)
                except OSError:
                    pass


class ImportJobHandler(InvestigationPage):
    def get(self, job_id):
        job = importer.checked(import_jobs.visible(self.admin, job_id), self.config.import_stale_seconds)
        source = sources.get(job.source)
        self.page("import_job.html", job=job, source=source, progress=importer.progress(job),
                  can_upload=self.admin.role in source.import_roles)


class ImportProgressHandler(AdminJsonHandler):
    """The progress bar's JSON (errors as JSON too)."""

    def get(self, job_id):
        job = importer.checked(import_jobs.visible(self.admin, job_id), self.config.import_stale_seconds)
        self.write(importer.progress(job))


class ImportErrorsHandler(AdminHandler):
    def get(self, job_id):
        job, content = import_jobs.error_report(self.admin, job_id)
        self.send_download(content, excel.XLSX_MIME, f"导入错误报告-{job.id}.xlsx")


class TemplateHandler(AdminHandler):
    def get(self, code):
        source = sources.all_sources().get(code)
        if source is None:
            raise ApiError("not_found", "模板不存在", 404)
        if self.admin.role not in (*source.import_roles, *source.roles):
            raise ApiError("forbidden", "当前账号无权下载该模板", 403)
        self.send_download(importer.blank_template(source), excel.XLSX_MIME, f"{source.label}模板.xlsx")


def _date_param(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400) from None


class StatsHandler(InvestigationPage):
    """排查统计 / 境外排查完成率: per district, with the city's total on top; by date. Its export
    (?format=xlsx) is a purpose form on GET and the watermarked, audited file on POST."""

    def _figures(self):
        if self.admin.role not in STATS_ROLES:
            raise ApiError("forbidden", "当前账号无权查看排查统计", 403)
        code = self.get_query_argument("source", "overseas")
        if code not in sources.SOURCES:
            raise ApiError("invalid_field", "名单无效", 400, "source")
        source = sources.get(code)
        category = self.get_query_argument("category", "") or None
        if category and category not in source.categories:
            raise ApiError("invalid_field", "分类无效", 400, "category")
        params = {"date_from": _date_param(self.get_query_argument("date_from", None)),
                  "date_to": _date_param(self.get_query_argument("date_to", None)), "category": category}
        query = {k: self.get_query_argument(k, "") for k in ("source", "date_from", "date_to", "category")}
        query["source"] = code
        return source, params, query, stats.completion(self.admin, code, **params)

    def get(self):
        source, params, query, figures = self._figures()
        if self.get_query_argument("format", "") == "xlsx":
            return self.export_form(f"导出 - {source.label}排查统计", "/admin/investigations/stats?" +
                                    urllib.parse.urlencode(query), {k: str(v) for k, v in params.items() if v})
        lines = figures["districts"]
        queue = figures["unassigned"]  # the city queue: shown apart, never as a district
        self.page("stats.html", source=source, figures=figures, lines=lines, chart=stats.chart(lines), queue=queue,
                  queue_link=f"/admin/r/{source.resource_name}/?unassigned=1", params=query, export_query=urllib.parse.urlencode({**query, "format": "xlsx"}))

    def post(self):
        source, params, query, figures = self._figures()
        filters = {k: str(v) for k, v in params.items() if v}
        purpose = self.export_purpose(f"导出 - {source.label}排查统计", "/admin/investigations/stats?" +
                                      urllib.parse.urlencode(query), filters)
        if purpose is None:
            return
        lines, queue = figures["districts"], figures["unassigned"]
        rows = [(figures["total"].name, figures["total"].should, figures["total"].done, figures["total"].rate_text)]
        rows += [(x.name, x.should, x.done, x.rate_text) for x in lines]
        if queue:
            rows.append((queue.name, queue.should, queue.done, queue.rate_text))
        rows += [("", "", "", ""), ("日期", "应排查", "已排查", "考核完成率")]
        rows += [(str(day), x.should, x.done, x.rate_text) for day, x in figures["by_date"]]
        content = excel.write_xlsx(["区域", "应排查", "已排查", "考核完成率"], rows, sheet_title=f"{source.label}排查统计",
                                   watermark=self.export_watermark(purpose))
        exports.record(self.admin, f"stats_{source.code}", purpose, rows=len(lines), filters=filters)
        self.send_download(content, excel.XLSX_MIME,
                           f"{source.label}排查统计-{dt.datetime.now().strftime('%Y%m%d%H%M')}.xlsx")


@menu(group="排查任务", order=10)
def nav_links(admin) -> list[tuple[str, str]]:
    """导入名单 in the side menu, for the roles that may upload a list (before the lists themselves)."""
    return [("导入名单", "/admin/imports/")] if sources.importable_by(admin.role) else []


@menu(group="统计", order=20)
def stats_links(admin) -> list[tuple[str, str]]:
    """排查统计 in the side menu, for the roles that may open it."""
    return [("排查统计", "/admin/investigations/stats")] if admin.role in STATS_ROLES else []


def routes(config) -> list:
    """This area's back-office routes (the list resources are served by the generic handlers)."""
    return [
        (r"/admin/imports/?", ImportListHandler),
        (r"/admin/imports/new", ImportNewHandler),
        (r"/admin/imports/(?P<job_id>\d+)", ImportJobHandler),
        (r"/admin/imports/(?P<job_id>\d+)/progress", ImportProgressHandler),
        (r"/admin/imports/(?P<job_id>\d+)/errors\.xlsx", ImportErrorsHandler),
        (r"/admin/imports/template/(?P<code>[a-z_]+)\.xlsx", TemplateHandler),
        (r"/admin/investigations/stats", StatsHandler),
    ]
