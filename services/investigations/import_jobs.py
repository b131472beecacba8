"""The import pages' reads and steps, per admin (H1): which imports an admin may see, the recent
ones, an accepted upload queued and audited, and the audited bad-row report. The import itself
is importer.py's."""

from __future__ import annotations

from models.admin import AdminUser
from models.investigations import ImportJob
from models.regions import Region
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.investigations import importer, xlsx
from services.investigations.sources import Source
from services.oversight import audit

RECENT = 50


def visible(admin: AdminUser, job_id) -> ImportJob:
    """An import its uploader may see, and the level admins above the uploader's region; a 404
    or a 403 otherwise."""
    job = ImportJob.get_or_none(ImportJob.id == int(job_id))
    if job is None:
        raise ApiError("not_found", "导入记录不存在", 404)
    if job.uploaded_by_id == admin.id:
        return job
    uploader_region = Region.get_or_none(Region.id == job.uploaded_by.region_id) if job.uploaded_by_id else None
    if admin_auth.is_level_role(admin.role) and admin_auth.in_scope(admin, uploader_region):
        return job
    raise ApiError("out_of_scope", "无权查看其他账号的导入记录", 403)


def recent(admin: AdminUser, stale_seconds: int) -> list[ImportJob]:
    """导入记录: the latest imports the admin may see (a level admin: every upload from within its
    region; any other role: its own), newest first. Dead imports are marked 已中断 first, so
    they show so."""
    importer.expire_stale(stale_seconds)
    jobs = ImportJob.select().order_by(ImportJob.id.desc()).limit(RECENT)
    if admin_auth.is_level_role(admin.role):
        jobs = (jobs.join(AdminUser, on=(ImportJob.uploaded_by == AdminUser.id))
                .join(Region, on=(AdminUser.region == Region.id)).where(Region.path.startswith(admin.region.path)))
    else:
        jobs = jobs.where(ImportJob.uploaded_by == admin)
    return list(jobs)


def accept(admin: AdminUser, source: Source, category: str | None, file_name: str, path: str,
           info: xlsx.SheetInfo, columns: dict[str, int], digest: str, settings: importer.Settings) -> ImportJob:
    """A checked upload becomes a queued, audited job on the import thread, which owns `path`
    from then on."""
    job = importer.create_job(admin, source, category, file_name, path, info, digest)
    audit.record(None, admin.role, "import_upload", job, admin_actor=admin, source=source.code,
                 file_size=job.file_size)
    importer.start(job, path, info, columns, settings)
    return job


def error_report(admin: AdminUser, job_id) -> tuple[ImportJob, bytes]:
    """错误报告 of an import the admin may see, its download audited: (job, xlsx)."""
    job = visible(admin, job_id)
    content = importer.error_report(job)
    audit.record(None, admin.role, "import_errors_download", job, admin_actor=admin)
    return job, content
