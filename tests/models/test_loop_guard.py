"""models/loop_guard.py: a MySQL statement on a serving event loop is recorded (the tests fail on
it, tests/conftest.py), and within `no_queries` refused before it is sent."""

from __future__ import annotations

import asyncio

import pytest

from models import db as database
from models import loop_guard
from models.regions import Region
from services.common.regions import add_region


def test_no_queries_refuses_a_mysql_statement_before_it_is_sent(db):
    if not database.is_mysql():
        with loop_guard.no_queries():  # SQLite's scan queries on the loop by design: not checked
            add_region("410000", "河南省", "province")
        assert Region.select().count() == 1
        return
    with pytest.raises(loop_guard.QueryNeeded):
        with loop_guard.no_queries():
            try:
                add_region("410000", "河南省", "province")
            except Exception:  # a fallback on the way does not take the refusal for a failure
                pytest.fail("QueryNeeded was caught as an Exception")
    assert Region.select().count() == 0  # nothing was sent
    add_region("410000", "河南省", "province")  # outside the block, statements run again
    assert Region.select().count() == 1


def test_a_statement_on_a_serving_loop_is_recorded_with_its_kind(db):
    async def serve():
        loop_guard.serving_here()
        Region.select().count()

    asyncio.run(serve())
    found = loop_guard.forget()
    if database.is_mysql():
        assert found and found[0].startswith("SELECT COUNT")
    else:
        assert found == []
    assert loop_guard.forget() == []


def test_a_loop_that_serves_no_requests_is_not_watched(db):
    async def work():
        Region.select().count()

    asyncio.run(work())
    assert loop_guard.forget() == []
