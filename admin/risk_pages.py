"""The officials' pages on one person's colour (D9) and on an appeal, beyond the generic resource
pages:

- `/admin/person-colour` — 个人健康码查询: find a person by exact ID number (posted, never in the
  URL; looked up through the blind index), see the current colour, each reason with its source
  and date, every fact the rules read, the colour history, the overrides, the corrections asked
  for and the appeals, and propose a correction (withdraw an entry, close a case, revoke a
  release notice, a manual override) for a second account of the same organisation to approve.
  Every view states its purpose (用途), and is logged against the person, whose access log shows
  it (N10): the search form asks it, and a link (from an appeal) asks it before showing anything;
  a reload within 30 minutes of the logged view shows the page again. 查看完整证件号码 (another
  purpose, another log line) shows the full ID number: the only page that does.
- `/admin/r/appeals/<id>` — an appeal's detail (the generic one, with its image and a link to
  the person's page); `/admin/appeals/<id>/image` — the image itself.

`routes(config)` must come before `admin.handlers.routes(config)` (the appeal URL is also
matched by the generic detail page).
"""

from __future__ import annotations

import urllib.parse

from admin.handlers import AdminHandler, DetailHandler, menu
from services.colours import appeals, approvals, colour, corrections, person_colour
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.oversight import access_log


class PersonColourHandler(AdminHandler):
    """个人健康码查询: search, and one person's colour with its corrections."""

    def render_page(self, template: str, **values):
        values.setdefault("ask_for", None)  # a person opened from a link, whose purpose is asked
        values.setdefault("purpose", "")
        super().render_page(template, **values)

    def _require_role(self):
        if self.admin.role not in corrections.CORRECTION_ROLES:
            raise ApiError("forbidden", "当前账号无权访问该页面", 403)

    def get(self):
        self._require_role()
        subject = self.get_query_argument("s", "")
        if not subject:
            return self.render_page("risk/person_colour.html", found=None, error=None, field=None)
        corrections.require_subject_scope(self.admin, subject)
        if not access_log.view_is_logged(self.admin, subject, self.get_query_argument("v", None)):
            # Opened from a link (an appeal, a bookmark): the official says why before seeing it.
            return self.render_page("risk/person_colour.html", found=None, error=None, field=None, ask_for=subject)
        self._show(subject)

    def post(self):
        """A search by ID number, or a person opened from a link: either with the purpose of the
        view, which is logged against the person (N10)."""
        self._require_role()
        subject = self.get_body_argument("s", "")
        # As sent: Tornado's get_body_argument silently drops control characters, which are refused.
        sent = (self.request.body_arguments.get("purpose") or [b""])[-1]
        purpose = self.decode_argument(sent, name="purpose")
        try:
            if subject:
                corrections.require_subject_scope(self.admin, subject)
                found = corrections.view_subject(self.admin, subject, purpose)
            else:
                found = corrections.find_person(self.admin, self.get_body_argument("id_number", ""), purpose)
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("risk/person_colour.html", found=None, error=error.message, field=error.field,
                                    ask_for=subject or None, purpose=purpose[:50])
        self.redirect(f"/admin/person-colour?s={urllib.parse.quote(found['subject'])}&v={found['view'].id}")

    def _show(self, subject: str, error: ApiError | None = None):
        found = person_colour.of(self.admin, subject)
        if error is not None:
            self.set_error_status(error)
        self.render_page("risk/person_colour.html", found=found, error=error.message if error else None,
                         field=error.field if error else None, labels=colour.LABELS, kinds=approvals.KINDS,
                         statuses=approvals.STATUSES, appeal_statuses=appeals.STATUSES,
                         max_days=corrections.OVERRIDE_MAX_DAYS,
                         local=lambda moment: (local_iso(moment) or "")[:16].replace("T", " "))


class IdNumberHandler(PersonColourHandler):
    """查看完整证件号码: the one full ID number the back office shows, to an official of the
    person's region who states why; the view is in the person's access log (N10)."""

    def post(self):
        self._require_role()
        subject = self.get_body_argument("s", "")
        corrections.require_subject_scope(self.admin, subject)
        sent = (self.request.body_arguments.get("purpose") or [b""])[-1]
        try:
            number = corrections.reveal_id_number(self.admin, subject, self.decode_argument(sent, name="purpose"))
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("risk/id_number.html", subject=subject, number=None, error=error.message,
                                    field=error.field)
        self.set_header("Cache-Control", "no-store")
        self.render_page("risk/id_number.html", subject=subject, number=number, error=None, field=None)


class ProposeHandler(PersonColourHandler):
    """A correction proposed from the person's page."""

    def post(self):
        self._require_role()
        data = self.form_values()
        subject = data.get("s", "")
        corrections.require_subject_scope(self.admin, subject)
        what, reason = data.get("what", ""), data.get("reason", "")
        try:
            if what == "override":
                request = corrections.propose_override(self.admin, subject, data.get("colour"), reason,
                                                       data.get("expires_on"))
            elif what == "close":
                request = corrections.propose_case_closure(self.admin, data.get("id"), reason)
            elif what == "revoke":
                request = corrections.propose_notice_revocation(self.admin, data.get("id"), reason)
            elif what == "withdraw":
                request = corrections.propose_withdrawal(self.admin, data.get("kind", ""), data.get("id"), reason)
            else:
                raise ApiError("invalid_field", "请选择要提交的更正", 400, "what")
        except ApiError as error:
            return self._show(subject, error)
        self.redirect(f"/admin/r/approvals/{request.id}?msg=" + urllib.parse.quote(corrections.PROPOSED))


class AppealDetailHandler(DetailHandler):
    """An appeal's detail: the generic page with the image and the person's page linked."""

    def get(self, row_id):
        resource = self.resource("appeals")
        row = resource.get_row(self.ctx, row_id)
        actions = [a for a in resource.actions if a.allowed(row)]
        self.render_page("risk/appeal_detail.html", resource=resource, row=row, actions=actions,
                         sections=resource.detail_sections(self.ctx, row), has_image=row.images.exists(),
                         person_link="/admin/person-colour?s=" + urllib.parse.quote(row.subject))


class AppealImageHandler(AdminHandler):
    """The image attached to an appeal, for an official of its region."""

    def get(self, row_id):
        image = appeals.image_of(self.admin, row_id)
        self.set_header("Content-Type", image.content_type)
        self.set_header("Content-Security-Policy", "default-src 'none'")
        self.finish(bytes(image.content))


@menu(group="风险数据", order=30)
def nav_links(admin) -> list[tuple[str, str]]:
    """个人健康码查询 in the side menu (风险数据), for the roles that correct colours."""
    return [("个人健康码查询", "/admin/person-colour")] if admin.role in corrections.CORRECTION_ROLES else []


def routes(config) -> list:
    """These pages' routes: put them before admin.handlers.routes(config)."""
    return [
        (r"/admin/person-colour", PersonColourHandler),
        (r"/admin/person-colour/propose", ProposeHandler),
        (r"/admin/person-colour/id-number", IdNumberHandler),
        (r"/admin/r/appeals/(?P<row_id>\d+)", AppealDetailHandler),
        (r"/admin/appeals/(?P<row_id>\d+)/image", AppealImageHandler),
    ]
