"""/healthz: is the server up and can it reach its database."""

from __future__ import annotations

import logging

import peewee

from handlers.base import BaseHandler
from models.db import db, request_connections
from services.common.errors import ApiError

log = logging.getLogger("healthcode.health")


class HealthHandler(BaseHandler):
    """200 with the database's kind when a query goes through, 503 `database_unavailable` when it
    does not: at once while the database is known to be down, else within its deadlines."""

    uses_database = False  # opened here, so that a database out of reach is this check's own answer

    def get(self):
        try:
            request_connections.open_for(self)
            db.execute_sql("SELECT 1").fetchone()
        except peewee.PeeweeException as exc:
            log.warning("health check: database unreachable (%s)", type(exc).__name__)
            raise ApiError("database_unavailable", "数据库暂不可用", 503) from None
        self.send_data({"status": "ok", "database": type(db.obj).__name__})
