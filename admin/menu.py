"""The side menu: every page names its group, and the menu is built from those declarations.

A resource names its group as a class attribute (checked at start-up by `site.check()`):

    @site.register
    class RiskAreaAdmin(Resource):
        name, label, model = "risk_areas", "风险地区", RiskArea
        menu_group = "风险数据"

A page that is not a resource (a dashboard, an upload, a statistics page) declares its links
next to its handlers; `links(admin)` returns the (label, href) pairs this admin may open:

    @menu(group="统计", order=10)
    def dashboard_links(admin):
        return [("数据看板", "/admin/dashboard")] if admin.role in DASHBOARD_ROLES else []

Groups are shown in the order of GROUPS, empty ones left out; inside a group the entries go by
their `order` (resources: `menu_order`, 100 unless declared), then in the order they were
declared. Each role sees only the entries it may open: a resource's `roles`, a page's `links`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

GROUPS = ("居民与出入", "场所与场所码", "风险数据", "排查任务", "统计", "账号与系统")
DEFAULT_ORDER = 100

_PAGE_LINKS: dict[str, tuple[str, int, Callable]] = {}


class MenuDeclarationError(Exception):
    """A page names a menu group that does not exist (or none at all)."""


def check_group(group: str | None, where: str) -> None:
    """Refuse a group that is not one of GROUPS, naming the declaration and the choices."""
    if group not in GROUPS:
        raise MenuDeclarationError(f"{where}: 菜单分组 {group!r} 无效（可选：{'、'.join(GROUPS)}）")


def menu(group: str | None = None, order: int = DEFAULT_ORDER):
    """Decorator: declare a page area's side-menu links in `group` (one of GROUPS). `links(admin)`
    returns the (label, href) pairs this admin may open, none for the others; `order` places them
    among the group's other entries. An area whose pages belong to two groups declares two."""
    def register(links: Callable) -> Callable:
        key = f"{links.__module__}.{links.__qualname__}"
        check_group(group, f"@menu {key}")
        # Keyed by name: a module loaded again (importlib.reload) replaces its links, never doubles them.
        _PAGE_LINKS[key] = (group, order, links)
        return links
    return register


@dataclass(frozen=True)
class MenuGroup:
    """One heading of the side menu and its (label, href) links."""

    title: str
    links: list[tuple[str, str]]


def side_menu(admin, config, site) -> list[MenuGroup]:
    """The side menu of `admin`: its resources and pages, grouped as GROUPS says."""
    if admin is None:
        return []
    entries: dict[str, list[tuple[int, int, str, str]]] = {title: [] for title in GROUPS}
    for resource in site.visible_to(admin, config):
        entries[resource.menu_group].append((resource.menu_order, len(entries[resource.menu_group]),
                                             resource.label, f"/admin/r/{resource.name}/"))
    for group, order, links in _PAGE_LINKS.values():
        for label, href in links(admin):
            entries[group].append((order, len(entries[group]), label, href))
    return [MenuGroup(title, [(label, href) for _, _, label, href in sorted(entries[title])])
            for title in GROUPS if entries[title]]


def first_link(groups: list[MenuGroup]) -> str | None:
    """Where a signed-in admin lands: the first entry of its menu."""
    return groups[0].links[0][1] if groups else None
