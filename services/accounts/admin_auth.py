"""Back-office sign-in and accounts (G1, G2): image captcha, password with an SMS code after four
wrong ones, sessions, password change and reset, admin accounts and their region scope."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from models.admin import AdminSession, AdminUser
from models.db import db
from models.fields import blind_index, utcnow
from models.regions import LEVEL_NAMES, LEVELS, Region
from services.accounts import captchas, passwords, sign_in_limits
from services.common.errors import ApiError
from services.messaging import sms
from services.oversight import audit
from services.people import identity

# A role is (label, the region level its account sits at). The level roles administer a region;
# other areas (investigation hubs, venue types, ...) add theirs with `register_role`.
ROLE_LEVELS: dict[str, tuple[str, str]] = {
    "city": ("市级管理员", "city"), "district": ("区县管理员", "district"), "street": ("街道管理员", "street"),
    "community": ("社区管理员", "community"), "compound": ("小区管理员", "compound"),
}
ROLES: dict[str, str] = {code: label for code, (label, _) in ROLE_LEVELS.items()}


def register_role(code: str, label: str, level: str) -> None:
    """Declare a back-office role of another area (e.g. "venue_bus" at city or district level)."""
    if level not in LEVELS:
        raise ValueError(f"unknown region level {level!r} for role {code!r}")
    ROLE_LEVELS[code] = (label, level)
    ROLES[code] = label


def is_level_role(role: str) -> bool:
    """True for the roles that administer their region (city ... compound)."""
    return role in LEVELS
SMS_WINDOW = dt.timedelta(minutes=10)
SESSION_IDLE = dt.timedelta(hours=2)
SESSION_MAX = dt.timedelta(hours=12)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- sign-in --------------------------------------------------------------------------------------

def find_admin(phone: str) -> AdminUser | None:
    """The admin whose account (phone) this is."""
    try:
        phone = identity.validate_phone(phone)
    except ApiError:
        return None
    return AdminUser.get_or_none(AdminUser.phone_bidx == blind_index(phone, "phone"))


def needs_sms(phone: str) -> bool:
    """After four wrong passwords in ten minutes, an SMS code is also needed (G1). Counted by
    the phone, account or not, so the answer is the same for both."""
    return sign_in_limits.failures(sign_in_limits.account_key("admin", phone), SMS_WINDOW) >= sign_in_limits.SMS_AFTER


def send_login_code(phone: str, ip: str | None) -> None:
    """Send the login SMS code when this phone needs one; a phone with no account gets a code
    that is kept but not sent (the answer never tells whether it exists)."""
    if needs_sms(phone):
        sms.send_code(phone, "admin_login", ip, deliver=find_admin(phone) is not None)


def login(data: dict, ip: str | None) -> tuple[AdminUser, str]:
    """Check the failure limits, the captcha, the SMS code when required, and the password;
    return the admin and a session token. A known phone and an unknown one are answered alike,
    in the same time."""
    phone = data.get("phone") or ""
    key = sign_in_limits.account_key("admin", phone)
    sign_in_limits.check(key, ip)
    captchas.check_captcha(data.get("captcha_key"), data.get("captcha"))
    admin = find_admin(phone)
    if needs_sms(phone):
        if not data.get("sms_code"):
            raise ApiError("sms_required", "密码已连续输错4次，请获取并输入手机验证码；如无法接收，请10分钟后再试",
                           400, "sms_code")
        sms.check_code(phone, "admin_login", data["sms_code"])
    usable = admin if admin is not None and admin.status == "active" else None
    if not passwords.verify_or_decoy(usable.password_hash if usable else None, data.get("password")):
        sign_in_limits.record_failure(key, ip)
        audit.record(None, admin.role if admin else "unknown", "login_failed", admin, admin_actor=admin, ip=ip,
                     failed=sign_in_limits.failures(key))
        raise ApiError("login_failed", "手机号或密码错误", 400, "password")
    token = secrets.token_urlsafe(32)
    with db.atomic():
        sign_in_limits.clear(key)
        AdminUser.update(last_login_at=utcnow()).where(AdminUser.id == admin.id).execute()
        AdminSession.create(token_hash=_hash(token), admin=admin)
        audit.record(None, admin.role, "login", admin, admin_actor=admin, ip=ip)
    return admin, token


def session_admin(token: str | None) -> tuple[AdminUser, AdminSession] | None:
    """The admin behind a session cookie's token, while the session is alive."""
    if not token:
        return None
    session = (AdminSession.select(AdminSession, AdminUser).join(AdminUser)
               .where(AdminSession.token_hash == _hash(token)).first())
    now = utcnow()
    if (session is None or session.revoked_at is not None or now - session.created_at > SESSION_MAX
            or now - session.last_seen_at > SESSION_IDLE or session.admin.status != "active"):
        return None
    if now - session.last_seen_at > dt.timedelta(minutes=1):
        AdminSession.update(last_seen_at=now).where(AdminSession.id == session.id).execute()
    return session.admin, session


def logout(session: AdminSession) -> None:
    """End the session."""
    AdminSession.update(revoked_at=utcnow()).where(AdminSession.id == session.id).execute()
    audit.record(None, session.admin.role, "logout", session.admin, admin_actor=session.admin)


def change_password(admin: AdminUser, old: str, new: str, confirm: str) -> None:
    """Change one's own password: the old one first; every other session ends."""
    if not passwords.verify(admin.password_hash, old):
        raise ApiError("wrong_password", "原密码错误", 400, "old_password")
    passwords.check_new(new, "new_password", minimum=8, maximum=32)
    if new != confirm:
        raise ApiError("password_mismatch", "两次输入的新密码不一致", 400, "confirm_password")
    with db.atomic():
        AdminUser.update(password_hash=passwords.hash_password(new)).where(AdminUser.id == admin.id).execute()
        AdminSession.update(revoked_at=utcnow()).where(
            (AdminSession.admin == admin) & AdminSession.revoked_at.is_null()).execute()
        audit.record(None, admin.role, "change_password", admin, admin_actor=admin)


def send_reset_code(phone: str, captcha_key: str, captcha: str, ip: str | None) -> None:
    """Forgot password, step 1: the captcha, then a code to the phone if it is an account."""
    captchas.check_captcha(captcha_key, captcha)
    identity.validate_phone(phone)
    admin = find_admin(phone)
    if admin is not None:
        sms.send_code(admin.phone, "admin_reset", ip)


def reset_password(phone: str, sms_code: str) -> None:
    """Forgot password, step 2: the SMS code, then a new password goes out by SMS."""
    admin = find_admin(phone)
    if admin is None:
        raise ApiError("sms_code_expired", "验证码已失效，请重新获取", 400, "sms_code")
    sms.check_code(admin.phone, "admin_reset", sms_code)
    new = passwords.generate()
    with db.atomic():
        AdminUser.update(password_hash=passwords.hash_password(new)).where(AdminUser.id == admin.id).execute()
        sign_in_limits.clear(sign_in_limits.account_key("admin", phone))
        AdminSession.update(revoked_at=utcnow()).where(
            (AdminSession.admin == admin) & AdminSession.revoked_at.is_null()).execute()
        audit.record(None, admin.role, "reset_password", admin, admin_actor=admin)
        sms.send(admin.phone, "new_password", password=new)


# --- accounts and scope ---------------------------------------------------------------------------

def in_scope(admin: AdminUser, region: Region | None) -> bool:
    """True when `region` is the admin's region or below it."""
    return region is not None and region.path.startswith(admin.region.path)


def require_scope(admin: AdminUser, region: Region | None) -> None:
    """A 403 for anything outside the admin's region (never an empty page)."""
    if not in_scope(admin, region):
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)


def creatable_roles(admin: AdminUser) -> list[str]:
    """The roles this admin may create: level roles below its own, and other areas' roles that
    sit at its own level or below. Only level roles create accounts."""
    if not is_level_role(admin.role):
        return []
    own = LEVELS.index(admin.role)
    return [code for code, (_, level) in ROLE_LEVELS.items()
            if LEVELS.index(level) > own or (not is_level_role(code) and LEVELS.index(level) >= own)]


def creatable_role_choices(admin: AdminUser) -> dict[str, str]:
    """The roles this admin may create, code -> label (what a new account's 角色 offers)."""
    return {code: ROLES[code] for code in creatable_roles(admin)}


# The levels a new account's region is picked from.
REGION_LEVELS = ("city", "district", "street", "community", "compound")


def admins_with_regions():
    """Back-office accounts with their regions (the 小区账号管理 list before any limit)."""
    return AdminUser.select(AdminUser, Region).join(Region)


def manageable(admin: AdminUser, query):
    """`query` (over AdminUser joined with Region) limited to the accounts `admin` manages: in
    its region, of the roles it may create."""
    return query.where(Region.path.startswith(admin.region.path) & AdminUser.role.in_(creatable_roles(admin)))


def create_admin(creator: AdminUser | None, *, phone: str, name: str, role: str, region_code: str,
                 send_sms: bool = True, password: str | None = None) -> tuple[AdminUser, str]:
    """A new admin account (account = phone); its password goes out by SMS. `creator` None is
    the server command that creates the first city admin (and the demo data, which fixes the
    password so that it can be documented)."""
    phone = identity.validate_phone(phone)
    if not (name or "").strip():
        raise ApiError("missing_field", "请填写姓名", 400, "name")
    if role not in ROLES:
        raise ApiError("invalid_field", "角色无效", 400, "role")
    if creator is not None and role not in creatable_roles(creator):
        raise ApiError("forbidden", f"{ROLES.get(creator.role, creator.role)}只能创建下级账号，不能创建{ROLES[role]}",
                       403, "role")
    region = Region.get_or_none(Region.code == region_code)
    if region is None or region.level != ROLE_LEVELS[role][1]:
        level = LEVEL_NAMES[ROLE_LEVELS[role][1]]
        raise ApiError("invalid_region", f"{ROLES[role]}的所属区域应选到{level}一级", 400, "region")
    if creator is not None:
        require_scope(creator, region)
    if AdminUser.select().where(AdminUser.phone_bidx == blind_index(phone, "phone")).exists():
        raise ApiError("duplicate_phone", "该手机号已是管理员账号", 409, "phone")
    password = password or passwords.generate()
    with db.atomic():
        admin = AdminUser.create(phone=phone, phone_bidx=blind_index(phone, "phone"), name=name.strip()[:64],
                                 role=role, region=region, password_hash=passwords.hash_password(password),
                                 created_by=creator)
        audit.record(None, creator.role if creator else "system", "create_admin", admin, admin_actor=creator,
                     granted_role=role, region=region.code)
        if send_sms:
            sms.send(phone, "account_created", password=password)
    return admin, password


def update_admin(editor: AdminUser, target: AdminUser, *, phone: str | None = None, name: str | None = None) -> None:
    """Edit a lower admin's phone (its account) or name, within the editor's scope."""
    require_scope(editor, target.region)
    if target.role not in creatable_roles(editor):
        raise ApiError("forbidden", "不能修改该级别的管理员", 403)
    changes = {}
    if name is not None:
        changes["name"] = name.strip()[:64]
    if phone is not None:
        phone = identity.validate_phone(phone)
        bidx = blind_index(phone, "phone")
        if AdminUser.select().where((AdminUser.phone_bidx == bidx) & (AdminUser.id != target.id)).exists():
            raise ApiError("duplicate_phone", "该手机号已是管理员账号", 409, "phone")
        changes.update(phone=phone, phone_bidx=bidx)
    with db.atomic():
        AdminUser.update(**changes).where(AdminUser.id == target.id).execute()
        audit.record(None, editor.role, "update_admin", target, admin_actor=editor,
                     fields=sorted(k for k in changes if k != "phone_bidx"))
