"""People: the real-name profile an account fills once and every later scan matches (A5)."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.db import BaseModel
from models.fields import EncryptedTextField, blind_index, utcnow
from models.regions import Region


class Person(BaseModel):
    """A real person. `relation` "self" is the account holder; later issues add family members
    and proxy identities on the same table. Name, ID number, phone and the home address
    (address, building, unit, room) are encrypted; name, ID number and phone have blind indexes
    for exact look-up (`save` keeps the name's)."""

    account = peewee.ForeignKeyField(Account, backref="persons", null=True, on_delete="SET NULL")
    relation = peewee.CharField(max_length=16, default="self")  # self | family | proxy
    relationship = peewee.CharField(max_length=16, null=True)  # a family member's: parent, child, ...
    name = EncryptedTextField("person_name", null=True)
    name_bidx = peewee.CharField(max_length=32, null=True, index=True)
    gender = peewee.CharField(max_length=8, null=True)
    id_type = peewee.CharField(max_length=24, default="resident_id")
    id_number = EncryptedTextField("id_number", null=True)
    id_number_bidx = peewee.CharField(max_length=32, null=True, index=True)
    phone = EncryptedTextField("phone", null=True)
    phone_bidx = peewee.CharField(max_length=32, null=True, index=True)
    phone_verified = peewee.BooleanField(default=False)
    address = EncryptedTextField("address", null=True)
    building = EncryptedTextField("address_building", null=True)
    unit = EncryptedTextField("address_unit", null=True)
    room = EncryptedTextField("address_room", null=True)
    resident_category = peewee.CharField(max_length=16, null=True)
    employer = peewee.CharField(max_length=128, null=True)
    # The one compound the person belongs to (C5); its cases turn the person orange.
    compound = peewee.ForeignKeyField(Region, null=True, backref="residents", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        # (compound, id_number_bidx): the compound-case colour rule reads only these (migration 12).
        indexes = ((("account", "relation"), False), (("compound", "id_number_bidx"), False))

    def save(self, *args, **kwargs):
        """Save, with the name's blind index brought up to date first (every path that names a
        person ends here, so the search by name cannot miss a renamed one). A row read without
        its name keeps the index it has."""
        if "name" in self.__data__:
            self.name_bidx = name_index(self.name)
        return super().save(*args, **kwargs)

    def set_id_number(self, value: str | None) -> None:
        """Store the (already validated) document number with its blind index."""
        self.id_number = value
        self.id_number_bidx = blind_index(value, "id_number")

    def set_phone(self, value: str | None, verified: bool = False) -> None:
        """Store the (already validated) phone with its blind index."""
        self.phone = value
        self.phone_bidx = blind_index(value, "phone")
        self.phone_verified = verified

    @property
    def subject(self) -> str | None:
        """The key the colour engine files this person's facts under."""
        return self.id_number_bidx

    @classmethod
    def by_id_number(cls, value: str):
        """People whose document number is exactly `value`."""
        return cls.select().where(cls.id_number_bidx == blind_index(value, "id_number"))

    @classmethod
    def name_is(cls, value: str):
        """The condition "this person's name is exactly `value`" (through the blind index: the
        column itself is ciphertext, so a partial match cannot be asked of the database)."""
        return cls.name_bidx == name_index(value)


def name_index(value: str | None) -> str | None:
    """The blind index of a person's name, as stored in `Person.name_bidx` (spaces around the
    name do not count)."""
    return blind_index((value or "").strip() or None, "person_name")
