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
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.risk_data import risk_record_desk, risk_records


class RiskRecordsHandler(AdminHandler):
    """The kinds this account may put in, and the recent batches within its region."""

    def get(self):
        kinds = risk_record_desk.kinds_for(self.admin)
        if not kinds:
            raise ApiError("forbidden", "当前账号不能录入风险数据", 403)
        batches, names = risk_record_desk.recent_batches(self.admin, kinds)
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
        result = risk_record_desk.add_one(self.admin, kind, values)
        if result.rejected:
            fault = result.rejected[0]
            return self._form(kind, values, fault.message, fault.field, 400)
        if not result.accepted:
            return self._form(kind, values, f"该人员的这条{kind.label}记录已存在，未重复录入", "id_number", 409)
        self.redirect(f"/admin/risk-records/?msg=已录入1条{kind.label}记录，相关人员的健康码已更新", status=303)


@menu(group="风险数据", order=25)
def nav_links(admin) -> list[tuple[str, str]]:
    """风险数据, for the roles that may put risk records in."""
    return [("风险数据", "/admin/risk-records/")] if risk_record_desk.kinds_for(admin) else []


def routes(config) -> list:
    """This area's back-office routes."""
    return [
        (r"/admin/risk-records/?", RiskRecordsHandler),
        (r"/admin/risk-records/(?P<code>[a-z_]+)/new", RiskRecordFormHandler),
    ]
