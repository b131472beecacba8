"""赋码规则's pages (D3, D4): the city admin lists the colour rules, edits one (window, conditions,
reason, guidance, enabled), reverts one to its previous version, or chooses the colour scheme.
Every change is previewed on today's data first and then proposed for a second city account to
approve on 待审批 (`services/colours/rule_changes.py`); nothing changes until then.

    /admin/rules/                   the rules, the scheme in force, links to each
    /admin/rules/{code}             one rule: its fields, its versions and its log
    /admin/rules/{code}/edit        GET the form; POST it to see the preview (nothing is kept)
    /admin/rules/{code}/toggle      POST: the preview of enabling / disabling it
    /admin/rules/{code}/revert      POST: the preview of going back to the previous version
    /admin/rules/{code}/propose     POST (from a preview, with a reason): the proposal
    /admin/rules/scheme             GET the choice; POST it to see the preview
    /admin/rules/scheme/propose     POST (from the preview, with a reason): the proposal
"""

from __future__ import annotations

import json
import urllib.parse

from admin.handlers import AdminHandler, menu
from admin.resources.common import log_section
from services.colours import colour_scheme, rule_changes
from services.colours.colour_rules import INPUTS
from services.common.errors import ApiError
from services.common.timefmt import local_iso

LABELS = {"red": "红码", "orange": "橙码", "yellow": "黄码"}


@menu(group="风险数据", order=20)
def rule_links(admin) -> list[tuple[str, str]]:
    """赋码规则 in the side menu, for the city admin."""
    return [("赋码规则", "/admin/rules/")] if admin.role in rule_changes.ROLES else []


class RulePage(AdminHandler):
    """A rules page: the city admin only; an ApiError shows the page again with the error."""

    def prepare(self):
        super().prepare()
        if self.admin is not None and self.admin.role not in rule_changes.ROLES:
            raise ApiError("forbidden", "只有市级管理员可以管理赋码规则", 403)

    def render_rule(self, template: str, **values):
        self.render_page(f"rules/{template}", labels=LABELS, inputs=INPUTS, show=rule_changes.show,
                         data_of=rule_changes.rule_data, local_iso=local_iso, **values)

    def error_values(self, error: ApiError | None) -> dict:
        """A refused change's message, field and machine code, as the page shows them (and its status)."""
        if error is None:
            return {"error": None, "field": None, "error_code": None}
        self.set_status(error.status)
        return {"error": error.message, "field": error.field, "error_code": error.code}

    def edit_page(self, row, form: dict, error: ApiError | None = None):
        self.render_rule("edit.html", row=row, form=form, version=rule_changes.current_version(row.code),
                         **self.error_values(error))

    def form_of(self, row) -> dict:
        """The edit form's values for a stored rule."""
        data = rule_changes.rule_data(row)
        return {**data, "window_days": data["window_days"] or "",
                "conditions": json.dumps(data["conditions"], ensure_ascii=False)}

    def preview_page(self, row, data: dict, note: str, error: ApiError | None = None, reason: str = ""):
        """The change beside what it would do; its form proposes it with a reason."""
        before = rule_changes.rule_data(row)
        self.render_rule("preview.html", row=row, before=before, data=data, note=note,
                         changes=rule_changes.differences(before, data),
                         preview=rule_changes.preview(row.code, data), payload=json.dumps(data, ensure_ascii=False),
                         version=rule_changes.current_version(row.code), reason=reason, **self.error_values(error))

    def submitted(self, request):
        self.redirect(f"/admin/r/approvals/{request.id}?msg=" + urllib.parse.quote(rule_changes.SUBMITTED))


class RuleListHandler(RulePage):
    def get(self):
        self.render_rule("list.html", rules=rule_changes.rules(), scheme=colour_scheme.current(self.config),
                         schemes=colour_scheme.SCHEMES, version=rule_changes.current_version)


class RuleDetailHandler(RulePage):
    def get(self, code):
        row = rule_changes.get_rule(code)
        self.render_rule("detail.html", row=row, data=rule_changes.rule_data(row),
                         versions=rule_changes.versions(code), version=rule_changes.current_version(code),
                         log=log_section(row))


class RuleEditHandler(RulePage):
    def get(self, code):
        row = rule_changes.get_rule(code)
        self.edit_page(row, self.form_of(row))

    def post(self, code):
        row = rule_changes.get_rule(code)
        form = {**self.form_values(), "enabled": self.get_body_argument("enabled", None) is not None}
        try:
            data = rule_changes.edited(row, form)
        except ApiError as error:
            return self.edit_page(row, form, error)
        self.preview_page(row, data, note="")


class RuleToggleHandler(RulePage):
    def post(self, code):
        row = rule_changes.get_rule(code)
        data = {**rule_changes.rule_data(row), "enabled": not row.enabled}
        self.preview_page(row, data, note="启用规则" if data["enabled"] else "停用规则")


class RuleRevertHandler(RulePage):
    def post(self, code):
        row = rule_changes.get_rule(code)
        number, data = rule_changes.previous_data(code)
        self.preview_page(row, data, note=f"恢复到第 {number} 版")


class RuleProposeHandler(RulePage):
    def post(self, code):
        row = rule_changes.get_rule(code)
        note, reason = self.get_body_argument("note", ""), self.get_body_argument("reason", "")
        try:
            data = rule_changes.checked(row, json.loads(self.get_body_argument("payload", "") or "null"))
        except (ApiError, ValueError) as error:
            if not isinstance(error, ApiError):
                error = ApiError("invalid_rule_json", "提交的规则无效，请重新编辑", 400, "payload")
            return self.edit_page(row, self.form_of(row), error)
        try:
            version = int(self.get_body_argument("version", "0"))
            request = rule_changes.propose_rule(self.admin, code, data, reason, base_version=version, note=note)
        except ApiError as error:
            return self.preview_page(row, data, note, error, reason)
        self.submitted(request)


class SchemeHandler(RulePage):
    def get(self):
        self.scheme_page(None)

    def scheme_page(self, chosen, preview=None, error: ApiError | None = None, reason: str = ""):
        self.render_rule("scheme.html", scheme=colour_scheme.current(self.config), schemes=colour_scheme.SCHEMES,
                         chosen=chosen, preview=preview, reason=reason, **self.error_values(error))

    def post(self):
        chosen = self.get_body_argument("scheme", "")
        try:
            scheme = int(chosen) if chosen.isdigit() else None
            if scheme not in colour_scheme.SCHEMES:
                raise ApiError("invalid_field", "颜色方案只能是三色或四色", 400, "scheme")
            preview = rule_changes.scheme_preview(scheme, self.config)
        except ApiError as error:
            return self.scheme_page(None, error=error)
        self.scheme_page(scheme, preview)


class SchemeProposeHandler(SchemeHandler):
    def post(self):
        chosen, reason = self.get_body_argument("scheme", ""), self.get_body_argument("reason", "")
        try:
            request = rule_changes.propose_scheme(self.admin, chosen, reason, self.config)
        except ApiError as error:
            scheme = int(chosen) if chosen.isdigit() and int(chosen) in colour_scheme.SCHEMES else None
            preview = rule_changes.scheme_preview(scheme, self.config) if scheme else None
            return self.scheme_page(scheme, preview, error, reason)
        self.submitted(request)


def routes(config) -> list:
    """This area's back-office routes."""
    code = r"(?P<code>[a-z0-9_]+)"
    return [
        (r"/admin/rules/", RuleListHandler),
        (r"/admin/rules/scheme", SchemeHandler),
        (r"/admin/rules/scheme/propose", SchemeProposeHandler),
        (rf"/admin/rules/{code}", RuleDetailHandler),
        (rf"/admin/rules/{code}/edit", RuleEditHandler),
        (rf"/admin/rules/{code}/toggle", RuleToggleHandler),
        (rf"/admin/rules/{code}/revert", RuleRevertHandler),
        (rf"/admin/rules/{code}/propose", RuleProposeHandler),
    ]
