"""The field roles' back office (E2-E4, seed 003): 网格组织审核, where the system admin of a region
approves grid organisations (which gives each grid admin a back-office account); 网格员授权, where
a grid admin authorises the workers of their own grid (never another grid's); and 医护人员权限,
where the city grants and revokes the release-notice permission by phone (one by one here, or the
表4-1 list on /admin/medical-staff/import)."""

from __future__ import annotations

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Action, Column, Filter, Resource, Search, model_form, site
from models.fieldwork import Grid, GridMembership
from models.medical_staff import MedicalStaff
from services.fieldwork import grid_lists, grids, medical_staff
from services.people import identity, profile

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
    columns = (Column("name", "网格名称"), Column("region", "所在区域", lambda r: r.region.full_name()),
               Column("admin_name", "网格管理员", lambda r: _person_name(r.admin)),
               Column("admin_phone", "管理员手机号", lambda r: _person_phone(r.admin)),
               Column("declaration_code", "网格申报码"), Column("members", "网格员（已授权/全部）", grid_lists.members_text),
               Column("approved", "审核状态", lambda r: "已通过" if r.approved else "待审核"),
               time_column("approved_at", "审核时间"),
               Column("office", "网格员管理平台账号", lambda r: "已开通" if r.office_admin_id else "未开通"),
               time_column("created_at", "创建时间"))
    list_display = export_fields = ("name", "region", "admin_name", "members", "approved", "created_at")
    searches = (Search.contains(Grid.name, "网格名称"),)
    filters = (Filter("approved", "已审核", YES_NO, lambda q, v: q.where(Grid.approved == (v == "1"))),)
    actions = (approve_grid,)
    base_query = staticmethod(grid_lists.grids)

    def summary(self, ctx, query):
        return grid_lists.grid_figures(query)


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
    columns = (Column("grid", "网格", lambda r: r.grid.name), Column("worker", "网格员", lambda r: _person_name(r.worker)),
               Column("phone", "手机号", lambda r: _person_phone(r.worker)),
               Column("status", "授权状态", lambda r: "已授权" if r.status == "approved" else "待授权"),
               time_column("bound_at", "绑定时间"), time_column("approved_at", "授权时间"))
    list_display = ("worker", "phone", "status", "bound_at")
    filters = (Filter.on(GridMembership.status, "授权状态", {"pending": "待授权", "approved": "已授权"}),)
    actions = (_authorise(True), _authorise(False))
    region_attr = "grid.region"
    base_query = staticmethod(grid_lists.memberships)

    def scoped(self, ctx, query):
        return grid_lists.of_office(ctx.admin, query)

    def get_row(self, ctx, row_id):
        """Only a worker of this admin's own grid: another grid's is a 403, even in the same region."""
        return grids.office_member(ctx.admin, int(row_id))

    def summary(self, ctx, query):
        return grid_lists.member_figures(query)


def _regrant(ctx, row) -> str:
    medical_staff.grant(ctx.admin, {"name": row.name, "phone": row.phone, "institution": row.institution,
                                    "position": row.position})
    return "已重新开通该人员的权限"


STAFF_FORM = model_form(MedicalStaff, name="姓名", phone="联系电话", institution="单位名称", position="职位")
STAFF_ACTIONS = (
    Action("revoke", "撤销权限", lambda ctx, row, data: medical_staff.revoke(ctx.admin, row),
           allowed=lambda row: row.status == "granted",
           confirm="撤销该人员出具解除医学观察电子告知书的权限？已出具的告知书仍然有效。"),
    Action("regrant", "重新开通", lambda ctx, row, data: _regrant(ctx, row),
           allowed=lambda row: row.status == "revoked", confirm="重新开通该人员的权限？"),
)


@site.register
class MedicalStaffAdmin(Resource):
    """医护人员权限: who may issue 解除医学观察电子告知书 (granted, revoked, linked to an account)."""

    name, label, model = "medical_staff", "医护人员权限", MedicalStaff
    menu_group = "账号与系统"
    roles = ("city", "health_city")
    columns = (Column("name", "姓名", lambda r: identity.mask_name(r.name)), masked_phone(lambda r: r, "联系电话"),
               Column("institution", "单位名称"), Column("position", "职位"),
               Column("status", "权限", lambda r: medical_staff.STATUS_LABELS.get(r.status, r.status)),
               Column("linked", "小程序账号", lambda r: "已关联" if r.account_id else "未登录（验证该手机号后自动开通）"),
               time_column("granted_at", "开通时间"), time_column("revoked_at", "撤销时间"))
    list_display = export_fields = ("name", "phone", "institution", "position", "status", "linked", "granted_at")
    searches = (phone_search(MedicalStaff.phone_bidx, "联系电话"), Search.contains(MedicalStaff.institution, "单位名称"))
    filters = (Filter.on(MedicalStaff.status, "权限", medical_staff.STATUS_LABELS),)
    create_form, actions = STAFF_FORM, STAFF_ACTIONS
    base_query = staticmethod(medical_staff.staff_with_regions)

    def create(self, ctx, data):
        return medical_staff.grant(ctx.admin, data)
