"""Dispatch (H2): which district (and, when known, which compound) a list row goes to.

    base_station_county   telecom rows: the district named by 基站归属区县
    boarding_station      railway rows: kept only when boarded at a watched station
                          (RAILWAY_BOARDING_STATIONS), then spread evenly over the districts
    compound_or_address   the others: the compound named in the row (所属小区, within 所属街道办事处
                          when given), else the matched resident's compound, else a district
                          named in the row's district / address columns
    reporter              records typed in the back office: the reporter's compound or region

A row no rule places stays unassigned (no district, region = the city): city admins see it and
dispatch it by hand.
A `Dispatcher` loads the regions of one city once, so a million rows cost no region queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.regions import Region
from services.investigations.sources import Source

FILTERED = object()  # a row the source's filter leaves out (not an error)


@dataclass(frozen=True)
class Placed:
    region_id: int | None  # the most precise region: a compound, else the district (the city: unassigned)
    district_id: int | None  # None: not dispatched yet


def city_of(region: Region | None) -> Region | None:
    """The city a region belongs to (itself for a city); None above city level."""
    if region is None:
        return None
    if region.level == "city":
        return region
    for ancestor in region.ancestors():
        if ancestor.level == "city":
            return ancestor
    return None


def district_key(names, text: str | None) -> str | None:
    """The key of `names` (district names, full and short) that `text` names, or None."""
    if not text:
        return None
    text = text.strip()
    if text in names:
        return text
    short = _short(text)
    return short if short in names else None


def _short(name: str) -> str:
    # "管城回族区" is often written "管城区": match on the name without its suffix.
    for suffix in ("回族区", "新区", "区", "县", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


class Dispatcher:
    """Places rows of one source for one uploader (their city's regions, loaded once)."""

    def __init__(self, source: Source, uploader_region: Region | None = None, *,
                 watched_stations: tuple[str, ...] = (), start: int = 0):
        self.source = source
        self.watched_stations = tuple(s for s in watched_stations if s)
        scope = city_of(uploader_region) or uploader_region
        query = Region.select(Region.id, Region.code, Region.name, Region.level, Region.path)
        if scope is not None:
            query = query.where(Region.path.startswith(scope.path))
        self.districts: dict[str, int] = {}  # code -> id
        self.district_names: dict[str, int] = {}  # full and unambiguous short names
        self.full_names: dict[str, int] = {}
        short_names: dict[str, list[int]] = {}
        self.compounds: dict[str, list[tuple[int, str]]] = {}  # name -> [(id, path)]
        self.streets: dict[str, list[str]] = {}  # name -> [path]
        self.paths: dict[int, str] = {}
        for region in query.tuples():
            region_id, code, name, level, path = region
            self.paths[region_id] = path
            if level == "district":
                self.districts[code] = region_id
                self.district_names[name] = region_id
                self.full_names[name] = region_id
                short_names.setdefault(_short(name), []).append(region_id)
            elif level == "compound":
                self.compounds.setdefault(name, []).append((region_id, path))
            elif level == "street":
                self.streets.setdefault(name, []).append(path)
        for short, ids in short_names.items():
            if len(ids) == 1:
                self.district_names.setdefault(short, ids[0])
        self.district_ids = [self.districts[c] for c in sorted(self.districts)]
        self.unassigned = Placed(scope.id if scope is not None else None, None)
        self._turn = start
        # An account below city level (a district's fever clinic) dispatches within its own region.
        self.limit_path = uploader_region.path if uploader_region is not None and uploader_region.level not in (
            "province", "city") else None
        self.own = Placed(uploader_region.id, self.district_of_path(uploader_region.path)) if self.limit_path else None

    def district_of_path(self, path: str | None) -> int | None:
        """The district a region path lies in."""
        if not path:
            return None
        for code in path.strip("/").split("/"):
            if code in self.districts:
                return self.districts[code]
        return None

    def district_named(self, text: str | None) -> int | None:
        """The district whose name (or short name) is `text`."""
        key = district_key(self.district_names, text)
        return self.district_names[key] if key else None

    def district_in(self, text: str | None) -> int | None:
        """The district whose name appears in a free-text address."""
        if not text:
            return None
        for name, region_id in self.full_names.items():
            if name in text:
                return region_id
        return None

    def compound_named(self, name: str | None, street: str | None = None) -> Placed | None:
        if not name:
            return None
        found = self.compounds.get(name.strip())
        if not found:
            return None
        if street and len(found) > 1:
            prefixes = self.streets.get(street.strip(), [])
            found = [f for f in found if any(f[1].startswith(p) for p in prefixes)] or found
        if len(found) != 1:
            return None
        region_id, path = found[0]
        return Placed(region_id, self.district_of_path(path))

    def place(self, values: dict, person_compound_id: int | None = None):
        """Where a checked row goes: a `Placed`, or FILTERED for a row the source leaves out."""
        rule = self.source.dispatch
        if rule == "base_station_county":
            district = self.district_named(values.get("station_county"))
            placed = Placed(district, district) if district else self.unassigned
        elif rule == "boarding_station":
            station = values.get("boarding") or ""
            if self.watched_stations and not any(w in station for w in self.watched_stations):
                return FILTERED
            if not self.district_ids:
                return self.unassigned
            district = self.district_ids[self._turn % len(self.district_ids)]
            self._turn += 1
            placed = Placed(district, district)
        else:
            placed = self._by_compound_or_address(values, person_compound_id)
        return self._within_limit(placed)

    def _by_compound_or_address(self, values: dict, person_compound_id: int | None) -> Placed:
        named = self.compound_named(values.get("compound"), values.get("street"))
        if named:
            return named
        if person_compound_id and person_compound_id in self.paths:
            return Placed(person_compound_id, self.district_of_path(self.paths[person_compound_id]))
        for key in self.source.address_columns:
            value = values.get(key)
            district = self.district_named(value) if key == "district_name" else self.district_in(value)
            if district:
                return Placed(district, district)
        return self.unassigned

    def _within_limit(self, placed: Placed) -> Placed:
        if self.limit_path is None:
            return placed
        path = self.paths.get(placed.region_id) if placed.region_id else None
        return placed if path and path.startswith(self.limit_path) else self.own
