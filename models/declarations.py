"""Health declarations (D6), entry-to-province registrations (D7) and paper health codes (D5)."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.people import Person


class Declaration(BaseModel):
    """A health declaration: personal, organisation member or student / staff, with the 郑好码
    application form's answers. The answers the rules read are columns; the rest is JSON."""

    person = peewee.ForeignKeyField(Person, backref="declarations", on_delete="CASCADE")
    subject = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16)  # personal | member | student_staff
    organisation = peewee.CharField(max_length=128, null=True)
    health_status = peewee.CharField(max_length=16)  # healthy | fever | cough | other
    contact_with_patient = peewee.BooleanField(default=False)
    # Encrypted: the answers hold the residence (现住地址) in free text.
    answers = EncryptedTextField("declaration_answers", default="{}")
    event_date = peewee.DateField(index=True)
    declared_at = peewee.DateTimeField(default=utcnow, index=True)
    declared_by = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")


class ProvinceEntry(BaseModel):
    """An entry-to-province registration (入省登记) with where from, how and where to."""

    person = peewee.ForeignKeyField(Person, backref="province_entries", on_delete="CASCADE")
    entry_date = peewee.DateField()
    origin_code = peewee.CharField(max_length=6, null=True)
    origin_name = peewee.CharField(max_length=64)
    transport = peewee.CharField(max_length=16)
    transport_number = peewee.CharField(max_length=32, null=True)
    destination = EncryptedTextField("entry_destination")  # where the person stays: an address
    created_at = peewee.DateTimeField(default=utcnow, index=True)


class PaperCode(BaseModel):
    """A long-lived printable health code for somebody without a phone; revocable."""

    person = peewee.ForeignKeyField(Person, backref="paper_codes", on_delete="CASCADE")
    issued_by = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    issued_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)
