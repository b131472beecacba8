"""Medical staff's release-from-medical-observation e-notices (E4, 解除医学观察电子告知书).

Only accounts with the medical role issue them, after verifying the citizen's code. A notice
lifts, through the colour engine, the reds its rules allow (close contact, fever, isolation,
declared contact) dated on or before it; the colour history names the notice.
"""

from __future__ import annotations

from models.accounts import Account
from models.colour import ColourHistory
from models.db import db
from models.people import Person
from models.risk_inputs import ReleaseNotice
from services.accounts import auth
from services.colours import colour
from services.colours.colour_rules import load_rules
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.oversight import audit
from services.people import health_codes, identity, profile
from services.risk_data import risk_inputs


def _liftable(person: Person) -> list[dict]:
    """The red reasons a notice would lift for this person now."""
    lifted_by = {rule.code for rule in load_rules() if rule.lifted_by_release}
    return [hit for hit in colour.verdict(person.subject).hits if hit["rule"] in lifted_by]


def _staff(account: Account) -> tuple[str, str]:
    """The issuing staff's name and institution (from the profile and the medical role)."""
    me = profile.self_person(account)
    detail = auth.role_detail(account, "medical")
    if not me or not me.name:
        raise ApiError("profile_incomplete", "请先完善医务人员的实名信息", 400)
    return me.name, detail.get("institution") or ""


def prepare(account: Account, payload: str, config) -> dict:
    """The notice form pre-filled from the verified code: who, and what would be lifted."""
    person, _ = health_codes.resolve(payload, config)
    staff_name, institution = _staff(account)
    return {"person_id": person.id, "name": identity.mask_name(person.name),
            "id_number": identity.mask_id_number(person.id_number),
            "phone": identity.mask_phone(person.phone) or None, "gender": person.gender,
            "address": person.address, "observations": [h["reason"] for h in _liftable(person)],
            "institution": institution, "staff_name": identity.mask_name(staff_name), "issue_date": str(china_today())}


def _number(notice: ReleaseNotice) -> str:
    """JC + date + the notice's id: printed on the notice, unique without a counter to race on."""
    return f"JC{notice.event_date:%Y%m%d}{notice.id:06d}"


def issue(account: Account, body: dict, config) -> dict:
    """issueReleaseNotice: refused when there is nothing to lift (e.g. the same observation again)."""
    person, _ = health_codes.resolve(body["payload"], config)
    staff_name, institution = _staff(account)
    institution = body.get("institution") or institution
    if not institution:
        raise ApiError("missing_field", "请填写出具单位", 400, "institution")
    liftable = _liftable(person)
    if not liftable:
        already = ReleaseNotice.select().where((ReleaseNotice.subject == person.subject)
                                               & ReleaseNotice.revoked_at.is_null()).exists()
        if already:
            raise ApiError("already_released", "该人员本次医学观察已解除，不能重复出具告知书", 409)
        raise ApiError("nothing_to_release", "该人员当前没有需要解除的医学观察", 409)
    with db.atomic():
        notice = risk_inputs.issue_release_notice(person, issued_by=account, reason=body.get("remark"))
        number = _number(notice)
        ReleaseNotice.update(number=number, institution=institution[:128], staff_name=staff_name).where(
            ReleaseNotice.id == notice.id).execute()
        # The colour history names the notice that lifted the red.
        (ColourHistory.update(why=f"release_notice {number}")
         .where((ColourHistory.subject == person.subject) & (ColourHistory.why == "release_notice")).execute())
        audit.record(account, "medical", "issue_release_notice", notice, number=number, person_id=person.id)
    return notice_view(ReleaseNotice.get_by_id(notice.id), [h["reason"] for h in liftable])


def notice_view(notice: ReleaseNotice, lifted: list[str] | None = None) -> dict:
    """A notice as the staff and the citizen see it (identity masked)."""
    person = notice.person
    view = {"id": notice.id, "number": notice.number, "name": identity.mask_name(person.name) if person else None,
            "id_number": identity.mask_id_number(person.id_number) if person else None,
            "institution": notice.institution, "staff_name": identity.mask_name(notice.staff_name or ""),
            "issue_date": str(notice.event_date), "issued_at": local_iso(notice.created_at),
            "valid": notice.revoked_at is None, "remark": notice.reason,
            "text": (f"经医学观察，{identity.mask_name(person.name) if person else ''}已满医学观察期且无异常，"
                     f"自{notice.event_date:%Y年%m月%d日}起解除医学观察。")}
    if lifted is not None:
        view["lifted"] = lifted
    return view


def issued_by(account: Account):
    """listIssuedNotices: the staff member's notices, newest first (a query, for paging)."""
    return (ReleaseNotice.select().where(ReleaseNotice.issued_by == account)
            .order_by(ReleaseNotice.created_at.desc(), ReleaseNotice.id.desc()))


def latest_for(person: Person) -> ReleaseNotice:
    """getMyReleaseNotice: the person's latest valid notice, or a 404."""
    notice = (ReleaseNotice.select().where((ReleaseNotice.subject == person.subject)
                                           & ReleaseNotice.revoked_at.is_null() & ReleaseNotice.number.is_null(False))
              .order_by(ReleaseNotice.created_at.desc(), ReleaseNotice.id.desc()).first())
    if notice is None:
        raise ApiError("no_release_notice", "暂无解除医学观察告知书", 404)
    return notice

