"""The real-name profile (A5): filled once, edited later, always answered masked (A6)."""

from __future__ import annotations

from models.accounts import Account, AuthIdentity, AuthToken
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.fieldwork import medical_staff
from services.people import identity

GENDERS = {"male": "男", "female": "女"}
RESIDENT_CATEGORIES = {
    "owner": "业主",
    "tenant": "租户",
    "relative": "亲属",
    "staff": "工作人员",
    "other": "其他",
}
PLAIN_FIELDS = ("name", "address", "building", "unit", "room", "resident_category", "employer")
# What a profile needs before the scan flows can match it.
# The phone's blind index stands for the phone: Person.set_phone sets both, and it needs no
# decryption (the scan reads it instead of the phone).
REQUIRED_FOR_COMPLETE = ("name", "id_number", "phone_bidx")


def self_person(account: Account) -> Person | None:
    """The account holder's own person record, if the profile was ever filled."""
    return Person.get_or_none((Person.account == account) & (Person.relation == "self"))


def require_self_person(account: Account) -> Person:
    """The account holder's person, with a document number: what a health code needs."""
    person = self_person(account)
    if person is None or not person.id_number_bidx:
        raise ApiError("profile_incomplete", "请先完善实名信息（姓名和证件号码）", 400)
    return person


def masked(person: Person | None) -> dict:
    """The profile as every answer shows it: name, ID number and phone masked."""
    if person is None:
        return {"complete": False, "id_type": "resident_id", "phone_verified": False,
                **{name: None for name in ("gender", "id_number", "phone", *PLAIN_FIELDS)}}
    return {
        "name": identity.mask_name(person.name) or None,
        "gender": person.gender,
        "id_type": person.id_type,
        "id_number": identity.mask_id_number(person.id_number) or None,
        "phone": identity.mask_phone(person.phone) or None,
        "phone_verified": person.phone_verified,
        "address": person.address,
        "building": person.building,
        "unit": person.unit,
        "room": person.room,
        "resident_category": person.resident_category,
        "employer": person.employer,
        "complete": is_complete(person),
        "updated_at": local_iso(person.updated_at),
    }


def is_complete(person: Person | None) -> bool:
    """True when the profile holds what a scan needs."""
    return person is not None and all(getattr(person, f) for f in REQUIRED_FOR_COMPLETE)


def get_profile(account: Account) -> dict:
    """getProfile: the caller's own profile, masked."""
    return masked(self_person(account))


def update_profile(account: Account, changes: dict) -> dict:
    """updateProfile: apply the fields sent (the first time: name and document number at least).

    Everything is checked before anything is written, and the write is one transaction.
    """
    person = self_person(account)
    if person is None:
        for name in ("name", "id_number"):
            if not changes.get(name):
                raise ApiError("missing_field", "首次填写请提供姓名和证件号码", 400, name)
        person = Person(account=account, relation="self")

    id_type = changes.get("id_type", person.id_type or "resident_id")
    if "id_type" in changes and "id_number" not in changes and changes["id_type"] != person.id_type:
        raise ApiError("missing_field", "更换证件类型时请同时填写证件号码", 400, "id_number")
    id_number = identity.validate_document(id_type, changes["id_number"]) if "id_number" in changes else None
    phone = identity.validate_phone(changes["phone"]) if changes.get("phone") else None
    gender = changes.get("gender")
    if id_type == "resident_id" and (id_number or person.id_number):
        derived = identity.gender_of(id_number or person.id_number)
        if gender and gender != derived:
            raise ApiError("gender_mismatch", "性别与身份证号码不符", 400, "gender")
        gender = derived

    with db.atomic():
        for name in PLAIN_FIELDS:
            if name in changes:
                setattr(person, name, changes[name] or None)
        person.id_type = id_type
        if gender:
            person.gender = gender
        if id_number is not None:
            person.set_id_number(id_number)
        if phone is not None and phone != person.phone:
            person.set_phone(phone, verified=False)
        person.updated_at = utcnow()
        person.save()
    return masked(person)


def bind_verified_phone(account: Account, phone: str, via=None) -> dict:
    """Store a phone the platform vouched for (A3) on the caller's profile.

    A phone account (A4) of the same phone is the same person: a fresh WeChat account with no
    profile yet joins it (its identity and tokens move over); an account that already holds a
    profile of its own is refused rather than silently merged.
    """
    phone = identity.validate_phone(phone)
    phone_account = (AuthIdentity.select().where((AuthIdentity.provider == "phone")
                                                 & (AuthIdentity.subject == blind_index(phone, "phone"))).first())
    if phone_account is not None and phone_account.account_id != account.id:
        if Person.select().where(Person.account == account).exists() or via is None:
            raise ApiError("phone_taken", "该手机号已注册账号，请使用手机号登录", 409, "encrypted_data")
        with db.atomic():
            AuthIdentity.update(account=phone_account.account_id).where(AuthIdentity.id == via.id).execute()
            AuthToken.update(account=phone_account.account_id).where(AuthToken.identity == via).execute()
        account = phone_account.account
    with db.atomic():
        person = self_person(account) or Person(account=account, relation="self")
        person.set_phone(phone, verified=True)
        person.updated_at = utcnow()
        person.save()
        medical_staff.link_phone(account, phone)
    return {"phone": identity.mask_phone(phone), "phone_verified": True, "account_id": account.id}
