"""The data layer on both databases: settings, reconnects, migrations, regions, demo data."""

import datetime as dt
import re


import peewee
import pytest
from playhouse.migrate import SchemaMigrator, migrate as run_ops

from models import db as database
from models import schema
from models.fields import utcnow
from models.regions import Region
from services.common.errors import ApiError
from services.common.regions import add_region
from services.operations import demo
from tests.conftest import MYSQL_TEST_URL, _mysql_admin


def test_sqlite_runs_in_wal_mode(db, backend):
    if backend[0] != "sqlite":
        pytest.skip("SQLite only")
    assert database.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_mysql_session_is_utf8mb4_and_utc(db, backend):
    if backend[0] != "mysql":
        pytest.skip("MariaDB only")
    charset, zone = database.db.execute_sql("SELECT @@character_set_connection, @@session.time_zone").fetchone()
    assert charset == "utf8mb4" and zone == "+00:00"
    Region.create(code="1", name="𠀀区😷", level="province", path="/1/")  # 4-byte characters survive
    assert Region.get(Region.code == "1").name == "𠀀区😷"


def test_times_round_trip_as_utc(db):
    now = utcnow().replace(microsecond=0)
    add_region("410000", "河南省", "province")
    from models.accounts import Account

    account = Account.create(created_at=now)
    assert Account.get_by_id(account.id).created_at.replace(microsecond=0) == now


def test_a_dropped_mysql_connection_is_reestablished(db, backend, api):
    if backend[0] != "mysql":
        pytest.skip("MariaDB only")
    assert api.get("/healthz").status_code == 200
    name = backend[1].rsplit("/", 1)[1]
    admin = _mysql_admin(MYSQL_TEST_URL)
    with admin.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", (name,))
        for (conn_id,) in cur.fetchall():
            cur.execute(f"KILL {int(conn_id)}")
    admin.close()
    # Both the server's pooled connections and this thread's were killed: both recover.
    assert api.get("/healthz").status_code == 200
    api.dev_login()
    assert api.ok("getProfile")["complete"] is False
    assert database.db.execute_sql("SELECT 1").fetchone()[0] == 1


def test_a_loop_keeps_its_connection_between_requests_and_closes_it_when_idle(db, monkeypatch):
    """Opening a connection costs more than most requests: an event loop's thread keeps it
    while requests come, and closes it once none has come for IDLE_CLOSE_SECONDS; a thread
    without a loop closes it when its last request ends."""
    import asyncio

    connections = database.RequestConnections()
    monkeypatch.setattr(connections, "IDLE_CLOSE_SECONDS", 0.05)
    database.db.close()

    async def requests_then_idle():
        seen = []
        for _ in range(3):
            connections.opened()
            seen.append(id(database.db.connection()))
            connections.closed()
            await asyncio.sleep(0.01)
        assert not database.db.is_closed() and len(set(seen)) == 1  # one connection, kept
        await asyncio.sleep(0.2)
        return database.db.is_closed()

    assert asyncio.run(requests_then_idle()) is True
    connections.opened()
    connections.closed()
    assert database.db.is_closed()


def test_a_pool_thread_keeps_its_connection_between_calls_and_checks_it_out_again_after_idling(db, monkeypatch):
    """On MySQL the DB pool's threads keep their connection (a check-out pings the server, and a
    frozen server's ping would eat the request's deadline); one idle for IDLE_CLOSE_SECONDS is
    checked out afresh on the next call."""
    import threading
    import time

    connections = database.RequestConnections()
    monkeypatch.setattr(connections, "IDLE_CLOSE_SECONDS", 0.05)
    seen = []

    def calls():
        connections.keeps_connections()
        for pause in (0, 0, 0.1):
            time.sleep(pause)
            connections.opened()
            seen.append(id(database.db.connection()))
            connections.closed()
            seen.append(database.db.is_closed())
        database.db.close()

    thread = threading.Thread(target=calls)
    thread.start()
    thread.join()
    if not database.is_mysql():  # SQLite's are closed after each call (RequestConnections' docstring)
        assert seen[1::2] == [True, True, True]
        return
    first, kept, second, kept_too, _, kept_still = seen
    assert first == second and kept is kept_too is kept_still is False


def test_an_update_counts_matched_rows_even_when_nothing_changes(db):
    add_region("410000", "河南省", "province")
    assert Region.update(name="河南省").where(Region.code == "410000").execute() == 1


def test_migrate_is_idempotent(db):
    assert schema.migrate() == []
    assert schema.current_version() == schema.latest_version()


def test_a_migration_adds_a_column_to_a_live_database(db):
    add_region("410000", "河南省", "province")
    migrator_ops = []

    def add_note(migrator):
        migrator_ops.append(migrator)
        run_ops(migrator.add_column("region", "note", peewee.CharField(null=True, max_length=50)))

    try:
        step = schema.Migration(schema.latest_version() + 1, "region note", add_note)
        assert schema.migrate([*schema.MIGRATIONS, step]) == ["region note"]
        assert schema.current_version() == step.version
        columns = [c.name for c in database.db.get_columns("region")]
        assert "note" in columns
        assert Region.get(Region.code == "410000").name == "河南省"  # the data is still there
        assert schema.migrate([*schema.MIGRATIONS, step]) == []  # and runs once only
    finally:
        run_ops(migrator_ops[0].drop_column("region", "note"))
        schema._stamp(schema.latest_version())


def test_a_foreign_database_is_refused(db):
    schema.SchemaVersion.delete().execute()
    try:
        with pytest.raises(RuntimeError):
            schema.migrate()
    finally:
        schema._stamp(schema.latest_version())


def test_region_tree_paths_and_scope_queries(db):
    demo.load()
    jinshui = Region.get(Region.code == "410105")
    below = {r.level for r in jinshui.descendants()}
    assert below == {"street", "community", "compound"}
    compound = Region.get(Region.code == "410105001001001")
    assert [r.name for r in compound.ancestors()] == ["河南省", "郑州市", "金水区", "经八路街道", "黄河路社区"]
    assert compound.full_name() == "河南省郑州市金水区经八路街道黄河路社区经八路5号院"
    assert compound.latitude and compound.address.startswith("郑州市金水区")


def test_demo_data_loads_twice_without_duplicates(db):
    first = demo.load()
    count = Region.select().count()
    assert first["partner"]["secret"]  # the demo partner's secret: shown by the load that made it, never again
    assert demo.load() == {**first, "partner": {**first["partner"], "secret": None}}
    assert Region.select().count() == count
    assert Region.select().where(Region.level == "district").count() >= 6
    assert Region.select().where(Region.level == "compound").count() >= 5


def test_a_region_cannot_skip_a_level(db):
    province = add_region("410000", "河南省", "province")
    with pytest.raises(ApiError) as error:
        add_region("410105", "金水区", "district", province)
    assert error.value.code == "invalid_region_parent"
    assert Region.select().count() == 1


def _sqlite_drop_fk_column(table: str, column: str) -> None:
    """SQLite cannot drop a column that a foreign key names: rebuild the table without it, as
    SQLite's documentation describes (foreign keys off, copy, drop, rename, re-index)."""
    create = database.db.execute_sql("SELECT sql FROM sqlite_master WHERE type='table' AND name=?",
                                     (table,)).fetchone()[0]
    indexes = [sql for (name, sql) in database.db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,))
        if f'"{column}"' not in sql]
    create = re.sub(rf', "{column}" [A-Z]+', "", create)
    create = re.sub(rf', FOREIGN KEY \("{column}"\) REFERENCES "\w+" \("\w+"\)( ON DELETE [A-Z ]+?)?(?=,|\)$)', "",
                    create)
    columns = ", ".join(f'"{c.name}"' for c in database.db.get_columns(table) if c.name != column)
    database.db.execute_sql("PRAGMA foreign_keys = OFF")
    with database.db.atomic():
        database.db.execute_sql(create.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "{table}_old_shape"'))
        database.db.execute_sql(f'INSERT INTO "{table}_old_shape" ({columns}) SELECT {columns} FROM "{table}"')
        database.db.execute_sql(f'DROP TABLE "{table}"')
        database.db.execute_sql(f'ALTER TABLE "{table}_old_shape" RENAME TO "{table}"')
        for sql in indexes:
            database.db.execute_sql(sql)
    database.db.execute_sql("PRAGMA foreign_keys = ON")


def test_a_version_1_database_upgrades_to_the_latest(db):
    """The real upgrade path: a database as version 1 left it gets migration 2 and keeps its data."""
    from models.people import Person
    from tests.conftest import make_person

    make_person(1, name="老用户")
    later_tables = [*schema.OCCUPANCY_MODELS, *schema.PRIVACY_MODELS, *schema.RULE_ADMIN_MODELS,
                    *schema.PARTNER_MODELS, *schema.SIGN_IN_MODELS, *schema.CORRECTION_MODELS, *schema.APPROVAL_MODELS,
                    *schema.STATISTICS_MODELS, *schema.INVESTIGATION_MODELS, *schema.ENTERPRISE_MODELS,
                    *schema.ADMIN_MODELS, *schema.MESSAGING_MODELS, *schema.FIELDWORK_MODELS, *schema.PLACE_MODELS,
                    *schema.COLOUR_ENGINE_MODELS]
    database.db.drop_tables(later_tables)
    migrator = SchemaMigrator.from_database(database.db.obj)
    run_ops(migrator.drop_column("person", "relationship"), migrator.drop_column("account_role", "detail"),
            migrator.drop_column("auth_identity", "password_hash"))
    assert "detail" not in [c.name for c in database.db.get_columns("account_role")]
    if database.is_mysql():
        run_ops(migrator.drop_column("person", "compound_id"))
    else:
        _sqlite_drop_fk_column("person", "compound_id")
    schema._stamp(1)
    assert "compound_id" not in [c.name for c in database.db.get_columns("person")]

    assert schema.migrate() == ["colour engine", "places and scans", "field roles", "messaging", "enterprise",
                                "back office", "investigations", "statistics",
                                "investigation and statistics tables", "import heartbeat",
                                "person compound index", "task key prefixes", "colour rule stamp",
                                "entry record indexes", "isolation start", "back-office pages", "entry time index",
                                "risk records", "partner feed", "two-person approvals",
                                "risk areas by region, rule versions and colour settings", "corrections and appeals",
                                "sign-in failures", "names and addresses at rest", "screen place codes",
                                "family consent and access log", "live occupancy"]
    assert schema.current_version() == 30
    from services.colours import colour_rules  # the rules' stamp (SQLite) came back with the table

    colour_rules.install_defaults()
    fingerprint = colour_rules.rules_fingerprint()
    before = database.db.execute_sql(*fingerprint.sql()).fetchone()[0]
    database.db.execute_sql("UPDATE colour_rule SET position = position + 1")
    assert database.db.execute_sql(*fingerprint.sql()).fetchone()[0] != before
    assert ("compound_id", "id_number_bidx") in {tuple(i.columns) for i in database.db.get_indexes("person")}
    assert all(model.table_exists() for model in later_tables)
    assert Person.get().name == "老用户" and Person.get().compound is None
    assert "detail" in [c.name for c in database.db.get_columns("account_role")]


def up_to(version: int) -> list:
    """The migrations up to `version`: a test of one migration leaves the later ones to theirs."""
    return [m for m in schema.MIGRATIONS if m.version <= version]


LISTED_TABLES = ("close_contact", "case_report", "fever_medicine_purchase", "risk_listing")


def test_version_22_gets_withdrawals_overrides_and_appeals(db):
    """Migration 24 on a database as version 22 left it: the list tables get `withdrawn_at` (their
    rows kept, none withdrawn), the override and appeal tables are created; run again, nothing."""
    from models.risk_inputs import CloseContact
    from services.risk_data import risk_inputs
    from tests.conftest import make_id_number

    risk_inputs.add_close_contacts([{"name": "老名单", "id_number": make_id_number(3)}], source="旧名单")
    database.db.drop_tables(schema.CORRECTION_MODELS)
    migrator = SchemaMigrator.from_database(database.db.obj)
    for table in LISTED_TABLES:
        run_ops(migrator.drop_column(table, "withdrawn_at"))
    schema._stamp(22)
    assert schema.migrate(up_to(24)) == ["risk areas by region, rule versions and colour settings",
                                         "corrections and appeals"]
    assert schema.migrate(up_to(24)) == [] and schema.current_version() == 24
    for table in LISTED_TABLES:
        assert "withdrawn_at" in [c.name for c in database.db.get_columns(table)]
    assert all(model.table_exists() for model in schema.CORRECTION_MODELS)
    assert CloseContact.get().withdrawn_at is None and CloseContact.get().source == "旧名单"


def _entry_record_indexes() -> set:
    return {tuple(index.columns) for index in database.db.get_indexes("entry_record")}


def test_version_14_entry_record_indexes_upgrade(db):
    """Migration 15 on a database as version 14 left it: (person_id, flow) added, the single-column
    place_id and person_id indexes dropped, the rows kept; run again, it changes nothing."""
    from models.places import EntryRecord
    from services.venues import places
    from tests.conftest import make_person

    person, (place, _) = make_person(1), places.create_place(place_type_code="metro", name="紫荆山站")
    EntryRecord.create(request_id="req-before-15", place=place, person=person, flow="resident", source="self",
                       colour="green", admitted=True, verdict="{}")
    migrator = SchemaMigrator.from_database(database.db.obj)
    # Version 14's indexes: the single-column ones first, so MySQL's foreign keys always have one.
    run_ops(migrator.add_index("entry_record", ("place_id",), False),
            migrator.add_index("entry_record", ("person_id",), False),
            migrator.drop_index("entry_record", "entry_record_person_id_flow"))
    schema._stamp(14)
    assert ("person_id", "flow") not in _entry_record_indexes() and ("place_id",) in _entry_record_indexes()

    assert schema.migrate(up_to(15)) == ["entry record indexes"]
    indexes = _entry_record_indexes()
    assert ("person_id", "flow") in indexes
    assert ("place_id",) not in indexes and ("person_id",) not in indexes
    assert {("place_id", "created_at"), ("person_id", "created_at"), ("request_id",)} <= indexes
    assert EntryRecord.get(EntryRecord.request_id == "req-before-15").person_id == person.id

    schema._stamp(14)
    assert schema.migrate(up_to(15)) == ["entry record indexes"]
    assert _entry_record_indexes() == indexes


def test_version_15_isolation_records_get_their_start_day(db):
    """Migration 17 on a database as version 15 left it: isolation_record.started_on added (empty:
    the detail page then counts from the status's own day), the rows kept; run again, no change."""
    from models.risk_inputs import IsolationRecord

    IsolationRecord.create(subject="s" * 32, status="confirmed", event_date="2026-01-02")
    run_ops(SchemaMigrator.from_database(database.db.obj).drop_column("isolation_record", "started_on"))
    schema._stamp(15)
    assert schema.migrate(up_to(17)) == ["isolation start"]
    record = IsolationRecord.get()
    assert (record.status, str(record.event_date), record.started_on) == ("confirmed", "2026-01-02", None)
    schema._stamp(15)
    assert schema.migrate(up_to(17)) == ["isolation start"] and IsolationRecord.select().count() == 1


def test_version_15_risk_records_upgrade(db):
    """Migration 20 on a database as version 15 left it: risk_batch and risk_listing created, the
    listed facts get batch_id and region_id, their rows kept; run again, it changes nothing."""
    from models.risk_inputs import CloseContact, RiskBatch, RiskListing
    from services.risk_data import risk_inputs
    from tests.conftest import make_id_number

    risk_inputs.add_close_contacts([{"name": "老密接", "id_number": make_id_number(1)}])
    migrator = SchemaMigrator.from_database(database.db.obj)
    for table in ("close_contact", "case_report", "fever_medicine_purchase"):
        for column in ("batch_id", "region_id"):
            if database.is_mysql():
                run_ops(migrator.drop_column(table, column))
            else:
                _sqlite_drop_fk_column(table, column)
    database.db.drop_tables([RiskListing, RiskBatch])
    schema._stamp(15)
    assert "batch_id" not in [c.name for c in database.db.get_columns("close_contact")]

    assert schema.migrate(up_to(20)) == ["isolation start", "back-office pages", "entry time index", "risk records"]
    for table in ("close_contact", "case_report", "fever_medicine_purchase"):
        assert {"batch_id", "region_id"} <= {c.name for c in database.db.get_columns(table)}
    assert RiskBatch.table_exists() and RiskListing.table_exists()
    assert CloseContact.get().name == "老密接" and CloseContact.get().batch_id is None
    schema._stamp(15)
    assert schema.migrate(up_to(20)) == ["isolation start", "back-office pages", "entry time index", "risk records"]


def test_version_19_adds_the_entry_time_index_once(db):
    """Migration 19: entry_record (created_at, place_id, colour), which the statistics' live count
    of the hour under way reads; run again, it changes nothing."""
    migrator = SchemaMigrator.from_database(database.db.obj)
    run_ops(migrator.drop_index("entry_record", "entry_record_created_at_place_id_colour"))
    schema._stamp(18)
    assert ("created_at", "place_id", "colour") not in _entry_record_indexes()
    assert schema.migrate(up_to(19)) == ["entry time index"]
    assert ("created_at", "place_id", "colour") in _entry_record_indexes()
    schema._stamp(18)
    assert schema.migrate(up_to(19)) == ["entry time index"] and schema.current_version() == 19


def test_version_22_risk_areas_upgrade(db):
    """Migration 23 on a database as version 22 left it: the risk areas kept, their code wide
    enough for a street, who listed and ended each; the rule versions and settings tables."""
    from models.risk_inputs import RiskArea
    from models.rule_versions import ColourRuleVersion, ColourSetting

    database.db.drop_tables(schema.RULE_ADMIN_MODELS)
    new_columns = ("region_id", "created_by_id", "ended_by_id", "ended_at")
    if database.is_mysql():
        run_ops(*[SchemaMigrator.from_database(database.db.obj).drop_column("risk_area", c) for c in new_columns])
        database.db.execute_sql("ALTER TABLE risk_area MODIFY code VARCHAR(6) NOT NULL, "
                                "MODIFY prefix VARCHAR(6) NOT NULL")
    else:
        for column in new_columns:
            _sqlite_drop_fk_column("risk_area", column)
    database.db.execute_sql("INSERT INTO risk_area (code, name, area_level, prefix, risk, effective_from, created_at) "
                            "VALUES ('420000', '湖北省', 'province', '42', 'key', '2020-01-01', '2020-01-01 00:00:00')")
    schema._stamp(22)
    assert schema.migrate(up_to(23)) == ["risk areas by region, rule versions and colour settings"]
    assert set(new_columns) <= {c.name for c in database.db.get_columns("risk_area")}
    assert RiskArea.get().name == "湖北省" and RiskArea.get().ended_at is None
    RiskArea.create(code="410105001", name="经八路街道", area_level="street", prefix="410105001", risk="high",
                    effective_from="2026-01-01")
    assert ColourRuleVersion.table_exists() and ColourSetting.table_exists()
    assert schema.migrate(up_to(23)) == []


def test_version_25_names_and_addresses_get_encrypted_in_batches(db, monkeypatch):
    """Migration 26 on rows written in plain text (as version 25 left them), a few rows per batch:
    names, addresses, list names and declaration answers become ciphertext, the name gets its
    blind index (and the column its index), the models read the same values back; run again, the
    values are not encrypted twice."""
    from models.column_encryption import BATCH_ROWS
    from models.declarations import Declaration
    from models.people import Person
    from models.risk_inputs import CloseContact
    from tests.conftest import make_person

    monkeypatch.setattr("models.column_encryption.BATCH_ROWS", 2)
    assert BATCH_ROWS > 2
    people = [make_person(n, name=f"老用户{n}") for n in range(1, 6)]
    Declaration.create(person=people[0], subject=people[0].subject, kind="personal", health_status="healthy",
                       answers='{"residence": "经八路5号"}', event_date=dt.date(2026, 1, 1))
    CloseContact.create(subject=people[1].subject, event_date=dt.date(2026, 1, 1), name="李密接")
    plain = {"person": peewee.Table("person", ("id", "name", "name_bidx", "address", "room")).bind(database.db),
             "close_contact": peewee.Table("close_contact", ("id", "name")).bind(database.db),
             "declaration": peewee.Table("declaration", ("id", "answers")).bind(database.db)}
    for person in people:
        plain["person"].update({plain["person"].name: person.name,
                                plain["person"].name_bidx: None, plain["person"].address: "经八路5号",
                                plain["person"].room: "501"}).where(plain["person"].id == person.id).execute()
    plain["close_contact"].update({plain["close_contact"].name: "李密接"}).execute()
    plain["declaration"].update({plain["declaration"].answers: '{"residence": "经八路5号"}'}).execute()
    migrator = SchemaMigrator.from_database(database.db.obj)
    run_ops(migrator.drop_index("person", "person_name_bidx"))
    if database.is_mysql():
        database.db.execute_sql("ALTER TABLE `person` MODIFY `name` VARCHAR(64) NULL")
    schema._stamp(25)

    assert schema.migrate(up_to(26)) == ["names and addresses at rest"]
    stored = list(plain["person"].select(plain["person"].name, plain["person"].address, plain["person"].room).tuples())
    stored += list(plain["close_contact"].select(plain["close_contact"].name).tuples())
    stored += list(plain["declaration"].select(plain["declaration"].answers).tuples())
    assert not any("老用户" in v or "经八路" in v or "李密接" in v or v == "501" for row in stored for v in row)
    assert ("name_bidx",) in {tuple(i.columns) for i in database.db.get_indexes("person")}
    assert Person.get(Person.name_is("老用户3")).address == "经八路5号"
    assert CloseContact.get().name == "李密接" and "经八路" in Declaration.get().answers
    schema._stamp(25)
    assert schema.migrate(up_to(26)) == ["names and addresses at rest"]  # again: nothing encrypted twice
    assert [p.name for p in Person.select().order_by(Person.id)] == [f"老用户{n}" for n in range(1, 6)]


def test_a_person_saved_without_its_name_loaded_keeps_the_name_index(db):
    """Person.save refreshes the name's blind index from the name, but only when the name was read."""
    from models.people import Person
    from tests.conftest import make_person

    person = make_person(7, name="周到")
    partial = Person.select(Person.id, Person.gender).where(Person.id == person.id).get()
    partial.gender = "female"
    partial.save()
    assert Person.get(Person.name_is(" 周到 ")).gender == "female"
    renamed = Person.get_by_id(person.id)
    renamed.name = "周全"
    renamed.save()
    assert Person.select().where(Person.name_is("周到")).count() == 0 and Person.get(Person.name_is("周全"))


def test_version_26_gets_screen_devices_and_the_screen_only_setting(db):
    """Migration 27 on a database as version 26 left it: places get `screen_only` (off: their
    printed codes keep working), the screen device table is created; run again, nothing."""
    from models.places import Place, ScreenDevice
    from services.venues import places

    place, _ = places.create_place(place_type_code="supermarket", name="老超市")
    database.db.drop_tables([ScreenDevice])
    run_ops(SchemaMigrator.from_database(database.db.obj).drop_column("place", "screen_only"))
    schema._stamp(26)
    assert schema.migrate(up_to(27)) == ["screen place codes"]
    assert schema.migrate(up_to(27)) == [] and schema.current_version() == 27
    assert ScreenDevice.table_exists() and Place.get_by_id(place.id).screen_only is False


def test_version_29_gets_live_occupancy(db):
    """Migration 30 on a database as version 29 left it: places get `counts_occupancy` (off: no
    place starts counting), the capacity / count and presence tables are created; run again,
    nothing."""
    from models.occupancy import PlaceOccupancy, Presence
    from models.places import Place
    from services.venues import places

    place, _ = places.create_place(place_type_code="supermarket", name="老超市")
    database.db.drop_tables([Presence, PlaceOccupancy])
    run_ops(SchemaMigrator.from_database(database.db.obj).drop_column("place", "counts_occupancy"))
    schema._stamp(29)
    assert "counts_occupancy" not in [c.name for c in database.db.get_columns("place")]
    assert schema.migrate(up_to(30)) == ["live occupancy"]
    assert schema.migrate(up_to(30)) == [] and schema.current_version() == 30
    assert PlaceOccupancy.table_exists() and Presence.table_exists()
    assert Place.get_by_id(place.id).counts_occupancy is False
    assert ("place_id", "person_id") in {tuple(i.columns) for i in database.db.get_indexes("presence")}
