"""Live occupancy (N8): a counting place's capacity and its count of people inside now, and one
row per person inside.

The count lives in the database, not in a process: every server process reads and changes the
same row, and a restart loses nothing. `PlaceOccupancy.inside` is changed only by conditional
UPDATEs in the transaction that also writes or deletes the `Presence` row, so the two agree; the
condition (`inside < capacity`) is what keeps two scans racing for the last place from both
getting in (services/venues/occupancy.py).
"""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import utcnow
from models.people import Person
from models.places import Place


class PlaceOccupancy(BaseModel):
    """A counting place's setting and count: `capacity` None counts without a limit."""

    place = peewee.ForeignKeyField(Place, primary_key=True, on_delete="CASCADE")
    capacity = peewee.IntegerField(null=True)
    inside = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=utcnow)


class Presence(BaseModel):
    """One person inside a counting place now: written by an admitted scan, deleted when they
    leave (leavePlace) or when the expiry job finds them gone too long."""

    place = peewee.ForeignKeyField(Place, on_delete="CASCADE")
    person = peewee.ForeignKeyField(Person, on_delete="CASCADE")
    entered_at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("place", "person"), True),)


OCCUPANCY_MODELS = [PlaceOccupancy, Presence]
