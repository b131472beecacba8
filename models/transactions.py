"""A transaction that MySQL chose as a deadlock's victim, run again.

The colour engine locks people's stored colours (`services.colours.colour._write_changes`): the hourly
recompute a chunk of thousands at a time, a risk input (a temperature, a travel, a case) the few
people it concerns, inside the transaction that stores the input. Under REPEATABLE READ a
locking read of a person with no stored colour yet locks the gap the new row goes into, so two
such transactions can each wait for the other. InnoDB then rolls one of them back whole, the
smaller as a rule, and says so with error 1213: the risk input a user just sent.

Nothing of the victim was kept, so `run_transaction` runs it again, at most ATTEMPTS times in
all. Only the outermost transaction can: inside another one, the error goes on to it. SQLite
has one writer at a time and no deadlocks (BEGIN IMMEDIATE takes its lock up-front).
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import peewee

from models.db import db, is_mysql

log = logging.getLogger("healthcode.transactions")

DEADLOCK = 1213  # ER_LOCK_DEADLOCK: the whole transaction was rolled back
ATTEMPTS = 3
T = TypeVar("T")


def is_deadlock(exc: BaseException | None) -> bool:
    """True for MySQL's deadlock error, as peewee raises it (the driver's error, then its code),
    also when it struck inside a savepoint (a nested `db.atomic()`): the server had rolled the
    whole transaction back, so rolling back to the savepoint fails ("SAVEPOINT ... does not
    exist"), and that error, with the deadlock as its context, is the one that comes out."""
    while exc is not None:
        if isinstance(exc, peewee.OperationalError) and DEADLOCK in exc.args[:3]:
            return True
        exc = exc.__context__
    return False


def run_transaction(write: Callable[[], T]) -> T:
    """`write()` in one transaction (`db.atomic()`), and what it returns. On MySQL, when this is
    the outermost transaction and the server rolled it back as a deadlock's victim, `write` runs
    again in a new one (see the module docstring); its other errors, and a deadlock inside another
    transaction, are raised as they come."""
    attempts = ATTEMPTS if is_mysql() and not db.in_transaction() else 1
    attempt = 1
    while True:
        try:
            with db.atomic():
                return write()
        except peewee.OperationalError as exc:
            if attempt == attempts or not is_deadlock(exc):
                raise
        attempt += 1
        log.warning("deadlock victim, transaction run again (attempt %d of %d)", attempt, attempts)
