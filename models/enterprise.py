"""Enterprise return-to-work (F1-F6, I3): groups, members, daily reports, e-mailed exports."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.declarations import Declaration
from models.fields import utcnow
from models.people import Person


class LongBlobField(peewee.BlobField):
    """Bytes of any size: MySQL's BLOB stops at 64 KB, less than a few thousand staff rows."""

    field_type = "LONGBLOB"  # SQLite reads any type name holding "BLOB" as a blob


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
    """A daily health report: the activity track and the eight yes/no answers.

    `current_on` is the report date while the report is the day's current one and NULL once a
    later report of the same day replaced it (the earlier stays as history). NULLs do not collide
    in a unique index, on SQLite or MySQL, so (person, current_on) unique means "at most one
    current report per person and day" even when two submissions race.
    """

    person = peewee.ForeignKeyField(Person, backref="daily_reports", on_delete="CASCADE")
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    report_date = peewee.DateField(index=True)
    current_on = peewee.DateField(null=True)
    answers = peewee.TextField()  # JSON {question key: bool}
    track = peewee.TextField(default="[]")  # JSON [{place, time, transport}]
    location = peewee.CharField(max_length=128, null=True)  # the track's latest place (staff lists)
    abnormal = peewee.BooleanField(default=False)  # any "yes"
    # The health declaration the answers were filed as (what the colour rules read).
    declaration = peewee.ForeignKeyField(Declaration, null=True, on_delete="SET NULL")
    submitted_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("person", "current_on"), True),)


class StaffExport(BaseModel):
    """An e-mailed staff-status export: kept with its file so that a failed send can be retried."""

    enterprise = peewee.ForeignKeyField(Enterprise, backref="exports", on_delete="CASCADE")
    requested_by = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    email = peewee.CharField(max_length=254)
    remark = peewee.CharField(max_length=255, null=True)
    report_date = peewee.DateField()
    rows = peewee.IntegerField(default=0)
    counts = peewee.TextField(default="{}")  # JSON {normal, abnormal, not_reported}: the mail's summary
    content = LongBlobField(null=True)  # the xlsx, resent as is on retry
    status = peewee.CharField(max_length=16, default="pending")  # pending | sent | failed
    error = peewee.CharField(max_length=255, null=True)
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)


class NotReportedList(BaseModel):
    """The daily job's list of members who had not reported by the configured time (I3)."""

    enterprise = peewee.ForeignKeyField(Enterprise, backref="not_reported_lists", on_delete="CASCADE")
    report_date = peewee.DateField()
    people = peewee.TextField(default="[]")  # JSON [{member_id, name (masked)}]
    total = peewee.IntegerField(default=0)  # active members when the list was built
    count = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("enterprise", "report_date"), True),)
