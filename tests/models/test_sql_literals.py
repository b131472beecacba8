"""MySQL literals made without PyMySQL (models/sql_literals.py): the same text PyMySQL would send."""

import datetime
import decimal

import pytest

from models.sql_literals import SqlLiterals


@pytest.mark.parametrize("value", ["O'Brien \\ \"引号\" ;--", "a\0b\nc\rd\x1ae", "中文\\'", "", "plain",
                                   datetime.date(2020, 4, 6), datetime.datetime(2020, 4, 6, 21, 16, 5, 7),
                                   datetime.datetime(2020, 4, 6, 21, 16, 5), datetime.datetime(987, 1, 2, 3, 4, 5),
                                   datetime.datetime(2020, 4, 6, 21, 16, 5, 7, tzinfo=datetime.timezone.utc), None,
                                   True, 12, 2.5, decimal.Decimal("36.5"), b"bytes"])
def test_sql_literals_are_what_pymysql_would_send(value):
    from pymysql import converters

    if isinstance(value, bytes):  # none is stored: no guessing at the server's escaping
        with pytest.raises(TypeError):
            SqlLiterals().literal(value)
        return
    assert SqlLiterals().literal(value) == converters.escape_item(value, "utf8mb4")
    if isinstance(value, str):
        assert SqlLiterals(no_backslash_escapes=True).literal(value) == "'" + value.replace("'", "''") + "'"
