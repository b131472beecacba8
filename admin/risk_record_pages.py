"""风险数据: the health authority's (and police's, fever clinics') pages for risk records (D2). The
lists themselves are uploaded on the import pages (admin/investigation_pages.py, one source per
kind: services/investigations/risk_lists.py); here are the list of kinds with their upload,
template and form links, the recent batches with their provenance, and the form that adds one
person, which goes through the same declaration and `risk_records.ingest` as a list row.

    /admin/risk-records/               风险数据: kinds this account may put in, recent batches
    /admin/risk-records/{kind}/new     逐个录入: one person (GET form, POST)
"""

from __future__ import annotations

from admin.handlers import AdminHandler, menu
from models.admin import AdminUser
from models.fields import blind_index, utcnow
from models.regions import Region
from models.risk_inputs import RiskBatch
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.oversight import audit
from services.people import identity
from services.risk_data import risk_records


def _kinds(admin) -> list[risk_records.RecordKind]:
    return [k for k in risk_records.KINDS.values() if admin is not None and admin.role in k.import_roles]


def _region(admin) -> Region | None:
    return Region.get_or_none(Region.id == admin.region_id) if admin.region_id else None


class RiskRecordsHandler(AdminHandler):
    """The kinds this account may put in, and the recent batches within its region."""

    def get(self):
        kinds = _kinds(self.admin)
        if not kinds:
            raise ApiError("forbidden", "当前账号不能录入风险数据", 403)
        region = _region(self.admin)
        batches = (RiskBatch.select().where(RiskBatch.kind.in_([k.code for k in kinds]))
                   .order_by(RiskBatch.id.desc()).limit(50))
        if region is not None:
            within = RiskBatch.region.in_(Region.select(Region.id).where(Region.path.startswith(region.path)))
            # A batch that names no region (a city-wide partner feed) is the city's to see.
            batches = batches.where(within | RiskBatch.region.is_null() if region.level in ("province", "city")
                                    else within)
        batches = list(batches)
        names = dict(AdminUser.select(AdminUser.id, AdminUser.name).where(
            AdminUser.id.in_({b.created_by_id for b in batches if b.created_by_id})).tuples()) if batches else {}
        self.render_page("risk_records/index.html", kinds=kinds, batches=batches, names=names, local_iso=local_iso,
                         labels={k.code: k.list_label for k in risk_records.KINDS.values()})


class RiskRecordFormHandler(AdminHandler):
    """逐个录入: one person of a kind, checked and stored like a list row."""

    def _kind(self, code: str) -> risk_records.RecordKind:
        kind = risk_records.kind_of(code)
        if self.admin.role not in kind.import_roles:
            raise ApiError("forbidden", "当前账号不能录入该类风险数据", 403)
        return kind

    def _form(self, kind, values=None, error=None, field=None, status=200):
        self.set_status(status)
        self.render_page("risk_records/form.html", kind=kind, values=values or {}, error=error, field=field)

    def get(self, code):
        self._form(self._kind(code), {"date": china_today().isoformat()})

    def post(self, code):
        kind = self._kind(code)
        values = {c.key: self.get_body_argument(c.key, "").strip() or None for c in kind.fields}
        today = china_today()
        result = risk_records.ingest(kind.code, [values], source_label=risk_records.organisation(self.admin),
                                     source_ref=f"form:{self.admin.id}:{utcnow():%Y%m%d%H%M%S%f}", listed_on=today,
                                     region=_region(self.admin), created_by=self.admin)
        if result.rejected:
            fault = result.rejected[0]
            return self._form(kind, values, fault.message, fault.field, 400)
        if not result.accepted:
            return self._form(kind, values, f"该人员的这条{kind.label}记录已存在，未重复录入", "id_number", 409)
        audit.record(None, self.admin.role, "risk_record_add", RiskBatch.get_by_id(result.batch_id),
                     admin_actor=self.admin, kind=kind.code, reason=kind.label,
                     subjects=[blind_index(identity.normalize_id_number(values.get("id_number") or ""), "id_number")])
        self.redirect(f"/admin/risk-records/?msg=已录入1条{kind.label}记录，相关人员的健康码已更新", status=303)


@menu(group="风险数据", order=25)
def nav_links(admin) -> list[tuple[str, str]]:
    """风险数据, for the roles that may put risk records in."""
    return [("风险数据", "/admin/risk-records/")] if _kinds(admin) else []


def routes(config) -> list:
    """This area's back-office routes."""
    return [
        (r"/admin/risk-records/?", RiskRecordsHandler),
        (r"/admin/risk-records/(?P<code>[a-z_]+)/new", RiskRecordFormHandler),
    ]
