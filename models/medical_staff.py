"""Medical staff allowed to issue release notices (E4, 表4-1 人员名单): granted in the back office by
phone, one by one or from the list's xlsx, before or after the person signs in to the mini-program."""

from __future__ import annotations

import peewee

from models.accounts import Account
from models.admin import AdminUser
from models.db import BaseModel
from models.fields import EncryptedTextField, utcnow
from models.regions import Region


class MedicalStaff(BaseModel):
    """One listed person: the permission follows their phone to whichever account has it as its
    real-name phone (`account`, set when linked). `status` granted | revoked."""

    name = EncryptedTextField("staff_name")
    phone = EncryptedTextField("phone")
    phone_bidx = peewee.CharField(max_length=32, unique=True)
    institution = peewee.CharField(max_length=128)
    position = peewee.CharField(max_length=64)
    status = peewee.CharField(max_length=16, default="granted", index=True)
    region = peewee.ForeignKeyField(Region, on_delete="RESTRICT")  # the granting admin's: who may see it
    account = peewee.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    granted_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    granted_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)
