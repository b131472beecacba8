"""Family members (A7) and the proxy identities a shared phone remembers (A8).

Both are people kept under the account that registered them: `relation` "family" (with the
relationship) or "proxy". Removing one detaches it from the account; the person's records stay.
"""

from __future__ import annotations

from models.accounts import Account
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person
from services import identity
from services.errors import ApiError

RELATIONSHIPS = {"parent": "父母", "child": "子女", "spouse": "配偶", "grandparent": "祖父母/外祖父母",
                 "grandchild": "孙子女/外孙子女", "sibling": "兄弟姐妹", "other": "其他亲属"}
MAX_MEMBERS = 10
MAX_PROXIES = 20


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
    if _people(account, relation).where(Person.id_number_bidx == blind_index(number, "id_number")).exists():
        raise ApiError("duplicate_person", "该证件号码已登记", 409, "id_number")
    if _people(account, relation).count() >= limit:
        raise ApiError("too_many_people", f"最多登记 {limit} 人", 400)
    person = Person(account=account, relation=relation, name=name[:64], id_type=id_type,
                    relationship=data.get("relationship"), gender=identity.gender_of(number)
                    if id_type == "resident_id" else data.get("gender"))
    person.set_id_number(number)
    person.set_phone(phone)
    return person


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


def member_of(account: Account, member_id, relation: str = "family") -> Person:
    """One of the account's family members (or proxy identities); anyone else's is a 403."""
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        raise ApiError("invalid_field", "成员编号无效", 400, "member_id") from None
    person = Person.get_or_none(Person.id == member_id)
    if person is None or person.account_id != account.id or person.relation != relation:
        label = "家庭成员" if relation == "family" else "代登记人员"
        raise ApiError("not_your_member", f"该{label}不属于当前账号", 403, "member_id")
    return person


def detach(account: Account, member_id, relation: str = "family") -> None:
    """Remove a family member or proxy identity from the account (the person's records stay)."""
    person = member_of(account, member_id, relation)
    Person.update(account=None, relation=f"{relation}_removed", updated_at=utcnow()).where(
        Person.id == person.id).execute()


def proxy_identity(account: Account, data: dict) -> Person:
    """The proxy identity for `data` on this phone: the one already remembered, or a new one."""
    number = data.get("id_number")
    id_type = data.get("id_type") or "resident_id"
    if number:
        known = _people(account, "proxy").where(
            Person.id_number_bidx == blind_index(identity.validate_document(id_type, number), "id_number")).first()
        if known:
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
            "phone": identity.mask_phone(person.phone) or None}
