"""Partner systems that push risk records by API (D3): their credentials, the nonces of their
signed requests, and the batches they sent (for idempotent resends and provenance)."""

from __future__ import annotations

import peewee

from models.admin import AdminUser
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.regions import Region


class PartnerCredential(BaseModel):
    """One partner system's key: a public key id and an HMAC secret, stored encrypted (the server
    needs it to check signatures), the record kinds it may feed and the region bounding them."""

    name = peewee.CharField(max_length=64)
    key_id = peewee.CharField(max_length=32, unique=True)
    secret = EncryptedTextField("partner_secret")
    kinds = peewee.CharField(max_length=255)  # granted record kinds, comma-separated
    region = peewee.ForeignKeyField(Region, backref="partners", on_delete="RESTRICT")
    status = peewee.CharField(max_length=16, default="active")  # active | revoked
    created_by = peewee.ForeignKeyField(AdminUser, null=True, backref="+", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    secret_shown_at = peewee.DateTimeField(null=True)  # the one time the secret was shown
    revoked_by = peewee.ForeignKeyField(AdminUser, null=True, backref="+", on_delete="SET NULL")
    revoked_at = peewee.DateTimeField(null=True)
    revoke_reason = peewee.CharField(max_length=255, null=True)
    last_used_at = peewee.DateTimeField(null=True)

    def granted(self) -> list[str]:
        """The record kinds this partner may feed."""
        return [kind for kind in self.kinds.split(",") if kind]


class PartnerNonce(BaseModel):
    """A nonce a partner has used, kept while its request's timestamp could still be accepted."""

    credential = peewee.ForeignKeyField(PartnerCredential, backref="+", on_delete="CASCADE")
    nonce = peewee.CharField(max_length=64)
    seen_at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("credential", "nonce"), True),)


class PartnerBatch(BaseModel):
    """A batch a partner sent: its id (unique per partner), the body's hash, and the answer given,
    which a resend of the same batch gets again."""

    credential = peewee.ForeignKeyField(PartnerCredential, backref="batches", on_delete="RESTRICT")
    batch_id = peewee.CharField(max_length=64)
    kind = peewee.CharField(max_length=32)
    body_sha256 = peewee.CharField(max_length=64)
    received = peewee.IntegerField()
    accepted = peewee.IntegerField(default=0)
    rejected = peewee.IntegerField(default=0)
    result = peewee.TextField(default="{}")  # the JSON answer
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("credential", "batch_id"), True),)


PARTNER_MODELS = [PartnerCredential, PartnerNonce, PartnerBatch]
