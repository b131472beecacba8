"""地铁等其他类型后台管理 (G5): the back office of every venue type, from its declaration.

Three generic resources, instantiated once per pre-generated place type of
services/place_types.PLACE_TYPES (bus, metro, taxi, supermarket, public service, company
shuttle, medical institution, farmers' market, professional market, scenic spot, other):

- `venue_<type>_stats` — <类型>扫码统计: the hourly summary (扫码总次数, 扫码异常次数, 今日扫码次数,
  今日扫码异常次数, 每小时更新) above the search; a row per place with the same figures; search
  by date range, the type's own fields (name / plate / company / credit code), 所属区县 and
  "当日扫码数量小于等于 N"; the sums of the search under it; 导出. Figures come from the statistics
  tables only (services/statistics.py).
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
import functools
import json

import peewee
from peewee import fn

from admin.resources.common import ENTRY_SOURCES, masked_id, masked_name, masked_phone, name_search, phone_search, \
    temperature_column, time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.fields import utcnow
from models.people import Person
from models.places import EntryRecord, Place, ScreenDevice
from models.regions import Region
from services import colour, identity, screen_codes, statistics, venue_admin
from services.errors import ApiError
from services.forms import FormField
from services.place_types import PlaceType
from services.timefmt import china_day_start, local_iso

ENTRY_LIST_TYPES = ("medical",)
INDEXED_SEARCHES = ("phone", "place_name")
WALK_FIRST, WALK_MAX = 4096, 1 << 20
MAX_RANGE_DAYS = 366
CONTACT_FIELDS = ("contact_name", "contact_phone")
SOURCES = ENTRY_SOURCES
STATUSES = {"green": "绿码", "yellow": "黄码", "orange": "橙码", "red": "红码", "unknown": "未知"}


# --- the date range every venue search shares ---------------------------------------------------

def parse_day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400, field) from None


def date_range(params: dict) -> tuple[dt.date | None, dt.date | None]:
    """The searched days (China-local, both ends included): a reversed range or one longer than
    a year is refused with a clear message."""
    first = parse_day(params["date_from"], "date_from") if (params.get("date_from") or "").strip() else None
    last = parse_day(params["date_to"], "date_to") if (params.get("date_to") or "").strip() else None
    if first and last:
        if first > last:
            raise ApiError("invalid_date_range", "开始日期不能晚于结束日期", 400, "date_to")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ApiError("date_range_too_long", "查询时间跨度不能超过一年", 400, "date_from")
    return first, last


def search_key(field_name: str) -> str:
    # The contact phone is searched as "phone": the export log leaves that parameter out.
    return "phone" if field_name == "contact_phone" else field_name


def _unchanged(query, value):
    return query  # the date range is read by the resource itself (it needs both ends together)


def _details(row) -> dict:
    cached = getattr(row, "_venue_details", None)
    if cached is None:
        cached = json.loads(row.details or "{}")
        row._venue_details = cached
    return cached


def _district_name(place) -> str:
    return place.region.name if place.region_id else ""


def type_figures(ctx, kind: PlaceType) -> dict:
    """A type's figures in the admin's region: the hourly summary (kept until the next run of the
    job) plus the hours not summarised yet, and when each was made (`updated`, `counted_at`)."""
    scope = statistics.Scope([kind.code], functools.partial(venue_admin.region_condition, ctx.admin))
    key = ("cards", kind.code, ctx.admin.region_id, venue_admin.city_wide(ctx.admin))
    figures = statistics.cached(key, functools.partial(statistics.totals, scope))
    return {**statistics.with_live(figures, scope, statistics.live_counts(scope, key)),
            "updated": statistics.updated_text()}


class VenueResource(Resource):
    """What the venue pages share: one place type, its roles, its place columns and searches,
    the admin's type and region, and the 403 for a place of another type."""

    kind: PlaceType = None  # set on each per-type subclass
    model = Place

    def __init__(self) -> None:
        kind = self.kind
        self.roles = venue_admin.roles_for(kind)
        self.columns = {"id": Column("序号", lambda r: r.id)}
        self.searches = {}
        self.detail_names = []
        for f in kind.activation_form:
            if f.name in CONTACT_FIELDS or f.name == venue_admin.DISTRICT_FIELD:
                continue
            if f.name == kind.name_field:
                self.columns["name"] = Column(f.label, lambda r: r.name)
            else:
                self.columns[f.name] = Column(f.label, functools.partial(lambda key, r: _details(r).get(key) or "",
                                                                         f.name))
                self.detail_names.append(f.name)
        self.place_columns = ("id", "name", *self.detail_names)
        if venue_admin.has_district(kind):
            self.columns["district"] = Column("所属区县", _district_name)
            self.place_columns += ("district",)
            self.searches["district"] = Search("所属区县", lambda q, v: q.where(venue_admin.district_condition(v)))
        self.columns["contact_name"] = Column("联系人姓名", lambda r: identity.mask_name(r.contact_name))
        self.columns["contact_phone"] = Column("联系人手机号", venue_admin.masked_contact_phone)
        self.columns["activated_at"] = time_column("激活时间", lambda r: r.activated_at)
        for name in kind.search_fields:
            spec = venue_admin.field_of(kind, name)
            self.searches[search_key(name)] = Search(spec.label, functools.partial(self._search, name))

    def _search(self, name, query, value):
        return query.where(venue_admin.search_condition(self.kind, name, value))

    def text_searches(self) -> tuple[str, ...]:
        return tuple(n for n in self.search_fields if n not in ("date_from", "date_to"))

    def base_query(self):
        return (Place.select(Place, Region).join(Region, peewee.JOIN.LEFT_OUTER)
                .where(Place.place_type == self.kind.code))

    def scoped(self, ctx, query):
        venue_admin.require_type(ctx.admin, self.kind.code)
        return query.where(venue_admin.region_condition(ctx.admin, Place.region))

    def region_of(self, row):
        return row.region

    def get_row(self, ctx, row_id):
        """A place by id: 404 when missing, 403 when of another type or another region."""
        try:
            row_id = int(row_id)
        except (TypeError, ValueError):
            raise ApiError("not_found", "记录不存在", 404) from None
        place = Place.get_or_none(Place.id == row_id)
        if place is None:
            raise ApiError("not_found", "记录不存在", 404)
        venue_admin.require_place(ctx.admin, place, self.kind.code)
        return self.row_query(ctx).where(Place.id == row_id).first()

    def row_query(self, ctx):
        return self.base_query()

    def region_scope(self, ctx):
        return functools.partial(venue_admin.region_condition, ctx.admin)

    def cards(self, ctx) -> dict:
        return type_figures(ctx, self.kind)


class VenueStatsAdmin(VenueResource):
    """<类型>扫码统计: a row per place with its figures, the hourly summary, the search's sums."""

    menu_group = "统计"

    def __init__(self) -> None:
        super().__init__()
        kind = self.kind
        self.name, self.label = f"venue_{kind.code}_stats", f"{kind.label}扫码统计"
        self.columns.update({
            "scans": Column("扫码总次数", lambda r: getattr(r, "stat_scans", 0) or 0),
            "abnormal": Column("扫码异常总次数", lambda r: getattr(r, "stat_abnormal", 0) or 0),
            "today_scans": Column("今日扫码次数", lambda r: getattr(r, "stat_today", 0) or 0),
            "today_abnormal": Column("今日异常扫码次数", lambda r: getattr(r, "stat_today_abnormal", 0) or 0),
            "updated_at": Column("更新时间", lambda r: statistics.local_text(utcnow())),
        })
        self.list_display = (*self.place_columns, "scans", "abnormal", "today_scans", "today_abnormal",
                             "updated_at")
        self.export_fields = self.list_display
        self.readonly_fields = self.list_display
        self.searches.update({
            "date_from": Search("扫码日期（开始）", _unchanged, kind="date"),
            "date_to": Search("扫码日期（结束）", _unchanged, kind="date"),
            "today_max": Search("当日扫码数量小于等于", self._today_at_most),
        })
        own = tuple(search_key(n) for n in kind.search_fields if n not in CONTACT_FIELDS)
        self.search_fields = ("date_from", "date_to", *own,
                              *(("district",) if "district" in self.searches else ()), "today_max")

    @staticmethod
    def _today_at_most(query, value):
        limit = venue_admin.validated_int(value, "today_max", "当日扫码数量")
        return query.where(statistics.today_scans_of_place() <= limit)

    def filtered(self, ctx, params):
        """The places searched, each with its figures over the searched days."""
        first, last = date_range(params)
        return statistics.place_figures(super().filtered(ctx, params), first, last)

    def row_query(self, ctx):
        return statistics.place_figures(self.base_query(), None, None)

    def summary(self, ctx, query):
        cards = self.cards(ctx)
        return [("扫码总次数", cards["scans"]), ("扫码异常次数", cards["abnormal"]),
                ("今日扫码次数", cards["today_scans"]), ("今日扫码异常次数", cards["today_abnormal"]),
                ("每小时汇总至", cards["updated"]), ("实时计入至", cards["counted_at"])]

    def search_sums(self, ctx, params) -> dict:
        """The search's own sums (they follow the search; the cards above do not)."""
        first, last = date_range(params)
        narrowed = any((params.get(n) or "").strip() for n in self.text_searches())
        if not narrowed and first is None and last is None:
            return self.cards(ctx)
        place_ids = None
        if narrowed:
            place_ids = Resource.filtered(self, ctx, params).select(Place.id)
        scope = statistics.Scope([self.kind.code], self.region_scope(ctx), place_ids, first, last)
        return statistics.with_live(statistics.totals(scope), scope, statistics.live_counts(scope))


def _minute(value) -> str:
    return local_iso(value)[:16].replace("T", " ")


def _active_screens(place: Place):
    return screen_codes.devices_of(place).where(ScreenDevice.revoked_at.is_null())


def _revoke_screen(ctx, row, data) -> str:
    device = screen_codes.revoke_device(row, data["choice"], admin=ctx.admin)
    return f"已停用屏幕“{device.name}”，其设备密钥立即失效"


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

    def __init__(self) -> None:
        super().__init__()
        kind = self.kind
        self.name, self.label = f"venue_{kind.code}_places", f"{kind.label}列表管理"
        self.list_display = (*self.place_columns, "contact_name", "contact_phone", "activated_at")
        self.export_fields = self.list_display
        self.columns["screen_only"] = Column("只接受屏幕场所码", lambda r: "是" if r.screen_only else "否（张贴的场所码有效）")
        self.readonly_fields = (*self.list_display, "screen_only")
        self.search_fields = (*(search_key(n) for n in kind.search_fields),
                              *(("district",) if "district" in self.searches else ()))
        self.edit_form = venue_admin.edit_form(kind)

    def detail_sections(self, ctx, row):
        """现场屏幕: each door screen (never its key) and its state."""
        def state(device) -> str:
            if device.revoked_at:
                return f"已停用（{_minute(device.revoked_at)}）"
            return f"使用中，最近取码 {_minute(device.last_seen_at)}" if device.last_seen_at else "使用中，尚未打开"

        screens = [(d.name, state(d)) for d in screen_codes.devices_of(row).limit(50)]
        return [("现场屏幕（定时更换的场所码）", screens or [("", "没有现场屏幕（由场所管理员在小程序中添加）")])]

    def summary(self, ctx, query):
        """激活总数 and 今日激活数, live."""
        return [("激活总数", venue_admin.activations(ctx.admin, self.kind.code)),
                ("今日激活数", venue_admin.activations(ctx.admin, self.kind.code, since=china_day_start()))]

    def initial(self, row):
        return venue_admin.initial(self.kind, row)

    def update(self, ctx, row, data):
        return venue_admin.update_place(ctx.admin, self.kind, row, data)


class VenueEntryAdmin(Resource):
    """医疗机构人员进出列表: people's entries at places of one type, read-only."""

    kind: PlaceType = None
    model = EntryRecord
    menu_group = "居民与出入"

    def __init__(self) -> None:
        kind = self.kind
        self.name, self.label = f"venue_{kind.code}_entries", f"{kind.label}人员进出列表"
        self.roles = venue_admin.roles_for(kind)
        self.list_display = ("registered_at", "source", "name", "phone", "place", "colour")
        self.search_fields = ("date_from", "date_to", "name", "phone", "place_name")
        self.list_filter = ("source", "colour")
        self.export_fields = self.list_display
        self.readonly_fields = ("registered_at", "name", "id_number", "phone", "place", "flow", "source", "colour",
                                "admitted", "temperature", "form")
        name_label = venue_admin.field_of(kind, kind.name_field).label
        self.columns = {
            "registered_at": time_column("登记日期", lambda r: r.created_at),
            "source": Column("来源方式", lambda r: SOURCES.get(r.source, r.source)),
            "name": masked_name(lambda r: r.person),
            "id_number": masked_id(lambda r: r.person),
            "phone": masked_phone(lambda r: r.person, "联系电话"),
            "place": Column(name_label, lambda r: r.place.name),
            "flow": Column("登记类型", lambda r: r.flow),
            "colour": Column("扫码人员状态", lambda r: colour.LABELS.get(r.colour, STATUSES.get(r.colour, r.colour))),
            "admitted": Column("核验结果", lambda r: "允许通行" if r.admitted else "禁止通行"),
            "temperature": temperature_column(),
            "form": Column("登记表内容", lambda r: "；".join(f"{k}：{v}" for k, v in json.loads(r.form or "{}").items())),
        }
        self.searches = {
            "date_from": Search("登记日期（开始）", lambda q, v: q.where(
                EntryRecord.created_at >= china_day_start(parse_day(v, "date_from"))), kind="date"),
            "date_to": Search("登记日期（结束）", lambda q, v: q.where(
                EntryRecord.created_at < china_day_start(parse_day(v, "date_to") + dt.timedelta(days=1))), kind="date"),
            "name": name_search(),
            "phone": phone_search(Person.phone_bidx, "联系电话"),
            "place_name": Search(name_label, lambda q, v: q.where(Place.name.contains(v))),
        }
        self.filters = {
            "source": Filter("来源方式", SOURCES, lambda q, v: q.where(EntryRecord.source == v)),
            "colour": Filter("扫码人员状态", STATUSES, lambda q, v: q.where(EntryRecord.colour == v)),
        }

    def base_query(self):
        return (EntryRecord.select(EntryRecord, Person, Place).join(Person).switch(EntryRecord).join(Place)
                .where(Place.place_type == self.kind.code))

    def scoped(self, ctx, query):
        venue_admin.require_type(ctx.admin, self.kind.code)
        return query.where(venue_admin.region_condition(ctx.admin, Place.region))

    def region_of(self, row):
        return row.place.region

    def filtered(self, ctx, params):
        date_range(params)  # a reversed or too long range is refused before anything is read
        query = super().filtered(ctx, params)
        # A phone (one person, by its blind index) or an institution's name (a few places) narrows
        # the rows through an index; anything else is paged by walking the ids back (see `page`).
        query.walk_ids = not any((params.get(k) or "").strip() for k in INDEXED_SEARCHES)
        return query

    def page(self, query, after):
        """Newest first, by key. "ORDER BY id DESC LIMIT 21" over a join with the places of a
        type makes MySQL sort every entry of the type (millions) for 21 rows; so the ids are
        walked back in windows (4,096 ids, then twice as many each time) until the page is
        full: each query reads one short primary-key range, whatever the size of the table."""
        if not getattr(query, "walk_ids", False):
            return super().page(query, after)
        pk = EntryRecord.id
        top = (after - 1) if after else (EntryRecord.select(fn.MAX(pk)).scalar() or 0)
        bottom = EntryRecord.select(fn.MIN(pk)).scalar() or 0
        rows, window = [], WALK_FIRST
        while top >= bottom and len(rows) <= self.per_page:
            rows += list(query.where((pk <= top) & (pk > top - window)).order_by(pk.desc())
                         .limit(self.per_page + 1 - len(rows)))
            top -= window
            window = min(window * 2, WALK_MAX)
        more = len(rows) > self.per_page
        rows = rows[:self.per_page]
        return rows, (rows[-1].get_id() if more and rows else None)

    def get_row(self, ctx, row_id):
        """An entry by id: 404 when missing, 403 at a place of another type or region."""
        try:
            row_id = int(row_id)
        except (TypeError, ValueError):
            raise ApiError("not_found", "记录不存在", 404) from None
        entry = EntryRecord.select(EntryRecord, Place).join(Place).where(EntryRecord.id == row_id).first()
        if entry is None:
            raise ApiError("not_found", "记录不存在", 404)
        venue_admin.require_place(ctx.admin, entry.place, self.kind.code)
        return self.base_query().where(EntryRecord.id == row_id).first()

    def summary(self, ctx, query):
        """Figures from the hourly statistics and the hour under way (counting every entry itself
        would read them all): the same as the type's statistics page."""
        figures = type_figures(ctx, self.kind)
        return [("今日进出人次", figures["today_scans"]), ("累计进出人次", figures["scans"]),
                ("每小时汇总至", figures["updated"]), ("实时计入至", figures["counted_at"])]


def register_all() -> None:
    """One subclass per venue type of each generic resource, registered like any other."""
    for kind in venue_admin.venue_types():
        suffix = "".join(part.title() for part in kind.code.split("_"))
        for base in (VenueStatsAdmin, VenuePlaceAdmin):
            site.register(type(f"{base.__name__}{suffix}", (base,), {"kind": kind}))
        if kind.code in ENTRY_LIST_TYPES:
            site.register(type(f"VenueEntryAdmin{suffix}", (VenueEntryAdmin,), {"kind": kind}))


register_all()
