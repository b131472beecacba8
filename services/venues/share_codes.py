"""Declaration codes (场所申报码, 网格申报码): short codes people copy and type to bind a place or
a grid. Eight characters without look-alikes (no 0/O, 1/I/L), about 40 bits."""

from __future__ import annotations

import secrets

import peewee

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_code(field: peewee.Field) -> str:
    """A code not yet used in `field` (a unique column)."""
    model = field.model
    for _ in range(10):
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if not model.select().where(field == code).exists():
            return code
    raise RuntimeError("could not draw an unused declaration code")


def normalise(code) -> str:
    """What people type, as stored: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in str(code or "").upper() if ch.isalnum())
