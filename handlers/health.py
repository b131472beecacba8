"""/healthz: is the server up and can it reach its database."""

from __future__ import annotations

import logging

import peewee

from handlers.base import BaseHandler
from models.db import db
from services.errors import ApiError

log = logging.getLogger("healthcode.health")


class HealthHandler(BaseHandler):
    """200 with the database's kind when a query goes through, 503 when it does not."""

    def get(self):
        try:
            db.execute_sql("SELECT 1").fetchone()
        except peewee.PeeweeException as exc:
            log.warning("health check: database unreachable (%s)", type(exc).__name__)
            raise ApiError("database_unavailable", "数据库暂不可用", 503) from None
        self.send_data({"status": "ok", "database": type(db.obj).__name__})
