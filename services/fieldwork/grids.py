"""Grid admins and grid workers (E2, E3): a grid per admin, workers who bind it with its
declaration code, door-to-door information collection, and what an authorised worker may see."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.colour import HealthStatus
from models.db import db
from models.fieldwork import Grid, GridCollection, GridMembership
from models.fields import blind_index, utcnow
from models.people import Person
from models.regions import Region
from models.risk_inputs import IsolationRecord
from services.accounts import admin_auth, auth
from services.colours import colour, colour_scheme
from services.common.errors import ApiError
from services.common.timefmt import china_day_start, local_iso
from services.oversight import audit
from services.people import declarations, health_codes, identity, profile
from services.venues import share_codes

# The grid admin's back-office role (网格员管理平台): it authorises the workers of its own grid.
OFFICE_ROLE, OFFICE_LEVEL = "grid_admin", "community"
admin_auth.register_role(OFFICE_ROLE, "网格管理员", OFFICE_LEVEL)
KEY_COLOURS = ("red", "orange")
KEY_ISOLATION = ("pending", "confirmed")


def _real_name(account: Account) -> None:
    if not profile.is_complete(profile.self_person(account)):
        raise ApiError("profile_incomplete", "请先完成实名认证（填写姓名、证件号码和手机号）", 400)


def create_grid(account: Account, data: dict) -> Grid:
    """createGrid: one grid per admin, never deleted; its declaration code is shared with workers."""
    _real_name(account)
    region = Region.get_or_none(Region.code == data["region_code"])
    if region is None:
        raise ApiError("unknown_region", "所在区域不存在", 400, "region_code")
    if Grid.select().where(Grid.admin == account).exists():
        raise ApiError("already_grid_admin", "一个管理员只能创建一个网格组织", 409)
    with db.atomic():
        grid = Grid.create(admin=account, region=region, name=data["name"],
                           declaration_code=share_codes.new_code(Grid.declaration_code))
        auth.grant_role(account, "grid_admin")
        audit.record(account, "grid_admin", "create_grid", grid, name=grid.name, region=region.code)
    return grid


def my_grid(account: Account) -> Grid:
    """The grid this account administers, or a 404."""
    grid = Grid.get_or_none(Grid.admin == account)
    if grid is None:
        raise ApiError("no_grid", "您还没有创建网格组织", 404)
    return grid


def grid_summary(grid: Grid) -> dict:
    """getMyGrid: the grid, its code, its members with their approval state, and the counts."""
    members = (GridMembership.select(GridMembership, Account).join(Account)
               .where(GridMembership.grid == grid).order_by(GridMembership.bound_at))
    collections = GridCollection.select().where(GridCollection.grid == grid)
    return {"id": grid.id, "name": grid.name, "region": grid.region.full_name(),
            "declaration_code": grid.declaration_code, "approved": grid.approved,
            "stats": {"members": members.count(),
                      "approved_members": members.where(GridMembership.status == "approved").count(),
                      "declarations": collections.count(),
                      "declarations_today": collections.where(GridCollection.created_at >= china_day_start()).count()},
            "members": [{"account_id": m.worker_id, "name": _masked_name(m.worker), "status": m.status,
                         "bound_at": local_iso(m.bound_at)} for m in members]}


def _masked_name(account: Account) -> str | None:
    person = profile.self_person(account)
    return identity.mask_name(person.name) if person and person.name else None


def _set_member_status(member: GridMembership, status: str, account=None, admin=None) -> None:
    approved_at = utcnow() if status == "approved" else None
    with db.atomic():
        GridMembership.update(status=status, approved_at=approved_at).where(GridMembership.id == member.id).execute()
        audit.record(account, "grid_admin", "approve_grid_worker" if status == "approved" else "revoke_grid_worker",
                     member, admin_actor=admin, worker=member.worker_id)


def approve_worker(account: Account, worker_id: int) -> GridMembership:
    """approveGridWorker: the grid admin authorises one of the grid's workers."""
    grid = my_grid(account)
    member = GridMembership.get_or_none((GridMembership.grid == grid) & (GridMembership.worker == worker_id))
    if member is None:
        raise ApiError("not_a_member", "该网格员未绑定本网格", 404, "account_id")
    _set_member_status(member, "approved", account=account)
    return GridMembership.get_by_id(member.id)


def office_member(admin, member_id) -> GridMembership:
    """A membership as the grid admin's back-office account may act on it: only of its own grid
    (another grid's admin is refused with a 403, whatever region the two grids share)."""
    member = (GridMembership.select(GridMembership, Grid).join(Grid)
              .where(GridMembership.id == member_id).first())
    if member is None:
        raise ApiError("not_found", "记录不存在", 404)
    if admin.role != OFFICE_ROLE or member.grid.office_admin_id != admin.id:
        raise ApiError("not_your_grid", "只能审核本网格的网格员，该网格员属于其他网格", 403, "grid")
    return member


def authorise_member(admin, member: GridMembership, approve: bool = True) -> str:
    """网格员管理平台: the grid admin authorises (or stops authorising) one of the grid's workers."""
    member = office_member(admin, member.id)
    wanted = "approved" if approve else "pending"
    if member.status == wanted:
        raise ApiError("already_done", "该网格员已授权" if approve else "该网格员尚未授权", 409)
    _set_member_status(member, wanted, admin=admin)
    return "已授权该网格员" if approve else "已取消该网格员的授权"


def approve_grid(grid_id: int, admin=None, *, send_sms: bool = True, password: str | None = None) -> tuple[Grid, str]:
    """审核通过 a grid organisation (the system admin in the back office, `admin`; None: the
    server command). The grid admin gets a back-office account (网格员管理平台, role grid_admin,
    password by SMS) to authorise the grid's workers, when the grid sits at a community and its
    phone is not already another admin's. (The grid, the message shown.)"""
    grid = Grid.get_or_none(Grid.id == grid_id)
    if grid is None:
        raise ApiError("grid_not_found", "网格组织不存在", 404)
    if admin is not None:
        admin_auth.require_scope(admin, grid.region)
    if grid.approved:
        raise ApiError("already_approved", "该网格组织已审核通过", 409)
    with db.atomic():
        Grid.update(approved=True, approved_at=utcnow()).where(Grid.id == grid.id).execute()
        office, note = _office_account(grid, admin, send_sms, password)
        if office is not None:
            Grid.update(office_admin=office).where(Grid.id == grid.id).execute()
        audit.record(None, admin.role if admin else "system", "approve_grid", grid, admin_actor=admin,
                     office_admin=office.id if office else None)
    return Grid.get_by_id(grid.id), "网格组织已审核通过；" + note


def _office_account(grid: Grid, creator, send_sms: bool, password: str | None):
    """The grid admin's back-office account, made now (or an existing grid_admin account of the
    same phone): (account or None, what happened)."""
    person = profile.self_person(grid.admin)
    if grid.region.level != OFFICE_LEVEL:
        return None, "该网格不在社区（村）一级，网格管理员请在小程序中审核网格员"
    if person is None or not person.phone:
        return None, "网格管理员未留手机号，未开通网格员管理平台账号"
    existing = admin_auth.find_admin(person.phone)
    if existing is not None:
        if existing.role == OFFICE_ROLE and not Grid.select().where(Grid.office_admin == existing).exists():
            return existing, "网格管理员已有网格员管理平台账号"
        return None, "该手机号已是其他管理员账号，未开通网格员管理平台账号"
    office, _ = admin_auth.create_admin(creator, phone=person.phone, name=person.name or grid.name,
                                        role=OFFICE_ROLE, region_code=grid.region.code, send_sms=send_sms,
                                        password=password)
    return office, "已为网格管理员开通网格员管理平台账号，登录密码已短信发送"


# --- grid workers -------------------------------------------------------------------------------

def bind_grid(account: Account, declaration_code: str) -> GridMembership:
    """bindGrid: join a grid by its declaration code (awaiting the admin's approval)."""
    _real_name(account)
    grid = Grid.get_or_none(Grid.declaration_code == share_codes.normalise(declaration_code))
    if grid is None:
        raise ApiError("unknown_declaration_code", "网格申报码不存在，请向网格管理员核对", 404, "declaration_code")
    with db.atomic():
        member, _ = GridMembership.get_or_create(worker=account, grid=grid)
        _make_current(account, grid)
        auth.grant_role(account, "grid_worker")
        audit.record(account, "grid_worker", "bind_grid", grid)
    return GridMembership.get_by_id(member.id)


def _make_current(account: Account, grid: Grid) -> None:
    GridMembership.update(is_current=(GridMembership.grid == grid)).where(GridMembership.worker == account).execute()


def membership(account: Account, grid_id=None) -> GridMembership:
    """The worker's membership of `grid_id` (default: the current grid); none is a 403 / 400."""
    query = GridMembership.select(GridMembership, Grid).join(Grid).where(GridMembership.worker == account)
    if grid_id is not None:
        found = query.where(GridMembership.grid == grid_id).first()
        if found is None:
            raise ApiError("not_a_member", "您未绑定该网格", 403, "grid_id")
        return found
    found = query.where(GridMembership.is_current).first()
    if found is None:
        raise ApiError("no_current_grid", "请先绑定网格", 400, "grid_id")
    return found


def set_current(account: Account, grid_id) -> None:
    """Switch the worker's current grid."""
    _make_current(account, membership(account, grid_id).grid)


def unbind_grid(account: Account, grid_id) -> None:
    """The worker leaves a grid."""
    found = membership(account, grid_id)
    with db.atomic():
        found.delete_instance()
        audit.record(account, "grid_worker", "unbind_grid", found.grid)


def my_grids(account: Account) -> list[dict]:
    """The worker's grids, current first, with their approval states."""
    rows = (GridMembership.select(GridMembership, Grid).join(Grid).where(GridMembership.worker == account)
            .order_by(GridMembership.is_current.desc(), GridMembership.bound_at))
    return [{"grid_id": m.grid_id, "name": m.grid.name, "region": m.grid.region.full_name(),
             "status": m.status, "authorised": is_authorised(m), "is_current": m.is_current,
             "bound_at": local_iso(m.bound_at)} for m in rows]


def is_authorised(member: GridMembership) -> bool:
    """Authorised workers: approved by the grid admin, in a grid approved in the back office."""
    return member.status == "approved" and member.grid.approved


def _person_for(data: dict) -> Person:
    """The person a manual entry names: the registered one if known, else a new record."""
    number = identity.validate_document(data.get("id_type") or "resident_id", data.get("id_number"), "person.id_number")
    if not (data.get("name") or "").strip():
        raise ApiError("missing_field", "请填写姓名", 400, "person.name")
    known = Person.select().where((Person.id_number_bidx == blind_index(number, "id_number"))
                                  & (Person.relation == "self")).first()
    if known is not None:
        return known
    person = Person(account=None, relation="self", name=data["name"].strip()[:64],
                    id_type=data.get("id_type") or "resident_id", address=data.get("address"))
    person.set_id_number(number)
    person.set_phone(identity.validate_phone(data["phone"], "person.phone") if data.get("phone") else None)
    person.save()
    return person


def collect(account: Account, body: dict, config) -> dict:
    """collectInfo: a visit by manual entry or by scanning the person's code; what the worker may
    then see depends on whether they are authorised."""
    member = membership(account, body.get("grid_id"))
    if body["method"] == "scan":
        if not body.get("payload"):
            raise ApiError("missing_field", "请扫描群众的健康码", 400, "payload")
        person, _ = health_codes.resolve(body["payload"], config)
    else:
        if not body.get("person"):
            raise ApiError("missing_field", "手动录入请填写被采集人的信息", 400, "person")
    with db.atomic():
        if body["method"] == "manual":
            person = _person_for(body["person"])
        answers = {k: body[k] for k in ("health_status", "contact_with_patient", "temperature", "remark")
                   if body.get(k) is not None}
        declared = declarations.submit_declaration(person, {
            "kind": "grid", "organisation": member.grid.name, "residence": body.get("residence") or
            (body.get("person") or {}).get("address") or person.address or "", **answers}, declared_by=account)
        collection = GridCollection.create(grid=member.grid, worker=account, person=person, method=body["method"],
                                           declaration=declared["id"])
        audit.record(account, "grid_worker", "collect_info", collection, method=body["method"],
                     person_id=person.id)
    verdict = colour.verdict(person.subject).as_dict(colour_scheme.current(config))
    result = {"collection_id": collection.id, "person_id": person.id, "name": identity.mask_name(person.name),
              "id_number": identity.mask_id_number(person.id_number), "colour": verdict["colour"],
              "colour_label": verdict["colour_label"], "authorised": is_authorised(member),
              "latest_declaration": declarations.latest_declaration(person)}
    if result["authorised"]:
        result["declarations"] = [declarations.declaration_view(d)
                                  for d in declarations.declarations_of(person).limit(50)]
    return result


def require_authorised(account: Account, grid_id=None) -> GridMembership:
    """The worker's membership, if authorised; otherwise a 403."""
    member = membership(account, grid_id)
    if not is_authorised(member):
        raise ApiError("not_authorised", "您尚未获得授权，只能查看最近一次申报信息", 403)
    return member


def in_grid(grid: Grid):
    """The condition "this person belongs to the grid": living under its region, or collected in it."""
    living = (Person.select(Person.id).join(Region, on=(Person.compound == Region.id))
              .where(Region.path.startswith(grid.region.path)))
    collected = GridCollection.select(GridCollection.person).where(GridCollection.grid == grid)
    return Person.id.in_(living) | Person.id.in_(collected)


def person_declarations(account: Account, person_id, grid_id=None) -> list[dict]:
    """All of a person's declarations, for authorised workers, for people of their grid."""
    member = require_authorised(account, grid_id)
    person = Person.select().where(in_grid(member.grid) & (Person.id == person_id)).first()
    if person is None:
        raise ApiError("not_in_grid", "该人员不在您的网格内", 404, "person_id")
    audit.record(account, "grid_worker", "read_declarations", person)
    return [declarations.declaration_view(d) for d in declarations.declarations_of(person).limit(200)]


def key_persons(account: Account, grid_id=None) -> list[dict]:
    """The grid's key persons: red or orange, or in (pending) isolation. Set-wise: two joins."""
    member = require_authorised(account, grid_id)
    flagged = (Person.select(Person, HealthStatus.colour.alias("colour"), IsolationRecord.status.alias("isolation"))
               .join(HealthStatus, join_type=peewee.JOIN.LEFT_OUTER, on=(HealthStatus.subject == Person.id_number_bidx))
               .switch(Person)
               .join(IsolationRecord, join_type=peewee.JOIN.LEFT_OUTER, on=(IsolationRecord.subject == Person.id_number_bidx))
               .where(in_grid(member.grid) & Person.id_number_bidx.is_null(False)
                      & (HealthStatus.colour.in_(KEY_COLOURS) | IsolationRecord.status.in_(KEY_ISOLATION)))
               .objects())
    audit.record(account, "grid_worker", "read_key_persons", member.grid)
    return [{"person_id": p.id, "name": identity.mask_name(p.name), "id_number": identity.mask_id_number(p.id_number),
             "phone": identity.mask_phone(p.phone) or None, "colour": p.colour or "green",
             "colour_label": colour.LABELS.get(p.colour or "green"), "isolation": p.isolation,
             "address": p.address} for p in flagged]


def worker_stats(account: Account) -> dict:
    """E5: the worker's collections today and in total."""
    mine = GridCollection.select().where(GridCollection.worker == account)
    return {"today": mine.where(GridCollection.created_at >= china_day_start()).count(), "total": mine.count()}

