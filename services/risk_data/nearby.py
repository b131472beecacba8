"""Nearby risk (C9): compounds with active cases near a point, with their counts, a risk level
and the distance, nearest first."""

from __future__ import annotations

import datetime as dt
import math

import peewee

from models.regions import Region
from models.risk_inputs import CaseReport
from services.common.errors import ApiError
from services.common.timefmt import china_today

EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = 111_320
MAX_RADIUS_M = 50_000
CASE_WINDOW_DAYS = 14
# The seed's map legend: 较低风险 (yellow), 中等风险 (orange); more confirmed cases, higher risk.
LEVELS = ((5, "high", "较高风险"), (2, "medium", "中等风险"), (0, "low", "较低风险"))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def check_point(lat, lng, radius) -> None:
    """Latitude -90..90, longitude -180..180, radius 1 m..50 km."""
    if not -90 <= lat <= 90:
        raise ApiError("invalid_coordinates", "纬度应在 -90 至 90 之间", 400, "lat")
    if not -180 <= lng <= 180:
        raise ApiError("invalid_coordinates", "经度应在 -180 至 180 之间", 400, "lng")
    if not 1 <= radius <= MAX_RADIUS_M:
        raise ApiError("invalid_radius", f"查询半径应在 1 至 {MAX_RADIUS_M} 米之间", 400, "radius")


def nearby_risk(lat: float, lng: float, radius: float = 3000, today: dt.date | None = None) -> list[dict]:
    """Compounds within `radius` metres that have active cases reported in the last 14 days."""
    check_point(lat, lng, radius)
    today = today or china_today()
    dlat = radius / METRES_PER_DEGREE
    dlng = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    confirmed = peewee.fn.SUM(peewee.Case(None, [(CaseReport.kind == "confirmed", 1)], 0))
    suspected = peewee.fn.SUM(peewee.Case(None, [(CaseReport.kind == "suspected", 1)], 0))
    # Counted per compound first, so the outer query needs no GROUP BY over region columns.
    counts = (CaseReport.select(CaseReport.compound, confirmed.alias("confirmed"), suspected.alias("suspected"))
              .where((CaseReport.status == "active") & CaseReport.withdrawn_at.is_null()
                     & (CaseReport.event_date >= today - dt.timedelta(days=CASE_WINDOW_DAYS - 1)))
              .group_by(CaseReport.compound))
    # The bounding box narrows to a few compounds with an index-friendly range; the exact
    # distance is then computed for those only.
    rows = (Region.select(Region, counts.c.confirmed, counts.c.suspected)
            .join(counts, on=(counts.c.compound_id == Region.id))
            .where((Region.level == "compound")
                   & Region.latitude.between(lat - dlat, lat + dlat)
                   & Region.longitude.between(lng - dlng, lng + dlng))
            .objects())
    found = []
    for region in rows:
        distance = distance_m(lat, lng, region.latitude, region.longitude)
        if distance > radius:
            continue
        confirmed_count = int(region.confirmed or 0)
        level, label = next((lv, lb) for minimum, lv, lb in LEVELS if confirmed_count >= minimum)
        found.append({"compound_code": region.code, "name": region.name, "address": region.address,
                      "latitude": region.latitude, "longitude": region.longitude, "confirmed": confirmed_count,
                      "suspected": int(region.suspected or 0), "risk_level": level, "risk_label": label,
                      "distance_m": round(distance, 1)})
    return sorted(found, key=lambda item: item["distance_m"])
