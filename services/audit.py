"""The operation log: who did what to whom, when (every field role's actions, every status
change, every export). Details never hold a full ID number or phone."""

from __future__ import annotations

import json

from models.fieldwork import OperationLog
from services.timefmt import local_iso


def record(actor, role: str, action: str, target=None, **detail) -> OperationLog:
    """Write one log line; `target` is a model instance (its table and id are kept)."""
    return OperationLog.create(
        actor=actor, role=role, action=action,
        target_type=target._meta.table_name if target is not None else None,
        target_id=target.get_id() if target is not None else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str))


def entries(action: str | None = None, actor=None, limit: int = 100) -> list[dict]:
    """Recent log lines, newest first (filters optional)."""
    query = OperationLog.select().order_by(OperationLog.id.desc()).limit(limit)
    if action:
        query = query.where(OperationLog.action == action)
    if actor is not None:
        query = query.where(OperationLog.actor == actor)
    return [{"actor_id": r.actor_id, "role": r.role, "action": r.action, "target_type": r.target_type,
             "target_id": r.target_id, "detail": json.loads(r.detail), "at": local_iso(r.created_at)}
            for r in query]
