"""Building and reading the region hierarchy."""

from __future__ import annotations

from models.db import db
from models.regions import LEVELS, Region
from services.errors import ApiError

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
