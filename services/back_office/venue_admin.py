"""Venue-type back office (G5): the roles, their scope, and the places of one type (search, edit).

Roles. Every pre-generated place type (bus, metro, taxi, supermarket, ...) gets a role
`v_<type>` ("公交管理员", e.g. `v_bus`) at city level: it sees that type's places in the whole
city. The types whose activation form asks 所属区县 (markets, medical institutions, public
services, ...) also get `v_<type>_d` ("医疗机构管理员（区县）") at district level, limited to the
places of its district, as the seed's per-district lists suggest. (The codes are short because
admin_user.role holds 16 characters; see `role_code`.) City and district admins see every type, in their region.
Accounts with these roles are made in 小区账号管理 like any other (a city admin makes both, a
district admin makes the district variant of its district).

Scope. A place belongs to its `region` (the district from the activation form, or the region of
its code batch). Lower-level admins see the places under their region; city-level admins also
see places with no region (codes handed out city-wide, e.g. buses). A place of another type asked
for by id is a 403, like another region's.

Search. The types declare `search_fields` over the activation answers. The name field and the
contact name are columns (LIKE); the contact phone is an exact match through its blind index;
the others (plate, company, credit code) live in `place.details` and are matched on the one JSON
key (`json_extract` on SQLite, `JSON_UNQUOTE(JSON_EXTRACT(..))` on MySQL / TiDB), never by a LIKE
over the whole JSON text. Those searches always have the type (an indexed column) beside them,
and a type counts thousands of places, not millions: the page stays a few milliseconds without a
side table that activation would have to keep in step.
"""

from __future__ import annotations

import json
import re

from peewee import fn

from models.db import db, is_mysql
from models.fields import blind_index
from models.places import Place
from models.regions import LEVELS, Region
from services.accounts import admin_auth
from services.back_office import statistics
from services.common.errors import ApiError
from services.common.forms import FormField
from services.oversight import audit
from services.people import identity
from services.venues.place_types import PLACE_TYPES, PlaceType

DISTRICT_FIELD = "district_code"


def venue_types() -> list[PlaceType]:
    """The venue types with a back office: the pre-generated ones, in declaration order."""
    return [t for t in PLACE_TYPES.values() if t.pre_generated]


def has_district(kind: PlaceType) -> bool:
    """Whether the type's activation form asks 所属区县."""
    return any(f.name == DISTRICT_FIELD for f in kind.activation_form)


ROLE_MAX_LENGTH = 16  # admin_user.role is a CharField(16)


def role_code(kind: PlaceType, district: bool = False) -> str:
    """The type's role: "v_<type>", "v_<type>_d" for the district variant. Long type codes keep
    the initials of their first words ("professional_market" -> "v_p_market") so that every code
    fits admin_user.role."""
    code = kind.code
    if len(code) > ROLE_MAX_LENGTH - 4:
        parts = code.split("_")
        code = "_".join([*(p[0] for p in parts[:-1]), parts[-1]])
    return f"v_{code}_d" if district else f"v_{code}"


# role code -> place type code
VENUE_ROLES: dict[str, str] = {}


def register_roles() -> None:
    """Declare the venue roles (idempotent); done at import so accounts can be made at once."""
    codes = [role_code(k, d) for k in venue_types() for d in (False, True)]
    # A misfit must fail at start-up, not when the first account is saved.
    assert len(set(codes)) == len(codes) and all(len(c) <= ROLE_MAX_LENGTH for c in codes), codes
    for kind in venue_types():
        admin_auth.register_role(role_code(kind), f"{kind.label}管理员", "city")
        VENUE_ROLES[role_code(kind)] = kind.code
        if has_district(kind):
            admin_auth.register_role(role_code(kind, True), f"{kind.label}管理员（区县）", "district")
            VENUE_ROLES[role_code(kind, True)] = kind.code


register_roles()


def roles_for(kind: PlaceType) -> tuple[str, ...]:
    """Who may open the type's pages: its own roles, and city and district admins."""
    own = (role_code(kind), role_code(kind, True)) if has_district(kind) else (role_code(kind),)
    return (*own, "city", "district")


def type_of_role(role: str) -> str | None:
    """The place type a venue role is limited to (None: not a venue role)."""
    return VENUE_ROLES.get(role)


def allowed_types(admin) -> list[str] | None:
    """The place types this admin may see: one for a venue admin, None (all) for city/district."""
    own = type_of_role(admin.role)
    if own is not None:
        return [own]
    if admin.role in ("city", "district"):
        return None
    raise ApiError("forbidden", "当前账号无权访问该页面", 403)


def require_type(admin, place_type: str) -> None:
    """A 403 unless this admin may see places of `place_type`."""
    types = allowed_types(admin)
    if types is not None and place_type not in types:
        raise ApiError("other_place_type", "无权查看或操作其他类型的场所", 403)


def city_wide(admin) -> bool:
    """True for accounts at city level or above (they also see places with no region)."""
    return LEVELS.index(admin.region.level) <= LEVELS.index("city")


def region_condition(admin, region_field):
    """The rows whose `region_field` lies in the admin's region (and region-less rows for
    city-level admins)."""
    under = Region.select(Region.id).where(Region.path.startswith(admin.region.path))
    inside = region_field.in_(under)
    return (inside | region_field.is_null()) if city_wide(admin) else inside


def in_region(admin, place: Place) -> bool:
    """Whether the place lies in the admin's region (see `region_condition`)."""
    if place.region_id is None:
        return city_wide(admin)
    return admin_auth.in_scope(admin, place.region)


def require_place(admin, place: Place, place_type: str) -> None:
    """A 403 for a place of another type than the page's, or outside the admin's region."""
    require_type(admin, place.place_type)
    if place.place_type != place_type:
        raise ApiError("other_place_type", "无权查看或操作其他类型的场所", 403)
    if not in_region(admin, place):
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)


# --- searching the places of a type -------------------------------------------------------------

def detail_value(key: str):
    """The expression for one activation answer in `place.details` (a declared field name)."""
    if not re.fullmatch(r"[a-z_]+", key):
        raise ValueError(key)
    path = f"$.{key}"
    if is_mysql():
        return fn.JSON_UNQUOTE(fn.JSON_EXTRACT(Place.details, path))
    return fn.json_extract(Place.details, path)


def field_of(kind: PlaceType, name: str) -> FormField:
    for f in kind.activation_form:
        if f.name == name:
            return f
    raise KeyError(name)


def search_condition(kind: PlaceType, name: str, value: str):
    """How a typed value narrows the places of `kind` on one of its search fields."""
    value = value.strip()
    spec = field_of(kind, name)
    if name == kind.name_field:
        return Place.name.contains(value)
    if name == "contact_name":
        return Place.contact_name.contains(value)
    if name == "contact_phone":
        digits = re.sub(r"\D", "", value)[-11:]
        if len(digits) != 11:
            raise ApiError("invalid_phone", "请输入完整的11位联系人手机号", 400, name)
        return Place.contact_phone_bidx == blind_index(digits, "phone")
    if spec.kind == "credit_code" and len(value) == 18:
        return detail_value(name) == value.upper()
    if spec.kind in ("plate", "credit_code"):
        return detail_value(name).contains(value.upper())
    return detail_value(name).contains(value)


def district_condition(value: str):
    """所属区县: a district's name (part of it) or its 6-digit code."""
    value = value.strip()
    districts = Region.select(Region.id).where((Region.level == "district")
                                               & ((Region.code == value) | Region.name.contains(value)))
    return Place.region.in_(districts)


# --- editing a place ----------------------------------------------------------------------------

def edit_form(kind: PlaceType) -> tuple[FormField, ...]:
    """The activation form as an edit form: the contact phone may stay empty (kept as it is)."""
    fields = []
    for f in kind.activation_form:
        if f.name == "contact_phone":
            f = FormField(f.name, f"{f.label}（不修改请留空）", f.kind, required=False, max_len=f.max_len)
        elif f.name == DISTRICT_FIELD:  # the back office picks the district by name, not by its code
            f = FormField(f.name, "所属区县", "region", required=f.required, levels=("district",))
        fields.append(f)
    return tuple(fields)


def initial(kind: PlaceType, place: Place) -> dict:
    """The edit form's starting values (the phone is never sent back to the page)."""
    details = json.loads(place.details or "{}")
    values = {f.name: details.get(f.name) for f in kind.activation_form}
    values[kind.name_field] = place.name
    values["contact_name"] = place.contact_name or details.get("contact_name")
    values["contact_phone"] = ""
    if has_district(kind) and place.region_id:
        values[DISTRICT_FIELD] = place.region.code
    return values


def update_place(admin, kind: PlaceType, place: Place, data: dict) -> Place:
    """编辑: save the checked answers on the place (the scan page shows them at once). A new
    district must be a district in the admin's region; its statistics move with it."""
    require_place(admin, place, kind.code)
    if not (data.get(kind.name_field) or "").strip():
        label = field_of(kind, kind.name_field).label
        raise ApiError("missing_field", f"请填写{label}", 400, kind.name_field)
    region = place.region
    if has_district(kind) and data.get(DISTRICT_FIELD):
        region = Region.get_or_none((Region.code == data[DISTRICT_FIELD]) & (Region.level == "district"))
        if region is None:
            raise ApiError("unknown_region", "所属区县不存在", 400, DISTRICT_FIELD)
        if not admin_auth.in_scope(admin, region):
            raise ApiError("out_of_scope", "不能把场所移到其他辖区", 403, DISTRICT_FIELD)
    details = json.loads(place.details or "{}")
    phone = data.get("contact_phone") or None
    details.update({k: v for k, v in data.items() if k != "contact_phone"})
    if phone:
        details["contact_phone"] = phone
    changes = {"name": data[kind.name_field].strip()[:128], "contact_name": data.get("contact_name"),
               "details": json.dumps(details, ensure_ascii=False), "region": region}
    if phone:
        changes.update(contact_phone=phone, contact_phone_bidx=blind_index(phone, "phone"))
    with db.atomic():
        Place.update(changes).where(Place.id == place.id).execute()
        if (region.id if region else None) != place.region_id:
            statistics.move_place(place.id, region.id if region else None)
        audit.record(None, admin.role, "update_place", place, admin_actor=admin,
                     fields=sorted(k for k in data if k != "contact_phone") + (["contact_phone"] if phone else []))
    statistics.forget_summaries()
    return Place.get_by_id(place.id)


def masked_contact_phone(place: Place) -> str:
    return identity.mask_phone(place.contact_phone)


def activations(admin, place_type: str | None, since=None) -> int:
    """Activated places of a type (all types: None) in the admin's region, live from `place`."""
    query = Place.select().where(Place.activated_at.is_null(False) & region_condition(admin, Place.region))
    if place_type is not None:
        query = query.where(Place.place_type == place_type)
    if since is not None:
        query = query.where(Place.activated_at >= since)
    return query.count()


def validated_int(value: str, field: str, label: str) -> int:
    """A whole number >= 0 typed in a search box, or a clear 400."""
    try:
        number = int(value.strip())
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ApiError("invalid_number", f"{label}应为不小于0的整数", 400, field)
    return number

