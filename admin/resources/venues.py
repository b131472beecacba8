"""地铁等其他类型后台管理 (G5): the back office of every venue type, from its declaration.

Three generic resources, instantiated once per pre-generated place type of
services/venues/place_types.PLACE_TYPES (bus, metro, taxi, supermarket, public service, company
shuttle, medical institution, farmers' market, professional market, scenic spot, other):

- `venue_<type>_stats` — <类型>扫码统计: the hourly summary (扫码总次数, 扫码异常次数, 今日扫码次数,
  今日扫码异常次数, 每小时更新) above the search; a row per place with the same figures; search
  by date range, the type's own fields (name / plate / company / credit code), 所属区县 and
  "当日扫码数量小于等于 N"; the sums of the search under it; 导出. Figures come from the statistics
  tables only (services/back_office/statistics.py).
- `venue_<type>_places` — <类型>列表管理: 激活总数 and 今日激活数 (live), search by the type's
  `search_fields` (and 所属区县), detail and 编辑 (the activation form; the scan page shows the
  change at once).
- `venue_medical_entries` — 医疗机构人员进出列表: people's entries at medical institutions, with a
  read-only detail (types listed in ENTRY_LIST_TYPES).

Nothing here is written per type: a new pre-generated type in PLACE_TYPES gets its three pages
(two, without an entry list) and its roles by being declared.
"""

from __future__ import annotations

import datetime as dt

from admin.resources.common import ENTRY_SOURCES, entry_columns, name_search, phone_search, time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.fields import utcnow
from models.people import Person
from models.places import EntryRecord, Place, ScreenDevice
from services.back_office import statistics, venue_admin, venue_lists
from services.colours import colour
from services.common.forms import FormField
from services.common.timefmt import china_day_start, local_iso
from services.people import identity
from services.venues import screen_codes
from services.venues.place_types import PlaceType

ENTRY_LIST_TYPES = ("medical",)
# A phone (one person, by its blind index) or an institution's name (a few places) narrows the
# entries through an index; anything else is paged by walking the ids back (venue_lists.walk_page).
INDEXED_SEARCHES = ("phone", "place_name")
CONTACT_FIELDS = ("contact_name", "contact_phone")
STATUSES = {"green": "绿码", "yellow": "黄码", "orange": "橙码", "red": "红码", "unknown": "未知"}
STAT_COLUMNS = (
    Column("scans", "扫码总次数", lambda r: getattr(r, "stat_scans", 0) or 0),
    Column("abnormal", "扫码异常总次数", lambda r: getattr(r, "stat_abnormal", 0) or 0),
    Column("today_scans", "今日扫码次数", lambda r: getattr(r, "stat_today", 0) or 0),
    Column("today_abnormal", "今日异常扫码次数", lambda r: getattr(r, "stat_today_abnormal", 0) or 0),
    Column("updated_at", "更新时间", lambda r: statistics.local_text(utcnow())),
)
CONTACT_COLUMNS = (Column("contact_name", "联系人姓名", lambda r: identity.mask_name(r.contact_name)),
                   Column("contact_phone", "联系人手机号", venue_admin.masked_contact_phone),
                   time_column("activated_at", "激活时间"))
ENTRY_FILTERS = (Filter.on(EntryRecord.source, "来源方式", ENTRY_SOURCES),
                 Filter.on(EntryRecord.colour, "扫码人员状态", STATUSES))
SCREEN_ONLY = Column("screen_only", "只接受屏幕场所码", lambda r: "是" if r.screen_only else "否（张贴的场所码有效）")


def search_key(field_name: str) -> str:
    # The contact phone is searched as "phone": the export log leaves that parameter out.
    return "phone" if field_name == "contact_phone" else field_name


def _unchanged(query, value):
    return query  # the date range is read by the resource itself (it needs both ends together)


def place_columns(kind: PlaceType) -> tuple[Column, ...]:
    """序号, the name and the type's own activation answers, and 所属区县 where the type has one."""
    columns = [Column("id", "序号"), Column("name", venue_admin.field_of(kind, kind.name_field).label)]
    for f in kind.activation_form:
        if f.name not in (*CONTACT_FIELDS, venue_admin.DISTRICT_FIELD, kind.name_field):
            columns.append(Column(f.name, f.label, lambda r, key=f.name: venue_lists.details(r).get(key) or ""))
    if venue_admin.has_district(kind):
        columns.append(Column("district", "所属区县", lambda r: r.region.name if r.region_id else ""))
    return tuple(columns)


def place_searches(kind: PlaceType, names) -> tuple[Search, ...]:
    """The searches of the type's fields `names`, then 所属区县 where the type has one."""
    found = tuple(Search(search_key(n), venue_admin.field_of(kind, n).label,
                         lambda q, v, n=n: q.where(venue_admin.search_condition(kind, n, v))) for n in names)
    if venue_admin.has_district(kind):
        found += (Search("district", "所属区县", lambda q, v: q.where(venue_admin.district_condition(v))),)
    return found


class VenueResource(Resource):
    """What the venue pages share: one place type, its roles, the admin's type and region, and
    the 403 for a place of another type. Each type's subclass is made by `register_all`."""

    kind: PlaceType = None
    model = Place

    def base_query(self):
        return venue_lists.places_of(self.kind)

    def scoped(self, ctx, query):
        return venue_lists.visible(ctx.admin, self.kind, query, Place.region)

    def get_row(self, ctx, row_id):
        return venue_lists.place_row(ctx.admin, self.kind, self.row_query(ctx), row_id)

    def row_query(self, ctx):
        return self.base_query()

    def cards(self, ctx) -> dict:
        return venue_lists.type_figures(ctx.admin, self.kind)

    def figure_cards(self, ctx, labels) -> list[tuple[str, object]]:
        cards = self.cards(ctx)
        return [(label, cards[key]) for key, label in labels]


class VenueStatsAdmin(VenueResource):
    """<类型>扫码统计: a row per place with its figures, the hourly summary, the search's sums."""

    menu_group = "统计"

    def text_searches(self) -> tuple[str, ...]:
        return tuple(n for n in self.search_fields if n not in ("date_from", "date_to"))

    def filtered(self, ctx, params):
        """The places searched, each with its figures over the searched days."""
        return statistics.place_figures(super().filtered(ctx, params), *venue_lists.date_range(params))

    def row_query(self, ctx):
        return statistics.place_figures(self.base_query(), None, None)

    def summary(self, ctx, query):
        return self.figure_cards(ctx, STAT_CARDS)

    def search_sums(self, ctx, params) -> dict:
        """The search's own sums (they follow the search; the cards above do not)."""
        narrowed = any((params.get(n) or "").strip() for n in self.text_searches())
        places = Resource.filtered(self, ctx, params).select(Place.id) if narrowed else None
        return venue_lists.search_sums(ctx.admin, self.kind, places, *venue_lists.date_range(params))


STAT_CARDS = (("scans", "扫码总次数"), ("abnormal", "扫码异常次数"), ("today_scans", "今日扫码次数"),
              ("today_abnormal", "今日扫码异常次数"), ("updated", "每小时汇总至"), ("counted_at", "实时计入至"))


def stats_declaration(kind: PlaceType) -> dict:
    """<类型>扫码统计's columns and searches: dates, the type's own fields, 所属区县, 当日扫码数量."""
    columns = place_columns(kind) + STAT_COLUMNS
    names = tuple(c.name for c in columns)
    dates = (Search("date_from", "扫码日期（开始）", _unchanged, kind="date"),
             Search("date_to", "扫码日期（结束）", _unchanged, kind="date"))
    own = place_searches(kind, [n for n in kind.search_fields if n not in CONTACT_FIELDS])
    return {"name": f"venue_{kind.code}_stats", "label": f"{kind.label}扫码统计", "columns": columns,
            "list_display": names, "export_fields": names,
            "searches": (*dates, *own, Search("today_max", "当日扫码数量小于等于", venue_lists.today_at_most))}


def _minute(value) -> str:
    return local_iso(value)[:16].replace("T", " ")


def _active_screens(place: Place):
    return screen_codes.devices_of(place).where(ScreenDevice.revoked_at.is_null())


def _revoke_screen(ctx, row, data) -> str:
    device = screen_codes.revoke_device(row, data["choice"], admin=ctx.admin)
    return f"已停用屏幕“{device.name}”，其设备密钥立即失效"


def _screen_state(device) -> str:
    if device.revoked_at:
        return f"已停用（{_minute(device.revoked_at)}）"
    return f"使用中，最近取码 {_minute(device.last_seen_at)}" if device.last_seen_at else "使用中，尚未打开"


# N1: staff who manage a type's places see their door screens and can stop one (a tablet lost or
# stolen when its place admin cannot be reached); screens are made by the place admin only.
REVOKE_SCREEN = Action("revoke_screen", "停用现场屏幕", _revoke_screen,
                       allowed=lambda row: _active_screens(row).exists(),
                       confirm="停用后，该屏幕的设备密钥立即失效，屏幕不再显示场所码；场所管理员可重新添加屏幕。",
                       form=(FormField("choice", "屏幕", "choice"),),
                       choices=lambda ctx, row: {str(d.id): d.name for d in _active_screens(row)})


class VenuePlaceAdmin(VenueResource):
    """<类型>列表管理: the activated places of the type, their details and 编辑, their door screens
    (N1) and 停用现场屏幕."""

    menu_group = "场所与场所码"
    actions = (REVOKE_SCREEN,)

    def detail_sections(self, ctx, row):
        """现场屏幕: each door screen (never its key) and its state."""
        screens = [(d.name, _screen_state(d)) for d in screen_codes.devices_of(row).limit(50)]
        return [("现场屏幕（定时更换的场所码）", screens or [("", "没有现场屏幕（由场所管理员在小程序中添加）")])]

    def summary(self, ctx, query):
        """激活总数 and 今日激活数, live."""
        return [("激活总数", venue_admin.activations(ctx.admin, self.kind.code)),
                ("今日激活数", venue_admin.activations(ctx.admin, self.kind.code, since=china_day_start()))]

    def initial(self, row):
        return venue_admin.initial(self.kind, row)

    def update(self, ctx, row, data):
        return venue_admin.update_place(ctx.admin, self.kind, row, data)


def places_declaration(kind: PlaceType) -> dict:
    """<类型>列表管理's columns (the place's, the contact, the screens), searches and edit form."""
    columns = place_columns(kind) + CONTACT_COLUMNS
    shown = tuple(c.name for c in columns)
    return {"name": f"venue_{kind.code}_places", "label": f"{kind.label}列表管理", "columns": (*columns, SCREEN_ONLY),
            "list_display": shown, "export_fields": shown, "searches": place_searches(kind, kind.search_fields),
            "edit_form": venue_admin.edit_form(kind)}


class VenueEntryAdmin(VenueResource):
    """医疗机构人员进出列表: people's entries at places of one type, read-only."""

    model, menu_group = EntryRecord, "居民与出入"
    list_display = export_fields = ("registered_at", "source", "name", "phone", "place", "colour")
    filters = ENTRY_FILTERS

    def base_query(self):
        return venue_lists.entries_of(self.kind)

    def filtered(self, ctx, params):
        venue_lists.date_range(params)  # a reversed or too long range is refused before anything is read
        query = super().filtered(ctx, params)
        query.walk_ids = not any((params.get(k) or "").strip() for k in INDEXED_SEARCHES)
        return query

    def page(self, query, after):
        walk = getattr(query, "walk_ids", False)
        return venue_lists.walk_page(query, after, self.per_page) if walk else super().page(query, after)

    def get_row(self, ctx, row_id):
        return venue_lists.entry_row(ctx.admin, self.kind, row_id)

    def summary(self, ctx, query):
        return self.figure_cards(ctx, ENTRY_CARDS)  # counting every entry itself would read them all


# From the hourly statistics and the hour under way: the same as the type's statistics page.
ENTRY_CARDS = (("today_scans", "今日进出人次"), ("scans", "累计进出人次"), ("updated", "每小时汇总至"),
               ("counted_at", "实时计入至"))


def entries_declaration(kind: PlaceType) -> dict:
    """The entry list's columns and searches, the place named as the type names it."""
    place = venue_admin.field_of(kind, kind.name_field).label
    columns = entry_columns(flows={}, registered="登记日期", source="来源方式", phone="联系电话", place=place,
                            colour_label="扫码人员状态", colour_text=lambda c: colour.LABELS.get(c, STATUSES.get(c, c)))
    day = venue_lists.parse_day
    searches = (
        Search("date_from", "登记日期（开始）", lambda q, v: q.where(
            EntryRecord.created_at >= china_day_start(day(v, "date_from"))), kind="date"),
        Search("date_to", "登记日期（结束）", lambda q, v: q.where(
            EntryRecord.created_at < china_day_start(day(v, "date_to") + dt.timedelta(days=1))), kind="date"),
        name_search(), phone_search(Person.phone_bidx, "联系电话"), Search.contains(Place.name, place, "place_name"))
    return {"name": f"venue_{kind.code}_entries", "label": f"{kind.label}人员进出列表", "columns": columns,
            "searches": searches}


def register_all() -> None:
    """One subclass per venue type of each generic resource, registered like any other."""
    for kind in venue_admin.venue_types():
        suffix = "".join(part.title() for part in kind.code.split("_"))
        declared = [(VenueStatsAdmin, stats_declaration), (VenuePlaceAdmin, places_declaration)]
        if kind.code in ENTRY_LIST_TYPES:
            declared.append((VenueEntryAdmin, entries_declaration))
        for base, declaration in declared:
            attrs = {"kind": kind, "roles": venue_admin.roles_for(kind), **declaration(kind)}
            site.register(type(f"{base.__name__}{suffix}", (base,), attrs))


register_all()
