"""The field roles' back office (E2-E4, seed 003): 网格组织审核, where the system admin of a region
approves grid organisations (which gives each grid admin a back-office account); 网格员授权, where
a grid admin authorises the workers of their own grid (never another grid's); and 医护人员权限,
where the city grants and revokes the release-notice permission by phone (one by one here, or the
表4-1 list on /admin/medical-staff/import)."""

from __future__ import annotations

import peewee

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.accounts import Account
from models.fieldwork import Grid, GridMembership
from models.medical_staff import MedicalStaff
from models.regions import Region
from services import grids, identity, medical_staff, profile
from services.forms import FormField

YES_NO = {"1": "是", "0": "否"}


def _person_name(account) -> str:
    person = profile.self_person(account)
    return identity.mask_name(person.name) if person and person.name else ""


def _person_phone(account) -> str:
    person = profile.self_person(account)
    return identity.mask_phone(person.phone) if person and person.phone else ""


approve_grid = Action(
    "approve_grid", "审核通过",
    lambda ctx, row, data: grids.approve_grid(row.id, ctx.admin)[1],
    allowed=lambda row: not row.approved,
    confirm="审核通过该网格组织？通过后网格管理员获得网格员管理平台账号（密码短信发送），可审核本网格的网格员。")


@site.register
class GridAdmin(Resource):
    """网格组织审核: the grids of the admin's region, approved or waiting."""

    name, label, model = "grids", "网格组织审核", Grid
    menu_group = "账号与系统"
    roles = ("city", "district", "street", "community")
    list_display = ("name", "region", "admin_name", "members", "approved", "created_at")
    search_fields = ("name",)
    list_filter = ("approved",)
    export_fields = list_display
    readonly_fields = ("name", "region", "admin_name", "admin_phone", "declaration_code", "members", "approved",
                       "approved_at", "office", "created_at")
    actions = (approve_grid,)
    columns = {
        "name": Column("网格名称", lambda r: r.name),
        "region": Column("所在区域", lambda r: r.region.full_name()),
        "admin_name": Column("网格管理员", lambda r: _person_name(r.admin)),
        "admin_phone": Column("管理员手机号", lambda r: _person_phone(r.admin)),
        "declaration_code": Column("网格申报码", lambda r: r.declaration_code),
        "members": Column("网格员（已授权/全部）", lambda r: "{}/{}".format(
            r.memberships.where(GridMembership.status == "approved").count(), r.memberships.count())),
        "approved": Column("审核状态", lambda r: "已通过" if r.approved else "待审核"),
        "approved_at": time_column("审核时间", lambda r: r.approved_at),
        "office": Column("网格员管理平台账号", lambda r: "已开通" if r.office_admin_id else "未开通"),
        "created_at": time_column("创建时间", lambda r: r.created_at),
    }
    searches = {"name": Search("网格名称", lambda q, v: q.where(Grid.name.contains(v.strip())))}
    filters = {"approved": Filter("已审核", YES_NO, lambda q, v: q.where(Grid.approved == (v == "1")))}

    def base_query(self):
        return Grid.select(Grid, Region).join(Region)

    def scoped(self, ctx, query):
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def region_of(self, row):
        return row.region

    def summary(self, ctx, query):
        return [("网格组织", query.count()), ("待审核", query.where(Grid.approved == False).count())]  # noqa: E712


def _authorise(approve: bool) -> Action:
    return Action(
        "authorise" if approve else "unauthorise", "授权" if approve else "取消授权",
        lambda ctx, row, data: grids.authorise_member(ctx.admin, row, approve),
        allowed=lambda row: (row.status != "approved") if approve else (row.status == "approved"),
        confirm=("授权该网格员？授权后可查看群众全部申报信息及本网格重点人员。" if approve
                 else "取消该网格员的授权？取消后只能查看群众最近一次申报信息。"))


@site.register
class GridWorkerAdmin(Resource):
    """网格员授权 (网格员管理平台): the workers bound to the signed-in grid admin's own grid."""

    name, label, model = "grid_workers", "网格员授权", GridMembership
    menu_group = "账号与系统"
    roles = (grids.OFFICE_ROLE,)
    list_display = ("worker", "phone", "status", "bound_at")
    list_filter = ("status",)
    readonly_fields = ("grid", "worker", "phone", "status", "bound_at", "approved_at")
    actions = (_authorise(True), _authorise(False))
    columns = {
        "grid": Column("网格", lambda r: r.grid.name),
        "worker": Column("网格员", lambda r: _person_name(r.worker)),
        "phone": Column("手机号", lambda r: _person_phone(r.worker)),
        "status": Column("授权状态", lambda r: "已授权" if r.status == "approved" else "待授权"),
        "bound_at": time_column("绑定时间", lambda r: r.bound_at),
        "approved_at": time_column("授权时间", lambda r: r.approved_at),
    }
    filters = {"status": Filter("授权状态", {"pending": "待授权", "approved": "已授权"},
                                lambda q, v: q.where(GridMembership.status == v))}

    def base_query(self):
        return GridMembership.select(GridMembership, Grid, Account).join(Grid).switch(GridMembership).join(Account)

    def scoped(self, ctx, query):
        return query.where(Grid.office_admin == ctx.admin)

    def region_of(self, row):
        return row.grid.region

    def get_row(self, ctx, row_id):
        """Only a worker of this admin's own grid: another grid's is a 403, even in the same region."""
        return grids.office_member(ctx.admin, int(row_id))

    def summary(self, ctx, query):
        return [("网格员", query.count()), ("已授权", query.where(GridMembership.status == "approved").count())]


def _regrant(ctx, row) -> str:
    medical_staff.grant(ctx.admin, {"name": row.name, "phone": row.phone, "institution": row.institution,
                                    "position": row.position})
    return "已重新开通该人员的权限"


STAFF_FORM = (FormField("name", "姓名"), FormField("phone", "联系电话", "phone"),
              FormField("institution", "单位名称", max_len=128), FormField("position", "职位"))


@site.register
class MedicalStaffAdmin(Resource):
    """医护人员权限: who may issue 解除医学观察电子告知书 (granted, revoked, linked to an account)."""

    name, label, model = "medical_staff", "医护人员权限", MedicalStaff
    menu_group = "账号与系统"
    roles = ("city", "health_city")
    list_display = ("name", "phone", "institution", "position", "status", "linked", "granted_at")
    search_fields = ("phone", "institution")
    list_filter = ("status",)
    export_fields = list_display
    readonly_fields = ("name", "phone", "institution", "position", "status", "linked", "granted_at", "revoked_at")
    create_form = STAFF_FORM
    actions = (
        Action("revoke", "撤销权限", lambda ctx, row, data: medical_staff.revoke(ctx.admin, row),
               allowed=lambda row: row.status == "granted",
               confirm="撤销该人员出具解除医学观察电子告知书的权限？已出具的告知书仍然有效。"),
        Action("regrant", "重新开通", lambda ctx, row, data: _regrant(ctx, row),
               allowed=lambda row: row.status == "revoked", confirm="重新开通该人员的权限？"),
    )
    columns = {
        "name": Column("姓名", lambda r: identity.mask_name(r.name)),
        "phone": masked_phone(lambda r: r, "联系电话"),
        "institution": Column("单位名称", lambda r: r.institution),
        "position": Column("职位", lambda r: r.position),
        "status": Column("权限", lambda r: medical_staff.STATUS_LABELS.get(r.status, r.status)),
        "linked": Column("小程序账号", lambda r: "已关联" if r.account_id else "未登录（验证该手机号后自动开通）"),
        "granted_at": time_column("开通时间", lambda r: r.granted_at),
        "revoked_at": time_column("撤销时间", lambda r: r.revoked_at),
    }
    searches = {"phone": phone_search(MedicalStaff.phone_bidx, "联系电话"),
                "institution": Search("单位名称", lambda q, v: q.where(MedicalStaff.institution.contains(v.strip())))}
    filters = {"status": Filter("权限", medical_staff.STATUS_LABELS, lambda q, v: q.where(MedicalStaff.status == v))}

    def base_query(self):
        return MedicalStaff.select(MedicalStaff, Region).join(Region, peewee.JOIN.INNER)

    def scoped(self, ctx, query):
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def region_of(self, row):
        return row.region

    def create(self, ctx, data):
        return medical_staff.grant(ctx.admin, data)
