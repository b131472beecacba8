"""The schema version and the migration path.

A new database gets every table of `MODELS` at once and is stamped with the latest version. A
live database runs each migration above its version in order, with playhouse.migrate, so a later
issue adds a column like this:

    def _add_person_note(migrator):
        migrate(migrator.add_column("person", "note", peewee.CharField(null=True)))

    MIGRATIONS = [..., Migration(2, "person note", _add_person_note)]

(and adds the field to the model, which is what a new database is created from).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import peewee
from playhouse.migrate import SchemaMigrator, migrate as run_operations

from models.accounts import Account, AccountRole, AuthIdentity, AuthToken, SignInFailure
from models.admin import AdminSession, AdminUser, Captcha, CompoundResident
from models.approvals import ApprovalRequest
from models.column_encryption import encrypt_columns, widen_to_text
from models.colour import RULE_STAMP_TABLE, ColourHistory, ColourRule, HealthStatus
from models.corrections import AppealImage, ColourAppeal, ColourOverride
from models.db import BaseModel, db, is_mysql
from models.declarations import Declaration, PaperCode, ProvinceEntry
from models.fields import utcnow
from models.enterprise import DailyReport, Enterprise, EnterpriseMember, NotReportedList, StaffExport
from models.fieldwork import Grid, GridCollection, GridMembership, InspectorBinding, OperationLog
from models.investigations import INVESTIGATION_MODELS, KEY_PREFIX, PREFIX_INDEXED, ImportJob
from models.medical_staff import MedicalStaff
from models.messaging import SmsCode, SmsMessage
from models.occupancy import OCCUPANCY_MODELS
from models.people import Person, name_index
from models.partners import PARTNER_MODELS
from models.places import CodeBatch, EntryRecord, Place, PlaceCode, ScreenDevice
from models.privacy import PRIVACY_MODELS
from models.regions import Region
from models.rule_versions import ColourRuleVersion, ColourSetting
from models.statistics import STATISTICS_MODELS
from models.risk_inputs import (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord, ReleaseNotice,
                                RiskArea, RiskBatch, RiskListing, TemperatureRecord, TravelRecord)


class SchemaVersion(BaseModel):
    """One row: the version the database's tables are at."""

    id = peewee.IntegerField(primary_key=True)
    version = peewee.IntegerField()
    updated_at = peewee.DateTimeField(default=utcnow)


class Migration(NamedTuple):
    version: int
    name: str
    apply: Callable[[SchemaMigrator], None]


COLOUR_ENGINE_MODELS = [RiskBatch, CloseContact, CaseReport, FeverMedicinePurchase, TemperatureRecord, TravelRecord,
                        IsolationRecord, ReleaseNotice, RiskArea, ColourRule, HealthStatus, ColourHistory,
                        Declaration, ProvinceEntry, PaperCode, RiskListing]

PLACE_MODELS = [Place, CodeBatch, PlaceCode, ScreenDevice, EntryRecord]
FIELDWORK_MODELS = [InspectorBinding, Grid, GridMembership, GridCollection, OperationLog, MedicalStaff]
MESSAGING_MODELS = [SmsMessage, SmsCode]
ADMIN_MODELS = [AdminUser, AdminSession, Captcha, CompoundResident]
ENTERPRISE_MODELS = [Enterprise, EnterpriseMember, DailyReport, StaffExport, NotReportedList]
APPROVAL_MODELS = [ApprovalRequest]
RULE_ADMIN_MODELS = [ColourRuleVersion, ColourSetting]
SIGN_IN_MODELS = [SignInFailure]
CORRECTION_MODELS = [ColourOverride, ColourAppeal, AppealImage]

# In dependency order: create_tables follows it, and tests empty tables in reverse.
MODELS: list[type[BaseModel]] = [Region, Account, AccountRole, AuthIdentity, AuthToken, Person, *ADMIN_MODELS,
                                 *COLOUR_ENGINE_MODELS, *PLACE_MODELS, *FIELDWORK_MODELS,
                                 *MESSAGING_MODELS, *ENTERPRISE_MODELS, *INVESTIGATION_MODELS, *STATISTICS_MODELS,
                                 *APPROVAL_MODELS, *CORRECTION_MODELS, *SIGN_IN_MODELS, *PARTNER_MODELS,
                                 *RULE_ADMIN_MODELS, *PRIVACY_MODELS, *OCCUPANCY_MODELS]


def create_tables(models: list[type[BaseModel]]) -> None:
    """Create these tables, and any table they reference, when missing.

    Migrations create tables from today's models, whose foreign keys may point at tables that a
    later migration introduces; creating the referenced ones first keeps every path working.
    """
    needed, pending = [], list(models)
    while pending:
        model = pending.pop()
        if model in needed:
            continue
        needed.append(model)
        pending.extend(f.rel_model for f in model._meta.fields.values()
                       if isinstance(f, peewee.ForeignKeyField) and f.rel_model is not model)
    db.create_tables([m for m in needed if not m.table_exists()])


def add_columns(migrator: SchemaMigrator, table: str, columns: dict[str, peewee.Field],
                unique_indexes: tuple[str, ...] = ()) -> None:
    """Add the columns a table lacks (and unique indexes on some of them).

    A migration that creates a table does it from today's model, which may already hold a column
    a later migration adds; checking first keeps every migration safe on both paths.
    """
    present = {c.name for c in db.get_columns(table)}
    indexed = {tuple(i.columns) for i in db.get_indexes(table)}
    run_operations(*[migrator.add_column(table, name, field) for name, field in columns.items()
                     if name not in present])
    run_operations(*[migrator.add_index(table, (name,), True) for name in unique_indexes
                     if (name,) not in indexed])


def _v2_colour_engine(migrator: SchemaMigrator) -> None:
    """The colour engine's tables, and the compound a person belongs to."""
    create_tables(COLOUR_ENGINE_MODELS)
    add_columns(migrator, "person", {
        "compound_id": peewee.ForeignKeyField(Region, null=True, field=Region.id, on_delete="SET NULL")})


def _v3_places(migrator: SchemaMigrator) -> None:
    """Places, codes, entry records, and the relationship of a family member."""
    create_tables(PLACE_MODELS)
    add_columns(migrator, "person", {"relationship": peewee.CharField(max_length=16, null=True)})


def _v4_fieldwork(migrator: SchemaMigrator) -> None:
    """Inspectors, grids, the operation log; place declaration codes; numbered release notices."""
    create_tables(FIELDWORK_MODELS)
    add_columns(migrator, "place", {"declaration_code": peewee.CharField(max_length=16, null=True)},
                unique_indexes=("declaration_code",))
    add_columns(migrator, "release_notice", {"number": peewee.CharField(max_length=32, null=True),
                                             "institution": peewee.CharField(max_length=128, null=True),
                                             "staff_name": peewee.CharField(max_length=64, null=True)},
                unique_indexes=("number",))
    add_columns(migrator, "account_role", {"detail": peewee.TextField(default="{}")})


def _v5_messaging(migrator: SchemaMigrator) -> None:
    """Text messages and verification codes."""
    create_tables(MESSAGING_MODELS)


def _v6_enterprise(migrator: SchemaMigrator) -> None:
    """Enterprise groups, daily reports, exports; passwords for phone accounts."""
    create_tables(ENTERPRISE_MODELS)
    add_columns(migrator, "auth_identity", {"password_hash": peewee.CharField(max_length=255, null=True)})


def _v7_back_office(migrator: SchemaMigrator) -> None:
    """Back-office accounts, sessions, captchas, compound bindings; back-office actors in the log.

    Compound bindings made by scans before this version are copied from person.compound_id.
    """
    create_tables(ADMIN_MODELS)
    add_columns(migrator, "operation_log", {
        "admin_actor_id": peewee.ForeignKeyField(AdminUser, null=True, field=AdminUser.id, on_delete="SET NULL")})
    bound = Person.select(Person.id, Person.compound, Person.created_at).where(Person.compound.is_null(False))
    CompoundResident.insert_from(bound, [CompoundResident.person, CompoundResident.compound,
                                         CompoundResident.bound_at]).on_conflict_ignore().execute()


def _v8_investigations(migrator: SchemaMigrator) -> None:
    """Investigation lists, imports and their histories."""
    create_tables(INVESTIGATION_MODELS)


def _v9_statistics(migrator: SchemaMigrator) -> None:
    """Hourly scan statistics."""
    create_tables(STATISTICS_MODELS)


def _v11_import_heartbeat(migrator: SchemaMigrator) -> None:
    """The import job's heartbeat (an import whose process died is shown as interrupted); the jobs
    already there count from their last known moment."""
    add_columns(migrator, "import_job", {"heartbeat_at": peewee.DateTimeField(null=True)})
    last_known = peewee.fn.COALESCE(ImportJob.finished_at, ImportJob.started_at, ImportJob.created_at)
    ImportJob.update(heartbeat_at=last_known).where(ImportJob.heartbeat_at.is_null()).execute()


def _v23_risk_areas_and_rules(migrator: SchemaMigrator) -> None:
    """Risk areas picked from the region tree (down to a street: 9-digit codes), who listed and
    ended each; the versions of each colour rule; colour settings kept in the database."""
    create_tables(RULE_ADMIN_MODELS)
    if is_mysql():  # SQLite does not hold a text column to its declared length
        run_operations(migrator.alter_column_type("risk_area", "code", peewee.CharField(max_length=12)),
                       migrator.alter_column_type("risk_area", "prefix", peewee.CharField(max_length=12)))
    add_columns(migrator, "risk_area", {
        "region_id": peewee.ForeignKeyField(Region, null=True, field=Region.id, on_delete="SET NULL"),
        "created_by_id": peewee.ForeignKeyField(AdminUser, null=True, field=AdminUser.id, on_delete="SET NULL"),
        "ended_by_id": peewee.ForeignKeyField(AdminUser, null=True, field=AdminUser.id, on_delete="SET NULL"),
        "ended_at": peewee.DateTimeField(null=True)})


INITIAL_VERSION = 1
def _v12_person_compound_index(migrator: SchemaMigrator) -> None:
    """person(compound_id, id_number_bidx): the "own compound has a case" rule joins cases to the
    people of their compound and needs only these two columns, so MariaDB answers it from the
    index without reading a million person rows (see bench/colour_recompute.py)."""
    wanted, name = ("compound_id", "id_number_bidx"), "person_compound_id_id_number_bidx"
    existing = {index.name: tuple(index.columns) for index in db.get_indexes("person")}
    if existing.get(name) == wanted:
        return
    # An index of that name on other columns: MySQL keeps an index whose column was dropped,
    # without that column.
    stale = [migrator.drop_index("person", name)] if name in existing else []
    run_operations(*stale, migrator.add_index("person", wanted, False))


def _v13_task_key_prefixes(migrator: SchemaMigrator) -> None:
    """MySQL: task_record's ID-number and phone blind indexes on their first KEY_PREFIX characters
    (models.investigations.KeyPrefix: half the size, so a large import stops waiting for index
    page reads). SQLite keeps whole-column indexes: nothing to do."""
    if not is_mysql():
        return
    for field in PREFIX_INDEXED:
        name = f"task_record_{field.column_name}"
        parts = [part for (part,) in db.execute_sql(
            "SELECT SUB_PART FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'task_record' AND INDEX_NAME = %s", (name,))]
        if parts == [KEY_PREFIX]:
            continue
        drop = f"DROP INDEX `{name}`, " if parts else ""
        db.execute_sql(f"ALTER TABLE `task_record` {drop}ADD INDEX `{name}` (`{field.column_name}`({KEY_PREFIX}))")


def _v15_entry_record_indexes(migrator: SchemaMigrator) -> None:
    """entry_record: (person_id, flow) for the scan's "scanned with this flow before" probe, which
    walked every entry of the person; the single-column place_id and person_id indexes go, since
    the composite indexes lead with those columns (two fewer B-trees for every scan's INSERT)."""
    existing = {index.name: tuple(index.columns) for index in db.get_indexes("entry_record")}
    wanted = "entry_record_person_id_flow"
    if existing.get(wanted) != ("person_id", "flow"):
        stale = [migrator.drop_index("entry_record", wanted)] if wanted in existing else []
        run_operations(*stale, migrator.add_index("entry_record", ("person_id", "flow"), False))
    # Dropped after the new one exists: MySQL's foreign keys need an index leading with their column.
    for name, columns in (("entry_record_place_id", ("place_id",)), ("entry_record_person_id", ("person_id",))):
        if existing.get(name) == columns:
            run_operations(migrator.drop_index("entry_record", name))


def _v20_risk_records(migrator: SchemaMigrator) -> None:
    """Risk records in from lists and partners: their provenance (risk_batch), the listed facts
    with no table of their own (risk_listing), and each listed fact's batch and region."""
    create_tables([RiskBatch, RiskListing])
    for table in ("close_contact", "case_report", "fever_medicine_purchase"):
        add_columns(migrator, table, {
            "batch_id": peewee.ForeignKeyField(RiskBatch, null=True, field=RiskBatch.id, on_delete="SET NULL"),
            "region_id": peewee.ForeignKeyField(Region, null=True, field=Region.id, on_delete="SET NULL")})


def _v24_corrections(migrator: SchemaMigrator) -> None:
    """Withdrawn list entries (kept, no longer read by the rules), manual colour overrides, and
    the citizens' appeals with their images."""
    for model in (CloseContact, CaseReport, FeverMedicinePurchase, RiskListing):
        add_columns(migrator, model._meta.table_name, {"withdrawn_at": peewee.DateTimeField(null=True)})
    create_tables(CORRECTION_MODELS)


def _v25_sign_in_failures(migrator: SchemaMigrator) -> None:
    """Sign-in failures counted in their own table (every process sees them); the admin's own
    counters, which only the back office had, go."""
    create_tables(SIGN_IN_MODELS)
    present = {c.name for c in db.get_columns("admin_user")}
    run_operations(*[migrator.drop_column("admin_user", name) for name in ("failed_logins", "sms_required_until")
                     if name in present])


def _v26_names_at_rest(migrator: SchemaMigrator) -> None:
    """Names and addresses encrypted at rest: a person's name and home address, the names on
    every list, a province entry's destination and a declaration's answers (they hold the
    residence); the person's name gets its blind index, filled on the way and indexed after."""
    add_columns(migrator, "person", {"name_bidx": peewee.CharField(max_length=32, null=True)})
    person_columns = {"name": "person_name", "address": "address", "building": "address_building",
                      "unit": "address_unit", "room": "address_room"}
    widen_to_text("person", dict.fromkeys(person_columns, True))
    encrypt_columns("person", person_columns, indexes={"name_bidx": ("name", name_index)})
    if ("name_bidx",) not in {tuple(i.columns) for i in db.get_indexes("person")}:
        run_operations(migrator.add_index("person", ("name_bidx",), False))
    for model in (CloseContact, CaseReport, FeverMedicinePurchase, RiskListing):
        widen_to_text(model._meta.table_name, {"name": True})
        encrypt_columns(model._meta.table_name, {"name": "person_name"})
    widen_to_text("province_entry", {"destination": False})
    encrypt_columns("province_entry", {"destination": "entry_destination"})
    encrypt_columns("declaration", {"answers": "declaration_answers"})


def _v19_entry_time_index(migrator: SchemaMigrator) -> None:
    """entry_record (created_at, place_id, colour): the statistics pages count the hour under way
    from the entries (the hourly table holds the hours before it), through this index alone."""
    if "entry_record_created_at_place_id_colour" not in {index.name for index in db.get_indexes("entry_record")}:
        run_operations(migrator.add_index("entry_record", ("created_at", "place_id", "colour"), False))


# SQLite: the colour rules' stamp (models.colour.RULE_STAMP_TABLE), renewed by triggers in the
# transaction of any change to a rule, whatever makes it (save_rule, an import, a hand-made UPDATE).
_RULE_STAMP_SQL = [
    f"CREATE TABLE IF NOT EXISTS {RULE_STAMP_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL)",
    f"INSERT OR IGNORE INTO {RULE_STAMP_TABLE} (id, stamp) VALUES (1, random())",
    *(f"CREATE TRIGGER IF NOT EXISTS colour_rule_{event.lower()}d AFTER {event} ON colour_rule "
      f"BEGIN UPDATE {RULE_STAMP_TABLE} SET stamp = random(); END" for event in ("INSERT", "UPDATE", "DELETE")),
]


def install_rule_stamp(migrator: SchemaMigrator | None = None) -> None:
    """SQLite: the colour rules' stamp and its triggers (see RULE_STAMP_TABLE); MySQL keeps a
    checksum of the rows (services.colours.colour_rules.rules_fingerprint). Safe to run twice."""
    if is_mysql():
        return
    for sql in _RULE_STAMP_SQL:
        db.execute_sql(sql)


def _v17_isolation_start(migrator: SchemaMigrator) -> None:
    """isolation_record.started_on: the first day of the current isolation (pending, then confirmed),
    from which the resident detail page lists abnormal movements."""
    add_columns(migrator, "isolation_record", {"started_on": peewee.DateField(null=True)})


def _v18_back_office_pages(migrator: SchemaMigrator) -> None:
    """Region aliases (the names lists write for a district), the grid admin's back-office
    account, the back-office author of a blank code batch, and the medical staff list."""
    create_tables([MedicalStaff])
    add_columns(migrator, "region", {"aliases": peewee.CharField(max_length=255, null=True)})
    add_columns(migrator, "grid", {"office_admin_id": peewee.ForeignKeyField(
        AdminUser, null=True, field=AdminUser.id, on_delete="SET NULL")})
    add_columns(migrator, "code_batch", {"created_by_admin_id": peewee.ForeignKeyField(
        AdminUser, null=True, field=AdminUser.id, on_delete="SET NULL")})


def _v27_screen_codes(migrator: SchemaMigrator) -> None:
    """N1: a place's door screens (their keys) and its "screen codes only" setting."""
    add_columns(migrator, "place", {"screen_only": peewee.BooleanField(default=False)})
    create_tables([ScreenDevice])


def _v30_live_occupancy(migrator: SchemaMigrator) -> None:
    """N8: a place's "counts occupancy" setting, its capacity and count, and who is inside."""
    add_columns(migrator, "place", {"counts_occupancy": peewee.BooleanField(default=False)})
    create_tables(OCCUPANCY_MODELS)


MIGRATIONS: list[Migration] = [
    Migration(2, "colour engine", _v2_colour_engine),
    Migration(3, "places and scans", _v3_places),
    Migration(4, "field roles", _v4_fieldwork),
    Migration(5, "messaging", _v5_messaging),
    Migration(6, "enterprise", _v6_enterprise),
    Migration(7, "back office", _v7_back_office),
    Migration(8, "investigations", _v8_investigations),
    Migration(9, "statistics", _v9_statistics),
    # Versions 8 and 9 were stamped on development databases before their tables were declared.
    Migration(10, "investigation and statistics tables",
              lambda migrator: create_tables([*INVESTIGATION_MODELS, *STATISTICS_MODELS])),
    Migration(11, "import heartbeat", _v11_import_heartbeat),
    Migration(12, "person compound index", _v12_person_compound_index),
    Migration(13, "task key prefixes", _v13_task_key_prefixes),
    Migration(14, "colour rule stamp", install_rule_stamp),
    Migration(15, "entry record indexes", _v15_entry_record_indexes),
    Migration(17, "isolation start", _v17_isolation_start),
    Migration(18, "back-office pages", _v18_back_office_pages),
    Migration(19, "entry time index", _v19_entry_time_index),
    Migration(20, "risk records", _v20_risk_records),
    Migration(21, "partner feed", lambda migrator: create_tables(PARTNER_MODELS)),
    Migration(22, "two-person approvals", lambda migrator: create_tables(APPROVAL_MODELS)),
    Migration(23, "risk areas by region, rule versions and colour settings", _v23_risk_areas_and_rules),
    Migration(24, "corrections and appeals", _v24_corrections),
    Migration(25, "sign-in failures", _v25_sign_in_failures),
    Migration(26, "names and addresses at rest", _v26_names_at_rest),
    Migration(27, "screen place codes", _v27_screen_codes),
    Migration(29, "family consent and access log", lambda migrator: create_tables(PRIVACY_MODELS)),
    # Numbered after 29, which development databases already took: a 28 would never run on them.
    Migration(30, "live occupancy", _v30_live_occupancy),
]


def latest_version(migrations: list[Migration] = MIGRATIONS) -> int:
    """The version a fully migrated database is at."""
    return max([INITIAL_VERSION] + [m.version for m in migrations])


def current_version() -> int | None:
    """The database's version, or None for a database with no schema yet."""
    if not SchemaVersion.table_exists():
        return None
    row = SchemaVersion.get_or_none(SchemaVersion.id == 1)
    return row.version if row else None


def _stamp(version: int) -> None:
    updated = SchemaVersion.update(version=version, updated_at=utcnow()).where(SchemaVersion.id == 1).execute()
    if not updated:
        SchemaVersion.create(id=1, version=version)


def migrate(migrations: list[Migration] = MIGRATIONS, models: list[type[BaseModel]] = MODELS) -> list[str]:
    """Bring the bound database to the latest version; return the names of what was applied.

    Safe to run at every start: a database already at the latest version is left alone.
    """
    version = current_version()
    if version is None:
        if any(m.table_exists() for m in models):
            raise RuntimeError("数据库中已有表但没有版本记录：请确认 DATABASE_URL 指向的是本系统的数据库")
        with db.atomic():
            db.create_tables([SchemaVersion, *models])
            install_rule_stamp()
            _stamp(latest_version(migrations))
        return ["create schema"]
    applied = []
    migrator = SchemaMigrator.from_database(db.obj)
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= version:
            continue
        # MySQL commits DDL implicitly; the stamp follows each step so a failure resumes there.
        with db.atomic():
            migration.apply(migrator)
            _stamp(migration.version)
        applied.append(migration.name)
    return applied
