"""空白码批次 (B3, seed 002 地铁等其他类型扫码: 二维码为提前生成下发): batches of blank place codes
of a pre-generated type (type, count, district), with how many of each were activated, newest
first, limited to the admin's region (and place type, for a venue admin). The new
batch form and the detail page with its print files are admin/office_pages.py."""

from __future__ import annotations

import dataclasses

from admin.resources.common import time_column
from admin.site import Column, Filter, Resource, site
from models.places import CodeBatch
from services.back_office import venue_admin
from services.common.forms import FormField
from services.venues import code_batches, places

PRE_GENERATED = code_batches.PRE_GENERATED
BATCH_FORM = (
    FormField("place_type", "场所类型", "choice", choices=PRE_GENERATED),
    FormField("size", f"数量（1 至 {places.MAX_BATCH:,} 个）", max_len=8),
    FormField("district", "下发区县", "choice", required=False),
)


def batch_form(admin) -> tuple[FormField, ...]:
    """The new batch form with this admin's choices (a district admin must name its district)."""
    district_level = admin.region.level == "district"
    choices = {"place_type": code_batches.type_choices(admin), "district": code_batches.district_choices(admin)}
    return tuple(dataclasses.replace(f, choices=choices[f.name], required=f.required or district_level)
                 if f.name in choices else f for f in BATCH_FORM)


@site.register
class CodeBatchAdmin(Resource):
    name, label, model = "code_batches", "空白码批次", CodeBatch
    menu_group = "场所与场所码"
    roles = ("city", "district", *venue_admin.VENUE_ROLES)
    columns = (Column("number", "批次号", lambda r: f"P{r.id}"),
               Column("place_type", "场所类型", lambda r: PRE_GENERATED.get(r.place_type, r.place_type)),
               Column("size", "数量"), Column("activated", "已激活", places.batch_activations),
               Column("region", "下发区县", lambda r: r.region.name if r.region_id else "全市"),
               Column("created_by", "生成人", lambda r: r.created_by_admin.name if r.created_by_admin_id else "系统"),
               time_column("created_at", "生成时间"))
    list_display = export_fields = ("number", "place_type", "size", "activated", "region", "created_by", "created_at")
    filters = (Filter.on(CodeBatch.place_type, "场所类型", PRE_GENERATED),)
    create_form, base_query = BATCH_FORM, staticmethod(code_batches.batches)

    def scoped(self, ctx, query):
        return code_batches.visible(ctx.admin, query)

    def get_row(self, ctx, row_id):
        return code_batches.visible_batch(ctx.admin, row_id)

    def summary(self, ctx, query):
        return code_batches.figures(query)

    def create(self, ctx, data):
        return code_batches.generate(ctx.admin, data)
