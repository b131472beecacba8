"""Enterprise return-to-work (F1-F6, I3): groups, members, daily reports, e-mailed exports."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.fields import utcnow
from models.people import Person


class Enterprise(BaseModel):
    """An enterprise group; its creator is its admin; people join with the invitation code."""

    name = peewee.CharField(max_length=128)
    address = peewee.CharField(max_length=255)
    admin = peewee.ForeignKeyField(Account, backref="enterprises_administered", on_delete="RESTRICT")
    invite_code = peewee.CharField(max_length=16, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)


class EnterpriseMember(BaseModel):
    """A person's membership of an enterprise (a person may belong to several)."""

    enterprise = peewee.ForeignKeyField(Enterprise, backref="members", on_delete="CASCADE")
    account = peewee.ForeignKeyField(Account, backref="enterprise_memberships", on_delete="CASCADE")
    person = peewee.ForeignKeyField(Person, on_delete="CASCADE")
    role = peewee.CharField(max_length=16, default="member")  # admin | member
    joined_at = peewee.DateTimeField(default=utcnow)
    removed_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("enterprise", "account"), True),)


class DailyReport(BaseModel):
    """A daily health report: the activity track and the eight yes/no answers. A second report
    the same day becomes the current one; the earlier stays as history."""

    person = peewee.ForeignKeyField(Person, backref="daily_reports", on_delete="CASCADE")
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    report_date = peewee.DateField(index=True)
    answers = peewee.TextField()  # JSON {question: bool}
    track = peewee.TextField(default="[]")  # JSON [{place, time, transport}]
    abnormal = peewee.BooleanField(default=False)  # any "yes"
    is_current = peewee.BooleanField(default=True)
    submitted_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("person", "report_date", "is_current"), False),)


class StaffExport(BaseModel):
    """An e-mailed staff-status export: kept with its file so that a failed send can be retried."""

    enterprise = peewee.ForeignKeyField(Enterprise, backref="exports", on_delete="CASCADE")
    requested_by = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    email = peewee.CharField(max_length=254)
    remark = peewee.CharField(max_length=255, null=True)
    report_date = peewee.DateField()
    rows = peewee.IntegerField(default=0)
    content = peewee.BlobField(null=True)
    status = peewee.CharField(max_length=16, default="pending")  # pending | sent | failed
    error = peewee.CharField(max_length=255, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)


class NotReportedList(BaseModel):
    """The daily job's list of members who had not reported by the configured time (I3)."""

    enterprise = peewee.ForeignKeyField(Enterprise, backref="not_reported_lists", on_delete="CASCADE")
    report_date = peewee.DateField()
    people = peewee.TextField(default="[]")  # JSON [{member_id, name (masked)}]
    count = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("enterprise", "report_date"), True),)
