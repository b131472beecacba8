"""What PIPL asks of the platform around a person's data: an adult's consent to being someone
else's family member (N4), and the link from the operation log to the people an official's view,
export or change was about, which the citizen's access log reads (N10)."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.fields import utcnow
from models.fieldwork import OperationLog
from models.people import Person


class FamilyConsent(BaseModel):
    """An adult family member's consent to the account that added them (one row per family
    member row, written at the first step: a code sent, a grant, a withdrawal). No row means
    pending for an adult (14 or older) and not needed for a child."""

    person = peewee.ForeignKeyField(Person, unique=True, backref="+", on_delete="CASCADE")
    status = peewee.CharField(max_length=16, default="pending")  # pending | granted | withdrawn
    method = peewee.CharField(max_length=16, null=True)  # sms | account: how it was granted
    granted_by = peewee.ForeignKeyField(Account, null=True, backref="+", on_delete="SET NULL")
    granted_at = peewee.DateTimeField(null=True)
    withdrawn_at = peewee.DateTimeField(null=True)
    withdrawn_by = peewee.CharField(max_length=16, null=True)  # member | adder
    code_sent_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class PersonAccess(BaseModel):
    """One person an official's operation-log line was about: a full view of their record or ID
    number, an export that held them, a change of their colour or isolation status. Keyed by the
    subject (the ID number's blind index), so every copy of the same person (their own profile,
    a family member's) finds it. An export writes its people in bulk, one narrow row each."""

    log = peewee.ForeignKeyField(OperationLog, backref="+", on_delete="CASCADE")
    subject = peewee.CharField(max_length=32)

    class Meta:
        indexes = ((("subject", "log"), True),)


PRIVACY_MODELS = [FamilyConsent, PersonAccess]
