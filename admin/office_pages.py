"""Back-office pages for what only a command could do before (issue 20): blank code batches and
the medical staff list. The lists themselves are resources (admin/resources/code_batches.py,
admin/resources/fieldwork.py); these are the pages a resource cannot be:

    /admin/r/code_batches/new              生成空白码: type, count (1-100,000), district; the codes are
                                           written on the DB pool, all or nothing
    /admin/r/code_batches/{id}             the batch, its activations, and its print files
    /admin/r/code_batches/{id}/print.pdf   part=N: PRINT_PART posters, a page each (GET: the purpose
                                           form; POST with the purpose: the file)
    /admin/r/code_batches/{id}/print.zip   part=N: ZIP_PART bare QR PNGs named by serial number (same)
    /admin/medical-staff/import            导入医护人员名单 (表4-1 xlsx): counts and the bad rows
    /admin/medical-staff/template.xlsx     the blank 表4-1 list

`routes(config)` must come before `admin.handlers.routes(config)` (the batch URLs are also matched
by the generic resource handlers).
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse

from admin.handlers import AdminHandler, ResourceHandler, menu
from admin.resources import code_batches
from admin.resources.fieldwork import MedicalStaffAdmin
from handlers import shedding
from services.common import excel
from services.common.errors import ApiError
from services.fieldwork import medical_staff
from services.operations import pools
from services.oversight import audit, exports
from services.venues import places


class BatchNewHandler(ResourceHandler):
    """生成空白码: the form with this admin's types and districts, then the batch."""

    def _form(self, values=None, error=None, field=None, status=200):
        self.set_status(status)
        self.render_page("form.html", resource=self.resource("code_batches"), fields=code_batches.batch_form(self.admin),
                         values=values or {}, error=error, field=field, title="生成空白码",
                         action="/admin/r/code_batches/new")

    def get(self):
        self._form()

    def post(self):  # on the DB pool, as every synchronous page method (admin/handlers.py)
        resource = self.resource("code_batches")
        values = self.form_values()
        try:
            data = self.form_data(code_batches.batch_form(self.admin))
            batch = resource.create(self.ctx, data)
            audit.record(None, self.admin.role, "generate_code_batch", batch, admin_actor=self.admin,
                         place_type=batch.place_type, size=batch.size)
        except ApiError as error:
            return self._form(values, error.message, error.field, error.status)
        self.redirect(f"/admin/r/code_batches/{batch.id}?msg=" + urllib.parse.quote(f"已生成 {batch.size:,} 个空白码"))


class BatchDetailHandler(ResourceHandler):
    """A batch: its figures and its print files, part by part."""

    def get(self, row_id):
        resource = self.resource("code_batches")
        batch = resource.get_row(self.ctx, row_id)
        self.render_page("code_batch.html", resource=resource, row=batch,
                         pdf_parts=places.batch_parts(batch, places.PRINT_PART),
                         zip_parts=places.batch_parts(batch, places.ZIP_PART),
                         print_part=places.PRINT_PART, zip_part=places.ZIP_PART, purpose_max=exports.PURPOSE_MAX)


class BatchPrintHandler(ResourceHandler):
    """One print file of a batch: GET shows the purpose form, POST draws the file on the DB pool
    (watermarked with who, when and why) and audits it."""

    shed_priority = shedding.BULK

    def _form_parts(self, batch, fmt):
        part = self.get_argument("part", "1")
        title = f"下载{'海报 PDF' if fmt == 'pdf' else '二维码 PNG 压缩包'} - 空白码批次 P{batch.id} 第 {part} 份"
        return part, title, f"/admin/r/code_batches/{batch.id}", {"份数": part}

    def get(self, row_id, fmt):
        batch = self.resource("code_batches").get_row(self.ctx, row_id)
        part, title, back, filters = self._form_parts(batch, fmt)
        self.export_form(title, back, filters, {"part": part})

    def post(self, row_id, fmt):  # on the DB pool, drawing included
        batch = self.resource("code_batches").get_row(self.ctx, row_id)
        part, title, back, filters = self._form_parts(batch, fmt)
        purpose = self.export_purpose(title, back, filters, {"part": part})
        if purpose is None:
            return
        draw, mime, count = places.batch_print(batch, part, fmt, self.config, self.export_watermark(purpose))
        content = draw()
        exports.record(self.admin, "code_batches", purpose, rows=count, filters={"part": part, "format": fmt},
                       target=batch, action="print_code_batch", format=fmt, part=part)
        self.send_download(content, mime, f"空白码-P{batch.id}-第{part}份.{fmt}")


class MedicalImportHandler(AdminHandler):
    """导入医护人员名单: the 表4-1 xlsx; good rows are granted, bad ones listed with their reasons."""

    shed_priority = shedding.BULK

    def _require(self):
        if self.admin.role not in MedicalStaffAdmin.roles:
            raise ApiError("forbidden", "当前账号无权访问该页面", 403)

    def _page(self, result=None, error=None, status=200, error_code=None, field=None):
        self.set_status(status)
        self.render_page("medical_import.html", result=result, error=error, columns=medical_staff.LIST_COLUMNS,
                         error_code=error_code, field=field)

    def get(self):
        self._require()
        self._page()

    async def post(self):
        self._require()
        upload = (self.request.files.get("file") or [None])[0]
        if upload is None or not upload["body"]:
            return self._page(error="请选择要上传的 Excel 文件", status=400, error_code="empty_file", field="file")
        handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="medical-")
        try:
            with os.fdopen(handle, "wb") as target:
                target.write(upload["body"])
            result = await pools.run_in(pools.DB, medical_staff.import_list, self.admin, path)
        except ApiError as error:
            return self._page(error=error.message, status=error.status, error_code=error.code, field=error.field)
        finally:
            os.remove(path)
        self._page(result=result)


class MedicalTemplateHandler(MedicalImportHandler):
    def get(self):
        self._require()
        self.send_download(medical_staff.template(), excel.XLSX_MIME, "医护人员名单（表4-1）模板.xlsx")


@menu(group="账号与系统", order=110)
def nav_links(admin) -> list[tuple[str, str]]:
    """This area's pages that are not resources: the medical list import."""
    return [("导入医护人员名单", "/admin/medical-staff/import")] if admin.role in MedicalStaffAdmin.roles else []


def routes(config) -> list:
    """These pages' routes: put them before admin.handlers.routes(config)."""
    return [
        (r"/admin/r/code_batches/new", BatchNewHandler),
        (r"/admin/r/code_batches/(?P<row_id>\d+)", BatchDetailHandler),
        (r"/admin/r/code_batches/(?P<row_id>\d+)/print\.(?P<fmt>pdf|zip)", BatchPrintHandler),
        (r"/admin/medical-staff/import", MedicalImportHandler),
        (r"/admin/medical-staff/template\.xlsx", MedicalTemplateHandler),
    ]
