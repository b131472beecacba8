"""SMS: the messages sent (the development provider's outbox) and the verification codes."""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow


class SmsMessage(BaseModel):
    """A text message as the provider was asked to send it (the development provider keeps
    them here; so the content, which may hold a code or a password, is encrypted)."""

    phone = EncryptedTextField("phone")
    phone_bidx = peewee.CharField(max_length=32, index=True)
    template = peewee.CharField(max_length=32)
    content = EncryptedTextField("sms_content")
    provider = peewee.CharField(max_length=16)
    created_at = peewee.DateTimeField(default=utcnow, index=True)


class SmsCode(BaseModel):
    """A verification code sent to a phone for one purpose; stored hashed, used once."""

    phone_bidx = peewee.CharField(max_length=32)
    purpose = peewee.CharField(max_length=24)
    code_hash = peewee.CharField(max_length=64)
    ip = peewee.CharField(max_length=45, null=True)
    attempts = peewee.IntegerField(default=0)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("phone_bidx", "purpose", "created_at"), False), (("ip", "created_at"), False))
