"""小区账号管理 (G2): admins of lower levels in the admin's own region; account = phone."""

from __future__ import annotations

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Column, Filter, Resource, Search, model_form, site
from models.admin import AdminUser
from models.regions import Region
from services.accounts import admin_auth
from services.common.forms import FormField


CREATE_FORM = (*model_form(AdminUser, phone="手机号（登录账号）", name="姓名"),
               FormField("role", "角色", "choice", choices=admin_auth.ROLES),
               FormField("region", "所属区域", "region", levels=admin_auth.REGION_LEVELS))


@site.register
class AccountAdmin(Resource):
    name, label, model = "accounts", "小区账号管理", AdminUser
    roles = ("city", "district", "street", "community")
    menu_group = "账号与系统"
    columns = (Column("name", "姓名"), masked_phone(lambda r: r, "手机号（账号）"),
               Column("role", "角色", lambda r: admin_auth.ROLES.get(r.role, r.role)),
               Column("region", "所属区域", lambda r: r.region.full_name()), time_column("created_at", "创建时间"),
               Column("status", "状态", lambda r: "正常" if r.status == "active" else "停用"))
    list_display = export_fields = ("name", "phone", "role", "region", "created_at")
    searches = (phone_search(AdminUser.phone_bidx), Search.contains(Region.name, "小区名称", "region_name"))
    filters = (Filter.on(AdminUser.role, "角色", admin_auth.ROLES),)
    create_form, edit_form = CREATE_FORM, CREATE_FORM[:2]
    choices_for = {"role": admin_auth.creatable_role_choices}  # only the roles below this admin's own
    base_query = staticmethod(admin_auth.admins_with_regions)
    initial = staticmethod(lambda row: {"name": row.name, "phone": ""})  # a new phone replaces the old one

    def scoped(self, ctx, query):
        return admin_auth.manageable(ctx.admin, query)

    def create(self, ctx, data):
        return admin_auth.create_admin(ctx.admin, phone=data["phone"], name=data["name"], role=data["role"],
                                       region_code=data["region"])[0]

    def update(self, ctx, row, data):
        admin_auth.update_admin(ctx.admin, row, phone=data.get("phone") or None, name=data.get("name"))
