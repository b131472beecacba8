"""空白码批次 (B3, seed 002 地铁等其他类型扫码: 二维码为提前生成下发): batches of blank place codes
of a pre-generated type (type, count, district), with how many of each were activated. The new
batch form and the detail page with its print files are admin/office_pages.py."""

from __future__ import annotations

import dataclasses

import peewee

from admin.resources.common import time_column
from admin.site import Column, Filter, Resource, site
from models.admin import AdminUser
from models.places import CodeBatch
from models.regions import Region
from services import places, venue_admin
from services.errors import ApiError
from services.forms import FormField
from services.place_types import PLACE_TYPES

PRE_GENERATED = {code: kind.label for code, kind in PLACE_TYPES.items() if kind.pre_generated}
BATCH_FORM = (
    FormField("place_type", "场所类型", "choice", choices=PRE_GENERATED),
    FormField("size", f"数量（1 至 {places.MAX_BATCH:,} 个）", max_len=8),
    FormField("district", "下发区县", "choice", required=False),
)
Creator = AdminUser.alias("batch_creator")


def type_choices(admin) -> dict[str, str]:
    """The pre-generated types this admin may make batches of."""
    allowed = venue_admin.allowed_types(admin)
    return {code: label for code, label in PRE_GENERATED.items() if allowed is None or code in allowed}


def district_choices(admin) -> dict[str, str]:
    """The districts a batch may be for (code -> name): every district of the admin's region, or
    the admin's own district."""
    if admin.region.level == "district":
        return {admin.region.code: admin.region.name}
    return {code: name for code, name in Region.select(Region.code, Region.name).where(
        (Region.level == "district") & Region.path.startswith(admin.region.path)).order_by(Region.code).tuples()}


def batch_form(admin) -> tuple[FormField, ...]:
    """The new batch form with this admin's choices (a district admin must name its district)."""
    district_level = admin.region.level == "district"
    choices = {"place_type": type_choices(admin), "district": district_choices(admin)}
    return tuple(dataclasses.replace(f, choices=choices[f.name], required=f.required or district_level)
                 if f.name in choices else f for f in BATCH_FORM)


@site.register
class CodeBatchAdmin(Resource):
    """The batches of the admin's region (and place type, for a venue admin), newest first."""

    name, label, model = "code_batches", "空白码批次", CodeBatch
    menu_group = "场所与场所码"
    roles = ("city", "district", *venue_admin.VENUE_ROLES)
    list_display = ("number", "place_type", "size", "activated", "region", "created_by", "created_at")
    list_filter = ("place_type",)
    export_fields = list_display
    readonly_fields = list_display
    create_form = BATCH_FORM
    columns = {
        "number": Column("批次号", lambda r: f"P{r.id}"),
        "place_type": Column("场所类型", lambda r: PRE_GENERATED.get(r.place_type, r.place_type)),
        "size": Column("数量", lambda r: r.size),
        "activated": Column("已激活", lambda r: places.batch_activations(r)),
        "region": Column("下发区县", lambda r: r.region.name if r.region_id else "全市"),
        "created_by": Column("生成人", lambda r: r.created_by_admin.name if r.created_by_admin_id else "系统"),
        "created_at": time_column("生成时间", lambda r: r.created_at),
    }
    filters = {"place_type": Filter("场所类型", PRE_GENERATED, lambda q, v: q.where(CodeBatch.place_type == v))}

    def base_query(self):
        return (CodeBatch.select(CodeBatch, Region, Creator)
                .join(Region, peewee.JOIN.LEFT_OUTER, on=(CodeBatch.region == Region.id), attr="region")
                .switch(CodeBatch)
                .join(Creator, peewee.JOIN.LEFT_OUTER, on=(CodeBatch.created_by_admin == Creator.id),
                      attr="created_by_admin"))

    def scoped(self, ctx, query):
        query = query.where(venue_admin.region_condition(ctx.admin, CodeBatch.region))
        allowed = venue_admin.allowed_types(ctx.admin)
        return query.where(CodeBatch.place_type.in_(allowed)) if allowed is not None else query

    def get_row(self, ctx, row_id):
        """A batch of the admin's region and type; another's is a 403."""
        row = self.base_query().where(CodeBatch.id == int(row_id)).first()
        if row is None:
            raise ApiError("not_found", "记录不存在", 404)
        if not self.scoped(ctx, self.base_query().where(CodeBatch.id == row.id)).exists():
            raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)
        return row

    def summary(self, ctx, query):
        return [("批次", query.count()), ("空白码总数", query.select(peewee.fn.SUM(CodeBatch.size)).scalar() or 0)]

    def create(self, ctx, data):
        if data["place_type"] not in type_choices(ctx.admin):
            raise ApiError("other_place_type", "无权生成该类型的场所码", 403, "place_type")
        district = data.get("district")
        if district and district not in district_choices(ctx.admin):
            raise ApiError("invalid_region", "下发区县不在本辖区", 400, "district")
        region = Region.get(Region.code == district) if district else None
        return places.generate_batch(data["place_type"], data["size"], region=region, created_by_admin=ctx.admin)
