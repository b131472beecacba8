"""The versions of each colour rule and the colour settings kept in the database (D3, D4): every
applied change of a rule is a numbered version, so a change can be reverted to the one before."""

from __future__ import annotations

import peewee

from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.db import BaseModel
from models.fields import utcnow


class ColourRuleVersion(BaseModel):
    """One applied version of a rule: its whole declaration (JSON, as `save_rule` takes it)."""

    rule_code = peewee.CharField(max_length=32)
    version = peewee.IntegerField()
    data = peewee.TextField()
    note = peewee.CharField(max_length=255, null=True)  # what changed, in Chinese
    saved_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    approval = peewee.ForeignKeyField(ApprovalRequest, null=True, on_delete="SET NULL")
    saved_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("rule_code", "version"), True),)


class ColourSetting(BaseModel):
    """A colour setting changed in the back office (e.g. "scheme": "3"); a key with no row takes
    its value from the configuration."""

    key = peewee.CharField(max_length=32, unique=True)
    value = peewee.CharField(max_length=255)
    updated_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    updated_at = peewee.DateTimeField(default=utcnow)
