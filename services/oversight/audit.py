"""The operation log: who did what to whom, when (every field role's actions, every status
change, every export). Details never hold a full ID number or phone. A line about people (an
official's view, export or change of their data) names them in `subjects`, which the citizen's
access log reads (services/oversight/access_log.py)."""

from __future__ import annotations

import json

from models.fieldwork import OperationLog
from models.privacy import PersonAccess
from services.common.timefmt import local_iso


# Rows of one INSERT when an export's people are linked to its line (well under any server's
# packet and placeholder limits).
SUBJECT_CHUNK = 1000


def record(actor, role: str, action: str, target=None, *, admin_actor=None, subjects=None, **detail) -> OperationLog:
    """Write one log line; `actor` is a mini-program account, `admin_actor` a back-office one;
    `target` is a model instance (its table and id are kept); `subjects`: the blind indexes of the
    people the line is about, for their access log (written in bulk, each person once)."""
    row = OperationLog.create(
        actor=actor, admin_actor=admin_actor, role=role, action=action,
        target_type=target._meta.table_name if target is not None else None,
        target_id=target.get_id() if target is not None else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str))
    if subjects:
        unique = sorted({s for s in subjects if s})
        for start in range(0, len(unique), SUBJECT_CHUNK):
            PersonAccess.insert_many([(row.id, s) for s in unique[start:start + SUBJECT_CHUNK]],
                                     fields=[PersonAccess.log, PersonAccess.subject]).execute()
    return row


def about(target, limit: int = 100) -> list[dict]:
    """The log lines about one object, newest first (what detail pages show)."""
    query = (OperationLog.select().where((OperationLog.target_type == target._meta.table_name)
                                         & (OperationLog.target_id == target.get_id()))
             .order_by(OperationLog.id.desc()).limit(limit))
    return [view(r) for r in query]


def view(row: OperationLog) -> dict:
    """A log line as pages show it."""
    who = row.admin_actor.name if row.admin_actor_id else (f"账号 {row.actor_id}" if row.actor_id else "系统")
    return {"who": who, "role": row.role, "action": row.action, "target_type": row.target_type,
            "target_id": row.target_id, "detail": json.loads(row.detail), "at": local_iso(row.created_at)}
