"""Corrections of a colour (D8, D9): manual overrides (a second approver, an expiry) and the
citizens' appeals against a colour, with their optional image."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.db import BaseModel
from models.fields import utcnow
from models.people import Person
from models.regions import Region


class ColourOverride(BaseModel):
    """A colour set by hand for one person until `expires_on` (inclusive, China date); it stands
    in place of what the rules say, and the citizen sees it as a manual override."""

    subject = peewee.CharField(max_length=32, index=True)
    colour = peewee.CharField(max_length=8)  # green | yellow | orange | red
    reason = peewee.CharField(max_length=255)
    starts_on = peewee.DateField()
    expires_on = peewee.DateField()
    approval = peewee.ForeignKeyField(ApprovalRequest, null=True, on_delete="SET NULL")
    proposed_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    approved_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    created_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)  # ended early by a later override of the same person


class ColourAppeal(BaseModel):
    """A citizen's appeal against a non-green colour, in the queue of `region` (the person's
    community, or the district) until `deadline`; past it, a job moves it to the district."""

    person = peewee.ForeignKeyField(Person, on_delete="CASCADE", backref="appeals")
    account = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    subject = peewee.CharField(max_length=32, index=True)
    colour = peewee.CharField(max_length=8)  # the colour appealed against
    reasons = peewee.TextField(default="[]")  # JSON: the reasons shown when it was filed
    reason = peewee.CharField(max_length=500)  # the citizen's words
    region = peewee.ForeignKeyField(Region, on_delete="RESTRICT")
    status = peewee.CharField(max_length=16, default="open", index=True)  # open | accepted | rejected
    deadline = peewee.DateTimeField(index=True)
    escalated_at = peewee.DateTimeField(null=True)
    answer = peewee.CharField(max_length=255, null=True)  # the official's words to the citizen
    decided_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    decided_at = peewee.DateTimeField(null=True)
    approval = peewee.ForeignKeyField(ApprovalRequest, null=True, on_delete="SET NULL")  # the correction proposed
    created_at = peewee.DateTimeField(default=utcnow)


class MediumBlobField(peewee.BlobField):
    """Bytes up to 16 MB on MySQL (a plain BLOB stops at 64 KB); SQLite stores any size."""

    field_type = "MEDIUMBLOB"


class AppealImage(BaseModel):
    """The image attached to an appeal (checked to be an image, at most 2 MB)."""

    appeal = peewee.ForeignKeyField(ColourAppeal, unique=True, on_delete="CASCADE", backref="images")
    content_type = peewee.CharField(max_length=32)
    content = MediumBlobField()
    size = peewee.IntegerField()
