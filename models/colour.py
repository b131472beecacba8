"""Colour rules as data, each person's current colour, and the history of changes (D1-D4)."""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import utcnow


class ColourRule(BaseModel):
    """One rule: when a person has a fact of `input` meeting `conditions` (JSON, AND-ed) within
    `window_days`, their colour is at least `colour`, for `reason`; red carries `guidance`."""

    code = peewee.CharField(max_length=32, unique=True)
    colour = peewee.CharField(max_length=8)  # red | orange | yellow
    input = peewee.CharField(max_length=32)
    conditions = peewee.TextField(default="[]")
    window_days = peewee.IntegerField(null=True)  # None: as long as the fact stands
    reason = peewee.CharField(max_length=128)
    guidance = peewee.CharField(max_length=255, null=True)
    lifted_by_release = peewee.BooleanField(default=False)
    enabled = peewee.BooleanField(default=True)
    position = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=utcnow)


# SQLite: a one-row table whose random stamp triggers renew on every change to colour_rule (made
# by models.schema.install_rule_stamp). The scan reads it instead of a fingerprint of the rule
# rows, which cost 60 us of its 95 us statement. Random, not a counter: a database restored from
# a backup, or another database, does not come back to a stamp a process has checked.
RULE_STAMP_TABLE = "colour_rule_stamp"


class HealthStatus(BaseModel):
    """The current colour of everyone who is not green (no row means green).

    Keeping only the exceptions makes a full recompute cost the size of the lists, not of the
    population. `valid_until` is the last day the stored answer holds: a read after it recomputes.
    """

    subject = peewee.CharField(max_length=32, unique=True)
    colour = peewee.CharField(max_length=8)
    reasons = peewee.TextField()  # JSON: [{"rule", "colour", "reason", "guidance", "since"}]
    since = peewee.DateTimeField(default=utcnow)
    valid_until = peewee.DateField(null=True)
    computed_at = peewee.DateTimeField(default=utcnow)


class ColourHistory(BaseModel):
    """One change of a person's colour: from, to, the reasons, when and why."""

    subject = peewee.CharField(max_length=32, index=True)
    from_colour = peewee.CharField(max_length=8)
    to_colour = peewee.CharField(max_length=8)
    reasons = peewee.TextField()
    why = peewee.CharField(max_length=64)
    changed_at = peewee.DateTimeField(default=utcnow, index=True)
