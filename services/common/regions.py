"""Building and reading the region hierarchy."""

from __future__ import annotations

from models.db import db
from models.regions import LEVEL_NAMES, LEVELS, Region
from services.common.errors import ApiError

PARENT_LEVEL = dict(zip(LEVELS[1:], LEVELS[:-1]))


def add_region(code: str, name: str, level: str, parent: Region | None = None, **details) -> Region:
    """Add one region under `parent` (or update its name and details if the code exists).

    The level must sit directly under the parent's level, so the tree cannot skip a level.
    """
    if level not in LEVELS:
        raise ApiError("invalid_region_level", "无效的区域级别", 400, "level")
    expected_parent = PARENT_LEVEL.get(level)
    if (parent is None) != (expected_parent is None) or (parent is not None and parent.level != expected_parent):
        raise ApiError("invalid_region_parent", "上级区域的级别不匹配", 400, "parent")
    path = (parent.path if parent else "/") + code + "/"
    with db.atomic():
        region = Region.get_or_none(Region.code == code)
        if region is None:
            return Region.create(code=code, name=name, level=level, parent=parent, path=path, **details)
        if region.path != path:
            raise ApiError("region_code_taken", "区域代码已被其他区域使用", 400, "code")
        region.name = name
        for key, value in details.items():
            setattr(region, key, value)
        region.save()
        return region


def load_tree(tree: list, parent: Region | None = None) -> int:
    """Load nested `(code, name, level, children, details)` tuples; return how many were written."""
    count = 0
    for code, name, level, children, *details in tree:
        region = add_region(code, name, level, parent, **(details[0] if details else {}))
        count += 1 + load_tree(children, region)
    return count


# --- picking a region by name (the back office's region cascade) --------------------------------

def _fixed_codes(within: Region | None) -> list[str]:
    """The codes of `within` and its ancestors: above its own level a scoped cascade offers only these."""
    return within.path.strip("/").split("/") if within is not None else []


def _in_reach(query, within: Region | None):
    """Regions a cascade scoped to `within` may name: `within`, its ancestors and everything below it."""
    if within is None:
        return query
    return query.where(Region.path.startswith(within.path) | Region.code.in_(_fixed_codes(within)))


def region_options(level: str, parent: Region | None, within: Region | None) -> list[Region]:
    """The regions a cascade offers at `level`: under `parent` (or at the top, none chosen yet),
    limited to what an admin of `within` may pick (None: the whole tree), by name."""
    query = Region.select().where(Region.level == level)
    if parent is not None:
        query = query.where(Region.parent == parent)
    return list(_in_reach(query, within).order_by(Region.name, Region.code))


def children_options(parent: Region, within: Region | None) -> list[Region]:
    """The next level's choices under `parent` (what the cascade's script asks for)."""
    level = LEVELS[LEVELS.index(parent.level) + 1] if parent.level != LEVELS[-1] else None
    return region_options(level, parent, within) if level else []


def next_level(parent_code: str, within: Region | None) -> list[Region]:
    """The region cascade's next level (admin/static/region_picker.js): the children of the region
    coded `parent_code`. With `within` (an account's region) the parent must be on its path, above
    or below it, and the children are what that account may pick; with None, the country's public
    divisions (province to street), never its communities or compounds."""
    parent = Region.get_or_none(Region.code == parent_code)
    if parent is None:
        raise ApiError("unknown_region", "上级区域不存在", 404, "parent")
    if within is None:
        return [r for r in children_options(parent, None) if r.level not in ("community", "compound")]
    if not (parent.path.startswith(within.path) or within.path.startswith(parent.path)):
        raise ApiError("out_of_scope", "无权查看其他辖区的数据", 403, "parent")
    return children_options(parent, within)


def region_by_names(levels: tuple[str, ...], names: list[str], within: Region | None, field: str,
                    label: str = "区域") -> Region | None:
    """The region a cascade names: one name per level from the top, blanks after the last one
    chosen (None when nothing is chosen). A name that matches nothing, or a level skipped, is a
    400 naming `field`; so is a name shared by two regions where no parent tells them apart."""
    names = [(n or "").strip() for n in names] + [""] * (len(levels) - len(names))
    found = None
    for index, (level, name) in enumerate(zip(levels, names)):
        if not name:
            if any(names[index + 1:len(levels)]):
                raise ApiError("missing_field", f"{label}：请先选择{LEVEL_NAMES[level]}", 400, field)
            break
        query = Region.select().where((Region.level == level) & (Region.name == name))
        if found is not None:
            query = query.where(Region.parent == found)
        matches = list(_in_reach(query, within).limit(2))
        under = f"{found.name}下" if found is not None else ""
        if not matches:
            raise ApiError("unknown_region", f"{label}：{under}没有名为“{name}”的{LEVEL_NAMES[level]}，请从列表中选择",
                           400, field)
        if len(matches) > 1:
            raise ApiError("ambiguous_region", f"{label}：有多个名为“{name}”的{LEVEL_NAMES[level]}，请先选择上一级",
                           400, field)
        found = matches[0]
    return found


def cascade(levels: tuple[str, ...], current, within: Region | None) -> list[dict]:
    """What a region cascade shows, level by level: {level, label, options [(code, name)],
    selected name}. `current` is a region code (an edit form's starting value) or the names sent
    per level (a form shown again after an error). A level above the admin's own has one choice,
    chosen already; a level under a choice that names nothing offers nothing."""
    if isinstance(current, str) and current:
        region = Region.get_or_none(Region.code == current)
        chain = {r.level: r.name for r in ([*region.ancestors(), region] if region else [])}
        current = [chain.get(level, "") for level in levels]
    names = list(current or []) + [""] * len(levels)
    fixed = set(_fixed_codes(within))
    shown, parent, reachable = [], None, True
    for index, level in enumerate(levels):
        options = region_options(level, parent, within) if reachable and (index == 0 or parent) else []
        selected = (names[index] or "").strip()
        if not selected and len(options) == 1 and options[0].code in fixed:
            selected = options[0].name
        shown.append({"level": level, "label": LEVEL_NAMES[level], "selected": selected,
                      "options": [(r.code, r.name) for r in options]})
        parent = next((r for r in options if r.name == selected), None) if selected else None
        reachable = parent is not None
    return shown
