"""Family members (A7) and the proxy identities a shared phone remembers (A8), and an adult
family member's consent (N4).

Both are people kept under the account that registered them: `relation` "family" (with the
relationship) or "proxy". Removing one detaches it from the account; the person's records stay.

An adult (14 or older on the day of asking, PIPL Art. 31; a document other than the resident ID
card carries no birth date, so its holder counts as an adult) must consent before the account
that added them shows their code, scans for them, or reads their records (`member_of`): either a
code sent to their phone, which the adder types in (`send_consent_code`, `confirm_consent_code`),
or a confirmation from their own account, whose profile bears the same ID number
(`consents_about_me`, `grant_from_account`). The adult withdraws it from their own account
(`withdraw_from_account`); the adder's removal of the member withdraws it too. Children need
none. Consent states: pending (no row, or a code sent) -> granted -> withdrawn (-> pending again
when the adder asks anew). Every step is in the operation log.
"""

from __future__ import annotations

from models.accounts import Account
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person, name_index
from models.privacy import FamilyConsent
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.messaging import sms
from services.oversight import audit
from services.people import identity

RELATIONSHIPS = {"parent": "父母", "child": "子女", "spouse": "配偶", "grandparent": "祖父母/外祖父母",
                 "grandchild": "孙子女/外孙子女", "sibling": "兄弟姐妹", "other": "其他亲属"}
MAX_MEMBERS = 10
MAX_PROXIES = 20
CONSENT_AGE = 14
CONSENT_LABELS = {"not_needed": "未满14周岁，无需本人同意", "pending": "待本人同意", "granted": "本人已同意",
                  "withdrawn": "本人已撤回同意"}
# Who may see the member: children need no consent, adults their own.
USABLE = ("not_needed", "granted")


def _people(account: Account, relation: str):
    return Person.select().where((Person.account == account) & (Person.relation == relation)).order_by(Person.id)


def _new_person(account: Account, relation: str, data: dict, limit: int) -> Person:
    """A checked identity under `account`; the same document twice is refused."""
    name = (data.get("name") or "").strip()
    if not name:
        raise ApiError("missing_field", "请填写姓名", 400, "name")
    id_type = data.get("id_type") or "resident_id"
    number = identity.validate_document(id_type, data.get("id_number"))
    phone = identity.validate_phone(data["phone"]) if data.get("phone") else None
    number_index = blind_index(number, "id_number")
    if _people(account, "self").where(Person.id_number_bidx == number_index).exists():
        raise ApiError("is_self", "不能添加本人的证件号码（本人请直接扫码）", 409, "id_number")
    check_name(name, number_index)
    if _people(account, relation).where(Person.id_number_bidx == number_index).exists():
        raise ApiError("duplicate_person", "该证件号码已登记", 409, "id_number")
    if _people(account, relation).count() >= limit:
        raise ApiError("too_many_people", f"最多登记 {limit} 人", 400)
    person = Person(account=account, relation=relation, name=name[:64], id_type=id_type,
                    relationship=data.get("relationship"), gender=identity.gender_of(number)
                    if id_type == "resident_id" else data.get("gender"))
    person.set_id_number(number)
    person.set_phone(phone)
    return person


def check_name(name: str, number_index: str) -> None:
    """The name typed for a document number must be the one its holder registered, when they
    did (compared by blind index): typing someone's ID number with any name is refused."""
    registered = Person.select().where((Person.relation == "self") & (Person.id_number_bidx == number_index)
                                       & Person.name_bidx.is_null(False))
    if registered.exists() and not registered.where(Person.name_bidx == name_index(name)).exists():
        raise ApiError("name_mismatch", "姓名与证件号码不符", 400, "name")


def add_family_member(account: Account, data: dict) -> Person:
    """Add a family member with their own identity (A7)."""
    if data.get("relationship") not in RELATIONSHIPS:
        raise ApiError("invalid_field", "请选择与本人的关系", 400, "relationship")
    with db.atomic():
        person = _new_person(account, "family", data, MAX_MEMBERS)
        person.save()
    return person


def family_members(account: Account) -> list[Person]:
    """The account's family members."""
    return list(_people(account, "family"))


def member_of(account: Account, member_id, relation: str = "family", *, check_consent: bool = True) -> Person:
    """One of the account's family members (or proxy identities); anyone else's is a 403, and so
    is an adult family member who has not consented (`check_consent`: showing their code,
    scanning for them, reading their records; removing them or asking their consent needs none)."""
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        raise ApiError("invalid_field", "成员编号无效", 400, "member_id") from None
    person = Person.get_or_none(Person.id == member_id)
    if person is None or person.account_id != account.id or person.relation != relation:
        label = "家庭成员" if relation == "family" else "代登记人员"
        raise ApiError("not_your_member", f"该{label}不属于当前账号", 403, "member_id")
    if relation == "family" and check_consent:
        require_consent(person)
    return person


def detach(account: Account, member_id, relation: str = "family") -> None:
    """Remove a family member or proxy identity from the account (the person's records stay); an
    adult member's consent is withdrawn with it (by the adder)."""
    person = member_of(account, member_id, relation, check_consent=False)
    with db.atomic():
        Person.update(account=None, relation=f"{relation}_removed", updated_at=utcnow()).where(
            Person.id == person.id).execute()
        if relation == "family" and needs_consent(person):
            _set_consent(person, "withdrawn", withdrawn_by="adder", withdrawn_at=utcnow())
            audit.record(account, "citizen", "family_consent_withdrawn", person, by="adder")


# --- an adult family member's consent (N4) -------------------------------------------------------

def needs_consent(person: Person) -> bool:
    """Whether showing this family member's code needs their consent: 14 or older today (a
    document with no birth date in it counts as an adult's)."""
    if person.id_type != "resident_id":
        return True
    try:
        return identity.age_of(person.id_number) >= CONSENT_AGE
    except ValueError:
        return True


def consent_status(person: Person) -> str:
    """not_needed (a child), pending, granted or withdrawn."""
    if not needs_consent(person):
        return "not_needed"
    row = FamilyConsent.get_or_none(FamilyConsent.person == person)
    return row.status if row is not None else "pending"


def may_act_for(person: Person) -> bool:
    """Whether the account that added this family member may show their code or scan for them."""
    return consent_status(person) in USABLE


def require_consent(person: Person) -> None:
    """403 `consent_required` unless the member is a child or consented."""
    status = consent_status(person)
    if status == "withdrawn":
        raise ApiError("consent_required", "该家庭成员已撤回同意，不能查看其健康码或代其扫码", 403, "member_id")
    if status not in USABLE:
        raise ApiError("consent_required", "该家庭成员已满14周岁，需经其本人同意后才能查看其健康码或代其扫码"
                       "（短信验证码或本人账号确认）", 403, "member_id")


def _set_consent(person: Person, status: str, **changes) -> None:
    """Create or update the member's consent row."""
    now = utcnow()
    updated = (FamilyConsent.update(status=status, updated_at=now, **changes)
               .where(FamilyConsent.person == person).execute())
    if not updated:
        FamilyConsent.create(person=person, status=status, created_at=now, updated_at=now, **changes)


def _consent_target(account: Account, member_id) -> Person:
    """The adder's adult member whose consent is still to be given (400 for a child, 409 when
    already given)."""
    person = member_of(account, member_id, check_consent=False)
    status = consent_status(person)
    if status == "not_needed":
        raise ApiError("consent_not_needed", "该家庭成员未满14周岁，无需本人同意", 400, "member_id")
    if status == "granted":
        raise ApiError("consent_already_granted", "该家庭成员已同意，无需再次确认", 409, "member_id")
    return person


def _own_profile(person: Person) -> Person | None:
    """The member's own account's profile (same ID number) with a verified phone, if any."""
    return (Person.select().where((Person.relation == "self") & (Person.id_number_bidx == person.id_number_bidx)
                                  & (Person.phone_verified == True) & Person.account.is_null(False))  # noqa: E712
            .order_by(Person.id).first())


def _consent_phone(person: Person) -> str | None:
    """Where the member's code goes: the phone their own account verified when they have one
    (the adder cannot redirect it), else the phone the adder gave for them."""
    own = _own_profile(person)
    return own.phone if own is not None and own.phone else person.phone


def _code_purpose(person: Person) -> str:
    return f"consent:{person.id}"  # a code answers for this member only


def send_consent_code(account: Account, member_id, phone: str | None = None, ip: str | None = None) -> dict:
    """Send the adult member a code to read to the adder (their phone given here, or before)."""
    person = _consent_target(account, member_id)
    new_phone = identity.validate_phone(phone) if phone else None
    with db.atomic():  # a refused send (limit, provider down) keeps neither the phone nor the row
        if new_phone and new_phone != person.phone:
            person.set_phone(new_phone)
            Person.update(phone=person.phone, phone_bidx=person.phone_bidx, phone_verified=False,
                          updated_at=utcnow()).where(Person.id == person.id).execute()
        target = _consent_phone(person)
        if not target:
            raise ApiError("phone_required", "请填写该家庭成员本人的手机号，验证码将发送到该手机", 400, "phone")
        _set_consent(person, "pending", code_sent_at=utcnow(), withdrawn_at=None, withdrawn_by=None)
        audit.record(account, "citizen", "family_consent_code_sent", person, phone=identity.mask_phone(target))
        sms.send_code(target, _code_purpose(person), ip=ip)
    return {"status": "pending", "status_label": CONSENT_LABELS["pending"], "sent_to": identity.mask_phone(target)}


def confirm_consent_code(account: Account, member_id, code) -> dict:
    """The adder types the code the member received: consent granted. A wrong code is a 400 on
    `code` (each code takes 5 guesses, a phone 20 a day: services/messaging/sms.py)."""
    person = _consent_target(account, member_id)
    code = str(code or "").strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise ApiError("invalid_code", "请输入短信中的6位验证码", 400, "code")
    row = FamilyConsent.get_or_none(FamilyConsent.person == person)
    target = _consent_phone(person)
    if row is None or row.code_sent_at is None or row.status != "pending" or not target:
        raise ApiError("consent_code_not_sent", "请先获取验证码", 400, "code")
    sms.check_code(target, _code_purpose(person), code, field="code")  # counts a wrong guess: not rolled back
    with db.atomic():
        _set_consent(person, "granted", method="sms", granted_at=utcnow(), granted_by=None)
        audit.record(account, "citizen", "family_consent_granted", person, method="sms")
    return member_view(person)


def _me(account: Account) -> Person:
    me = Person.get_or_none((Person.account == account) & (Person.relation == "self"))
    if me is None or not me.id_number_bidx:
        raise ApiError("profile_incomplete", "请先完善本人实名信息（姓名和证件号码）", 400)
    return me


def _about_me(account: Account, member_id) -> Person:
    """A family member row, on another account, whose ID number is the caller's own; else 403."""
    me = _me(account)
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        raise ApiError("invalid_field", "编号无效", 400, "member_id") from None
    person = Person.get_or_none(Person.id == member_id)
    if (person is None or person.relation != "family" or person.account_id in (None, account.id)
            or person.id_number_bidx != me.id_number_bidx):
        raise ApiError("not_about_you", "该授权请求不是关于您本人的", 403, "member_id")
    return person


def consents_about_me(account: Account) -> list[dict]:
    """The accounts that list the caller as a family member, with each one's consent."""
    me = _me(account)
    rows = (Person.select().where((Person.relation == "family") & (Person.id_number_bidx == me.id_number_bidx)
                                  & Person.account.is_null(False) & (Person.account != account))
            .order_by(Person.id))
    return [consent_view(p) for p in rows]


def consent_view(person: Person) -> dict:
    """One account's listing of the caller, as the caller's own account sees it."""
    adder = Person.get_or_none((Person.account == person.account_id) & (Person.relation == "self"))
    status = consent_status(person)
    return {"id": person.id, "added_by": identity.mask_name(adder.name) if adder else "未实名用户",
            "added_by_phone": (identity.mask_phone(adder.phone) or None) if adder else None,
            "relationship_label": RELATIONSHIPS.get(person.relationship) if person.relationship else None,
            "added_at": local_iso(person.created_at), "status": status, "status_label": CONSENT_LABELS[status]}


# What a second grant or withdrawal of the same consent is told.
_ALREADY = {"granted": ("consent_already_granted", "您已同意该授权"),
            "withdrawn": ("consent_already_withdrawn", "您已撤回该授权")}


def _my_consent_to_set(account: Account, member_id, status: str) -> Person:
    """The caller's listing `member_id`, whose consent the caller is about to set to `status`:
    refused when no consent is needed (under 14) or it already is `status`."""
    person = _about_me(account, member_id)
    current = consent_status(person)
    if current == "not_needed":
        raise ApiError("consent_not_needed", "未满14周岁，无需本人同意", 400, "member_id")
    if current == status:
        code, message = _ALREADY[status]
        raise ApiError(code, message, 409, "member_id")
    return person


def grant_from_account(account: Account, member_id) -> dict:
    """The adult confirms, from their own account, that the adder may act for them."""
    person = _my_consent_to_set(account, member_id, "granted")
    with db.atomic():
        _set_consent(person, "granted", method="account", granted_by=account.id, granted_at=utcnow(),
                     withdrawn_at=None, withdrawn_by=None)
        audit.record(account, "citizen", "family_consent_granted", person, method="account")
    return consent_view(person)


def withdraw_from_account(account: Account, member_id) -> dict:
    """The adult withdraws (or refuses) the adder's access, from their own account."""
    person = _my_consent_to_set(account, member_id, "withdrawn")
    with db.atomic():
        _set_consent(person, "withdrawn", withdrawn_by="member", withdrawn_at=utcnow())
        audit.record(account, "citizen", "family_consent_withdrawn", person, by="member")
    return consent_view(person)


def proxy_identity(account: Account, data: dict) -> Person:
    """The proxy identity for `data` on this phone: the one already remembered, or a new one."""
    number = data.get("id_number")
    id_type = data.get("id_type") or "resident_id"
    if number:
        number_index = blind_index(identity.validate_document(id_type, number), "id_number")
        known = _people(account, "proxy").where(Person.id_number_bidx == number_index).first()
        if known:
            check_name((data.get("name") or "").strip(), number_index)
            return known
    person = _new_person(account, "proxy", data, MAX_PROXIES)
    person.save()
    return person


def proxy_identities(account: Account) -> list[Person]:
    """The identities this phone registered for others, for the "confirm registration" page."""
    return list(_people(account, "proxy"))


def member_view(person: Person) -> dict:
    """A family member or proxy identity, masked."""
    return {"id": person.id, "name": identity.mask_name(person.name),
            "id_number": identity.mask_id_number(person.id_number), "id_type": person.id_type,
            "relationship": person.relationship,
            "relationship_label": RELATIONSHIPS.get(person.relationship) if person.relationship else None,
            "phone": identity.mask_phone(person.phone) or None,
            **({"consent_status": (status := consent_status(person)), "consent_label": CONSENT_LABELS[status]}
               if person.relation == "family" else {})}
