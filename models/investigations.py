"""Investigation tasks (H1-H6): list sources' records, imports, and each record's history.

A `TaskRecord` is one person on one list (telecom roaming list, railway passengers, police
verification, HQ / border data, medium / high-risk returnees, fever clinics, overseas returnees).
Which list it is and what its columns mean is declared in `services.investigations.sources`; the
row's non-personal cells are kept as JSON in `data`, the personal ones (name, ID number, phone,
addresses) encrypted together in `personal`, with blind indexes beside them for exact look-up.
`row_key` (a keyed hash of the source's natural key) is unique per source, so importing the same
file twice adds nothing.
"""

from __future__ import annotations

import peewee

from models.admin import AdminUser
from models.db import BaseModel, is_mysql
from models.fields import EncryptedTextField, utcnow
from models.people import Person
from models.regions import Region


class ImportJob(BaseModel):
    """One uploaded workbook and how its import went (H1)."""

    source = peewee.CharField(max_length=24, index=True)
    category = peewee.CharField(max_length=24, null=True)
    file_name = peewee.CharField(max_length=255)
    file_hash = peewee.CharField(max_length=64, index=True)  # sha256 of the upload
    file_size = peewee.BigIntegerField(default=0)
    # queued | running | done | failed (stopped part-way, what it wrote removed) | interrupted (its
    # process died: what it had committed is kept, see importer.expire_stale)
    status = peewee.CharField(max_length=16, default="queued", index=True)
    message = peewee.CharField(max_length=255, null=True)
    bytes_total = peewee.BigIntegerField(default=0)  # the sheet's uncompressed size: the progress bar's 100%
    bytes_done = peewee.BigIntegerField(default=0)
    rows = peewee.IntegerField(default=0)  # data rows read
    good = peewee.IntegerField(default=0)  # rows that passed the checks
    bad = peewee.IntegerField(default=0)  # rows refused (see ImportRowError)
    inserted = peewee.IntegerField(default=0)  # good rows that were new
    duplicates = peewee.IntegerField(default=0)  # good rows already on the list
    filtered = peewee.IntegerField(default=0)  # good rows the source's filter left out (railway)
    uploaded_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    # Moved on with every progress write (and, while queued, by the import running before it): a
    # queued or running job whose heartbeat is older than IMPORT_STALE_SECONDS has lost its process.
    heartbeat_at = peewee.DateTimeField(null=True, default=utcnow)


class ImportRowError(BaseModel):
    """A refused cell of an import: the error report's rows (row number as Excel shows it)."""

    job = peewee.ForeignKeyField(ImportJob, backref="errors", on_delete="CASCADE")
    row_number = peewee.IntegerField()
    column = peewee.CharField(max_length=64)
    reason = peewee.CharField(max_length=255)

    class Meta:
        indexes = ((("job", "row_number"), False),)


class TaskRecord(BaseModel):
    """One person on one investigation list, dispatched to a district (or not yet: city admins
    see the unassigned ones), with a status of its source's workflow."""

    source = peewee.CharField(max_length=24)
    category = peewee.CharField(max_length=24, null=True, index=True)
    row_key = peewee.CharField(max_length=32)
    import_job = peewee.ForeignKeyField(ImportJob, null=True, backref="records", on_delete="SET NULL")
    data = peewee.TextField(default="{}")  # the row's non-personal cells, JSON by column key
    personal = EncryptedTextField("task_personal", null=True)  # JSON: name, id_number, phone, addresses
    # Blind indexes of the ID number and phone: indexed by a prefix on MySQL (see KeyPrefix).
    subject = peewee.CharField(max_length=32, null=True)
    phone_bidx = peewee.CharField(max_length=32, null=True)
    # Not indexed: a name is only searched together with the row's text, which is a scan anyway,
    # and every random-keyed index costs the import of a million rows dearly.
    name_bidx = peewee.CharField(max_length=32, null=True)
    # Where the record belongs: the most precise region known (a compound, else the district).
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", backref="+")
    district = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", backref="+")
    person = peewee.ForeignKeyField(Person, null=True, on_delete="SET NULL", backref="+")
    status = peewee.CharField(max_length=24)
    occurred_on = peewee.DateField(null=True, index=True)  # the list's date (日期, 来郑日期, 就诊日期...)
    transport = peewee.CharField(max_length=16, null=True)  # overseas: plane | hsr | train | car | other
    expected_arrival = peewee.DateTimeField(null=True, index=True)  # overseas, UTC
    alert_at = peewee.DateTimeField(null=True)  # overseas: still pending 4 hours after arrival (I3)
    remark = peewee.CharField(max_length=255, null=True)
    created_by = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("source", "row_key"), True),
            (("source", "district", "status"), False),
            (("source", "transport", "status"), False),
        )


KEY_PREFIX = 8  # characters of a blind index that MySQL indexes


class KeyPrefix(peewee.Node):
    """An index column holding keyed hashes, indexed on MySQL by its first `KEY_PREFIX` characters
    (SQLite: whole). Hash values are uniformly random, so every row goes to a random page of the
    index: a million-row import touches all of it, and once the random-keyed indexes outgrow the
    InnoDB buffer pool each row waits for page reads. 8 hex characters (32 bits) still find one
    row per value (an equality search reads the row to compare the full value) and make the index
    about half its size."""

    def __init__(self, field: peewee.Field):
        super().__init__()
        self.field = field

    def unwrap(self):
        return self.field  # the index is named after the column, as `index=True` names it

    def __sql__(self, ctx):
        ctx.sql(peewee.Entity(self.field.column_name))
        return ctx.literal(f"({KEY_PREFIX})") if is_mysql() else ctx


PREFIX_INDEXED = (TaskRecord.subject, TaskRecord.phone_bidx)  # schema._v13_task_key_prefixes upgrades them
TaskRecord.add_index(TaskRecord.index(KeyPrefix(TaskRecord.subject)))
TaskRecord.add_index(TaskRecord.index(KeyPrefix(TaskRecord.phone_bidx)))


class TaskHistory(BaseModel):
    """A status change of a record (or a system note such as the overdue alert), with its remark."""

    record = peewee.ForeignKeyField(TaskRecord, backref="history", on_delete="CASCADE")
    from_status = peewee.CharField(max_length=24, null=True)
    to_status = peewee.CharField(max_length=24)
    remark = peewee.CharField(max_length=255, null=True)
    admin = peewee.ForeignKeyField(AdminUser, null=True, on_delete="SET NULL", backref="+")
    actor = peewee.CharField(max_length=64, null=True)  # who, when not an admin: 系统, 扫码
    created_at = peewee.DateTimeField(default=utcnow)


# In dependency order (migration 8 creates them; tests empty them in reverse).
INVESTIGATION_MODELS: list = [ImportJob, ImportRowError, TaskRecord, TaskHistory]
