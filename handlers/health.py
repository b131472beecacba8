"""/healthz: is the server up and can it reach its database."""

from __future__ import annotations

import asyncio
import logging

import peewee

from handlers.base import BaseHandler
from models.db import db
from services.common.errors import ApiError

log = logging.getLogger("healthcode.health")
# Under the 2 s in which a guard's phone must hear that the database is out of reach, whatever
# the pool's queue (its thread gives up on its own within the database's deadlines).
DEADLINE_SECONDS = 1.5


def _database_answers() -> None:
    db.execute_sql("SELECT 1").fetchone()


class HealthHandler(BaseHandler):
    """200 with the database's kind when a query goes through, 503 `database_unavailable` when it
    does not: at once while the database is known to be down, else within DEADLINE_SECONDS."""

    async def get(self):
        try:
            await asyncio.wait_for(self.on_db(_database_answers), DEADLINE_SECONDS)
        except (peewee.PeeweeException, asyncio.TimeoutError) as exc:
            log.warning("health check: database unreachable (%s)", type(exc).__name__)
            raise ApiError("database_unavailable", "数据库暂不可用", 503) from None
        self.send_data({"status": "ok", "database": type(db.obj).__name__})
