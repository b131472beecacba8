"""The administrative hierarchy: province > city > district/county > street > community > compound."""

from __future__ import annotations

import peewee

from models.db import BaseModel

LEVELS = ("province", "city", "district", "street", "community", "compound")
LEVEL_NAMES = {
    "province": "省",
    "city": "市",
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "compound": "小区",
}


class Region(BaseModel):
    """One node of the hierarchy. `path` ("/410000/410100/410105/") makes "everything under a
    region" one indexed prefix query, which every scoped list of the later issues needs."""

    code = peewee.CharField(max_length=20, unique=True)
    name = peewee.CharField(max_length=100)
    level = peewee.CharField(max_length=16, index=True)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    path = peewee.CharField(max_length=255, index=True)
    address = peewee.CharField(max_length=255, null=True)
    latitude = peewee.DoubleField(null=True)
    longitude = peewee.DoubleField(null=True)
    # Other names people write for it, separated by "、" (高新区 for 郑州高新技术产业开发区): the
    # investigation lists name districts in many ways.
    aliases = peewee.CharField(max_length=255, null=True)

    def descendants(self):
        """Every region below this one (not itself)."""
        return Region.select().where(Region.path.startswith(self.path) & (Region.id != self.id))

    def ancestors(self) -> list["Region"]:
        """From the province down to the parent of this region."""
        codes = [c for c in self.path.strip("/").split("/")][:-1]
        found = {r.code: r for r in Region.select().where(Region.code.in_(codes))} if codes else {}
        return [found[c] for c in codes if c in found]

    def full_name(self) -> str:
        """"河南省郑州市金水区..." as people write an address."""
        return "".join(r.name for r in self.ancestors()) + self.name
