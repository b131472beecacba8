"""The start-up checks of a resource declaration, in the manner of Django's admin checks: every
problem is collected with a stable id, so one run of `site.check()` lists them all.

    admin.E001  name, label or model missing            admin.E002  resource name taken twice
    admin.E003  unknown menu group
    admin.E101  a column that is neither a Column nor a model field
    admin.E102  two columns of one name
    admin.E103  list_display names an undeclared column
    admin.E104  export_fields names an undeclared column
    admin.E105  readonly_fields names an undeclared column
    admin.E111  a search that is not a Search           admin.E112  two searches of one name
    admin.E121  a filter that is not a Filter           admin.E122  two filters of one name
    admin.E123  a filter without choices
    admin.E201  an action that is not an Action         admin.E202  two actions of one name
    admin.E203  a form item that is not a FormField     admin.E204  two fields of one name in a form
"""

from __future__ import annotations

from collections import Counter

import peewee

from admin.menu import MenuDeclarationError, check_group
from admin.site import Action, Column, Filter, Problem, Resource, Search
from services.common.forms import FormField


def check_resource(resource: Resource) -> list[Problem]:
    """Every problem of one resource's declaration."""
    where = type(resource).__name__
    found = []

    def add(code: str, attr: str, message: str) -> None:
        found.append(Problem(f"admin.{code}", f"{where}.{attr}" if attr else where, message))

    if not resource.name or not resource.label or resource.model is None:
        add("E001", "", "name、label 和 model 必须声明")
    try:
        check_group(resource.menu_group, f"{where}.menu_group")
    except MenuDeclarationError as error:
        add("E003", "menu_group", str(error).split(": ", 1)[1])
    _check_named(add, resource.columns, (Column, peewee.Field), ("E101", "E102"), "columns", "Column 或模型字段")
    _check_named(add, resource.searches, (Search,), ("E111", "E112"), "searches", "Search")
    _check_named(add, resource.filters, (Filter,), ("E121", "E122"), "filters", "Filter")
    for spec in resource.filters:
        if isinstance(spec, Filter) and not spec.choices:
            add("E123", "filters", f"{spec.name!r} 没有可选值")
    known = resource._named[0]
    for code, attr in (("E103", "list_display"), ("E104", "export_fields"), ("E105", "readonly_fields")):
        for item in getattr(resource, attr):
            if item not in known:
                add(code, attr, f"{item!r} 未声明（可用：{', '.join(sorted(known)) or '无'}）")
    _check_named(add, resource.actions, (Action,), ("E201", "E202"), "actions", "Action")
    for attr in ("create_form", "edit_form"):
        _check_named(add, getattr(resource, attr), (FormField,), ("E203", "E204"), attr, "FormField")
    return found


def _check_named(add, items, kinds: tuple[type, ...], codes: tuple[str, str], attr: str, expected: str) -> None:
    """Items of the right kind, each name once."""
    names = []
    for item in items:
        if not isinstance(item, kinds):
            add(codes[0], attr, f"{item!r} 不是 {expected}")
        else:
            names.append(item.name)
    for name, count in Counter(names).items():
        if count > 1:
            add(codes[1], attr, f"{name!r} 重复声明 {count} 次")
