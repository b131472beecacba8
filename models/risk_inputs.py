"""The facts the colour rules read (D2): lists, cases, risk areas, purchases, temperatures,
travel, isolation and release notices.

Every fact names its person by `subject`, the blind index of the ID number, so that a list entry
about somebody who never opened the mini-program still matches them the day they do, and so that
rules can be evaluated set-wise in SQL with no decryption. `event_date` is the China-local date
the rule windows count from.
"""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.people import Person
from models.regions import Region


class SubjectFact(BaseModel):
    """Fields shared by facts about one person."""

    subject = peewee.CharField(max_length=32, index=True)
    event_date = peewee.DateField(index=True)
    created_at = peewee.DateTimeField(default=utcnow)


class ListedPerson(SubjectFact):
    """Facts that come from lists, about people who may not be registered: name and ID kept."""

    name = peewee.CharField(max_length=64, null=True)
    id_number = EncryptedTextField("id_number", null=True)
    # Set when the entry is withdrawn as a mistake (a second approver, services/corrections.py):
    # the rules no longer read it; the row stays, so a re-sent list does not bring it back.
    withdrawn_at = peewee.DateTimeField(null=True)


class CloseContact(ListedPerson):
    """An entry of the close-contact list (密切接触者)."""

    source = peewee.CharField(max_length=64, null=True)
    remark = peewee.CharField(max_length=255, null=True)


class CaseReport(ListedPerson):
    """A confirmed or suspected case, with the compound it lives in (for "my compound has a case")."""

    kind = peewee.CharField(max_length=16)  # confirmed | suspected
    status = peewee.CharField(max_length=16, default="active")  # active | closed
    compound = peewee.ForeignKeyField(Region, null=True, backref="cases", on_delete="SET NULL")
    remark = peewee.CharField(max_length=255, null=True)


class FeverMedicinePurchase(ListedPerson):
    """A purchase of fever medicine reported by a pharmacy (退烧药购买记录)."""

    pharmacy = peewee.CharField(max_length=128)
    medicine = peewee.CharField(max_length=128, null=True)
    purchased_at = peewee.DateTimeField()


class TemperatureRecord(SubjectFact):
    """A body temperature taken at a scan, by an inspector, or declared."""

    person = peewee.ForeignKeyField(Person, null=True, backref="temperatures", on_delete="CASCADE")
    value = peewee.DecimalField(max_digits=4, decimal_places=1)
    measured_at = peewee.DateTimeField(default=utcnow, index=True)
    source = peewee.CharField(max_length=16, default="self")  # self | inspector | declaration | manual
    recorded_by = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")


class TravelRecord(SubjectFact):
    """An arrival: when, from where (a 6-digit region code), from abroad, and how (C4, D6)."""

    person = peewee.ForeignKeyField(Person, null=True, backref="travels", on_delete="CASCADE")
    origin_code = peewee.CharField(max_length=6, null=True, index=True)
    origin_name = peewee.CharField(max_length=64, null=True)
    from_abroad = peewee.BooleanField(default=False)
    country = peewee.CharField(max_length=64, null=True)
    transport = peewee.CharField(max_length=16, null=True)
    transport_number = peewee.CharField(max_length=32, null=True)
    source = peewee.CharField(max_length=16, default="declaration")  # declaration | checkpoint | province_entry


class IsolationRecord(SubjectFact):
    """The person's current isolation status (one row a person; `event_date` = since when)."""

    subject = peewee.CharField(max_length=32, unique=True)
    status = peewee.CharField(max_length=16)  # released | pending | confirmed | not_needed | not_in_compound
    updated_at = peewee.DateTimeField(default=utcnow)


class ReleaseNotice(SubjectFact):
    """A release-from-medical-observation notice: it lifts the reds dated on or before it."""

    person = peewee.ForeignKeyField(Person, null=True, on_delete="SET NULL")
    issued_by = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    reason = peewee.CharField(max_length=255, null=True)
    revoked_at = peewee.DateTimeField(null=True)
    number = peewee.CharField(max_length=32, null=True, unique=True)
    institution = peewee.CharField(max_length=128, null=True)
    staff_name = peewee.CharField(max_length=64, null=True)


class RiskArea(BaseModel):
    """A medium- or high-risk area, or a key region (e.g. Hubei), at province, city or district
    level. `prefix` is the part of a 6-digit code that the level covers (2, 4 or 6 digits), so a
    travel origin matches with one indexed comparison."""

    code = peewee.CharField(max_length=6)
    name = peewee.CharField(max_length=64)
    area_level = peewee.CharField(max_length=16)  # province | city | district
    prefix = peewee.CharField(max_length=6, index=True)
    risk = peewee.CharField(max_length=8)  # medium | high | key
    effective_from = peewee.DateField()
    effective_until = peewee.DateField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
