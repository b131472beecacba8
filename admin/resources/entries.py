"""进出登记管理 (G4): the entry records of the current compound; paper forms typed in by staff."""

from __future__ import annotations

import json

from admin.resources.common import ENTRY_SOURCES, date_from, date_to, id_number_search, masked_id, masked_name, \
    masked_phone, name_search, phone_search, temperature_column, time_column
from admin.site import AdminContext, Column, Filter, Resource, site
from models.db import db
from models.people import Person
from models.places import EntryRecord, Place
from models.regions import Region
from services import audit, colour, entry_registration
from services.errors import ApiError
from services.forms import FormField
from services.timefmt import china_day_start

SOURCES = ENTRY_SOURCES
FLOWS = {"resident": "住户", "visitor": "访客"}


@site.register
class EntryAdmin(Resource):
    name, label, model = "entries", "进出登记管理", EntryRecord
    menu_group = "居民与出入"
    scope = "compound"
    list_display = ("registered_at", "name", "id_number", "phone", "place", "source", "colour", "temperature")
    search_fields = ("date_from", "date_to", "id_number", "name", "phone")
    list_filter = ("source",)
    export_fields = list_display
    readonly_fields = ("registered_at", "name", "id_number", "phone", "place", "flow", "source", "colour",
                       "admitted", "temperature", "form")
    create_form = (FormField("name", "姓名"), FormField("id_number", "证件号码", max_len=32),
                   FormField("phone", "手机号", "phone", required=False),
                   FormField("flow", "登记类型", "choice", choices=FLOWS),
                   FormField("temperature", "体温（℃）", required=False, max_len=5))
    columns = {
        "registered_at": time_column("登记时间", lambda r: r.created_at),
        "name": masked_name(lambda r: r.person),
        "id_number": masked_id(lambda r: r.person),
        "phone": masked_phone(lambda r: r.person),
        "place": Column("场所", lambda r: r.place.name),
        "flow": Column("登记类型", lambda r: FLOWS.get(r.flow, r.flow)),
        "source": Column("登记来源", lambda r: SOURCES.get(r.source, r.source)),
        "colour": Column("健康码", lambda r: colour.LABELS.get(r.colour, r.colour)),
        "admitted": Column("核验结果", lambda r: "允许通行" if r.admitted else "禁止通行"),
        "temperature": temperature_column(),
        "form": Column("登记表内容", lambda r: "；".join(f"{k}：{v}" for k, v in json.loads(r.form or "{}").items())),
    }
    searches = {
        "date_from": date_from(EntryRecord.created_at),
        "date_to": date_to(EntryRecord.created_at),
        "id_number": id_number_search(Person.id_number_bidx),
        "name": name_search(),
        "phone": phone_search(Person.phone_bidx),
    }
    filters = {"source": Filter("登记来源", SOURCES, lambda q, v: q.where(EntryRecord.source == v))}

    def base_query(self):
        return (EntryRecord.select(EntryRecord, Person, Place, Region).join(Person).switch(EntryRecord)
                .join(Place).join(Region))

    def scoped(self, ctx, query):
        if ctx.compound is not None:
            return query.where(Place.region == ctx.compound)
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def region_of(self, row):
        return row.place.region

    def summary(self, ctx: AdminContext, query):
        scoped = self.queryset(ctx)
        return [("今日进出人次", scoped.where(EntryRecord.created_at >= china_day_start()).count()),
                ("累计进出人次", scoped.count())]

    def create(self, ctx, data):
        """A paper registration form typed in: source "manual" (services/entry_registration.py)."""
        return entry_registration.register(ctx.admin, ctx.compound, data)

    def can_delete(self, row):
        return row.source == "manual"

    def delete(self, ctx, row):
        """Only records typed in from paper can be deleted; scans are evidence."""
        if row.source != "manual":
            raise ApiError("not_manual", "只能删除人工录入的登记记录", 403)
        with db.atomic():
            audit.record(None, ctx.admin.role, "delete_entry", row, admin_actor=ctx.admin,
                         registered_at=str(row.created_at), place=row.place.name)
            row.delete_instance()
