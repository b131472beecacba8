"""models.transactions: a deadlock's victim runs again, once it is the outermost transaction.

The deadlock is real: another connection holds the gap a new person's colour goes into, and
then asks for the temperature row the risk input has just written, while that input waits for
the gap. MariaDB rolls the smaller transaction back: the risk input's.
"""

import datetime as dt
import logging
import threading
import time
from urllib.parse import urlparse

import peewee
import pymysql
import pytest

from models import db as database
from models.colour import ColourHistory, HealthStatus
from models.risk_inputs import TemperatureRecord
from models.transactions import is_deadlock, run_transaction
from services import risk_inputs
from tests.conftest import make_person

HISTORY, STATUS, TEMPERATURES = (m._meta.table_name for m in (ColourHistory, HealthStatus, TemperatureRecord))


def _connect(url: str) -> pymysql.connections.Connection:
    parsed = urlparse(url)
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                           password=parsed.password or "", database=parsed.path.lstrip("/"), charset="utf8mb4")


class OtherParty(threading.Thread):
    """A transaction on its own connection that makes the next risk input for `subject` a
    deadlock's victim: it is made the larger (rows written), takes the gap of the subject's
    colour, waits until the risk input waits for that gap (inserting the new colour), then asks
    for the temperature row the input wrote before."""

    def __init__(self, url: str, subject: str) -> None:
        super().__init__(daemon=True)
        self.url, self.subject = url, subject
        self.holding = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        connection, watcher = _connect(self.url), _connect(self.url)
        watcher.autocommit(True)
        try:
            with connection.cursor() as cur:
                cur.executemany(f"INSERT INTO {HISTORY} (subject, from_colour, to_colour, reasons, why, changed_at)"
                                " VALUES (%s, 'green', 'yellow', '[]', 'weight', NOW())",
                                [(f"weight-{i}",) for i in range(50)])
                cur.execute(f"SELECT id FROM {STATUS} WHERE subject = %s FOR UPDATE", (self.subject,))
                self.holding.set()
                self._wait_for_the_colour_insert(watcher)
                cur.execute(f"SELECT id FROM {TEMPERATURES} WHERE subject = %s FOR UPDATE", (self.subject,))
            connection.rollback()
        except BaseException as exc:  # told to the test, which would otherwise wait on a silent thread
            self.error = exc
            self.holding.set()
        finally:
            connection.close()
            watcher.close()

    @staticmethod
    def _wait_for_the_colour_insert(watcher) -> None:
        # The process list is live (innodb_trx is a copy the server refreshes now and then).
        deadline = time.monotonic() + 10
        with watcher.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT COUNT(*) FROM information_schema.processlist"
                            " WHERE db = DATABASE() AND command = 'Query' AND info LIKE %s",
                            (f"INSERT INTO `{STATUS}`%",))
                if cur.fetchone()[0]:
                    return
                time.sleep(0.01)
        raise TimeoutError("the risk input never waited for the other transaction")


def _deadlocked(backend, subject: str) -> OtherParty:
    other = OtherParty(backend[1], subject)
    other.start()
    assert other.holding.wait(10)
    assert other.error is None, other.error
    return other


def test_a_risk_input_chosen_as_a_deadlocks_victim_runs_again_and_is_stored_once(db, backend, caplog):
    if backend[0] != "mysql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    caplog.set_level(logging.WARNING, "healthcode.transactions")
    person = make_person(1)
    other = _deadlocked(backend, person.id_number_bidx)
    risk_inputs.record_temperature(person, 38.5)
    other.join(10)
    assert other.error is None, other.error
    assert "deadlock victim, transaction run again (attempt 2 of 3)" in caplog.text
    assert TemperatureRecord.select().where(TemperatureRecord.subject == person.id_number_bidx).count() == 1
    assert HealthStatus.get(HealthStatus.subject == person.id_number_bidx).colour != "green"
    changes = ColourHistory.select().where(ColourHistory.subject == person.id_number_bidx)
    assert [c.why for c in changes] == ["temperature_recorded"]


def test_inside_another_transaction_the_deadlock_goes_to_the_outermost(db, backend, caplog):
    """Only the outermost transaction can start again: what ran before the inner one in it was
    rolled back too, so the error is raised, and nothing is kept."""
    if backend[0] != "mysql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    caplog.set_level(logging.WARNING, "healthcode.transactions")
    person = make_person(1)
    other = _deadlocked(backend, person.id_number_bidx)
    with pytest.raises(peewee.OperationalError) as raised:
        with database.db.atomic():
            risk_inputs.record_temperature(person, 38.5)
    other.join(10)
    assert other.error is None, other.error
    assert is_deadlock(raised.value) and "run again" not in caplog.text
    assert TemperatureRecord.select().count() == 0 and HealthStatus.select().count() == 0


def test_other_errors_are_not_run_again(db):
    calls = []

    def write():
        calls.append(1)
        TemperatureRecord.create(subject="s", value=36.5, event_date=dt.date(2026, 11, 1))
        TemperatureRecord.create(id=TemperatureRecord.select(peewee.fn.MAX(TemperatureRecord.id)).scalar(),
                                 subject="s", value=36.6, event_date=dt.date(2026, 11, 1))  # the same key again

    with pytest.raises(peewee.IntegrityError):
        run_transaction(write)
    assert len(calls) == 1 and TemperatureRecord.select().count() == 0
