"""The queries of the 空白码批次 list: batches with their districts and creators, the batches an
admin may see (its region, and its place type for a venue admin), the choices of a new batch,
and the figures above the list."""

from __future__ import annotations

import peewee

from models.admin import AdminUser
from models.places import CodeBatch
from models.regions import Region
from services.back_office import venue_admin
from services.common.errors import ApiError
from services.venues import places
from services.venues.place_types import PLACE_TYPES

PRE_GENERATED = {code: kind.label for code, kind in PLACE_TYPES.items() if kind.pre_generated}
Creator = AdminUser.alias("batch_creator")


def batches():
    """Every batch with its district and creator (both may be missing)."""
    return (CodeBatch.select(CodeBatch, Region, Creator)
            .join(Region, peewee.JOIN.LEFT_OUTER, on=(CodeBatch.region == Region.id), attr="region")
            .switch(CodeBatch)
            .join(Creator, peewee.JOIN.LEFT_OUTER, on=(CodeBatch.created_by_admin == Creator.id),
                  attr="created_by_admin"))


def visible(admin: AdminUser, query):
    """`query` limited to the batches of the admin's region and, for a venue admin, its types."""
    query = query.where(venue_admin.region_condition(admin, CodeBatch.region))
    allowed = venue_admin.allowed_types(admin)
    return query.where(CodeBatch.place_type.in_(allowed)) if allowed is not None else query


def visible_batch(admin: AdminUser, batch_id) -> CodeBatch:
    """A batch by id: 404 when missing, 403 when of another region or type."""
    row = batches().where(CodeBatch.id == int(batch_id)).first()
    if row is None:
        raise ApiError("not_found", "记录不存在", 404)
    if not visible(admin, batches().where(CodeBatch.id == row.id)).exists():
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)
    return row


def figures(query) -> list[tuple[str, int]]:
    """批次 and 空白码总数 of the batches `query` selects."""
    return [("批次", query.count()), ("空白码总数", query.select(peewee.fn.SUM(CodeBatch.size)).scalar() or 0)]


def type_choices(admin: AdminUser) -> dict[str, str]:
    """The pre-generated types this admin may make batches of."""
    allowed = venue_admin.allowed_types(admin)
    return {code: label for code, label in PRE_GENERATED.items() if allowed is None or code in allowed}


def district_choices(admin: AdminUser) -> dict[str, str]:
    """The districts a batch may be for (code -> name): every district of the admin's region, or
    the admin's own district."""
    if admin.region.level == "district":
        return {admin.region.code: admin.region.name}
    return {code: name for code, name in Region.select(Region.code, Region.name).where(
        (Region.level == "district") & Region.path.startswith(admin.region.path)).order_by(Region.code).tuples()}


def generate(admin: AdminUser, data: dict) -> CodeBatch:
    """A new batch of a type this admin may make, for a district of its region (or the whole city)."""
    if data["place_type"] not in type_choices(admin):
        raise ApiError("other_place_type", "无权生成该类型的场所码", 403, "place_type")
    district = data.get("district")
    if district and district not in district_choices(admin):
        raise ApiError("invalid_region", "下发区县不在本辖区", 400, "district")
    region = Region.get(Region.code == district) if district else None
    return places.generate_batch(data["place_type"], data["size"], region=region, created_by_admin=admin)
