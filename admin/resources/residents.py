"""小区居民管理 (G3): the residents of the current compound, their isolation statuses and actions."""

from __future__ import annotations

import peewee

from admin.resources.common import ENTRY_SOURCES, id_number_search, masked_id, masked_name, masked_phone, \
    name_search, phone_search, time_column
from admin.site import Action, AdminContext, Column, Filter, Resource, site
from models.admin import CompoundResident
from models.people import Person
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services import audit, colour, identity, profile, residents
from services.errors import ApiError
from services.forms import FormField
from services.timefmt import local_iso


def _status(row) -> str:
    isolation = getattr(row.person, "isolation", None)
    return (isolation.status if isolation is not None and isolation.status else None) or residents.DEFAULT_STATUS


def _filter_status(query, value):
    if value == residents.DEFAULT_STATUS:
        return query.where(IsolationRecord.status.is_null() | (IsolationRecord.status == value))
    return query.where(IsolationRecord.status == value)


confirm_isolation = Action(
    "confirm_isolation", "确认隔离", lambda ctx, row, data: residents.confirm_isolation(ctx.admin, row),
    allowed=lambda row: row.removed_at is None and _status(row) == "pending",
    confirm="确认该人员已处于隔离状态？确认后状态变为“已确认隔离”。")
release_isolation = Action(
    "release_isolation", "解除隔离",
    lambda ctx, row, data: residents.release_isolation(ctx.admin, row, data.get("reason"), data.get("certificate")),
    allowed=lambda row: row.removed_at is None and _status(row) in ("pending", "confirmed"),
    confirm="解除该人员的隔离？", warning=residents.release_warning,
    form=(FormField("reason", "解除隔离原因", max_len=255), FormField("certificate", "已提交健康证明", "bool")))
not_in_compound = Action(
    "not_in_compound", "未在本小区",
    lambda ctx, row, data: residents.remove_binding(
        ctx.admin, _chosen_binding(ctx, row, data.get("choice")), data.get("remark")),
    allowed=lambda row: row.removed_at is None,
    confirm="删除该人员与所选小区的关联？",
    form=(FormField("choice", "所属小区", "choice"), FormField("remark", "备注", required=False, max_len=255)),
    choices=lambda ctx, row: residents.bindings_of(row.person, ctx.admin))


def _chosen_binding(ctx: AdminContext, row, choice) -> CompoundResident:
    if str(choice) not in residents.bindings_of(row.person, ctx.admin):
        raise ApiError("invalid_field", "请选择该人员所属的小区", 400, "choice")
    return CompoundResident.get_by_id(int(choice))


RESIDENT_FIELDS = (
    FormField("name", "姓名"),
    FormField("phone", "手机号", "phone"),
    FormField("address", "现住地址", required=False, max_len=255),
    FormField("building", "楼号", required=False, max_len=32),
    FormField("unit", "单元号", required=False, max_len=32),
    FormField("room", "房间号", required=False, max_len=32),
    FormField("resident_category", "居住类别", "choice", required=False, choices=profile.RESIDENT_CATEGORIES),
)


@site.register
class ResidentAdmin(Resource):
    name, label, model = "residents", "小区居民管理", CompoundResident
    menu_group = "居民与出入"
    scope = "compound"
    list_display = ("name", "id_number", "phone", "compound", "isolation_status", "registered_at")
    search_fields = ("name", "id_number", "phone")
    list_filter = ("isolation_status", "show_removed")
    actions = (confirm_isolation, release_isolation, not_in_compound)
    export_fields = ("name", "id_number", "phone", "compound", "address", "isolation_status", "registered_at",
                     "removed")
    readonly_fields = ("name", "gender", "id_number", "phone", "compound", "address", "room_detail",
                       "resident_category", "isolation_status", "registered_at", "removed")
    create_form = (FormField("id_type", "证件类型", "choice", choices=identity.ID_TYPES),
                   FormField("id_number", "证件号码", max_len=32), *RESIDENT_FIELDS,
                   FormField("isolation_status", "隔离状态", "choice", required=False, choices=residents.STATUSES))
    # The phone is shown masked and kept unless a whole new number is typed over it.
    edit_form = tuple(FormField("phone", "手机号", "masked_phone") if f.name == "phone" else f
                      for f in RESIDENT_FIELDS)
    columns = {
        "name": masked_name(lambda r: r.person),
        "id_number": masked_id(lambda r: r.person),
        "phone": masked_phone(lambda r: r.person),
        "gender": Column("性别", lambda r: profile.GENDERS.get(r.person.gender, "")),
        "compound": Column("所属小区", lambda r: r.compound.name),
        "address": Column("现住地址", lambda r: r.person.address or ""),
        "room_detail": Column("楼号/单元/房间", lambda r: "/".join(
            x or "-" for x in (r.person.building, r.person.unit, r.person.room))),
        "resident_category": Column("居住类别", lambda r: profile.RESIDENT_CATEGORIES.get(
            r.person.resident_category, "")),
        "isolation_status": Column("隔离状态", lambda r: residents.STATUSES[_status(r)]),
        "registered_at": time_column("登记时间", lambda r: r.bound_at),
        "removed": Column("关联状态", lambda r: f"已删除（{r.removed_remark or '无备注'}）" if r.removed_at else "正常"),
    }
    searches = {
        "name": name_search(),
        "id_number": id_number_search(Person.id_number_bidx),
        "phone": phone_search(Person.phone_bidx),
    }
    filters = {
        "isolation_status": Filter("隔离状态", residents.STATUSES, _filter_status),
        "show_removed": Filter("显示已删除关联人员", {"1": "显示"}, lambda q, v: q),
    }

    def base_query(self):
        return (CompoundResident.select(CompoundResident, Person, Region, IsolationRecord)
                .join(Person).switch(CompoundResident).join(Region)
                .switch(Person)
                .join(IsolationRecord, peewee.JOIN.LEFT_OUTER, on=(IsolationRecord.subject == Person.id_number_bidx),
                      attr="isolation"))

    def scoped(self, ctx, query):
        if ctx.compound is not None:
            return query.where(CompoundResident.compound == ctx.compound)
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def filtered(self, ctx, params):
        query = super().filtered(ctx, params)
        return query if params.get("show_removed") else query.where(CompoundResident.removed_at.is_null())

    def region_of(self, row):
        return row.compound

    def create(self, ctx, data):
        if ctx.compound is None:
            raise ApiError("no_compound", "请先在右上角切换到一个小区", 400)
        return residents.add_resident(ctx.admin, ctx.compound, data)

    def initial(self, row):
        person = row.person
        return {"name": person.name, "phone": identity.mask_phone(person.phone), "address": person.address,
                "building": person.building, "unit": person.unit, "room": person.room,
                "resident_category": person.resident_category}

    def update(self, ctx, row, data):
        residents.edit_resident(ctx.admin, row, {k: v for k, v in data.items() if v not in (None, "")})

    def detail_sections(self, ctx, row):
        movements = [(local_iso(e.created_at)[:19].replace("T", " "), _movement(e))
                     for e in residents.abnormal_movements(row.person)]
        log = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{_action_label(entry)}")
               for entry in audit.about(row.person)]
        return [("异常信息（隔离期间的出行记录）", movements or [("", "无")]), ("操作日志", log or [("", "无")])]


def _movement(entry) -> str:
    """One scan of 异常信息: where, how it was registered, its colour and the gate's answer."""
    return (f"{entry.place.name}（{ENTRY_SOURCES.get(entry.source, entry.source)}，"
            f"{colour.LABELS.get(entry.colour, entry.colour)}，{'允许通行' if entry.admitted else '禁止通行'}）")


ACTION_LABELS = {"pending_isolation": "扫码后判定待确认隔离", "confirm_isolation": "确认隔离",
                 "release_isolation": "解除隔离", "not_in_compound": "未在本小区", "add_resident": "新建人员",
                 "edit_resident": "编辑人员"}


def _action_label(entry: dict) -> str:
    label = ACTION_LABELS.get(entry["action"], entry["action"])
    detail = entry["detail"]
    if detail.get("status_to"):
        label += f"（{residents.STATUSES.get(detail.get('status_from'), '')} → {residents.STATUSES[detail['status_to']]}）"
    if detail.get("reason") or detail.get("remark"):
        label += f"：{detail.get('reason') or detail.get('remark')}"
    return label
