"""Sign-in: accounts found or created from a platform identity, and bearer tokens.

Tokens carry 256 random bits, are stored only as their SHA-256, expire after a period of
idleness and after an absolute lifetime, and travel only in the Authorization header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from models.accounts import Account, AccountRole, AuthIdentity, AuthToken
from models.db import Prepared, db
from models.fields import utcnow
from services.common.errors import ApiError

ROLES = {
    "citizen": "居民",
    "place_admin": "场所管理员",
    "inspector": "检测员",
    "grid_admin": "网格管理员",
    "grid_worker": "网格员",
    "medical": "医务人员",
    "enterprise_admin": "企业管理员",
}

# Writing last_used_at on every request would turn every read into a write; a minute's
# resolution is plenty for an idle expiry counted in days.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_in(provider: str, subject: str, *, unionid: str | None = None, session_key: str | None = None) -> AuthIdentity:
    """The identity (and account) for a platform subject, created on first sign-in.

    A WeChat unionid already known under another identity joins that identity's account, so one
    person signing in from two mini-programs of the same open platform is one account.
    """
    with db.atomic():
        identity = AuthIdentity.get_or_none((AuthIdentity.provider == provider) & (AuthIdentity.subject == subject))
        if identity is None:
            account = None
            if unionid:
                sibling = AuthIdentity.get_or_none(AuthIdentity.unionid == unionid)
                account = sibling.account if sibling else None
            account = account or Account.create()
            identity = AuthIdentity.create(account=account, provider=provider, subject=subject, unionid=unionid,
                                           session_key=session_key)
        else:
            if identity.account.status != "active":
                raise ApiError("account_disabled", "账号已停用，请联系管理员", 403)
            identity.unionid = unionid or identity.unionid
            identity.session_key = session_key or identity.session_key
            identity.last_login_at = utcnow()
            identity.save()
        return identity


def device_sign_in(device_key: str | None) -> tuple[AuthIdentity, str]:
    """Sign in a phone browser by the key it keeps; a browser without one gets a new key.

    Only the key's SHA-256 is stored, so the table cannot be used to sign in as a device.
    """
    if device_key:
        identity = AuthIdentity.get_or_none((AuthIdentity.provider == "device")
                                            & (AuthIdentity.subject == _hash(device_key)))
        if identity is None:
            raise ApiError("unknown_device", "本机登录信息已失效，请刷新页面重新登记", 401, "device_key")
        return sign_in("device", identity.subject), device_key
    device_key = secrets.token_urlsafe(32)
    return sign_in("device", _hash(device_key)), device_key


def issue_token(identity: AuthIdentity, config) -> dict:
    """A new bearer token for the identity's account; the plaintext is returned once, never stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + dt.timedelta(seconds=config.token_absolute_seconds)
    AuthToken.create(token_hash=_hash(token), account=identity.account_id, identity=identity, created_at=now,
                     last_used_at=now, expires_at=expires_at)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        "idle_timeout_seconds": config.token_idle_seconds,
    }


# Every signed-in request reads its token: compiled once (see models.db.Prepared).
_TOKEN = Prepared(lambda token_hash: AuthToken.select(AuthToken, Account).join(Account)
                  .where(AuthToken.token_hash == token_hash).limit(1), "\x00token-hash")


def token_hash(token: str) -> str:
    """What a bearer token is looked up by (its SHA-256; the token itself is never stored)."""
    return _hash(token)


def authenticate(token: str, config) -> AuthToken:
    """The live token row for a bearer token, or a 401."""
    return check_token(_TOKEN.first(_hash(token)), config)


def check_token(row: AuthToken | None, config) -> AuthToken:
    """The token row (with its account) read by the caller, if it is live; a 401 (403 for a
    disabled account) if not. A statement that reads more than the token (the scan's) reads
    it by `token_hash` and checks it here."""
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise ApiError("unauthorized", "登录已失效，请重新登录", 401)
    if now >= row.expires_at or now - row.last_used_at > dt.timedelta(seconds=config.token_idle_seconds):
        raise ApiError("token_expired", "登录已过期，请重新登录", 401)
    if row.account.status != "active":
        raise ApiError("account_disabled", "账号已停用，请联系管理员", 403)
    if now - row.last_used_at > TOUCH_INTERVAL:
        AuthToken.update(last_used_at=now).where(AuthToken.id == row.id).execute()
        row.last_used_at = now
    return row


def sign_out(token: AuthToken) -> None:
    """Revoke the token so it is refused from now on."""
    AuthToken.update(revoked_at=utcnow()).where(AuthToken.id == token.id).execute()


def find_account(provider: str, subject: str) -> Account:
    """The account that signs in as `subject` with `provider`, or a 404."""
    identity = AuthIdentity.get_or_none((AuthIdentity.provider == provider) & (AuthIdentity.subject == subject))
    if identity is None:
        raise ApiError("account_not_found", "账号不存在", 404)
    return identity.account


def account_summary(account: Account) -> dict:
    """What a client needs to know of its account after signing in."""
    return {"id": account.id, "roles": sorted(account.role_names())}


def grant_role(account: Account, role: str, **detail) -> None:
    """Give an account a role (idempotent; `detail` replaces the role's details, e.g. a medical
    role's institution). Back-office pages and commands call this."""
    if role not in ROLES:
        raise ApiError("unknown_role", f"未知角色：{role}", 400, "role")
    row, _ = AccountRole.get_or_create(account=account, role=role)
    if detail:
        AccountRole.update(detail=json.dumps(detail, ensure_ascii=False)).where(AccountRole.id == row.id).execute()


def revoke_role(account: Account, role: str) -> None:
    """Take a role away (e.g. from a place admin who handed the place over)."""
    AccountRole.delete().where((AccountRole.account == account) & (AccountRole.role == role)).execute()


def role_detail(account: Account, role: str) -> dict:
    """The details stored with one of the account's roles ({} when none)."""
    row = AccountRole.get_or_none((AccountRole.account == account) & (AccountRole.role == role))
    return json.loads(row.detail or "{}") if row else {}
