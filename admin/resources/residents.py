"""小区居民管理 (G3): the residents of the current compound, their isolation statuses and actions."""

from __future__ import annotations

import operator

from admin.resources.common import ENTRY_SOURCES, id_number_search, masked_id, masked_name, masked_phone, \
    name_search, phone_search, time_column
from admin.site import Action, AdminContext, Column, Filter, Resource, site
from models.admin import CompoundResident
from models.people import Person
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.back_office import resident_lists, residents
from services.colours import colour
from services.common.errors import ApiError
from services.common.forms import FormField
from services.common.timefmt import local_iso
from services.oversight import audit
from services.people import identity, profile


_status = resident_lists.status


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


CREATE_FORM = (FormField("id_type", "证件类型", "choice", choices=identity.ID_TYPES),
               FormField("id_number", "证件号码", max_len=32), *RESIDENT_FIELDS,
               FormField("isolation_status", "隔离状态", "choice", required=False, choices=residents.STATUSES))
# The phone is shown masked and kept unless a whole new number is typed over it.
EDIT_FORM = tuple(FormField("phone", "手机号", "masked_phone") if f.name == "phone" else f for f in RESIDENT_FIELDS)
PERSON = operator.attrgetter("person")
GENDER = Column("gender", "性别", lambda r: profile.GENDERS.get(r.person.gender, ""))
ROOM = Column("room_detail", "楼号/单元/房间", lambda r: "/".join(
    x or "-" for x in (r.person.building, r.person.unit, r.person.room)))
CATEGORY = Column("resident_category", "居住类别", lambda r: profile.RESIDENT_CATEGORIES.get(
    r.person.resident_category, ""))
REMOVED = Column("removed", "关联状态", lambda r: f"已删除（{r.removed_remark or '无备注'}）" if r.removed_at else "正常")

# What the export's columns show: four of the person's encrypted fields rather than all of them
# (tests/admin/test_export_reads.py checks that the columns need nothing more).
EXPORT_READS = (CompoundResident.id, CompoundResident.person, CompoundResident.compound, CompoundResident.bound_at,
                CompoundResident.removed_at, CompoundResident.removed_remark, Person.id, Person.name,
                Person.id_number, Person.phone, Person.address, Region.id, Region.name, IsolationRecord.id,
                IsolationRecord.status)


@site.register
class ResidentAdmin(Resource):
    name, label, model = "residents", "小区居民管理", CompoundResident
    menu_group = "居民与出入"
    columns = (masked_name(PERSON), GENDER, masked_id(PERSON), masked_phone(PERSON), Column("compound", "所属小区",
               lambda r: r.compound.name), Column("address", "现住地址", lambda r: r.person.address or ""), ROOM,
               CATEGORY, Column("isolation_status", "隔离状态", lambda r: residents.STATUSES[_status(r)]),
               time_column("registered_at", "登记时间", lambda r: r.bound_at), REMOVED)
    list_display = ("name", "id_number", "phone", "compound", "isolation_status", "registered_at")
    export_fields, export_reads = (*list_display[:4], "address", *list_display[4:], "removed"), EXPORT_READS
    searches = (name_search(), id_number_search(Person.id_number_bidx), phone_search(Person.phone_bidx))
    filters = (Filter("isolation_status", "隔离状态", residents.STATUSES, resident_lists.with_status),
               Filter("show_removed", "显示已删除关联人员", {"1": "显示"}, lambda q, v: q, resident_lists.current_only))
    actions = (confirm_isolation, release_isolation, not_in_compound)
    create_form, edit_form = CREATE_FORM, EDIT_FORM
    region_attr, compound_field = "compound", CompoundResident.compound
    base_query, initial = staticmethod(resident_lists.bindings), staticmethod(resident_lists.form_values)

    def create(self, ctx, data):
        return residents.add_resident(ctx.admin, ctx.compound, data)

    def update(self, ctx, row, data):
        residents.edit_resident(ctx.admin, row, data)

    def detail_sections(self, ctx, row):
        return _detail_sections(row.person)


def _detail_sections(person) -> list:
    """异常信息 (the person's scans while isolated) and 操作日志."""
    movements = [(local_iso(e.created_at)[:19].replace("T", " "), _movement(e))
                 for e in residents.abnormal_movements(person)]
    log = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{_action_label(entry)}")
           for entry in audit.about(person)]
    return [("异常信息（隔离期间的出行记录）", movements or [("", "无")]), ("操作日志", log or [("", "无")])]


def _movement(entry) -> str:
    """One scan of 异常信息: where, how it was registered, its colour and the gate's answer."""
    return (f"{entry.place.name}（{ENTRY_SOURCES.get(entry.source, entry.source)}，"
            f"{colour.LABELS.get(entry.colour, entry.colour)}，{'允许通行' if entry.admitted else '禁止通行'}）")


def _action_label(entry: dict) -> str:
    label = entry["action_label"]
    detail = entry["detail"]
    if detail.get("status_to"):
        label += f"（{residents.STATUSES.get(detail.get('status_from'), '')} → {residents.STATUSES[detail['status_to']]}）"
    if detail.get("reason") or detail.get("remark"):
        label += f"：{detail.get('reason') or detail.get('remark')}"
    return label
