"""The facts the colour rules read (D2): lists, cases, risk areas, purchases, temperatures,
travel, isolation and release notices.

Every fact names its person by `subject`, the blind index of the ID number, so that a list entry
about somebody who never opened the mini-program still matches them the day they do, and so that
rules can be evaluated set-wise in SQL with no decryption. `event_date` is the China-local date
the rule windows count from. Listed facts keep where they came from: the `RiskBatch` they
arrived in (which list, which import or partner batch, which date, which region).
"""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.admin import AdminUser
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.people import Person
from models.regions import Region


class SubjectFact(BaseModel):
    """Fields shared by facts about one person."""

    subject = peewee.CharField(max_length=32, index=True)
    event_date = peewee.DateField(index=True)
    created_at = peewee.DateTimeField(default=utcnow)


class RiskBatch(BaseModel):
    """Where listed facts came from (their provenance): one row per list import, partner batch or
    day of form entries (`services.risk_data.risk_records.ingest`). `source_ref` names it in its own system
    ("import:12", "partner:police-1:20261203-01", "form:7:2026-12-03"); `source_label` is the
    organisation ("郑州市疾控中心"); `listed_on` the list's date; `region` the area it covers.
    A fact points here by `batch`, so an official and the citizen can see which list, which import
    or partner batch, and which date a reason comes from."""

    kind = peewee.CharField(max_length=24)  # a services.risk_data.risk_records kind
    source_label = peewee.CharField(max_length=64)
    source_ref = peewee.CharField(max_length=96)
    listed_on = peewee.DateField()
    # What the citizen and officials read: "密接名单（郑州市疾控中心 2026-12-03）".
    title = peewee.CharField(max_length=128)
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", backref="+")
    created_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    received = peewee.IntegerField(default=0)  # rows sent, good and bad, over every call
    accepted = peewee.IntegerField(default=0)  # rows stored
    duplicates = peewee.IntegerField(default=0)  # good rows already stored (not stored twice)
    rejected = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "source_ref"), True),)


class ListedPerson(SubjectFact):
    """Facts that come from lists, about people who may not be registered: name and ID kept, with
    their provenance (`batch`, None for facts entered before there was one) and the region the
    row named (a compound, street or district; None when the list gave none). The name is
    encrypted like the ID number; no list is searched by name."""

    name = EncryptedTextField("person_name", null=True)
    id_number = EncryptedTextField("id_number", null=True)
    batch = peewee.ForeignKeyField(RiskBatch, null=True, on_delete="SET NULL", backref="+")
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", backref="+")
    # Set when the entry is withdrawn as a mistake (a second approver, services/colours/corrections.py):
    # the rules no longer read it; the row stays, so a re-sent list does not bring it back.
    withdrawn_at = peewee.DateTimeField(null=True)


class CloseContact(ListedPerson):
    """An entry of the close-contact list (密切接触者)."""

    source = peewee.CharField(max_length=64, null=True)
    remark = peewee.CharField(max_length=255, null=True)


class CaseReport(ListedPerson):
    """A confirmed or suspected case, with the compound it lives in (for "my compound has a case")."""

    kind = peewee.CharField(max_length=16)  # confirmed | suspected | asymptomatic
    status = peewee.CharField(max_length=16, default="active")  # active | closed
    compound = peewee.ForeignKeyField(Region, null=True, backref="cases", on_delete="SET NULL")
    remark = peewee.CharField(max_length=255, null=True)


class FeverMedicinePurchase(ListedPerson):
    """A purchase of fever medicine reported by a pharmacy (退烧药购买记录)."""

    pharmacy = peewee.CharField(max_length=128)
    medicine = peewee.CharField(max_length=128, null=True)
    purchased_at = peewee.DateTimeField()


class RiskListing(ListedPerson):
    """A listed fact of the kinds that need no columns of their own (`kind`): a secondary contact
    (次密接), a fever-clinic visit (发热门诊就诊), an isolation order (隔离令), a police key person
    (公安重点人员). `place` is the hospital or issuing body when the list names one."""

    kind = peewee.CharField(max_length=24)  # secondary_contact | fever_clinic_visit | isolation_order | key_person
    place = peewee.CharField(max_length=128, null=True)
    remark = peewee.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("kind", "subject"), False),)


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
    # While pending or confirmed: the day the isolation began (kept from pending to confirmed).
    started_on = peewee.DateField(null=True)


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
    """A medium- or high-risk area, or a key region (e.g. Hubei), at province, city, district or
    street level. `prefix` is the part of the code that the area covers (2, 4 or 6 digits, a
    street's 9), so a travel origin matches with one indexed comparison. An ended area keeps its
    row: `effective_until` is its last day, `ended_by` / `ended_at` who ended it and when."""

    code = peewee.CharField(max_length=12)
    name = peewee.CharField(max_length=64)
    area_level = peewee.CharField(max_length=16)  # province | city | district | street
    prefix = peewee.CharField(max_length=12, index=True)
    risk = peewee.CharField(max_length=8)  # medium | high | key
    effective_from = peewee.DateField()
    effective_until = peewee.DateField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL")  # the region it was picked as
    created_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    ended_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    ended_at = peewee.DateTimeField(null=True)
