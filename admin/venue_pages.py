"""The venue back office's own pages: the statistics list with its two sets of figures, and the
dashboards (G5, G7). Everything else of the venue pages is the generic resource handlers.

- `/admin/r/venue_<type>_stats/` — the resource's list, rendered with venue/stats.html: the
  hourly summary above the search, the search's own sums under it (the seed's taxi rule), and a
  search error shown on the page, with the search kept; and, for the places shown that count
  who is inside (N8), the live count against their capacity. (Without these routes the generic list
  still serves it, with the hourly summary only.)
- `/admin/dashboard` — 数据看板 for city, district and venue-type admins, scoped to their region
  (and type): scans per hour and per day, the abnormal share, the top places, activations, as
  SVG drawn here (services/back_office/svg_charts.py), with the figures beside them.

`routes(config)` must come before `admin.handlers.routes(config)` in the application (the
stats URL is also matched by the generic list).
"""

from __future__ import annotations

import functools
import urllib.parse

from admin.handlers import AdminHandler, ResourceHandler, menu
from admin.resources.venues import VenueStatsAdmin
from models import read_replica
from models.fields import utcnow
from services.back_office import statistics, svg_charts, venue_admin
from services.common.errors import ApiError
from services.common.timefmt import china_day_start
from services.venues import occupancy
from services.venues.place_types import PLACE_TYPES, place_type

DASHBOARD_ROLES = ("city", "district")


class VenueStatsHandler(ResourceHandler):
    """<类型>扫码统计: cards (hourly), search, the search's sums, the rows, 导出."""

    def get(self, name):
        resource = self.resource(name)
        if not isinstance(resource, VenueStatsAdmin):
            raise ApiError("not_found", "页面不存在", 404)
        params = self.params()
        after = params.get("after")
        error = field = None
        def read():
            query = resource.filtered(self.ctx, params)
            rows, next_key = resource.page(query, int(after) if after and after.isdigit() else None)
            return rows, next_key, resource.search_sums(self.ctx, params), resource.cards(self.ctx)

        try:
            rows, next_key, sums, cards = read_replica.run(read)  # heavy reads: the replica, if any
        except ApiError as exc:
            if exc.status != 400:
                raise
            self.set_status(400)
            error, field, rows, next_key, sums = exc.message, exc.field, [], None, None
            cards = read_replica.run(resource.cards, self.ctx)
        keep = {k: v for k, v in params.items() if k != "after" and v}
        self.render_page("venue/stats.html", resource=resource, rows=rows, params=params, next_key=next_key,
                         query_string=urllib.parse.urlencode(keep), cards=cards, sums=sums,
                         first_page=not after, error=error, field=field, live=live_occupancy(rows))


def live_occupancy(rows) -> list[tuple[str, dict]]:
    """N8: the counting places among the rows shown, each with who is inside now (read from the
    primary, never a replica: the count changes with every scan)."""
    counting = [row for row in rows if getattr(row, "counts_occupancy", False)]
    views = occupancy.views(counting)
    return [(row.name, views[row.id]) for row in counting]


def _dashboard_types(admin, requested: str) -> list[str] | None:
    """The place types the dashboard covers: a venue admin's own; city / district: all, or one."""
    own = venue_admin.type_of_role(admin.role)
    if own is None and admin.role not in DASHBOARD_ROLES:
        raise ApiError("forbidden", "当前账号无权访问该页面", 403)
    if requested:
        place_type(requested)  # an unknown type is a 400
        venue_admin.require_type(admin, requested)
        return [requested]
    return [own] if own else None


def dashboard_data(admin, types: list[str] | None) -> dict:
    """Every figure of the dashboard: the summarised hours (kept until the next hourly run, and
    the hour's end), plus the hours not summarised yet counted from the entries; activations live."""
    region = functools.partial(venue_admin.region_condition, admin)
    scope = statistics.Scope(types, region)

    def compute():
        return {"totals": statistics.totals(scope), "hourly": statistics.hourly_series(scope),
                "daily": statistics.daily_series(scope), "top": statistics.top_places(scope),
                "by_type": statistics.by_type(scope) if types is None or len(types) > 1 else []}

    key = ("dashboard", tuple(types) if types else None, admin.region_id, venue_admin.city_wide(admin))
    data = dict(statistics.cached((*key, statistics.hour_floor(utcnow())), compute))
    live = statistics.live_counts(scope, key)
    data["totals"] = statistics.with_live(data["totals"], scope, live)
    data["hourly"] = statistics.add_live_hours(data["hourly"], live)
    data["daily"] = statistics.add_live_hours(data["daily"], live)
    if data["by_type"]:
        data["by_type"] = statistics.add_live_types(data["by_type"], live)
    data["counted_at"] = live.counted_text()
    if types is None:
        data["activated"] = venue_admin.activations(admin, None)
        data["activated_today"] = venue_admin.activations(admin, None, since=china_day_start())
    else:
        data["activated"] = sum(venue_admin.activations(admin, t) for t in types)
        data["activated_today"] = sum(venue_admin.activations(admin, t, since=china_day_start()) for t in types)
    data["activations"] = statistics.activations_by_day(types, region)
    data["updated"] = statistics.updated_text()
    return data


def share(abnormal: int, scans: int) -> float:
    return abnormal / scans if scans else 0.0


def no_scans(period: str, updated: str) -> str:
    """Why a scan chart is empty: nothing summarised yet, or no scan in its period."""
    if updated == statistics.NOT_YET:
        return f"{period}没有扫码记录：每小时统计尚未运行，只计入了最近的扫码"
    return f"{period}没有扫码记录（每小时汇总至 {updated}，本小时实时计入）"


def charts(data: dict) -> dict:
    """The dashboard's SVG charts; an empty one says why."""
    hour_labels = [statistics.local_text(h)[11:13] + "时" for h, _, _ in data["hourly"]]
    day_labels = [d.strftime("%m-%d") for d, _, _ in data["daily"]]
    return {
        "hourly": svg_charts.bar_chart(hour_labels, [
            ("正常", [s - a for _, s, a in data["hourly"]], svg_charts.BLUE),
            ("异常", [a for _, _, a in data["hourly"]], svg_charts.RED)], title="每小时扫码次数（最近24小时）",
            empty=no_scans("最近24小时", data["updated"])),
        "daily": svg_charts.bar_chart(day_labels, [
            ("正常", [s - a for _, s, a in data["daily"]], svg_charts.BLUE),
            ("异常", [a for _, _, a in data["daily"]], svg_charts.RED)], title="每日扫码次数（最近30天）",
            empty=no_scans("最近30天", data["updated"])),
        # A day without scans has no share: a gap in the line, not a 0 %.
        "share": svg_charts.line_chart(day_labels, [share(a, s) if s else None for _, s, a in data["daily"]],
                                       title="异常扫码占比（最近30天）", percent=True, name="异常占比",
                                       empty=no_scans("最近30天", data["updated"]) + "，无法计算异常占比"),
        "top": svg_charts.hbar_chart([p["name"] for p in data["top"]], [p["scans"] for p in data["top"]],
                                     title="扫码次数最多的场所（最近7天）",
                                     empty="最近7天没有扫码记录" + ("（每小时统计尚未运行）" if data["updated"] == statistics.NOT_YET
                                                                else f"（每小时汇总至 {data['updated']}）")),
        "activations": svg_charts.bar_chart([d.strftime("%m-%d") for d, _ in data["activations"]],
                                            [("激活数", [n for _, n in data["activations"]], svg_charts.GREEN)],
                                            title="每日激活数（最近30天）", empty="最近30天没有新激活的场所码"),
    }


class DashboardHandler(AdminHandler):
    """数据看板: the admin's region (and type) at a glance."""

    def get(self):
        requested = self.get_query_argument("type", "").strip()
        types = _dashboard_types(self.admin, requested)
        data = read_replica.run(dashboard_data, self.admin, types)  # heavy reads: the replica, if any
        own = venue_admin.type_of_role(self.admin.role)
        choices = {} if own else {code: t.label for code, t in PLACE_TYPES.items()}
        title = PLACE_TYPES[types[0]].label if types and len(types) == 1 else "全部场所"
        self.render_page("venue/dashboard.html", data=data, charts=charts(data), choices=choices,
                         requested=requested, title=title, labels={c: t.label for c, t in PLACE_TYPES.items()},
                         share=share, local_text=statistics.local_text, stats_link=_stats_link(self.admin, types))


def _stats_link(admin, types) -> str | None:
    if types and len(types) == 1 and PLACE_TYPES[types[0]].pre_generated:
        return f"/admin/r/venue_{types[0]}_stats/"
    return None


@menu(group="统计", order=10)
def nav_links(admin) -> list[tuple[str, str]]:
    """This area's pages for the side menu: the dashboard, for the roles that may open it (the
    statistics and list pages are resources, already in the menu)."""
    if admin.role in DASHBOARD_ROLES or venue_admin.type_of_role(admin.role):
        return [("数据看板", "/admin/dashboard")]
    return []


def routes(config) -> list:
    """The venue pages' routes: put them before admin.handlers.routes(config)."""
    return [
        (r"/admin/r/(?P<name>venue_[a-z_]+_stats)/", VenueStatsHandler),
        (r"/admin/dashboard", DashboardHandler),
    ]
