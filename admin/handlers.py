"""The back office's pages: sign-in, password, compound switch, and ONE generic handler set that
serves every registered resource (list, export, new, detail, edit, delete, actions).

Pages are rendered on the server in Chinese, work without JavaScript, and carry Tornado's XSRF
token in every form. Errors are pages too: a 403 for another region's object, never an empty list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import inspect
import logging
import os
import urllib.parse
import tornado.web

from admin import export_worker
from admin import menu as admin_menu
from admin.menu import menu  # noqa: F401  (the pages' modules declare their links with it)
from admin.site import AdminContext, Resource, site
from handlers import shedding
from services.operations import pools
from handlers.base import on_executor
from handlers.failures import database_unavailable, error_of
from models import read_replica
from services.accounts import admin_auth, captchas
from services.back_office import compounds
from services.common import excel, regions
from services.common.errors import ApiError
from services.common.forms import clean_form
from services.oversight import exports
from services.venues import places

log = logging.getLogger("healthcode.admin")

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION_COOKIE = "admin_session"
CAPTCHA_COOKIE = "admin_captcha"
# The pages' words where the API's would not do (handlers/failures.py); a 403 that is not an
# ApiError is Tornado's XSRF refusal.
_PAGE_WORDS = {403: "请求已失效，请刷新页面后重试", 404: "页面不存在"}


# --- the side menu: admin/menu.py (each resource and page names its group) --------------------------

def side_menu(admin, config) -> list:
    """The side menu of `admin`, grouped (see admin/menu.py)."""
    return admin_menu.side_menu(admin, config, site)


def _pooled(method):
    """`method` (a page's synchronous prepare, get or post: peewee queries, a template) run on
    the DB pool's thread instead of the event loop. What it finishes (a page, a redirect, a
    file) is sent by the loop once it returns: a response is written on the loop's thread only.
    Called on a pool thread already (a subclass's `super().prepare()`), it runs in place."""
    if getattr(method, "pooled", False):
        return method

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if pools.on_pool_thread() or not self.needs_database():
            return method(self, *args, **kwargs)
        return self._run_pooled(method, args, kwargs)

    run.pooled = True
    return run


class AdminHandler(tornado.web.RequestHandler):
    """Session, rendering and error pages for every back-office page.

    Every synchronous prepare, get and post (of this class and of each subclass) runs on the DB
    pool (`_pooled`), so no page's queries or template wait on the event loop; async methods
    hand their blocking parts to a pool themselves."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("prepare", "get", "post"):
            method = cls.__dict__.get(name)
            if method is not None and not inspect.iscoroutinefunction(method):
                setattr(cls, name, _pooled(method))

    async def _run_pooled(self, method, args, kwargs):
        self._finishing = None
        try:
            result = await pools.run_in(pools.DB, method, self, *args, **kwargs)
        except BaseException:
            self._finishing = None
            raise
        finishing, self._finishing = self._finishing, None
        if finishing is not None:
            super().finish(*finishing)
        return result

    def finish(self, chunk=None):
        if pools.on_pool_thread():
            self._finishing = (chunk,)  # sent by the loop (_run_pooled)
            return None
        return super().finish(chunk)

    login_required = True
    shed_priority = shedding.BACK_OFFICE
    # True: a GET without a session is a page drawn from its template alone (the sign-in form),
    # answered with no database, so it still answers while the database is down.
    page_shell = False

    def get_template_path(self):
        return os.path.join(HERE, "templates")

    def prepare(self):
        self.config = self.application.settings["config"]
        self.admin, self.session = None, None
        cookie = self.get_signed_cookie(SESSION_COOKIE, max_age_days=1)
        found = admin_auth.session_admin(cookie.decode() if cookie else None)
        if found:
            self.admin, self.session = found
        if self.login_required and self.admin is None:
            self.redirect("/admin/login?next=" + urllib.parse.quote(self.request.uri))

    def needs_database(self) -> bool:
        """False for a page shell's GET without a session: drawn from its template alone."""
        return bool(self.get_signed_cookie(SESSION_COOKIE, max_age_days=1)) or not (self.page_shell and self.request.method == "GET")

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                        "form-action 'self'; frame-ancestors 'none'")

    @property
    def ctx(self) -> AdminContext:
        compound = self.session.compound if self.session and self.session.compound_id else None
        if compound is None and self.admin and self.admin.role == "compound":
            compound = self.admin.region
        return AdminContext(admin=self.admin, session=self.session, config=self.config, compound=compound,
                            ip=self.request.remote_ip)

    def render_page(self, template: str, **values):
        values.setdefault("notice", None)
        values.setdefault("error_code", None)  # a refused form's machine code, beside its message
        values.setdefault("region_cascade", self.region_cascade)
        self.render(template, admin=self.admin, nav=side_menu(self.admin, self.config), ctx=self.ctx if self.admin else None,
                    roles=admin_auth.ROLES, message=self.get_query_argument("msg", None), **values)

    def region_cascade(self, spec, values: dict) -> list[dict]:
        """A region field's selects as the form shows them: the names sent per level ("<field>.<level>")
        when the form comes back with an error, else the starting value (a region code)."""
        sent = [values.get(f"{spec.name}.{level}") for level in spec.levels]
        current = sent if any(sent) else values.get(spec.name)
        return regions.cascade(spec.levels, current, self.admin.region if spec.scoped else None)

    def form_values(self) -> dict:
        return {k: self.get_body_argument(k) for k in self.request.body_arguments}

    def set_error_status(self, error: ApiError) -> None:
        """A refused form's status, and its Retry-After when it says when to try again."""
        self.set_status(error.status)
        if error.retry_after is not None:
            self.set_header("Retry-After", str(error.retry_after))

    def write_error(self, status_code, **kwargs):
        error = error_of(self, status_code, kwargs.get("exc_info"), _PAGE_WORDS)
        self.render("error.html", admin=self.admin if hasattr(self, "admin") else None, nav=[], ctx=None,
                    roles=admin_auth.ROLES, message=None, status=error.status, error=error.message)

    def log_exception(self, typ, value, tb):
        if database_unavailable(value):
            log.warning("%s %s -> 503 database unavailable: %s", self.request.method, self.request.path, value)
        elif not isinstance(value, ApiError):
            super().log_exception(typ, value, tb)

    # --- exports: a GET shows the purpose form, the POST (with XSRF) sends the file ---------------

    def export_form(self, title: str, back: str, filters: dict, hidden: dict | None = None,
                    error: ApiError | None = None) -> None:
        """The export's purpose form (posting back to this address, filters in its query);
        `hidden` fields travel in the form's body (a print's part)."""
        self.set_status(error.status if error else 200)
        self.render_page("export.html", title=title, back=back, filters=filters, hidden=hidden or {},
                         action=self.request.uri, purpose=self.get_body_argument("purpose", "")[:exports.PURPOSE_MAX]
                         if self.request.method == "POST" else "", purpose_max=exports.PURPOSE_MAX,
                         error=error.message if error else None, error_code=error.code if error else None,
                         field=error.field if error else None)

    def export_purpose(self, title: str, back: str, filters: dict, hidden: dict | None = None) -> str | None:
        """The posted purpose, checked; None when it was refused (the form is shown again)."""
        # As sent: Tornado's get_body_argument silently drops control characters, which are refused.
        sent = (self.request.body_arguments.get("purpose") or [b""])[-1]
        try:
            return exports.clean_purpose(self.decode_argument(sent, name="purpose"))
        except ApiError as error:
            self.export_form(title, back, filters, hidden, error)
            return None

    def export_watermark(self, purpose: str) -> str:
        """This admin's watermark line for a file exported now."""
        return exports.watermark(self.admin.name, purpose)

    def send_download(self, content: bytes, mime: str, name: str) -> None:
        """Answer with a file to save as `name`."""
        self.set_header("Content-Type", mime)
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{urllib.parse.quote(name)}")
        self.finish(content)


# --- sign-in --------------------------------------------------------------------------------------

AdminHandler.prepare = _pooled(AdminHandler.prepare)


class LoginHandler(AdminHandler):
    login_required = False
    page_shell = True

    def get(self):
        self.render_page("login.html", error=None, field=None, phone="", sms_needed=False)

    async def post(self):
        data = self.form_values()
        captcha = self.get_signed_cookie(CAPTCHA_COOKIE, max_age_days=1)
        self.clear_cookie(CAPTCHA_COOKIE)
        try:
            # The password check runs on the sign-in threads (handlers.base.SignInPool), off the loop.
            admin, token = await self.application.settings["sign_in_pool"].run(
                admin_auth.login, {**data, "captcha_key": captcha.decode() if captcha else None},
                self.request.remote_ip)
        except ApiError as error:
            self.set_error_status(error)
            sms_needed = await pools.run_in(pools.DB, admin_auth.needs_sms, data.get("phone") or "")
            return self.render_page("login.html", error=error.message, field=error.field, phone=data.get("phone", ""),
                                    sms_needed=sms_needed)
        self.set_signed_cookie(SESSION_COOKIE, token, expires_days=None, httponly=True,
                               secure=self.config.secure_cookies, samesite="Lax")
        target = self.get_query_argument("next", "/admin/")
        self.redirect(target if target.startswith("/admin/") else "/admin/")


class LoginSmsHandler(AdminHandler):
    """获取验证码 on the login page (after four wrong passwords)."""

    login_required = False

    async def post(self):
        phone = self.get_body_argument("phone", "")
        try:
            await on_executor(admin_auth.send_login_code, phone, self.request.remote_ip)  # the SMS call blocks
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("login.html", error=error.message, field=error.field, phone=phone, sms_needed=True)
        self.render_page("login.html", error=None, field=None, phone=phone, sms_needed=True,
                         notice="如该账号需要短信验证，验证码已发送到手机")


class CaptchaHandler(AdminHandler):
    """A new image captcha; its key travels in a signed cookie, never in the form."""

    login_required = False

    def get(self):
        key, png = captchas.new_captcha(self.config)
        self.set_signed_cookie(CAPTCHA_COOKIE, key, expires_days=None, httponly=True,
                               secure=self.config.secure_cookies, samesite="Lax")
        self.set_header("Content-Type", "image/png")
        self.finish(png)


class LogoutHandler(AdminHandler):
    def post(self):
        admin_auth.logout(self.session)
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/admin/login")


class PasswordHandler(AdminHandler):
    def get(self):
        self.render_page("password.html", error=None, field=None)

    def post(self):
        data = self.form_values()
        try:
            admin_auth.change_password(self.admin, data.get("old_password", ""), data.get("new_password", ""),
                                       data.get("confirm_password", ""))
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("password.html", error=error.message, field=error.field)
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/admin/login?msg=" + urllib.parse.quote("密码已修改，请重新登录"))


class ForgotHandler(AdminHandler):
    """忘记密码: phone + captcha -> SMS code; phone + code -> a new password by SMS."""

    login_required = False
    page_shell = True

    def get(self):
        self.render_page("forgot.html", error=None, field=None, phone="", step="code")

    async def post(self):
        data = self.form_values()
        phone = data.get("phone", "")
        try:
            if data.get("step") == "reset":
                await on_executor(admin_auth.reset_password, phone, data.get("sms_code", ""))
                return self.redirect("/admin/login?msg=" + urllib.parse.quote("密码已重置，新密码已发送到您的手机"))
            captcha = self.get_signed_cookie(CAPTCHA_COOKIE, max_age_days=1)
            self.clear_cookie(CAPTCHA_COOKIE)
            await on_executor(admin_auth.send_reset_code, phone, captcha.decode() if captcha else None,
                              data.get("captcha", ""), self.request.remote_ip)
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("forgot.html", error=error.message, field=error.field, phone=phone,
                                    step=data.get("step") or "code")
        self.render_page("forgot.html", error=None, field=None, phone=phone, step="reset")


class HomeHandler(AdminHandler):
    def get(self):
        # A role with pages but no resources lands on its first page.
        self.redirect(admin_menu.first_link(side_menu(self.admin, self.config)) or "/admin/password")


class PageNotFoundHandler(AdminHandler):
    """Any other path under /admin/: the back office's own 404 page, not the API's JSON."""

    login_required = False
    page_shell = True

    def prepare(self):
        super().prepare()
        raise tornado.web.HTTPError(404)


# --- compound switch and its codes ----------------------------------------------------------------

class CompoundHandler(AdminHandler):
    """切换小区: choose the compound the pages work on."""

    def get(self):
        self.render_page("compounds.html", compounds=list(compounds.in_scope(self.admin)))

    def post(self):
        compounds.switch(self.admin, self.session, self.get_body_argument("compound", ""))
        target = self.get_body_argument("next", "/admin/")
        self.redirect(target if target.startswith("/admin/") else "/admin/")


class CompoundCodeHandler(AdminHandler):
    """二维码下载: the current compound's place code as PNG, or its poster as PNG / PDF."""

    async def get(self):
        fmt = self.get_query_argument("format", "png")
        draw, mime, name = await pools.run_in(pools.DB, self._drawing, fmt)
        content = await pools.run_in(pools.CPU, draw)
        suffix = {"image/png": "png", "image/svg+xml": "svg", "application/pdf": "pdf"}[mime]
        self.send_download(content, mime, f"{name}.{suffix}")

    def _drawing(self, fmt: str) -> tuple:
        """(how to draw the current compound's code, its type, the compound's name): its queries."""
        compound = self.ctx.compound
        if compound is None:
            raise ApiError("no_compound", "请先在右上角切换到一个小区", 400)
        place = compounds.active_place(compound)
        if place is None:
            raise ApiError("no_place", "该小区还没有场所码", 404)
        return *places.code_image(place, fmt, self.config), compound.name


class AdminJsonHandler(AdminHandler):
    """A back-office address that a page's script reads: answers, and errors, as the JSON envelope."""

    def write_error(self, status_code, **kwargs):
        self.finish({"error": error_of(self, status_code, kwargs.get("exc_info")).to_dict()})


class RegionOptionsHandler(AdminJsonHandler):
    """The region cascade's next level (admin/static/region_picker.js): the children of `parent`
    as [{code, name}], limited to the admin's region unless `scoped=0`, which offers the public
    divisions (province to street) of the whole country, never its communities or compounds."""

    def get(self):
        scoped = self.get_query_argument("scoped", "1") != "0"
        options = regions.next_level(self.get_query_argument("parent", ""), self.admin.region if scoped else None)
        self.finish({"data": [{"code": r.code, "name": r.name} for r in options]})


# --- the generic resource handlers ----------------------------------------------------------------

class ResourceHandler(AdminHandler):
    def resource(self, name: str) -> Resource:
        resource = site.get(name)
        if not resource.available(self.config):
            raise ApiError("not_found", "页面不存在", 404)
        if self.admin.role not in resource.roles:
            raise ApiError("forbidden", "当前账号无权访问该页面", 403)
        return resource

    def params(self) -> dict:
        return {k: self.get_query_argument(k) for k in self.request.query_arguments}

    def form_data(self, fields, extra_choices=None) -> dict:
        """The submitted form as the fields' types (checkboxes to booleans), checked."""
        raw = {}
        for f in fields:
            if f.kind == "bool":
                raw[f.name] = self.get_body_argument(f.name, None) is not None
            elif f.kind == "region":  # one select per level, named "<field>.<level>"
                raw[f.name] = [self.get_body_argument(f"{f.name}.{level}", "").strip() for level in f.levels]
            else:
                raw[f.name] = self.get_body_argument(f.name, "").strip()
        if extra_choices is not None:
            fields = tuple(dataclasses.replace(f, choices=extra_choices) if f.name == "choice" else f for f in fields)
        return clean_form(fields, raw, prefix="", within=self.admin.region)


class ListHandler(ResourceHandler):
    def get(self, name):
        resource = self.resource(name)
        params = self.params()
        after = params.get("after")

        def read():
            query = resource.filtered(self.ctx, params)
            rows, next_key = resource.page(query, int(after) if after and after.isdigit() else None)
            return rows, next_key, resource.summary(self.ctx, query)

        rows, next_key, summary = read_replica.run(read)  # a heavy read: the replica, if any
        keep = {k: v for k, v in params.items() if k != "after" and v}
        self.render_page("list.html", resource=resource, rows=rows, params=params, next_key=next_key,
                         query_string=urllib.parse.urlencode(keep), summary=summary, first_page=not after)


class ExportHandler(ResourceHandler):
    """导出: GET shows the purpose form; POST sends the filtered rows as xlsx (masked, formula-safe,
    watermarked) and logs who, what, the filters, the row count and the purpose."""

    # Searched ID numbers and phones stay out of the log and the form's summary.
    _UNSAID = ("id_number", "phone")

    def _filters(self) -> dict:
        return {k: v for k, v in self.params().items() if v and k not in (*self._UNSAID, "after")}

    def _back(self, name) -> str:
        # Back to the list as it was searched.
        keep = {k: v for k, v in self.params().items() if v and k != "after"}
        return f"/admin/r/{name}/" + (f"?{urllib.parse.urlencode(keep)}" if keep else "")

    shed_priority = shedding.BULK

    def get(self, name):
        resource = self.resource(name)
        self.export_form(f"导出 - {resource.label}", self._back(name), resource.criteria(self.params(), self._UNSAID))

    def post(self, name):
        resource = self.resource(name)
        params = self.params()
        purpose = self.export_purpose(f"导出 - {resource.label}", self._back(name),
                                      resource.criteria(params, self._UNSAID))
        if purpose is None:
            return
        ctx = self.ctx
        # Built in an export process (this pool thread waits for it): see admin/export_worker.py.
        content = pools.call_in_process(
            export_worker.build, resource.name, self.admin.id, self.session.id if self.session else None,
            ctx.compound.id if ctx.compound is not None else None, ctx.ip, self.config, params, purpose,
            self.export_watermark(purpose), self._filters())
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M")
        self.send_download(content, excel.XLSX_MIME, f"{resource.label}-{stamp}.xlsx")


class NewHandler(ResourceHandler):
    def get(self, name):
        resource = self.resource(name)
        if not resource.can_create:
            raise ApiError("not_allowed", "该列表不能新建", 403)
        self.render_page("form.html", resource=resource, fields=resource.create_form, values={}, error=None,
                         field=None, title=f"新建 - {resource.label}", action=f"/admin/r/{name}/new")

    def post(self, name):
        resource = self.resource(name)
        values = self.form_values()
        try:
            row = resource.create(self.ctx, self.form_data(resource.create_form))
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("form.html", resource=resource, fields=resource.create_form, values=values,
                                    error=error.message, field=error.field, error_code=error.code,
                                    title=f"新建 - {resource.label}",
                                    action=f"/admin/r/{name}/new")
        self.redirect(f"/admin/r/{name}/{row.get_id()}?msg=" + urllib.parse.quote("已保存"))


class DetailHandler(ResourceHandler):
    def get(self, name, row_id):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        actions = [a for a in resource.actions if a.allowed(row)]
        self.render_page("detail.html", resource=resource, row=row, actions=actions,
                         sections=resource.detail_sections(self.ctx, row))


class EditHandler(ResourceHandler):
    def get(self, name, row_id):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        if not resource.can_edit:
            raise ApiError("not_allowed", "该列表不能编辑", 403)
        self.render_page("form.html", resource=resource, fields=resource.edit_form, values=resource.initial(row),
                         error=None, field=None, title=f"编辑 - {resource.label}",
                         action=f"/admin/r/{name}/{row.get_id()}/edit")

    def post(self, name, row_id):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        try:
            resource.update(self.ctx, row, self.form_data(resource.edit_form))
        except ApiError as error:
            self.set_error_status(error)
            return self.render_page("form.html", resource=resource, fields=resource.edit_form,
                                    values=self.form_values(), error=error.message, field=error.field, error_code=error.code,
                                    title=f"编辑 - {resource.label}", action=f"/admin/r/{name}/{row.get_id()}/edit")
        self.redirect(f"/admin/r/{name}/{row.get_id()}?msg=" + urllib.parse.quote("已保存"))


class DeleteHandler(ResourceHandler):
    """删除, after a confirmation page."""

    def get(self, name, row_id):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        if not resource.can_delete(row):
            raise ApiError("not_manual", "只能删除人工录入的登记记录", 403)
        self.render_page("confirm.html", resource=resource, row=row, values={}, title="删除", text="确定删除这条记录？删除后不可恢复。",
                         warning=None, fields=(), choices=None, error=None, field=None,
                         action=f"/admin/r/{name}/{row.get_id()}/delete")

    def post(self, name, row_id):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        resource.delete(self.ctx, row)
        self.redirect(f"/admin/r/{name}/?msg=" + urllib.parse.quote("已删除"))


class ActionHandler(ResourceHandler):
    """A row action: a confirmation page (with the action's form), then the action."""

    def _setup(self, name, row_id, action_name):
        resource = self.resource(name)
        row = resource.get_row(self.ctx, row_id)
        action = resource.action(action_name)
        if not action.allowed(row):
            raise action.refusal(row) if action.refusal else ApiError(
                "action_not_allowed", f"当前状态不能{action.label}", 409)
        choices = action.choices(self.ctx, row) if action.choices else None
        return resource, row, action, choices

    def _page(self, resource, row, action, choices, error=None, field=None, status=200, values=None):
        self.set_status(status)
        self.render_page("confirm.html", resource=resource, row=row, title=action.label, text=action.confirm,
                         warning=action.warning(row), fields=action.form, choices=choices, error=error, field=field,
                         values=values or {}, action=f"/admin/r/{resource.name}/{row.get_id()}/do/{action.name}")

    def get(self, name, row_id, action_name):
        self._page(*self._setup(name, row_id, action_name))

    def post(self, name, row_id, action_name):
        resource, row, action, choices = self._setup(name, row_id, action_name)
        try:
            message = action.run(self.ctx, row, self.form_data(action.form, choices))
        except ApiError as error:  # shown again with what was typed
            return self._page(resource, row, action, choices, error.message, error.field, error.status,
                              self.form_values())
        self.redirect(f"/admin/r/{name}/{row.get_id()}?msg=" + urllib.parse.quote(message or "操作成功"))


def routes(config) -> list:
    """Every back-office route; resources come from the registry."""
    import admin.resources  # noqa: F401  (registers the resources)

    site.check()
    resource = r"(?P<name>[a-z_]+)"
    row = r"(?P<row_id>\d+)"
    return [
        (r"/admin/?", HomeHandler),
        (r"/admin/login", LoginHandler),
        (r"/admin/login/sms-code", LoginSmsHandler),
        (r"/admin/captcha", CaptchaHandler),
        (r"/admin/logout", LogoutHandler),
        (r"/admin/password", PasswordHandler),
        (r"/admin/password/forgot", ForgotHandler),
        (r"/admin/compound", CompoundHandler),
        (r"/admin/compound/code", CompoundCodeHandler),
        (r"/admin/regions/children", RegionOptionsHandler),
        (rf"/admin/r/{resource}/", ListHandler),
        (rf"/admin/r/{resource}/export", ExportHandler),
        (rf"/admin/r/{resource}/new", NewHandler),
        (rf"/admin/r/{resource}/{row}", DetailHandler),
        (rf"/admin/r/{resource}/{row}/edit", EditHandler),
        (rf"/admin/r/{resource}/{row}/delete", DeleteHandler),
        (rf"/admin/r/{resource}/{row}/do/(?P<action_name>[a-z_0-9]+)", ActionHandler),
        (r"/admin/static/(.*)", tornado.web.StaticFileHandler, {"path": os.path.join(HERE, "static")}),
    ]
