"""The low-code core: a `Resource` is declared once and the generic handlers serve it.

    @site.register
    class ResidentAdmin(Resource):
        name, label, model = "residents", "小区居民管理", CompoundResident
        list_display = ("name", "id_number", "phone", "isolation_status", "registered_at")
        search_fields = ("name", "id_number", "phone")
        list_filter = ("isolation_status",)
        actions = (confirm_isolation, release_isolation, not_in_compound)
        export_fields = list_display
        menu_group = "居民与出入"

Columns, searches and filters are declared by name on the resource; `site.check()` (run at
start-up) refuses a declaration that names something undeclared, with a clear message.
Lists page by key ("after this id"), so a deep page costs what the first one does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import peewee

from admin.menu import DEFAULT_ORDER, MenuDeclarationError, check_group
from services.errors import ApiError
from services.forms import FormField


class ImproperlyDeclared(Exception):
    """A resource declaration names a column, search, filter or field that does not exist."""


@dataclass(frozen=True)
class Column:
    """A column: its label and how to read its (already masked) display value from a row."""

    label: str
    get: Callable[[Any], Any]


@dataclass(frozen=True)
class Search:
    """A search box: its label, and how a typed value narrows the query (None: ignore it)."""

    label: str
    apply: Callable[[peewee.ModelSelect, str], peewee.ModelSelect]
    kind: str = "text"  # text | date


@dataclass(frozen=True)
class Filter:
    """A list filter: its label, its choices, and how a chosen value narrows the query."""

    label: str
    choices: dict
    apply: Callable[[peewee.ModelSelect, str], peewee.ModelSelect]


@dataclass(frozen=True)
class Action:
    """A button on a row's detail page: when it applies, what it asks, what it does."""

    name: str
    label: str
    run: Callable[..., Any]  # run(ctx, row, data) -> message
    allowed: Callable[[Any], bool] = lambda row: True
    confirm: str = ""
    form: tuple[FormField, ...] = ()
    warning: Callable[[Any], str | None] = lambda row: None
    choices: Callable[..., dict] | None = None  # run-time choices for a "choice" field named "choice"
    refusal: Callable[[Any], Exception] | None = None  # the error when not allowed (default: a generic 409)


@dataclass
class AdminContext:
    """Who is asking, in which compound, with which settings: what every resource method gets."""

    admin: Any
    session: Any
    config: Any
    compound: Any = None
    ip: str | None = None


class Resource:
    """The declaration of one back-office list with its detail, forms, actions and export."""

    name: str = ""
    label: str = ""
    model: type[peewee.Model] | None = None
    menu_group: str = ""  # the side-menu group it is listed under: one of admin.menu.GROUPS
    menu_order: int = DEFAULT_ORDER  # its place in the group (then the order of declaration)
    scope: str = "region"  # region: rows of the admin's region; compound: of the current compound
    roles: tuple[str, ...] = ("city", "district", "street", "community", "compound")
    list_display: tuple[str, ...] = ()
    search_fields: tuple[str, ...] = ()
    list_filter: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    export_fields: tuple[str, ...] = ()
    readonly_fields: tuple[str, ...] = ()
    create_form: tuple[FormField, ...] = ()
    edit_form: tuple[FormField, ...] = ()
    per_page: int = 20
    max_export_rows: int = 50_000
    columns: dict[str, Column] = {}
    searches: dict[str, Search] = {}
    filters: dict[str, Filter] = {}

    # --- what each resource provides -------------------------------------------------------------
    def base_query(self) -> peewee.ModelSelect:
        """The rows with their joins, before any region limit."""
        raise NotImplementedError

    def scoped(self, ctx: AdminContext, query: peewee.ModelSelect) -> peewee.ModelSelect:
        """`query` limited to what this admin may see (and to the current compound if scoped so)."""
        raise NotImplementedError

    def queryset(self, ctx: AdminContext) -> peewee.ModelSelect:
        """Every row this admin may see."""
        return self.scoped(ctx, self.base_query())

    def region_of(self, row) -> Any:
        """The region a row belongs to, for the scope check on a row asked for by id."""
        raise NotImplementedError

    def summary(self, ctx: AdminContext, query: peewee.ModelSelect) -> list[tuple[str, Any]]:
        """Figures shown above the list (label, value)."""
        return []

    def detail_sections(self, ctx: AdminContext, row) -> list[tuple[str, list]]:
        """The detail page: (title, [(label, value)...]) sections after the read-only fields."""
        return []

    def create(self, ctx: AdminContext, data: dict):
        raise ApiError("not_allowed", "该列表不能新建", 405)

    def update(self, ctx: AdminContext, row, data: dict):
        raise ApiError("not_allowed", "该列表不能编辑", 405)

    def initial(self, row) -> dict:
        """The edit form's starting values for a row."""
        return {}

    def can_delete(self, row) -> bool:
        return False

    def delete(self, ctx: AdminContext, row) -> None:
        raise ApiError("not_allowed", "该记录不能删除", 403)

    def available(self, config) -> bool:
        """Whether this deployment has the page at all (a development tool answers 404 in production)."""
        return True

    def field_choices(self, ctx: AdminContext, spec: FormField) -> dict | None:
        """Run-time choices a form offers for a "choice" field (None: the declared ones), e.g.
        only the roles this admin may create. The declared choices still check what is sent."""
        return None

    # --- shared behaviour ------------------------------------------------------------------------
    @property
    def can_create(self) -> bool:
        return bool(self.create_form)

    @property
    def can_edit(self) -> bool:
        return bool(self.edit_form)

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise ApiError("not_found", "没有这个操作", 404)

    def filtered(self, ctx: AdminContext, params: dict) -> peewee.ModelSelect:
        """The scoped query narrowed by the searches and filters in `params`."""
        query = self.queryset(ctx)
        for name in self.search_fields:
            value = (params.get(name) or "").strip()
            if value:
                query = self.searches[name].apply(query, value)
        for name in self.list_filter:
            value = (params.get(name) or "").strip()
            if value:
                spec = self.filters[name]
                if spec.choices and value not in spec.choices:
                    raise ApiError("invalid_field", f"{spec.label}的取值无效", 400, name)
                query = spec.apply(query, value)
        return query

    def criteria(self, params: dict, hidden: tuple[str, ...] = ()) -> dict[str, str]:
        """The searches and filters in `params` as people read them (label: value), leaving out
        the names in `hidden`: what an export form says it will export."""
        shown = {}
        for name in self.search_fields:
            value = (params.get(name) or "").strip()
            if value and name not in hidden:
                shown[self.searches[name].label] = value
        for name in self.list_filter:
            value = (params.get(name) or "").strip()
            if value and name not in hidden:
                spec = self.filters[name]
                shown[spec.label] = str(spec.choices.get(value, value)) if spec.choices else value
        return shown

    def page(self, query: peewee.ModelSelect, after: int | None) -> tuple[list, int | None]:
        """One page by key: rows with ids below `after`, and the key of the next page."""
        pk = self.model._meta.primary_key
        if after:
            query = query.where(pk < after)
        rows = list(query.order_by(pk.desc()).limit(self.per_page + 1))
        more = len(rows) > self.per_page
        rows = rows[:self.per_page]
        return rows, (rows[-1].get_id() if more and rows else None)

    def get_row(self, ctx: AdminContext, row_id) -> Any:
        """A row by id: 404 when missing, 403 when it belongs to another region."""
        from services.admin_auth import require_scope

        try:
            row_id = int(row_id)
        except (TypeError, ValueError):
            raise ApiError("not_found", "记录不存在", 404) from None
        pk = self.model._meta.primary_key
        row = self.base_query().where(pk == row_id).first()
        if row is None:
            raise ApiError("not_found", "记录不存在", 404)
        require_scope(ctx.admin, self.region_of(row))
        return row

    def display(self, names: tuple[str, ...], row) -> list:
        return [self.columns[n].get(row) for n in names]

    def labels(self, names: tuple[str, ...]) -> list[str]:
        return [self.columns[n].label for n in names]


@dataclass
class Site:
    """The registry of resources, checked at start-up."""

    resources: dict[str, Resource] = field(default_factory=dict)

    def register(self, cls: type[Resource]) -> type[Resource]:
        """Class decorator: declare a resource."""
        resource = cls()
        if resource.name in self.resources:
            raise ImproperlyDeclared(f"{cls.__name__}: 资源名 {resource.name!r} 重复")
        self.resources[resource.name] = resource
        return cls

    def get(self, name: str) -> Resource:
        try:
            return self.resources[name]
        except KeyError:
            raise ApiError("not_found", "页面不存在", 404) from None

    def visible_to(self, admin, config) -> list[Resource]:
        """The resources this admin may open on this deployment."""
        return [r for r in self.resources.values() if admin.role in r.roles and r.available(config)]

    def check(self) -> None:
        """Refuse any declaration that names something undeclared (run at start-up)."""
        for resource in self.resources.values():
            where = f"{type(resource).__name__}"
            if not resource.name or not resource.label or resource.model is None:
                raise ImproperlyDeclared(f"{where}: name、label 和 model 必须声明")
            for attr, known in (("list_display", resource.columns), ("export_fields", resource.columns),
                                ("readonly_fields", resource.columns), ("search_fields", resource.searches),
                                ("list_filter", resource.filters)):
                for item in getattr(resource, attr):
                    if item not in known:
                        raise ImproperlyDeclared(
                            f"{where}.{attr}: {item!r} 未声明（可用：{', '.join(sorted(known)) or '无'}）")
            try:
                check_group(resource.menu_group, f"{where}.menu_group")
            except MenuDeclarationError as error:
                raise ImproperlyDeclared(str(error)) from None
            names = [a.name for a in resource.actions]
            if len(names) != len(set(names)):
                raise ImproperlyDeclared(f"{where}.actions: 操作名重复")


site = Site()
