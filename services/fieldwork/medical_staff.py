"""Who may issue release notices (E4, seed 003 四、医护人员开通权限): the city grants and revokes the
permission in the back office, one person at a time or from the 表4-1 list (序号, 姓名, 联系电话,
单位名称, 职位) as an xlsx.

The permission is kept by phone (`MedicalStaff`) and follows it to the mini-program account whose
real-name phone it is, once that phone is verified (an SMS code or the platform's phone number):
a phone merely typed into a profile could be anyone's. Granting links an account that already
exists; a staff member who signs in later is linked when their phone is verified (`link_phone`).
"""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import db
from models.fields import blind_index, utcnow
from models.medical_staff import MedicalStaff
from models.people import Person
from models.regions import Region
from services.accounts import admin_auth, auth
from services.common import excel
from services.common.errors import ApiError
from services.investigations import cells, importer, xlsx
from services.investigations.sources import TemplateColumn
from services.oversight import audit

ROLE = "medical"
STATUS_LABELS = {"granted": "已开通", "revoked": "已撤销"}
# 表4-1 人员名单上报格式: every column is 必填; 序号 is only the sender's numbering.
LIST_LABEL = "医护人员名单（表4-1）"
LIST_COLUMNS = (
    TemplateColumn("serial", "序号", optional=True, max_len=16),
    TemplateColumn("name", "姓名", required=True, max_len=64),
    TemplateColumn("phone", "联系电话", "phone", required=True, aliases=("手机号码", "手机号")),
    TemplateColumn("institution", "单位名称", required=True, max_len=128),
    TemplateColumn("position", "职位", required=True, max_len=64),
)
LIST_LIMITS = xlsx.Limits(max_bytes=2 * 1024 * 1024, max_uncompressed=64 * 1024 * 1024, max_rows=5000)


def _verified_account(phone_bidx: str) -> Account | None:
    """The active account whose own profile has this phone, verified."""
    person = (Person.select(Person, Account).join(Account)
              .where((Person.relation == "self") & (Person.phone_bidx == phone_bidx)
                     & (Person.phone_verified == True) & (Account.status == "active"))  # noqa: E712
              .order_by(Person.id).first())
    return person.account if person else None


def _link(staff: MedicalStaff, account: Account | None) -> None:
    if account is None:
        return
    auth.grant_role(account, ROLE, institution=staff.institution, position=staff.position)
    MedicalStaff.update(account=account).where(MedicalStaff.id == staff.id).execute()


def _checked(data: dict, prefix: str = "") -> dict:
    values = {}
    for column in LIST_COLUMNS[1:]:
        try:
            values[column.key] = cells.check(column, data.get(column.key))
        except cells.CellError as error:
            raise ApiError("invalid_field", error.reason, 400, prefix + column.key) from None
    return values


def _grant(admin, values: dict) -> tuple[MedicalStaff, bool]:
    """Write one grant (in the caller's transaction); (the row, whether it was new)."""
    bidx = blind_index(values["phone"], "phone")
    staff = MedicalStaff.get_or_none(MedicalStaff.phone_bidx == bidx)
    fields = {"name": values["name"], "institution": values["institution"][:128],
              "position": values["position"][:64], "status": "granted", "revoked_at": None,
              "granted_by": admin, "granted_at": utcnow()}
    if staff is None:
        staff = MedicalStaff.create(phone=values["phone"], phone_bidx=bidx, region=admin.region, **fields)
        created = True
    else:
        if not admin_auth.in_scope(admin, staff.region):
            raise ApiError("out_of_scope", "该手机号已由其他地区开通，请联系所在地区管理员", 403, "phone")
        MedicalStaff.update(**fields).where(MedicalStaff.id == staff.id).execute()
        staff = MedicalStaff.get_by_id(staff.id)
        created = False
    _link(staff, staff.account if staff.account_id else _verified_account(bidx))
    audit.record(None, admin.role, "grant_medical", staff, admin_actor=admin, institution=staff.institution)
    return staff, created


def grant(admin, data: dict) -> MedicalStaff:
    """开通: give one person (姓名, 联系电话, 单位名称, 职位) the permission; granting a listed phone
    again updates its details and restores a revoked permission."""
    values = _checked(data)
    with db.atomic():
        staff, _ = _grant(admin, values)
    return MedicalStaff.get_by_id(staff.id)


def revoke(admin, staff: MedicalStaff) -> str:
    """撤销: the permission ends now; the linked account loses the medical role (its notices stay)."""
    admin_auth.require_scope(admin, staff.region)
    with db.atomic():
        if not MedicalStaff.update(status="revoked", revoked_at=utcnow()).where(
                (MedicalStaff.id == staff.id) & (MedicalStaff.status == "granted")).execute():
            raise ApiError("already_revoked", "该人员的权限已撤销", 409)
        if staff.account_id:
            auth.revoke_role(staff.account, ROLE)
        audit.record(None, admin.role, "revoke_medical", staff, admin_actor=admin)
    return "已撤销该人员出具电子告知书的权限"


def link_phone(account: Account, phone: str) -> None:
    """A phone just verified for `account`: if it is a listed, granted phone, the account gets
    the permission (called where phones are verified)."""
    staff = MedicalStaff.get_or_none((MedicalStaff.phone_bidx == blind_index(phone, "phone"))
                                     & (MedicalStaff.status == "granted"))
    if staff is not None:
        _link(staff, account)


def import_list(admin, path: str) -> dict:
    """导入名单: the 表4-1 xlsx. Good rows are granted (in one transaction); a bad row (a bad
    phone, an empty cell) is reported with its row number, column and reason and changes nothing.
    {"rows", "granted", "new", "bad", "errors": [(row, column, reason)...]}."""
    info = xlsx.inspect(path, LIST_LIMITS)
    columns, rows = importer.open_sheet(path, info, LIST_COLUMNS, LIST_LABEL, LIST_LIMITS.max_columns)
    checks = [c for c in LIST_COLUMNS if c.key in columns]
    good, errors, total = [], [], 0
    for row_number, raw in rows:
        if not any(cells.text_of(v) for v in raw):
            continue  # a blank line in the sheet
        total += 1
        if total > LIST_LIMITS.max_rows:
            raise ApiError("too_many_rows", f"名单最多 {LIST_LIMITS.max_rows} 行，请拆分后上传", 400, "file")
        values, bad = {}, []
        for column in checks:
            index = columns[column.key]
            try:
                values[column.key] = cells.check(column, raw[index] if index < len(raw) else None)
            except cells.CellError as error:
                bad.append((row_number, column.header, error.reason))
        if bad:
            errors.extend(bad)
        else:
            good.append((row_number, values))
    granted = new = 0
    with db.atomic():
        for row_number, values in good:
            try:
                new += _grant(admin, values)[1]
                granted += 1
            except ApiError as error:  # refused before it writes: a phone another region granted
                errors.append((row_number, "联系电话", error.message))
        audit.record(None, admin.role, "import_medical_list", None, admin_actor=admin, rows=total,
                     granted=granted, bad=len({e[0] for e in errors}))
    errors.sort(key=lambda error: error[0])
    return {"rows": total, "granted": granted, "new": new, "bad": len({e[0] for e in errors}), "errors": errors}


def template() -> bytes:
    """The blank 表4-1 list (its header row)."""
    return excel.write_xlsx([c.header for c in LIST_COLUMNS], [], sheet_title="人员名单", widths=[8, 12, 16, 30, 14])


def staff_with_regions():
    """Every listed person with the granting admin's region (the 医护人员权限 list before any limit)."""
    return MedicalStaff.select(MedicalStaff, Region).join(Region, peewee.JOIN.INNER)
