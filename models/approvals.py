"""Changes that take two people (D8, D9, C9): one account proposes, another of the same
organisation (same role, same region) approves or rejects."""

from __future__ import annotations

import peewee

from models.admin import AdminUser
from models.db import BaseModel
from models.fields import utcnow
from models.regions import Region


class ApprovalRequest(BaseModel):
    """A proposed change waiting for its second person; `kind` names what approving it does."""

    kind = peewee.CharField(max_length=32)
    target = peewee.CharField(max_length=64)  # what it is about, e.g. "close_contact:12"
    summary = peewee.CharField(max_length=255)  # what the queue shows
    payload = peewee.TextField(default="{}")  # JSON for the kind's apply function
    reason = peewee.CharField(max_length=255)
    role = peewee.CharField(max_length=16)  # the proposer's organisation: its role ...
    region = peewee.ForeignKeyField(Region, on_delete="RESTRICT")  # ... and its region
    proposed_by = peewee.ForeignKeyField(AdminUser, on_delete="RESTRICT", backref="proposed_changes")
    proposed_at = peewee.DateTimeField(default=utcnow)
    status = peewee.CharField(max_length=16, default="pending")  # pending | approved | rejected
    decided_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="decided_changes")
    decided_at = peewee.DateTimeField(null=True)
    remark = peewee.CharField(max_length=255, null=True)  # the approver's words
    result = peewee.CharField(max_length=255, null=True)  # what applying it said

    class Meta:
        indexes = ((("kind", "target", "status"), False), (("role", "region", "status"), False))
