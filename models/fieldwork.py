"""The field roles' data (B4, B5, E2-E4): inspectors bound to places, grids and their workers,
what grid workers collect, and the operation log every role's actions go to."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.admin import AdminUser
from models.db import BaseModel
from models.declarations import Declaration
from models.fields import utcnow
from models.people import Person
from models.places import Place
from models.regions import Region


class InspectorBinding(BaseModel):
    """An inspector bound to a place by its declaration code (many to many); one is current."""

    inspector = peewee.ForeignKeyField(Account, backref="inspector_bindings", on_delete="CASCADE")
    place = peewee.ForeignKeyField(Place, backref="inspector_bindings", on_delete="CASCADE")
    is_current = peewee.BooleanField(default=False)
    bound_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("inspector", "place"), True),)


class Grid(BaseModel):
    """A grid organisation: one per grid admin, never deleted, approved in the back office."""

    admin = peewee.ForeignKeyField(Account, backref="grids", on_delete="CASCADE", unique=True)
    region = peewee.ForeignKeyField(Region, backref="grids", on_delete="RESTRICT")
    name = peewee.CharField(max_length=64)
    declaration_code = peewee.CharField(max_length=16, unique=True)
    approved = peewee.BooleanField(default=False)
    approved_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    # The grid admin's back-office account (网格员管理平台), made when the grid is approved.
    office_admin = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")


class GridMembership(BaseModel):
    """A grid worker bound to a grid; the grid admin approves them."""

    worker = peewee.ForeignKeyField(Account, backref="grid_memberships", on_delete="CASCADE")
    grid = peewee.ForeignKeyField(Grid, backref="memberships", on_delete="CASCADE")
    status = peewee.CharField(max_length=16, default="pending")  # pending | approved
    is_current = peewee.BooleanField(default=False)
    bound_at = peewee.DateTimeField(default=utcnow)
    approved_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("worker", "grid"), True),)


class GridCollection(BaseModel):
    """One visit of a grid worker: whom, how (manual entry or a scanned code), what was found."""

    grid = peewee.ForeignKeyField(Grid, backref="collections", on_delete="CASCADE")
    worker = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    person = peewee.ForeignKeyField(Person, backref="grid_collections", on_delete="CASCADE")
    method = peewee.CharField(max_length=8)  # manual | scan
    declaration = peewee.ForeignKeyField(Declaration, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow, index=True)


class OperationLog(BaseModel):
    """Who did what to whom, when: every field role's and back-office action, every status change,
    export and deletion. Append-only: nothing updates or deletes these rows."""

    actor = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    admin_actor = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")  # back-office staff
    role = peewee.CharField(max_length=32)
    action = peewee.CharField(max_length=48, index=True)
    target_type = peewee.CharField(max_length=32, null=True)
    target_id = peewee.IntegerField(null=True)
    detail = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
