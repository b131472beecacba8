"""models.transactions: a deadlock's victim runs again, once it is the outermost transaction.
The deadlock is real (tests/deadlocks.py)."""

import datetime as dt
import logging

import peewee
import pytest

from models import db as database
from models.colour import ColourHistory, HealthStatus
from models.risk_inputs import TemperatureRecord
from models.transactions import is_deadlock, run_transaction
from services.risk_data import risk_inputs
from tests.conftest import make_person
from tests.deadlocks import deadlocked


def test_a_risk_input_chosen_as_a_deadlocks_victim_runs_again_and_is_stored_once(db, backend, caplog):
    if backend[0] != "mysql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    caplog.set_level(logging.WARNING, "healthcode.transactions")
    person = make_person(1)
    other = deadlocked(backend, person.id_number_bidx)
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
    other = deadlocked(backend, person.id_number_bidx)
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
