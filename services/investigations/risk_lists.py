"""The risk lists (D2): one import source per kind of risk record (services/risk_data/risk_records.py) on the
one import pipeline, so each has its template, streamed upload, progress bar, bad-row report,
idempotent re-upload and limits. Their columns are the kind's fields; their rows, once the cells
are checked, go to `risk_records.ingest` (`import_rows`), which refuses the rest (an unknown
region, a row repeating another) into the same bad-row report.

An import's records carry the provenance "import:<job id>" with the uploader's organisation and
the upload's date, so the citizen reads e.g. "密接名单（郑州市疾控中心 2026-12-03）". A city
account lists people anywhere in its city, a district account only within its district.
"""

from __future__ import annotations

from models.admin import AdminUser
from models.regions import Region
from services.common.timefmt import china_today
from services.investigations.sources import Source
from services.risk_data import risk_records

RISK_LISTS: dict[str, Source] = {
    kind.code: Source(code=kind.code, label=kind.list_label, import_label=f"上传{kind.list_label}",
                      columns=kind.fields, key_columns=("id_number", *kind.key), dispatch="none", workflow=None,
                      roles=kind.import_roles, import_roles=kind.import_roles, date_column="date",
                      risk_kind=kind.code)
    for kind in risk_records.KINDS.values()
}


def source_ref(job_id: int) -> str:
    """The provenance reference of an import's records."""
    return f"import:{job_id}"


def import_rows(source: Source, job_id: int, prepared: list[tuple[int, dict]], uploader: AdminUser | None,
                region: Region | None, refused_before: int = 0) -> tuple[int, int, list[tuple], int]:
    """Put one batch of checked rows [(row number, values)] in: (inserted, duplicates, the refused
    cells as ImportRowError tuples, rows refused). `refused_before`: the rows of the same part of
    the sheet that the cell checks refused, which the list's batch counts as failed too."""
    label = risk_records.organisation(uploader) if uploader else "系统导入"
    result = risk_records.ingest(source.risk_kind, [values for _, values in prepared], source_label=label,
                                 source_ref=source_ref(job_id), listed_on=china_today(), region=region,
                                 created_by=uploader, refused_before=refused_before)
    headers = {c.key: c.header for c in source.columns}
    errors = [(job_id, prepared[r.index][0], headers.get(r.field, r.field), r.message[:255]) for r in result.rejected]
    return result.accepted, result.duplicates, errors, len({r.index for r in result.rejected})


def withdraw(source: Source, job_id: int) -> None:
    """Undo what a failed import of a risk list stored (and recompute the people it touched)."""
    risk_records.withdraw_batch(source.risk_kind, source_ref(job_id))
