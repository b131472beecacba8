"""The low-code core: a `Resource` is declared once and the generic handlers serve it.

    @site.register
    class SmsOutboxAdmin(Resource):
        name, label, model = "sms_outbox", "短信发件箱", SmsMessage
        menu_group = "账号与系统"
        columns = (time_column("created_at", "发送时间"), masked_phone("phone", lambda r: r),
                   Column("content", "短信内容"))          # each column named once
        list_display = ("created_at", "phone", "content")  # which columns the list shows, in order
        searches = (phone_search(SmsMessage.phone_bidx),)
        filters = (Filter.on(SmsMessage.template, "类型", TEMPLATES),)

A column, search or filter carries its own name; `search_fields` and `list_filter` are the names
of `searches` and `filters` in their order, and the detail page shows every column unless
`readonly_fields` picks some. A model field may stand for a plain column (its `verbose_name` is
the label). `model_form` builds a plain create or edit form from the model's fields.

`site.check()` (run at start-up) collects every problem of every declaration, each with a stable
id (admin.E001 ...), and raises one error listing them all, so they are fixed in one pass.
Lists page by key ("after this id"), so a deep page costs what the first one does.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import peewee

from admin.menu import DEFAULT_ORDER
from services.common.errors import ApiError
from services.common.forms import FormField


class ImproperlyDeclared(Exception):
    """Resource declarations name columns, searches, filters or fields that do not exist; the
    message lists every problem found."""


@dataclass(frozen=True)
class Problem:
    """One problem of a declaration: a stable id (e.g. admin.E101), where, and what is wrong."""

    id: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.id} {self.where}: {self.message}"


@dataclass(frozen=True)
class Column:
    """A column: its name, label and how to read its (already masked) display value from a row
    (by default the row's attribute of the same name)."""

    name: str
    label: str
    render: Callable[[Any], Any] | None = None

    def get(self, row) -> Any:
        return self.render(row) if self.render is not None else getattr(row, self.name)

    @classmethod
    def of(cls, model_field: peewee.Field, label: str | None = None) -> "Column":
        """A plain column of a model field (a misspelt field fails at import)."""
        return cls(model_field.name, label or model_field.verbose_name or model_field.name)


@dataclass(frozen=True)
class Search:
    """A search box: its name, label, and how a typed value narrows the query."""

    name: str
    label: str
    apply: Callable[[peewee.ModelSelect, str], peewee.ModelSelect]
    kind: str = "text"  # text | date

    @classmethod
    def contains(cls, model_field: peewee.Field, label: str, name: str | None = None) -> "Search":
        """Rows whose field contains the typed text."""
        return cls(name or model_field.name, label, lambda q, v: q.where(model_field.contains(v.strip())))


@dataclass(frozen=True)
class Filter:
    """A list filter: its name, label, choices, and how a chosen value narrows the query."""

    name: str
    label: str
    choices: dict
    apply: Callable[[peewee.ModelSelect, str], peewee.ModelSelect]
    otherwise: Callable[[peewee.ModelSelect], peewee.ModelSelect] | None = None  # when nothing is chosen

    @classmethod
    def on(cls, model_field: peewee.Field, label: str, choices: dict, name: str | None = None) -> "Filter":
        """Rows whose field equals the chosen value."""
        return cls(name or model_field.name, label, choices, lambda q, v: q.where(model_field == v))


def model_form(model: type[peewee.Model], **labels: str) -> tuple[FormField, ...]:
    """A plain form of `model`'s fields, in the order given (field name = label): a field that
    may be null is optional, a CharField keeps its length, a field named phone is a phone."""
    fields = []
    for name, label in labels.items():
        spec = model._meta.fields[name]  # a misspelt field fails at import
        max_len = spec.max_length if isinstance(spec, peewee.CharField) else 64
        fields.append(FormField(name, label, "phone" if name == "phone" else "text", required=not spec.null,
                                max_len=max_len))
    return tuple(fields)


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
    roles: tuple[str, ...] = ("city", "district", "street", "community", "compound")
    columns: tuple[Column | peewee.Field, ...] = ()  # every column, each named once, in the detail's order
    searches: tuple[Search, ...] = ()
    filters: tuple[Filter, ...] = ()
    list_display: tuple[str, ...] = ()  # the columns of the list, in order
    export_fields: tuple[str, ...] = ()  # the columns of the Excel export (none: no export)
    # What the export reads of each row (fields of the query's models), when its columns need less
    # than every field: a 50,000-row export then converts and decrypts only these (none: all).
    export_reads: tuple[peewee.Field, ...] = ()
    readonly_fields: tuple[str, ...] = ()  # the columns of the detail page (none: every column)
    actions: tuple[Action, ...] = ()
    create_form: tuple[FormField, ...] = ()
    edit_form: tuple[FormField, ...] = ()
    choices_for: dict[str, Callable[[Any], dict]] = {}  # form field -> its run-time choices for an admin
    per_page: int = 20
    max_export_rows: int = 50_000
    # Rows of a region: the joined Region's path limits them and `region_attr` names the row's
    # region (dotted for one further away: "place.region"), so a resource scoped this way needs no
    # `scoped` or `region_of` of its own. None: a list every admin who may open it reads whole.
    region_attr: str | None = "region"
    compound_field: peewee.Field | None = None  # scope "compound": the field naming the row's compound

    # --- what each resource provides -------------------------------------------------------------
    def base_query(self) -> peewee.ModelSelect:
        """The rows with their joins, before any region limit."""
        return self.model.select()

    def scoped(self, ctx: AdminContext, query: peewee.ModelSelect) -> peewee.ModelSelect:
        """`query` limited to what this admin may see: by default the rows of the current compound
        (by `compound_field`, when the resource has one and a compound is chosen), else of the
        admin's region (the query joins Region); every row when `region_attr` is None."""
        from models.regions import Region

        if self.region_attr is None:
            return query
        if self.compound_field is not None and ctx.compound is not None:
            return query.where(self.compound_field == ctx.compound)
        return query.where(Region.path.startswith(ctx.admin.region.path))

    def queryset(self, ctx: AdminContext) -> peewee.ModelSelect:
        """Every row this admin may see."""
        return self.scoped(ctx, self.base_query())

    def region_of(self, row) -> Any:
        """The region a row belongs to, for the scope check on a row asked for by id."""
        return operator.attrgetter(self.region_attr)(row)

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
        choices = self.choices_for.get(spec.name)
        return choices(ctx.admin) if choices else None

    # --- shared behaviour ------------------------------------------------------------------------
    @property
    def scope(self) -> str:
        """region: rows of the admin's region; compound: of the current compound (`compound_field`)."""
        return "region" if self.compound_field is None else "compound"

    @cached_property
    def _named(self) -> tuple[dict[str, Column], dict[str, Search], dict[str, Filter]]:
        """The columns, searches and filters by name (a model field made a plain column)."""
        columns = {}
        for item in self.columns:
            column = Column.of(item) if isinstance(item, peewee.Field) else item
            if isinstance(column, Column):  # anything else is reported by `check` (admin.E101)
                columns.setdefault(column.name, column)
        return (columns, {s.name: s for s in self.searches if isinstance(s, Search)},
                {f.name: f for f in self.filters if isinstance(f, Filter)})

    @property
    def search_fields(self) -> tuple[str, ...]:
        """The names of the search boxes, in order."""
        return tuple(self._named[1])

    @property
    def list_filter(self) -> tuple[str, ...]:
        """The names of the filters, in order."""
        return tuple(self._named[2])

    @property
    def detail_fields(self) -> tuple[str, ...]:
        """The columns of the detail page: `readonly_fields`, else every column."""
        return self.readonly_fields or tuple(self._named[0])

    def column(self, name: str) -> Column:
        return self._named[0][name]

    def search(self, name: str) -> Search:
        return self._named[1][name]

    def filter(self, name: str) -> Filter:
        return self._named[2][name]

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

    def export_query(self, ctx: AdminContext, params: dict) -> peewee.ModelSelect:
        """The rows an export writes: `filtered`, newest first, at most max_export_rows, reading
        only `export_reads` when the resource names them."""
        query = self.filtered(ctx, params).order_by(self.model._meta.primary_key.desc()).limit(self.max_export_rows)
        return query.select(*self.export_reads) if self.export_reads else query

    def filtered(self, ctx: AdminContext, params: dict) -> peewee.ModelSelect:
        """The scoped query narrowed by the searches and filters in `params`."""
        query = self.queryset(ctx)
        for name in self.search_fields:
            value = (params.get(name) or "").strip()
            if value:
                query = self.search(name).apply(query, value)
        for name in self.list_filter:
            value = (params.get(name) or "").strip()
            if value:
                spec = self.filter(name)
                if spec.choices and value not in spec.choices:
                    raise ApiError("invalid_field", f"{spec.label}的取值无效", 400, name)
                query = spec.apply(query, value)
            elif self.filter(name).otherwise is not None:
                query = self.filter(name).otherwise(query)
        return query

    def criteria(self, params: dict, hidden: tuple[str, ...] = ()) -> dict[str, str]:
        """The searches and filters in `params` as people read them (label: value), leaving out
        the names in `hidden`: what an export form says it will export."""
        shown = {}
        for name in self.search_fields:
            value = (params.get(name) or "").strip()
            if value and name not in hidden:
                shown[self.search(name).label] = value
        for name in self.list_filter:
            value = (params.get(name) or "").strip()
            if value and name not in hidden:
                spec = self.filter(name)
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
        from services.accounts.admin_auth import require_scope

        try:
            row_id = int(row_id)
        except (TypeError, ValueError):
            raise ApiError("not_found", "记录不存在", 404) from None
        pk = self.model._meta.primary_key
        row = self.base_query().where(pk == row_id).first()
        if row is None:
            raise ApiError("not_found", "记录不存在", 404)
        if self.region_attr is not None:
            require_scope(ctx.admin, self.region_of(row))
        return row

    def display(self, names: tuple[str, ...], row) -> list:
        columns = self._named[0]
        return [columns[n].get(row) for n in names]

    def labels(self, names: tuple[str, ...]) -> list[str]:
        return [self.column(n).label for n in names]


@dataclass
class Site:
    """The registry of resources, checked at start-up."""

    resources: dict[str, Resource] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)  # classes whose name another resource took

    def register(self, cls: type[Resource]) -> type[Resource]:
        """Class decorator: declare a resource (a second one of the same name is reported by `check`)."""
        resource = cls()
        if resource.name in self.resources:
            self.duplicates.append(cls.__name__)
        else:
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

    def problems(self) -> list[Problem]:
        """Every problem of every declaration (see admin/checks.py for the ids)."""
        from admin.checks import check_resource

        found = [Problem("admin.E002", name, "资源名重复（已有同名资源）") for name in self.duplicates]
        for resource in self.resources.values():
            found += check_resource(resource)
        return found

    def check(self) -> None:
        """Refuse the declarations (run at start-up): one error listing every problem."""
        found = self.problems()
        if found:
            raise ImproperlyDeclared(f"后台声明有 {len(found)} 处错误：\n" + "\n".join(map(str, found)))


site = Site()
