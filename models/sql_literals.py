"""MySQL values as SQL text, as PyMySQL would escape them as parameters, only faster.

Bulk INSERTs (`models.db.insert_rows`, the scans' group commit, the investigation import) send
their rows as literal text. PyMySQL's own escaping costs several times more than these: its
str.translate takes a slow path for any text holding Chinese (a scan's verdict, every imported
row's JSON): 30 µs for a verdict, against 6 µs here.
"""

from __future__ import annotations

import datetime as dt
import decimal


class SqlLiterals:
    """Values as MySQL literals. `no_backslash_escapes` follows the server's sql_mode, as PyMySQL
    does (see `for_connection`)."""

    def __init__(self, no_backslash_escapes: bool = False):
        from pymysql import converters

        self.no_backslash_escapes = no_backslash_escapes
        self._escape_item = converters.escape_item

    @classmethod
    def for_connection(cls, connection) -> SqlLiterals:
        """The literals a PyMySQL or asyncmy connection's server takes, by its current sql_mode."""
        from pymysql.constants import SERVER_STATUS

        status = getattr(connection, "server_status", 0) or 0
        return cls(bool(status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES))

    @staticmethod
    def escape(text: str) -> str:
        """PyMySQL's escape_string, as str.replace calls."""
        return (text.replace("\\", "\\\\").replace("\0", "\\0").replace("\n", "\\n").replace("\r", "\\r")
                .replace("\032", "\\Z").replace('"', '\\"').replace("'", "\\'"))

    def literal(self, value) -> str:
        """One value as SQL text."""
        kind = type(value)  # str first: nearly every value is text (called for each cell of a million rows)
        if kind is str:
            if self.no_backslash_escapes:
                return "'" + value.replace("'", "''") + "'"
            return "'" + self.escape(value) + "'"
        if value is None:
            return "NULL"
        if kind is bool:
            return "1" if value else "0"
        if kind is int:
            return str(value)
        if kind is dt.datetime and value.tzinfo is None:
            return "'" + value.isoformat(" ") + "'"  # as PyMySQL's, microseconds only when set
        if kind is dt.date:
            return "'" + value.isoformat() + "'"
        if isinstance(value, str):
            return self.literal(str(value))
        if isinstance(value, (dt.date, dt.datetime, float, decimal.Decimal)):
            return self._escape_item(value, "utf8mb4")
        if isinstance(value, int):
            return str(int(value))
        raise TypeError(f"no SQL literal for {type(value).__name__}")

    def join(self, values) -> str:
        """Values as a comma-separated list of literals."""
        return ",".join(map(self.literal, values))
