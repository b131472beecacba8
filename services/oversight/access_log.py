"""A citizen's access log (N10, PIPL Art. 45): every time an official viewed their full record or
ID number, exported a list that held them, or changed their colour or isolation status - when,
which organisation and role, and why, the official's name masked.

The operation log already says who did what; `audit.record(..., subjects=[...])` links a line to
the people it was about (`person_access`, keyed by the ID number's blind index, so every copy of
the person - their own profile, a family member's - reads the same log). An export links every
person of its file, in bulk (`subjects_of`). `my_access` reads a citizen's own lines, or those of
a family member they may act for (a child, or an adult who consented); anyone else's is a 403.
"""

from __future__ import annotations

import json

import peewee

from models.admin import AdminUser
from models.fieldwork import OperationLog
from models.people import Person
from models.privacy import PersonAccess
from models.regions import Region
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.common.paging import paginate
from services.common.timefmt import local_iso
from services.oversight import exports
from services.people import family, identity, profile
from services.risk_data.risk_records import ORGANISATIONS
from models.fields import utcnow

# The logged actions a citizen sees: action -> (kind, what it was).
ACTIONS = {
    "person_colour_viewed": ("view", "个人健康码查询（查看完整记录）"),
    "id_number_viewed": ("view", "查看完整证件号码"),
    "export": ("export", "导出名单"),
    "risk_record_add": ("colour", "录入风险人员记录"),
    "risk_entry_withdrawn": ("colour", "撤销错误登记"),
    "case_closed": ("colour", "病例结案"),
    "release_notice_revoked": ("colour", "撤销解除医学观察告知书"),
    "colour_overridden": ("colour", "人工调整健康码"),
    "confirm_isolation": ("isolation", "确认隔离"),
    "release_isolation": ("isolation", "解除隔离"),
    "task_status": ("isolation", "排查任务状态变更"),
}
KINDS = {"view": "查看", "export": "导出", "colour": "变更赋码颜色", "isolation": "变更隔离状态"}
_STATUS_LABELS = {"released": "已解除隔离", "pending": "待确认隔离", "confirmed": "已确认隔离",
                  "not_needed": "无需隔离", "not_in_compound": "未到本小区"}


# How long the page of a person's full record, opened with a stated purpose, may be shown again
# (a reload, a form sent back with an error) before the official is asked anew.
VIEW_SECONDS = 30 * 60


def clean_view_purpose(text) -> str:
    """Why an official views a person's full record or ID number: required, 2-50 characters on
    one line (the export purpose's rules)."""
    try:
        return exports.clean_purpose(text)
    except ApiError as error:
        message = error.message.replace("导出用途", "查看用途").replace("核查密接人员", "核实申诉、流调核查")
        raise ApiError(error.code, message, error.status, error.field) from None


def view_is_logged(admin: AdminUser, subject: str, log_id) -> bool:
    """Whether `log_id` is this admin's logged view of this person, recent enough to show again."""
    try:
        log_id = int(log_id)
    except (TypeError, ValueError):
        return False
    row = (OperationLog.select(OperationLog.created_at)
           .join(PersonAccess, on=(PersonAccess.log == OperationLog.id))
           .where((OperationLog.id == log_id) & (OperationLog.admin_actor == admin)
                  & (OperationLog.action == "person_colour_viewed") & (PersonAccess.subject == subject)).first())
    return row is not None and (utcnow() - row.created_at).total_seconds() <= VIEW_SECONDS


def subjects_of(rows) -> list[str]:
    """The people (blind indexes) a list of exported rows holds: a row that is a person, names a
    subject, or points at a person (read in one query)."""
    found, person_ids = [], []
    for row in rows:
        subject = getattr(row, "id_number_bidx", None) if isinstance(row, Person) else getattr(row, "subject", None)
        if isinstance(subject, str) and subject:
            found.append(subject)
        elif getattr(row, "person_id", None):
            person_ids.append(row.person_id)
    for start in range(0, len(person_ids), 1000):
        chunk = person_ids[start:start + 1000]
        found += [s for (s,) in Person.select(Person.id_number_bidx)
                  .where(Person.id.in_(chunk) & Person.id_number_bidx.is_null(False)).tuples()]
    return found


def _subject(account, member_id) -> str:
    """Whose log the caller asks for: their own, or a family member's they may act for."""
    if member_id is None:
        return profile.require_self_person(account).subject
    person = Person.get_or_none(Person.id == member_id)
    if person is None or person.account_id != account.id or person.relation != "family":
        raise ApiError("forbidden", "只能查看本人或本人家庭成员的个人信息访问记录", 403, "member_id")
    family.require_consent(person)
    if not person.subject:
        raise ApiError("forbidden", "该家庭成员没有证件号码", 403, "member_id")
    return person.subject


def organisation(admin: AdminUser | None, region: Region | None) -> str:
    """The organisation an official acted for: 郑州市疾控中心, 金水区疫情防控指挥部, or the region of a
    lower level's admin (黄河路小区)."""
    if admin is None:
        return "系统"
    word, name = ORGANISATIONS.get(admin.role), region.name if region is not None else ""
    return f"{name}{word}" if word and name else (name or admin_auth.ROLES.get(admin.role, admin.role))


def _purpose(detail: dict) -> str | None:
    if detail.get("purpose"):
        return detail["purpose"]
    if detail.get("reason"):
        return detail["reason"]
    if detail.get("status_from") or detail.get("status_to"):
        before = _STATUS_LABELS.get(detail.get("status_from"), detail.get("status_from") or "")
        after = _STATUS_LABELS.get(detail.get("status_to"), detail.get("status_to") or "")
        return f"{before}→{after}".strip("→")
    return None


def entry_view(row: OperationLog) -> dict:
    """One line of the citizen's access log."""
    admin = row.admin_actor if row.admin_actor_id else None
    region = admin.region if admin is not None else None
    kind, what = ACTIONS.get(row.action, ("view", row.action))
    detail = json.loads(row.detail or "{}")
    if row.action == "export" and (detail.get("label") or detail.get("resource")):
        what = f"导出名单（{detail.get('label') or detail['resource']}）"
    return {"time": local_iso(row.created_at), "organisation": organisation(admin, region),
            "role": admin_auth.ROLES.get(row.role, row.role),
            "official": identity.mask_name(admin.name) if admin is not None else "系统",
            "action": kind, "action_label": KINDS[kind], "what": what, "purpose": _purpose(detail)}


def my_access(account, member_id=None, page: int | None = None, per_page: int | None = None) -> dict:
    """listMyDataAccess: one page of the caller's (or their family member's) access log, newest first."""
    subject = _subject(account, member_id)
    query = (OperationLog.select(OperationLog, AdminUser, Region)
             .join(PersonAccess, on=(PersonAccess.log == OperationLog.id))
             .switch(OperationLog)
             .join(AdminUser, peewee.JOIN.LEFT_OUTER, on=(OperationLog.admin_actor == AdminUser.id))
             .join(Region, peewee.JOIN.LEFT_OUTER, on=(AdminUser.region == Region.id))
             .where((PersonAccess.subject == subject) & OperationLog.action.in_(list(ACTIONS)))
             .order_by(OperationLog.id.desc()))
    return paginate(query, entry_view, page, per_page)
