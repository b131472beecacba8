"""Corrections of a person's colour, each taking two people (D8, D9): a list entry withdrawn as a
mistake, a case closed, a release notice revoked, a manual colour override with an expiry.

An official proposes with a reason (`propose_*`); another account of the same organisation
approves it on the 待审批 page (services/colours/approvals.py), and only then does it take effect: the
change and the colour recompute of the people it touches run in the approval's transaction.
Every proposal, decision and change is audited.

Which people an official may see and correct follows the region scope of every back-office
page: a person belongs to the community of their compound, else to the region of their ID
number's first six digits (the district of household registration) when the platform has it.
"""

from __future__ import annotations

import datetime as dt

from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.corrections import ColourOverride
from models.fields import blind_index, utcnow
from models.people import Person
from models.regions import LEVELS, Region
from models.risk_inputs import CaseReport, ListedPerson, ReleaseNotice
from services.accounts import admin_auth
from services.colours import approvals, colour
from services.colours.colour_rules import COLOURS, INPUTS
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.oversight import access_log, audit
from services.people import identity
from services.risk_data import risk_inputs, risk_records
from services.risk_data.health_authority import HEALTH_ROLES

# The back-office roles that look up a person's colour and propose corrections: the level roles,
# the health authority's, and every role that owns a kind of risk list (services/risk_data/risk_records).
CORRECTION_ROLES = tuple(dict.fromkeys([*LEVELS[1:], *HEALTH_ROLES, *(
    role for kind in risk_records.KINDS.values() for role in kind.import_roles)]))
OVERRIDE_MAX_DAYS = 30
PROPOSED = "已提交，等待同单位另一账号审批"


# --- whose person is it --------------------------------------------------------------------------

def home_region(person: Person | None, id_number: str | None = None) -> Region | None:
    """The region a person belongs to: their compound's community (the compound itself when it
    hangs under no community), else the region named by the ID number's first six digits."""
    if person is not None and person.compound_id:
        compound = person.compound
        return next((r for r in reversed(compound.ancestors()) if r.level == "community"), compound)
    number = id_number or (person.id_number if person is not None else None)
    if number and len(number) >= 6 and number[:6].isdigit():
        return Region.get_or_none(Region.code == number[:6])
    return None


def subject_identity(subject: str) -> tuple[Person | None, str | None]:
    """The registered person of a subject, and an ID number (theirs, or a list entry's)."""
    person = Person.get_or_none(Person.id_number_bidx == subject)
    if person is not None:
        return person, person.id_number
    for model in _listed_models().values():
        row = model.select(model.id_number).where(model.subject == subject).first()
        if row is not None:
            return None, row.id_number
    return None, None


def _may_see(admin: AdminUser, region: Region | None) -> bool:
    """True when the person of `region` is in the admin's scope; a person of no known region is
    seen at city level (and above) only."""
    if admin.role not in CORRECTION_ROLES:
        return False
    if region is None:
        return admin.region.level in ("province", "city")
    return admin_auth.in_scope(admin, region)


def require_subject_scope(admin: AdminUser, subject: str) -> None:
    """A 403 unless the admin may see and correct the person of `subject`."""
    person, number = subject_identity(subject)
    if not _may_see(admin, home_region(person, number)):
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)


def find_person(admin: AdminUser, id_number, purpose=None) -> dict:
    """The person of an exact ID number (through its blind index) as the official's page needs
    it: subject, registered profile (if any), home region, and the logged view (`view`: its log
    line, with the purpose stated, which the person's access log shows). 403 outside the
    admin's region."""
    number = identity.validate_id_number(id_number, "id_number")
    subject = blind_index(number, "id_number")
    return view_subject(admin, subject, purpose)


def view_subject(admin: AdminUser, subject: str, purpose) -> dict:
    """Open a person's full record for `purpose` (N10): scope checked, the view logged against
    the person."""
    person, number = subject_identity(subject)
    region = home_region(person, number)
    if not _may_see(admin, region):
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)
    purpose = access_log.clean_view_purpose(purpose)
    view = audit.record(None, admin.role, "person_colour_viewed", person, admin_actor=admin,
                        id_number=identity.mask_id_number(number), purpose=purpose, subjects=[subject])
    return {"subject": subject, "person": person, "region": region, "id_number": number, "view": view}


def reveal_id_number(admin: AdminUser, subject: str, purpose) -> str:
    """The full ID number of a person, for an official of their region who states why; the view
    is logged against the person (N10). The only full ID number the back office shows."""
    person, number = subject_identity(subject)
    if number is None:
        raise ApiError("not_found", "未找到该人员", 404)
    if not _may_see(admin, home_region(person, number)):
        raise ApiError("out_of_scope", "无权查看或操作其他辖区的数据", 403)
    purpose = access_log.clean_view_purpose(purpose)
    audit.record(None, admin.role, "id_number_viewed", person, admin_actor=admin,
                 id_number=identity.mask_id_number(number), purpose=purpose, subjects=[subject])
    return number


# --- the facts about a person --------------------------------------------------------------------

def _listed_models() -> dict[str, type[ListedPerson]]:
    """The rule inputs whose rows are list entries that can be withdrawn, by input name."""
    found = {}
    for name, spec in INPUTS.items():
        model = spec.query().model
        if issubclass(model, ListedPerson) and spec.subject() is model.subject:
            found[name] = model
    return found


def _detail(row) -> str:
    """What a fact carries about what it says (its provenance is `describe`'s)."""
    parts = []
    for attr, label in (("kind", "类型"), ("pharmacy", "药店"), ("medicine", "药品"), ("place", "地点"),
                        ("origin_name", "出发地"), ("country", "国家或地区"), ("value", "体温"),
                        ("status", "状态"), ("source", "来源"), ("remark", "备注")):
        value = getattr(row, attr, None)
        if value not in (None, ""):
            parts.append(f"{label}：{value}")
    for attr, label in (("compound", "小区"), ("region", "地区")):
        if getattr(row, f"{attr}_id", None):
            parts.append(f"{label}：{getattr(row, attr).name}")
    return "；".join(parts)


def describe(input_name: str, row) -> dict:
    """A fact as pages and the citizen's answer show it: which list (and which import or partner
    batch, of which date) or record, the fact's date, what else it carries, when it was entered."""
    spec = INPUTS[input_name]
    batch = row.batch if getattr(row, "batch_id", None) else None
    return {"input": input_name, "id": row.id, "source": batch.title if batch else spec.label,
            "list": spec.label, "batch": batch.source_ref if batch else None,
            "listed_on": batch.listed_on.isoformat() if batch else None, "detail": _detail(row),
            "date": row.event_date.isoformat() if hasattr(row.event_date, "isoformat") else str(row.event_date),
            "entered_at": local_iso(getattr(row, "created_at", None)),
            "withdrawn": getattr(row, "withdrawn_at", None) is not None}


def _owner_roles(input_name: str, row) -> tuple[str, ...]:
    """The roles that own a list entry, and alone may withdraw it or close it: those that put its
    kind of list in (services/risk_data/risk_records)."""
    kind = risk_records.KINDS.get(row.kind if input_name == "listing" else input_name)
    return kind.import_roles if kind is not None else tuple(HEALTH_ROLES)


def _owner_names(input_name: str, row) -> str:
    return "、".join(admin_auth.ROLES.get(role, role) for role in _owner_roles(input_name, row))


def _require_owner(admin: AdminUser, input_name: str, row) -> None:
    if admin.role not in _owner_roles(input_name, row):
        names = _owner_names(input_name, row)
        raise ApiError("not_owner", f"只有该名单的主管部门（{names}）可以提交这项更正", 403)


def facts_of(subject: str, admin: AdminUser | None = None) -> list[dict]:
    """Every fact about a person that a rule reads (withdrawn entries included, marked), newest
    first, with what `admin` may correct (as owner of the list): withdraw an entry, close an
    active case."""
    listed = _listed_models()
    facts = []
    for name, spec in INPUTS.items():
        model = spec.query().model
        if spec.subject() is not model.subject:
            continue  # read through another table (a compound's cases): shown with its own row
        for row in model.select().where(model.subject == subject).order_by(model.id.desc()).limit(50):
            fact = describe(name, row)
            fact["target"] = f"{name}:{row.id}"
            owner = name in listed and admin is not None and admin.role in _owner_roles(name, row)
            fact["owners"] = _owner_names(name, row) if name in listed else None
            fact["withdrawable"] = owner and not fact["withdrawn"]
            fact["closable"] = owner and model is CaseReport and row.status == "active" and not fact["withdrawn"]
            facts.append(fact)
    facts.sort(key=lambda f: f["date"], reverse=True)
    return facts


def notices_of(subject: str) -> list[ReleaseNotice]:
    """The person's release notices, newest first."""
    return list(ReleaseNotice.select().where(ReleaseNotice.subject == subject).order_by(ReleaseNotice.id.desc()))


def overrides_of(subject: str) -> list[ColourOverride]:
    """The person's manual overrides, newest first."""
    return list(ColourOverride.select().where(ColourOverride.subject == subject).order_by(ColourOverride.id.desc()))


def requests_about(targets: list[str]) -> list[ApprovalRequest]:
    """The approval requests about these targets, newest first."""
    if not targets:
        return []
    return list(ApprovalRequest.select().where(ApprovalRequest.target.in_(targets))
                .order_by(ApprovalRequest.id.desc()))


# --- proposing -----------------------------------------------------------------------------------

def _row(model, row_id, error: ApiError):
    """The row of `model` with this id (as a form sends it), or `error`."""
    try:
        row = model.get_or_none(model.id == int(row_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise error
    return row


def _listed_row(kind: str, fact_id) -> tuple[type[ListedPerson], ListedPerson]:
    model = _listed_models().get(kind)
    if model is None:
        raise ApiError("invalid_field", "该类记录不能撤销", 400, "kind")
    return model, _row(model, fact_id, ApiError("not_found", "记录不存在", 404))


def _who(row) -> str:
    return identity.mask_name(row.name) if getattr(row, "name", None) else identity.mask_id_number(row.id_number)


def propose_withdrawal(admin: AdminUser, kind: str, fact_id, reason) -> ApprovalRequest:
    """Propose withdrawing a list entry made by mistake (close contact, case, purchase, ...)."""
    model, row = _listed_row(kind, fact_id)
    require_subject_scope(admin, row.subject)
    _require_owner(admin, kind, row)
    if row.withdrawn_at is not None:
        raise ApiError("already_withdrawn", "该记录已撤销", 409)
    label = INPUTS[kind].label
    return approvals.propose(admin, "withdraw_entry", target=f"{kind}:{row.id}", reason=reason,
                             summary=f"撤销 {_who(row)} 的{label}记录（{row.event_date}）",
                             payload={"kind": kind, "id": row.id})


def propose_case_closure(admin: AdminUser, case_id, reason) -> ApprovalRequest:
    """Propose closing a case (cured, or the suspicion excluded)."""
    _, case = _listed_row("case", case_id)
    require_subject_scope(admin, case.subject)
    _require_owner(admin, "case", case)
    if case.status != "active":
        raise ApiError("case_closed", "该病例已结案", 409)
    return approvals.propose(admin, "close_case", target=f"case:{case.id}", reason=reason,
                             summary=f"{_who(case)} 的病例结案（{case.event_date}）", payload={"id": case.id})


def propose_notice_revocation(admin: AdminUser, notice_id, reason) -> ApprovalRequest:
    """Propose revoking a release notice issued in error (the reds it lifted come back)."""
    notice = _row(ReleaseNotice, notice_id, ApiError("release_notice_not_found", "解除医学观察告知书不存在", 404))
    require_subject_scope(admin, notice.subject)
    if admin.role not in HEALTH_ROLES:  # notices are the health authority's (issued by its medical staff)
        raise ApiError("not_owner", "只有卫健委或疾控中心可以撤销解除医学观察告知书", 403)
    if notice.revoked_at is not None:
        raise ApiError("already_revoked", "该告知书已撤销", 409)
    return approvals.propose(admin, "revoke_release_notice", target=f"release_notice:{notice.id}", reason=reason,
                             summary=f"撤销解除医学观察告知书 {notice.number or notice.id}（{notice.event_date}）",
                             payload={"id": notice.id})


def _check_override(colour_value, expires_on, today: dt.date | None = None) -> tuple[str, dt.date]:
    """A manual override's colour and last day: a known colour, an expiry from today to
    OVERRIDE_MAX_DAYS days on."""
    today = today or china_today()
    if colour_value not in COLOURS:
        raise ApiError("invalid_field", "请选择调整后的颜色", 400, "colour")
    if expires_on in (None, ""):
        raise ApiError("missing_field", "人工调整必须填写有效期", 400, "expires_on")
    try:
        last = expires_on if isinstance(expires_on, dt.date) else dt.date.fromisoformat(str(expires_on))
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400, "expires_on") from None
    if not today <= last <= today + dt.timedelta(days=OVERRIDE_MAX_DAYS):
        raise ApiError("invalid_date", f"有效期应在今天至{OVERRIDE_MAX_DAYS}天内", 400, "expires_on")
    return colour_value, last


def propose_override(admin: AdminUser, subject: str, colour_value, reason, expires_on) -> ApprovalRequest:
    """Propose setting a person's colour by hand until `expires_on`."""
    if not (isinstance(reason, str) and reason.strip()):
        raise ApiError("missing_field", "人工调整必须填写原因", 400, "reason")
    chosen, last = _check_override(colour_value, expires_on)
    require_subject_scope(admin, subject)
    person, number = subject_identity(subject)
    who = identity.mask_name(person.name) if person and person.name else identity.mask_id_number(number)
    return approvals.propose(admin, "colour_override", target=f"override:{subject}", reason=reason,
                             summary=f"将 {who} 的健康码人工调整为{colour.LABELS[chosen]}，至 {last} 止",
                             payload={"subject": subject, "colour": chosen, "expires_on": last.isoformat()})


# --- what approving does (inside the approval's transaction) -------------------------------------

def _withdraw(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    model, row = _listed_row(payload["kind"], payload["id"])
    changed = model.update(withdrawn_at=utcnow()).where((model.id == row.id) & model.withdrawn_at.is_null()).execute()
    if not changed:
        raise ApiError("already_withdrawn", "该记录已撤销", 409)
    touched = [row.subject]
    if model is CaseReport:
        touched += risk_inputs.compound_subjects(row.compound)
    colour.recompute(touched, why=f"{payload['kind']}_withdrawn")
    audit.record(None, approver.role, "risk_entry_withdrawn", row, admin_actor=approver, reason=request.reason,
                 proposed_by=request.proposed_by_id, approval=request.id, subjects=[row.subject])
    return f"已撤销{INPUTS[payload['kind']].label}记录，健康码已重新计算"


def _close_case(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    _, open_case = _listed_row("case", payload["id"])
    if open_case.status != "active":
        raise ApiError("case_closed", "该病例已结案", 409)
    case = risk_inputs.close_case(open_case.id)
    audit.record(None, approver.role, "case_closed", case, admin_actor=approver, reason=request.reason,
                 proposed_by=request.proposed_by_id, approval=request.id, subjects=[case.subject])
    return "病例已结案，健康码已重新计算"


def _revoke_notice(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    notice = risk_inputs.revoke_release_notice(payload["id"])
    audit.record(None, approver.role, "release_notice_revoked", notice, admin_actor=approver,
                 reason=request.reason, proposed_by=request.proposed_by_id, approval=request.id,
                 subjects=[notice.subject])
    return "解除医学观察告知书已撤销，健康码已重新计算"


def _override(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    chosen, last = payload["colour"], dt.date.fromisoformat(payload["expires_on"])
    if last < china_today():
        raise ApiError("invalid_date", "该人工调整的有效期已过，请重新提交", 400, "expires_on")
    subject, now = payload["subject"], utcnow()
    # One override a person at a time: a new one ends the one before.
    ColourOverride.update(ended_at=now).where((ColourOverride.subject == subject)
                                              & ColourOverride.ended_at.is_null()).execute()
    row = ColourOverride.create(subject=subject, colour=chosen, reason=request.reason, starts_on=china_today(),
                                expires_on=last, approval=request, proposed_by=request.proposed_by_id,
                                approved_by=approver)
    colour.recompute([subject], why="manual_override")
    audit.record(None, approver.role, "colour_overridden", row, admin_actor=approver, colour=chosen,
                 expires_on=last, reason=request.reason, proposed_by=request.proposed_by_id, subjects=[subject])
    return f"健康码已人工调整为{colour.LABELS[chosen]}，至 {last} 止"


approvals.register("withdraw_entry", "撤销错误登记", _withdraw)
approvals.register("close_case", "病例结案", _close_case)
approvals.register("revoke_release_notice", "撤销解除医学观察告知书", _revoke_notice)
approvals.register("colour_override", "人工调整健康码", _override)
