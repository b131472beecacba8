"""Accounts, their roles, the ways they sign in, and their session tokens."""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow


class Account(BaseModel):
    """One user of the platform. A citizen by default; roles add what else it may do."""

    status = peewee.CharField(max_length=16, default="active")  # active | disabled
    created_at = peewee.DateTimeField(default=utcnow)

    def role_names(self) -> set[str]:
        """The account's roles; "citizen" always included."""
        return {"citizen"} | {r.role for r in AccountRole.select(AccountRole.role).where(AccountRole.account == self)}


class AccountRole(BaseModel):
    """A role granted to an account (later issues: place_admin, inspector, grid, medical, ...)."""

    account = peewee.ForeignKeyField(Account, backref="roles", on_delete="CASCADE")
    role = peewee.CharField(max_length=32)
    granted_at = peewee.DateTimeField(default=utcnow)
    detail = peewee.TextField(default="{}")  # e.g. a medical role's institution and position

    class Meta:
        indexes = ((("account", "role"), True),)


class AuthIdentity(BaseModel):
    """A way into an account: a WeChat openid, an Alipay user_id, or a development openid."""

    account = peewee.ForeignKeyField(Account, backref="identities", on_delete="CASCADE")
    provider = peewee.CharField(max_length=16)  # wechat | alipay | dev
    subject = peewee.CharField(max_length=128)
    unionid = peewee.CharField(max_length=128, null=True, index=True)
    # WeChat's session key decrypts the phone payload; it stays on the server, encrypted.
    session_key = EncryptedTextField("wechat_session_key", null=True)
    # Phone accounts (A4) sign in with a password; argon2id hash.
    password_hash = peewee.CharField(max_length=255, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    last_login_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("provider", "subject"), True),)


class AuthToken(BaseModel):
    """A bearer token, stored only as its SHA-256, with idle and absolute expiry."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    account = peewee.ForeignKeyField(Account, backref="tokens", on_delete="CASCADE")
    identity = peewee.ForeignKeyField(AuthIdentity, null=True, on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    last_used_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)


class SignInFailure(BaseModel):
    """A wrong password (or captcha) at sign-in, counted per account key and per address over a
    window (`services/accounts/sign_in_limits.py`); kept in the database so every process sees them."""

    key = peewee.CharField(max_length=64)  # "admin:<phone blind index>", "phone:<...>"
    ip = peewee.CharField(max_length=64, null=True)
    failed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("key", "failed_at"), False), (("ip", "failed_at"), False))
