"""A resource's Excel export, built in an export process (services.operations.pools, EXPORT_PROCESSES).

Reading up to 50,000 rows, shaping each one and writing the xlsx is pure Python for seconds: in a
thread of the server it would hold the GIL from the event loop, so the page's handler hands the
request's facts (ids and strings, which pickle) here and sends the bytes it gets back.
"""

from __future__ import annotations

from admin.site import AdminContext, site
from models import read_replica
from models.admin import AdminSession, AdminUser
from models.regions import Region
from services.common import excel
from services.oversight import access_log, exports


def build(name: str, admin_id: int, session_id: int | None, compound_id: int | None, ip: str | None, config,
          params: dict, purpose: str, watermark: str, filters: dict) -> bytes:
    """The xlsx of resource `name` as this admin sees it with `params`, its export recorded (each
    person in the file sees it in their access log, N10)."""
    import admin.resources  # noqa: F401  (registers the resources in this process)

    resource = site.get(name)
    admin = AdminUser.get_by_id(admin_id)
    ctx = AdminContext(admin=admin, session=AdminSession.get_or_none(AdminSession.id == session_id),
                       config=config, compound=Region.get_or_none(Region.id == compound_id), ip=ip)

    def read():
        found = list(resource.export_query(ctx, params))
        return found, [resource.display(resource.export_fields, row) for row in found]

    found, rows = read_replica.run(read)  # the replica, if any; the export's record below, the primary
    content = excel.write_xlsx(resource.labels(resource.export_fields), rows, sheet_title=resource.label,
                               watermark=watermark)
    exports.record(admin, resource.name, purpose, rows=len(rows), filters=filters, label=resource.label,
                   subjects=access_log.subjects_of(found))
    return content
