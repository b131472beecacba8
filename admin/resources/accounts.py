"""小区账号管理 (G2): admins of lower levels in the admin's own region; account = phone."""

from __future__ import annotations

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Column, Filter, Resource, Search, site
from models.admin import AdminUser
from models.regions import Region
from services import admin_auth
from services.forms import FormField


@site.register
class AccountAdmin(Resource):
    name, label, model = "accounts", "小区账号管理", AdminUser
    roles = ("city", "district", "street", "community")
    menu_group = "账号与系统"
    list_display = ("name", "phone", "role", "region", "created_at")
    search_fields = ("phone", "region_name")
    list_filter = ("role",)
    export_fields = list_display
    readonly_fields = ("name", "phone", "role", "region", "created_at", "status")
    create_form = (FormField("phone", "手机号（登录账号）", "phone"), FormField("name", "姓名"),
                   FormField("role", "角色", "choice", choices=admin_auth.ROLES),
                   FormField("region", "所属区域", "region", levels=("city", "district", "street", "community",
                                                                      "compound")))
    edit_form = (FormField("phone", "手机号（登录账号）", "phone"), FormField("name", "姓名"))
    columns = {
        "name": Column("姓名", lambda r: r.name),
        "phone": masked_phone(lambda r: r, "手机号（账号）"),
        "role": Column("角色", lambda r: admin_auth.ROLES.get(r.role, r.role)),
        "region": Column("所属区域", lambda r: r.region.full_name()),
        "created_at": time_column("创建时间", lambda r: r.created_at),
        "status": Column("状态", lambda r: "正常" if r.status == "active" else "停用"),
    }
    searches = {
        "phone": phone_search(AdminUser.phone_bidx),
        "region_name": Search("小区名称", lambda q, v: q.where(Region.name.contains(v))),
    }
    filters = {"role": Filter("角色", admin_auth.ROLES, lambda q, v: q.where(AdminUser.role == v))}

    def base_query(self):
        return AdminUser.select(AdminUser, Region).join(Region)

    def scoped(self, ctx, query):
        return query.where(Region.path.startswith(ctx.admin.region.path)
                           & AdminUser.role.in_(admin_auth.creatable_roles(ctx.admin)))

    def region_of(self, row):
        return row.region

    def create(self, ctx, data):
        admin, _ = admin_auth.create_admin(ctx.admin, phone=data["phone"], name=data["name"], role=data["role"],
                                           region_code=data["region"])
        return admin

    def field_choices(self, ctx, spec):
        """角色 offers only the roles this admin may create (those below its own)."""
        if spec.name == "role":
            return {code: admin_auth.ROLES[code] for code in admin_auth.creatable_roles(ctx.admin)}
        return None

    def initial(self, row):
        return {"name": row.name, "phone": ""}

    def update(self, ctx, row, data):
        admin_auth.update_admin(ctx.admin, row, phone=data.get("phone") or None, name=data.get("name"))
