"""peewee's query log without parameters: the data layer puts this filter on peewee's logger as
soon as it is imported (models/db.py), whatever logging the process configures afterwards
(services/operations/logsafe.py installs the rest of the redaction)."""

from __future__ import annotations

import logging


class QueryParamsFilter(logging.Filter):
    """Keeps the SQL of peewee's DEBUG records and drops their parameters: peewee logs the tuple
    (sql, params), and the parameters hold whatever a statement writes or looks for."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, tuple) and record.msg:
            record.msg = str(record.msg[0])
        record.args = ()
        return True


def guard_query_logs() -> None:
    """Put `QueryParamsFilter` on peewee's logger (a logger's filter runs before any handler,
    whoever added the handler), once."""
    logger = logging.getLogger("peewee")
    if not any(isinstance(f, QueryParamsFilter) for f in logger.filters):
        logger.addFilter(QueryParamsFilter())
