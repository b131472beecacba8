"""Dispatch (H2): which district (and, when known, which compound) a list row goes to.

    base_station_county   telecom rows: the district named by 基站归属区县 when the base station is
                          in this city (基站归属地市 empty or this city), else the one named by 流入县.
                          A 流入县, a 流入市 or a 基站归属区县 of this city that names no region of
                          the city is a bad row (`Refused`), reported like a bad cell
    boarding_station      railway rows: kept only when boarded at a watched station
                          (RAILWAY_BOARDING_STATIONS), then spread evenly over the districts
    compound_or_address   the others: the compound named in the row (所属小区, within 所属街道办事处
                          when given), else the matched resident's compound, else a district
                          named in the row's district / address columns
    reporter              records typed in the back office: the reporter's compound or region

A row no rule places stays unassigned (no district, region = the city): the city queue, which
city admins see apart in the statistics and assign to a district by hand (分配到区县).
A `Dispatcher` loads the regions of one city once, so a million rows cost no region queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.regions import Region
from services.investigations.sources import Source

FILTERED = object()  # a row the source's filter leaves out (not an error)


@dataclass(frozen=True)
class Refused:
    """A row whose cells name places that are not in the city: (column key, header, reason) each."""

    cells: tuple[tuple[str, str, str], ...]


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
        query = Region.select(Region.id, Region.code, Region.name, Region.level, Region.path, Region.aliases)
        if scope is not None:
            query = query.where(Region.path.startswith(scope.path))
        self.scope_name = scope.name if scope is not None else ""
        self.districts: dict[str, int] = {}  # code -> id
        self.district_names: dict[str, int] = {}  # full and unambiguous short names, and aliases
        self.full_names: dict[str, int] = {}
        self.city_names: set[str] = set()  # the city (or cities) itself, as lists write it
        short_names: dict[str, list[int]] = {}
        self.compounds: dict[str, list[tuple[int, str]]] = {}  # name -> [(id, path)]
        self.streets: dict[str, list[str]] = {}  # name -> [path]
        self.paths: dict[int, str] = {}
        for region in query.tuples():
            region_id, code, name, level, path, aliases = region
            self.paths[region_id] = path
            if level == "district":
                self.districts[code] = region_id
                self.district_names[name] = region_id
                self.full_names[name] = region_id
                short_names.setdefault(_short(name), []).append(region_id)
                for alias in (a.strip() for a in (aliases or "").split("、")):
                    if alias:
                        self.district_names.setdefault(alias, region_id)
                        self.full_names.setdefault(alias, region_id)
            elif level == "city":
                self.city_names.update({name, _short(name)})
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

    def is_city(self, text: str | None) -> bool:
        """Whether `text` names the city itself (郑州市 or 郑州), not one of its districts."""
        return bool(text) and text.strip() in self.city_names

    def _telecom(self, values: dict):
        """A telecom row: its base station's district, else its inflow county's, else the city
        queue; names of this city that match no region of it are refused."""
        problems = []
        inflow_city = values.get("inflow_city")
        if inflow_city and self.city_names and not self.is_city(inflow_city):
            problems.append(("inflow_city", f"流入市“{inflow_city}”不是{self.scope_name}"))
        inflow = values.get("inflow_county")
        inflow_district = None
        if inflow and not self.is_city(inflow):
            inflow_district = self.district_named(inflow)
            if inflow_district is None:
                problems.append(("inflow_county", f"流入县“{inflow}”不是{self.scope_name}的区县"))
        station_city, county = values.get("station_city"), values.get("station_county")
        station_district = None
        # A base station in another city (基站归属地市 许昌市) is not ours to check: the inflow county decides.
        if county and not self.is_city(county) and (not station_city or self.is_city(station_city)):
            station_district = self.district_named(county)
            if station_district is None:
                problems.append(("station_county", f"基站归属区县“{county}”不是{self.scope_name}的区县"))
        if problems:
            return Refused(tuple((key, self.source.column(key).header, reason) for key, reason in problems))
        district = station_district or inflow_district
        return Placed(district, district) if district else self.unassigned

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
        """Where a checked row goes: a `Placed`, FILTERED for a row the source leaves out, or
        `Refused` for a row naming a county that is not the city's."""
        rule = self.source.dispatch
        if rule == "base_station_county":
            placed = self._telecom(values)
            if isinstance(placed, Refused):
                return placed
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
