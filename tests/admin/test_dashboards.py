"""数据看板 (G7): city, district and venue-type admins see their region (and type) as charts drawn
on the server (inline SVG, no script, no CDN) with the figures beside them; others get a 403, a
venue admin asking for another type a 403, an unknown type a 400."""

from __future__ import annotations

import datetime as dt
import re

from jobs import hourly_stats
from services.back_office import svg_charts
from services.common.timefmt import china_today
from tests.admin.test_venues import JOB_NOW, TODAY, activate, figure, market, scans, venues  # noqa: F401
from tests.conftest import row_counts


def world():
    """Taxis (city-wide), medical institutions in 金水 and 二七, scans today and in past days."""
    taxi = activate("taxi", {"company": "一公司", "plate": "豫A12345", "contact_name": "张", "contact_phone": "13900000061"})
    jinshui = market("medical", "金水区人民医院", "410105", "13900000062")
    erqi = market("medical", "二七区人民医院", "410103", "13900000063")
    scans(taxi, TODAY + dt.timedelta(hours=1), "gggy")
    scans(taxi, TODAY - dt.timedelta(days=3, hours=-2), "gg")
    scans(jinshui, TODAY + dt.timedelta(hours=2), "gr")
    scans(erqi, TODAY + dt.timedelta(hours=3), "rrrrr")
    hourly_stats.run(now=JOB_NOW)
    return taxi, jinshui, erqi


def charts_in(page) -> int:
    return len(re.findall(r'<svg class="chart"', page.text))


def test_the_city_dashboard_draws_every_chart_offline(venues):
    world()
    city = venues.sign_in("city")
    before = row_counts()
    page = city.get("/admin/dashboard")
    assert page.status_code == 200
    assert charts_in(page) == 5
    assert (figure(page, "fig-scans"), figure(page, "fig-abnormal")) == (13, 7)
    assert (figure(page, "fig-today"), figure(page, "fig-today-abnormal")) == (11, 7)
    assert "53.8%" in page.text  # 7 of 13
    # Nothing is fetched from elsewhere: no script, no external address.
    assert "<script" not in page.text.split("</head>")[1]
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert "每小时扫码次数（最近24小时）" in page.text and "扫码次数最多的场所（最近7天）" in page.text
    top = re.search(r'<table class="list small" id="top-places">(.*?)</table>', page.text, re.S).group(1)
    assert top.index("豫A12345") < top.index("二七区人民医院") < top.index("金水区人民医院")  # 6, 5, 2
    assert "出租车" in re.search(r'id="by-type">(.*?)</table>', page.text, re.S).group(1)
    # The activated places of the city (the demo's service centre and its compounds count too).
    assert figure(page, "fig-activated") >= 3
    assert row_counts() == before


def test_district_and_venue_dashboards_are_scoped(venues):
    world()
    district = venues.sign_in("jinshui").get("/admin/dashboard", params={"type": "medical"})
    assert (figure(district, "fig-scans"), figure(district, "fig-abnormal")) == (2, 1)
    assert "二七区人民医院" not in district.text and "金水区人民医院" in district.text
    medical = venues.sign_in("medical_jinshui").get("/admin/dashboard")
    assert figure(medical, "fig-scans") == 2 and "全部场所" not in medical.text
    taxi = venues.sign_in("taxi").get("/admin/dashboard")
    assert (figure(taxi, "fig-scans"), figure(taxi, "fig-today")) == (6, 4)
    assert figure(taxi, "fig-activated") == 1 and "/admin/r/venue_taxi_stats/" in taxi.text


def test_dashboard_refusals(venues):
    world()
    taxi = venues.sign_in("taxi")
    other = taxi.get("/admin/dashboard", params={"type": "medical"})
    assert other.status_code == 403 and "无权查看或操作其他类型的场所" in other.text
    unknown = venues.sign_in("city").get("/admin/dashboard", params={"type": "spaceport"})
    assert unknown.status_code == 400 and "未知的场所类型" in unknown.text
    assert venues.sign_in("compound").get("/admin/dashboard").status_code == 403


def test_the_daily_series_reads_the_days(venues):
    world()
    page = venues.sign_in("taxi").get("/admin/dashboard")
    three_days_ago = (china_today() - dt.timedelta(days=3)).isoformat()
    row = re.search(rf'<td data-label="日期">{three_days_ago}</td><td data-label="扫码次数">(\d+)</td>', page.text)
    assert row and row.group(1) == "2"


# --- the SVG helper ------------------------------------------------------------------------------

def test_bar_chart_escapes_text_and_scales():
    svg = svg_charts.bar_chart(["<a>", "b"], [("扫码&", [10, 30], svg_charts.BLUE), ("异常", [5, 0], svg_charts.RED)],
                               title='x"<y>')
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<a>" not in svg and "&lt;a&gt;" in svg and "扫码&amp;" in svg and 'aria-label="x&quot;&lt;y&gt;"' in svg
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)]
    assert max(heights) > 0 and "style=" not in svg  # presentation attributes only (the CSP allows no inline style)


def test_charts_with_no_data_still_draw():
    assert "暂无数据" in svg_charts.hbar_chart([], [])
    empty = svg_charts.bar_chart([], [("扫码", [], svg_charts.BLUE)])
    assert empty.startswith("<svg")
    line = svg_charts.line_chart(["1", "2"], [0.0, 0.25], percent=True)
    assert "25.0%" in line and "<polyline" in line
