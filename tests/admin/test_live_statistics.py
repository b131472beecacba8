"""Statistics that look alive: today's figures add the hour under way, counted from the entries,
to the summarised hours; the pages say when each was made; count axes read whole numbers; an
empty chart says why."""

from __future__ import annotations

import datetime as dt
import re

from jobs import hourly_stats
from models.db import db
from models.fields import utcnow
from services.back_office import statistics, svg_charts
from tests.admin.test_venues import cells, figure, scans, taxi, venues  # noqa: F401  (fixture)

HOUR = dt.timedelta(hours=1)


def today_of(moment: dt.datetime) -> bool:
    return statistics.china_day_of(moment) == statistics.china_today()


def test_the_hour_under_way_is_added_to_the_summarised_hours_once(venues):  # noqa: F811
    first = taxi("豫A12345", "郑州出租一公司", "13900000011")
    now = utcnow()
    earlier = statistics.hour_floor(now) - 3 * HOUR
    scans(first, earlier, "ggy")  # summarised by the job below
    hourly_stats.run(now=now, retention_days=60)
    scans(first, now, "gr")  # the hour under way: not summarised yet
    statistics.forget_summaries()
    client = venues.sign_in("taxi")
    page = client.get("/admin/r/venue_taxi_stats/")
    # Three hours ago is still today in China from 03:00 on: then its scans (one yellow) count today too.
    summarised_today, summarised_abnormal = (3, 1) if today_of(earlier) else (0, 0)
    assert (figure(page, "card-scans"), figure(page, "card-abnormal")) == (5, 2)
    assert (figure(page, "card-today"), figure(page, "card-today-abnormal")) == (summarised_today + 2,
                                                                                 summarised_abnormal + 1)
    assert statistics.updated_text() == statistics.local_text(statistics.hour_floor(now))
    assert re.search(r'id="counted-at">\d{4}-\d\d-\d\d \d\d:\d\d<', page.text)
    # The row of the place has the live scans too, and "当日扫码数量小于等于" reads them.
    assert cells(page, "今日扫码次数") == [str(summarised_today + 2)]
    assert cells(client.get("/admin/r/venue_taxi_stats/", params={"today_max": summarised_today + 1}),
                  "车牌号") == []
    assert cells(client.get("/admin/r/venue_taxi_stats/", params={"today_max": summarised_today + 2}),
                  "车牌号") == ["豫A12345"]
    # A scan now shows at once (a new page, once the short reuse of the live count is over).
    scans(first, now + dt.timedelta(seconds=5), "g")
    statistics.forget_summaries()
    assert figure(client.get("/admin/r/venue_taxi_stats/"), "card-scans") == 6
    # The dashboard's hour under way has its bar; the search's sums follow too.
    city = venues.sign_in("city")
    dashboard = city.get("/admin/dashboard")
    assert figure(dashboard, "fig-scans") == 6 and 'id="counted-at"' in dashboard.text
    current = statistics.local_text(statistics.hour_floor(now))
    assert re.search(rf"<td data-label=\"时间\">{current}</td><td data-label=\"扫码次数\">3</td>", dashboard.text)
    sums = client.get("/admin/r/venue_taxi_stats/", params={"plate": "豫A12345"})
    assert figure(sums, "sum-scans") == 6
    # Once the job has summarised that hour it is no longer counted live: nothing twice.
    hourly_stats.run(now=now + HOUR, retention_days=60)
    statistics.forget_summaries()
    assert figure(client.get("/admin/r/venue_taxi_stats/"), "card-scans") == 6
    assert figure(city.get("/admin/dashboard"), "fig-scans") == 6


def test_the_live_count_reads_the_hour_through_the_time_index(venues):  # noqa: F811
    indexes = {tuple(index.columns) for index in db.get_indexes("entry_record")}
    assert ("created_at", "place_id", "colour") in indexes
    # Before any run of the job, only the last two hours are counted live (never the whole table).
    assert statistics.live_since() == statistics.hour_floor(utcnow()) - HOUR


def test_an_empty_dashboard_says_why_and_counts_read_whole_numbers(venues):  # noqa: F811
    page = venues.sign_in("city").get("/admin/dashboard")
    assert page.status_code == 200
    assert "最近24小时没有扫码记录：每小时统计尚未运行" in page.text
    assert "尚未统计" in page.text
    one = svg_charts.bar_chart(["9时", "10时"], [("扫码", [0, 1], svg_charts.BLUE)], empty="没有扫码")
    ticks = re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', one)
    assert ticks == ["0", "1", "2", "3", "4"] and "没有扫码" not in one
    assert re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', svg_charts.bar_chart(["a"], [("x", [0], "#000")]))\
        == ["0", "1", "2", "3", "4"]
    assert "这段时间没有扫码" in svg_charts.bar_chart(["a"], [("x", [0], "#000")], empty="这段时间没有扫码")
    # A percentage axis keeps its fractions; a day without scans is a gap in the line, not 0 %.
    line = svg_charts.line_chart(["1", "2", "3"], [0.1, None, 0.3], percent=True)
    assert line.count("<polyline") == 2 and "10.0%" in line
    assert "无法计算" in svg_charts.line_chart(["1"], [None], percent=True, empty="无法计算")
