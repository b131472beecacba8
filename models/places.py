"""Places, their codes (and blank batches), and the entry record each scan leaves (B1-B3, C8)."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.admin import AdminUser
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.people import Person
from models.regions import Region


class Place(BaseModel):
    """A place people scan into. `region` is the compound itself for compound types, else the
    district (or any region) the place belongs to; `details` holds the activation answers."""

    place_type = peewee.CharField(max_length=32, index=True)
    name = peewee.CharField(max_length=128)
    region = peewee.ForeignKeyField(Region, null=True, backref="places", on_delete="SET NULL")
    address = peewee.CharField(max_length=255, null=True)
    contact_name = peewee.CharField(max_length=64, null=True)
    contact_phone = EncryptedTextField("phone", null=True)
    contact_phone_bidx = peewee.CharField(max_length=32, null=True, index=True)
    details = peewee.TextField(default="{}")
    status = peewee.CharField(max_length=16, default="active")  # active | closed
    admin = peewee.ForeignKeyField(Account, null=True, backref="administered_places", on_delete="SET NULL")
    # 场所申报码: what the admin shares so that inspectors can bind the place (B4, B5).
    declaration_code = peewee.CharField(max_length=16, null=True, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    activated_at = peewee.DateTimeField(null=True, index=True)
    # N1: only the code shown on the place's screens is accepted (a printed one is refused).
    screen_only = peewee.BooleanField(default=False)
    # N8: scans here are counted in and out (models/occupancy.py); read with the scan's one
    # statement, so a place that does not count keeps the common scan's path.
    counts_occupancy = peewee.BooleanField(default=False)


class CodeBatch(BaseModel):
    """A batch of blank codes printed ahead of time for one place type (B3)."""

    place_type = peewee.CharField(max_length=32)
    size = peewee.IntegerField()
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL")
    created_by = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    created_by_admin = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")  # made in the back office
    created_at = peewee.DateTimeField(default=utcnow)


class PlaceCode(BaseModel):
    """An unguessable token printed as a QR code. Blank until activated; a revoked code (a
    defaced poster) answers nothing, its place gets a new one."""

    token = peewee.CharField(max_length=32, unique=True)
    place_type = peewee.CharField(max_length=32)
    place = peewee.ForeignKeyField(Place, null=True, backref="codes", on_delete="CASCADE")
    batch = peewee.ForeignKeyField(CodeBatch, null=True, backref="codes", on_delete="SET NULL")
    status = peewee.CharField(max_length=16, default="active")  # blank | active | revoked
    created_at = peewee.DateTimeField(default=utcnow)
    activated_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)


class ScreenDevice(BaseModel):
    """A screen at a place's door that shows its rotating code (N1). `token` names it in its page's
    URL (/screen/{token}); the key that opens the page is kept only as its SHA-256."""

    place = peewee.ForeignKeyField(Place, backref="screens", on_delete="CASCADE")
    token = peewee.CharField(max_length=32, unique=True)
    key_hash = peewee.CharField(max_length=64)
    name = peewee.CharField(max_length=64)
    created_by = peewee.ForeignKeyField(Account, null=True, backref="+", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    revoked_by_admin = peewee.ForeignKeyField(AdminUser, null=True, backref="+", on_delete="SET NULL")  # revoked in the back office


class EntryRecord(BaseModel):
    """One scan (C8): who, where, when, temperature, colour, verdict and how it was made.
    `request_id` (from the client) makes a retried scan return the first answer."""

    request_id = peewee.CharField(max_length=64, unique=True)
    # place and person are indexed by the composite indexes below, which lead with them.
    place = peewee.ForeignKeyField(Place, backref="entries", on_delete="CASCADE", index=False)
    person = peewee.ForeignKeyField(Person, backref="entries", on_delete="CASCADE", index=False)
    account = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    flow = peewee.CharField(max_length=16)
    source = peewee.CharField(max_length=16)  # self | family | proxy | inspector | manual
    temperature = peewee.DecimalField(max_digits=4, decimal_places=1, null=True)
    colour = peewee.CharField(max_length=8)
    admitted = peewee.BooleanField()
    form = peewee.TextField(default="{}")
    verdict = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        # (person, flow): "has this person scanned with this flow before" (the scan's first-scan
        # form) is one index probe, however many entries of other flows the person has.
        # (created_at, place, colour): the statistics count the hour under way (not summarised yet)
        # from this index alone, reading that hour's entries and no others.
        indexes = ((("place", "created_at"), False), (("person", "created_at"), False), (("person", "flow"), False),
                   (("created_at", "place", "colour"), False))
