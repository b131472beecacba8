"""Hourly scan statistics (I2) and the job runners' lock (I5).

The statistics tables hold counts only, never a person: per place and hour (`HourlyPlaceStat`)
and per place and China-local day (`DailyPlaceStat`, the sum of that day's 24 hours). The
back-office statistics pages and the dashboards read these and `place`, never `entry_record`, so
they cost the same with ten thousand entries as with tens of millions; and they survive the
retention job that deletes old entries (I4).

`place_type` and `region` are copied from the place so that "a type's figures in a district" is
one indexed range; a place edit that moves the place to another district moves its rows too.

`StatRun` is how far the hourly job got; `JobLock` is one row per scheduled job, taken by one
runner at a time (see jobs/runner_lock.py).
"""

from __future__ import annotations

import peewee

from models.db import BaseModel
from models.fields import utcnow
from models.places import Place
from models.regions import Region


class HourlyPlaceStat(BaseModel):
    """Scans at one place in one hour: `hour` is the hour's start, naive UTC."""

    place = peewee.ForeignKeyField(Place, on_delete="CASCADE", index=False)
    place_type = peewee.CharField(max_length=32)
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", index=False)
    hour = peewee.DateTimeField()
    scans = peewee.IntegerField(default=0)
    abnormal = peewee.IntegerField(default=0)  # red, orange or yellow at the scan

    class Meta:
        indexes = ((("place", "hour"), True), (("place_type", "hour"), False), (("hour",), False))


class DailyPlaceStat(BaseModel):
    """Scans at one place on one China-local day: the sum of the day's hourly rows."""

    place = peewee.ForeignKeyField(Place, on_delete="CASCADE", index=False)
    place_type = peewee.CharField(max_length=32)
    region = peewee.ForeignKeyField(Region, null=True, on_delete="SET NULL", index=False)
    day = peewee.DateField()
    scans = peewee.IntegerField(default=0)
    abnormal = peewee.IntegerField(default=0)

    class Meta:
        # (place, day, scans, abnormal) answers a place's sums from the index alone: the list pages
        # sum a few dozen days for each of their rows on every request.
        indexes = ((("place", "day"), True), (("place", "day", "scans", "abnormal"), False),
                   (("place_type", "day"), False), (("day",), False))


class StatRun(BaseModel):
    """How far a statistics job got: every hour before `completed_hour` has been aggregated, and
    every entry up to `last_entry_id` has been seen (a later id in an older hour is a late scan)."""

    job_id = peewee.CharField(max_length=64, unique=True)
    completed_hour = peewee.DateTimeField(null=True)
    last_entry_id = peewee.BigIntegerField(default=0)
    finished_at = peewee.DateTimeField(null=True)


class JobLock(BaseModel):
    """One row per job: who runs it now (until `expires_at`, pushed on by heartbeats), the
    scheduled slot it last ran for, and how many runs it has had."""

    job_id = peewee.CharField(max_length=64, unique=True)
    holder = peewee.CharField(max_length=128, null=True)
    acquired_at = peewee.DateTimeField(null=True)
    expires_at = peewee.DateTimeField(null=True)
    last_slot = peewee.DateTimeField(null=True)
    runs = peewee.IntegerField(default=0)
    last_started_at = peewee.DateTimeField(null=True)
    last_finished_at = peewee.DateTimeField(null=True)
    last_status = peewee.CharField(max_length=16, null=True)  # ok | failed
    last_result = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


STATISTICS_MODELS: list = [HourlyPlaceStat, DailyPlaceStat, StatRun, JobLock]
