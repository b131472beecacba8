"""A real MariaDB primary and replica (GTID replication, two throwaway mariadbd of the test's own)
behind the running back office: the accounts list is read from the replica (a name changed on the
replica alone shows there), sign-in and the detail page use the primary; a replica that lags past
READ_REPLICA_MAX_LAG, or whose replication stopped, is left for the primary; a replica killed with
SIGKILL leaves the list answering 200 from the primary, with a warning in the log.

Needs the MariaDB server binaries: skipped without `mariadbd`, unless REQUIRE_MYSQL is set."""

from __future__ import annotations

import io
import logging
import shutil
import time

import openpyxl
import pytest

from config import TestConfig
from models import db as database
from models import cipher, read_replica, schema
from services.common.regions import load_tree
from services.operations.demo import ZHENGZHOU
from tests.admin.conftest import CAPTCHA, AdminClient, create_admins
from tests.conftest import REQUIRE_MYSQL, TEST_CONFIG
from tests.fakes.server_thread import ServerThread

if shutil.which("mariadbd") is None and not REQUIRE_MYSQL:
    pytest.skip("mariadbd is not installed", allow_module_level=True)

from tests.fakes.throwaway_mariadb import ThrowawayMariaDB  # noqa: E402

NAME = "healthcode"
ON_REPLICA_ONLY = "只改在从库"
DEADLINES = database.Deadlines(connect=0.5, read=1.2, write=1.2, lock_wait=1, pool_wait=1)


def sql(server: ThrowawayMariaDB, statement: str, *params):
    """Run one statement on `server` (its own connection); the rows it answered."""
    with server.admin() as connection, connection.cursor() as cursor:
        cursor.execute(statement, params or None)
        return cursor.fetchall()


def slave_status(replica: ThrowawayMariaDB) -> dict:
    with replica.admin() as connection, connection.cursor() as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        return dict(zip([column[0] for column in cursor.description], cursor.fetchone()))


def caught_up(primary: ThrowawayMariaDB, replica: ThrowawayMariaDB) -> None:
    """Wait until the replica has applied everything the primary logged so far."""
    ((position,),) = sql(primary, "SELECT @@gtid_binlog_pos")
    ((waited,),) = sql(replica, "SELECT MASTER_GTID_WAIT(%s, 30)", position)
    assert waited == 0, slave_status(replica)


@pytest.fixture(scope="module")
def replicated():
    """A primary and its replica, the platform's schema on the primary (replicated), a server
    whose heavy reads go to the replica, and two admins."""
    primary = ThrowawayMariaDB("--log-bin=mysql-bin", "--server-id=1", "--gtid-strict-mode=1", "--binlog-format=ROW")
    replica = ThrowawayMariaDB("--server-id=2", "--read-only=1", "--gtid-strict-mode=1")
    server, bound = None, database.db.primary
    try:
        primary.start()
        replica.start()
        sql(replica, f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='root', "
                     "MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1")
        sql(replica, "START SLAVE")
        primary.create_database(NAME)
        cipher.configure(cipher.DataCipher.from_setting(TEST_CONFIG.data_key))
        database.db.initialize(database.open_database(primary.url(NAME)))
        schema.migrate()
        load_tree(ZHENGZHOU)
        admins = create_admins(("city", "13810000001", "city", "410100"),
                               ("jinshui", "13810000002", "district", "410105"))
        database.db.close()
        caught_up(primary, replica)
        read_replica.configure(replica.url(NAME), deadlines=DEADLINES, max_lag=2)
        # Named in the configuration too: an export is built in an export process, set up from it.
        config = TestConfig(database_url=primary.url(NAME), captcha_fixed_answer=CAPTCHA,
                            read_database_url=replica.url(NAME), read_replica_max_lag=2)
        from server import http_server_options, make_app

        server = ServerThread(make_app(config), **http_server_options(config)).start()
        yield primary, replica, server, admins
    finally:
        if server is not None:
            server.stop()
        read_replica.configure("")
        if database.db.primary is not bound:
            database.db.primary.close_all()
            database.db.initialize(bound)
        replica.stop()
        primary.stop()


@pytest.fixture
def city(replicated):
    _, _, server, admins = replicated
    _, phone, password = admins["city"]
    client = AdminClient(server.url)
    assert client.login(phone, password).status_code == 302
    return client


@pytest.fixture(autouse=True)
def lag_asked_each_time(monkeypatch):
    monkeypatch.setattr(read_replica, "LAG_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(read_replica, "WARN_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(read_replica, "COOL_DOWN_SECONDS", 0.0)


def test_the_list_comes_from_the_replica_and_sign_in_and_details_from_the_primary(replicated, city):
    primary, replica, _, admins = replicated
    jinshui = admins["jinshui"][0]
    # Sign-in wrote its session on the primary (and replication brought it to the replica).
    ((sessions,),) = sql(primary, f"SELECT COUNT(*) FROM {NAME}.admin_session")
    assert sessions == 1
    # A change made on the replica alone (root may write despite read_only; it is not replicated back).
    sql(replica, f"UPDATE {NAME}.admin_user SET name = %s WHERE id = %s", ON_REPLICA_ONLY, jinshui.id)
    listing = city.get("/admin/r/accounts/")
    assert listing.status_code == 200 and ON_REPLICA_ONLY in listing.text and "jinshui管理员" not in listing.text
    # The export reads the replica too; its audit line is written on the primary.
    exported = city.export("/admin/r/accounts/export")
    assert exported.status_code == 200, exported.text[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    assert ON_REPLICA_ONLY in [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    ((exports,),) = sql(primary, f"SELECT COUNT(*) FROM {NAME}.operation_log WHERE action = 'export'")
    assert exports == 1
    # The dashboard's statistics read the replica (a write there would be refused: a 500).
    assert city.get("/admin/dashboard").status_code == 200
    detail = city.get(f"/admin/r/accounts/{jinshui.id}")
    assert detail.status_code == 200 and "jinshui管理员" in detail.text and ON_REPLICA_ONLY not in detail.text


def test_a_replica_that_stopped_replicating_or_lags_is_left_for_the_primary(replicated, city, caplog):
    primary, replica, _, _ = replicated
    caplog.set_level(logging.WARNING, "healthcode.db")
    sql(replica, "STOP SLAVE")
    try:
        assert slave_status(replica)["Seconds_Behind_Master"] is None
        listing = city.get("/admin/r/accounts/")
        assert listing.status_code == 200 and "jinshui管理员" in listing.text and ON_REPLICA_ONLY not in listing.text
        assert "read replica not replicating" in caplog.text
        # Delayed replication: the replica stays behind what the primary wrote since.
        sql(replica, "CHANGE MASTER TO MASTER_DELAY = 60")
    finally:
        sql(replica, "START SLAVE")
    sql(primary, f"CREATE TABLE {NAME}.lag_probe (id INT PRIMARY KEY)")
    deadline = time.monotonic() + 20
    while (slave_status(replica)["Seconds_Behind_Master"] or 0) <= 3:
        assert time.monotonic() < deadline, slave_status(replica)
        time.sleep(0.3)
    caplog.clear()
    listing = city.get("/admin/r/accounts/")
    assert listing.status_code == 200 and "jinshui管理员" in listing.text and ON_REPLICA_ONLY not in listing.text
    assert "s behind" in caplog.text
    # Caught up again: back on the replica.
    sql(replica, "STOP SLAVE")
    sql(replica, "CHANGE MASTER TO MASTER_DELAY = 0")
    sql(replica, "START SLAVE")
    caught_up(primary, replica)
    assert ON_REPLICA_ONLY in city.get("/admin/r/accounts/").text


def test_a_killed_replica_leaves_the_pages_to_the_primary(replicated, city, caplog):
    primary, replica, _, _ = replicated
    caplog.set_level(logging.WARNING, "healthcode.db")
    assert ON_REPLICA_ONLY in city.get("/admin/r/accounts/").text  # a pooled replica connection is kept
    replica.kill()
    started = time.monotonic()
    listing = city.get("/admin/r/accounts/")
    assert listing.status_code == 200 and "jinshui管理员" in listing.text and ON_REPLICA_ONLY not in listing.text
    assert "read replica" in caplog.text and "reading from the primary" in caplog.text
    again = city.get("/admin/r/accounts/")
    assert again.status_code == 200 and "jinshui管理员" in again.text
    assert time.monotonic() - started < 2.5
    # Sign-in never needed the replica: a new session is written on the primary.
    ((before,),) = sql(primary, f"SELECT COUNT(*) FROM {NAME}.admin_session")
    _, _, server, admins = replicated
    assert AdminClient(server.url).login(*admins["city"][1:]).status_code == 302
    ((after,),) = sql(primary, f"SELECT COUNT(*) FROM {NAME}.admin_session")
    assert after == before + 1
