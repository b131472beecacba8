"""The back office's people and sessions (G1, G2), and residents' compound bindings (G3)."""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.people import Person
from models.regions import Region


class AdminUser(BaseModel):
    """A back-office account: phone + password, one role, one region it may see and act in."""

    phone = EncryptedTextField("phone")
    phone_bidx = peewee.CharField(max_length=32, unique=True)
    name = peewee.CharField(max_length=64)
    role = peewee.CharField(max_length=16)  # city | district | street | community | compound
    region = peewee.ForeignKeyField(Region, backref="admins", on_delete="RESTRICT")
    password_hash = peewee.CharField(max_length=255)
    status = peewee.CharField(max_length=16, default="active")  # active | disabled
    created_by = peewee.ForeignKeyField("self", null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    last_login_at = peewee.DateTimeField(null=True)


class AdminSession(BaseModel):
    """A signed-in browser: the cookie holds a random token, stored here only as its hash."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    admin = peewee.ForeignKeyField(AdminUser, backref="sessions", on_delete="CASCADE")
    compound = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL")  # the switched-to compound
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)


class Captcha(BaseModel):
    """An image captcha's answer (hashed), single use, short-lived."""

    key = peewee.CharField(max_length=32, unique=True)
    answer_hash = peewee.CharField(max_length=64)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


class CompoundResident(BaseModel):
    """A person's binding to a compound: made by their first compound scan or by an admin;
    "未在本小区" removes it (kept, with the remark, for "显示已删除关联人员")."""

    person = peewee.ForeignKeyField(Person, backref="compound_bindings", on_delete="CASCADE")
    compound = peewee.ForeignKeyField(Region, backref="resident_bindings", on_delete="CASCADE")
    source = peewee.CharField(max_length=16, default="scan")  # scan | admin
    bound_at = peewee.DateTimeField(default=utcnow, index=True)
    removed_at = peewee.DateTimeField(null=True)
    removed_remark = peewee.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("compound", "person"), True),)
