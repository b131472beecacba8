"""Place admins and inspectors (B4, B5, E1, E5): create a place, share its declaration code,
bind inspectors, check temperatures at the door, and the counts each role sees."""

from __future__ import annotations

import datetime as dt
import json

import peewee

from models.accounts import Account
from models.db import db
from models.fieldwork import InspectorBinding
from models.fields import utcnow
from models.places import EntryRecord, Place
from models.regions import Region
from models.risk_inputs import TemperatureRecord
from services.accounts import auth
from services.colours import colour, colour_scheme
from services.common.errors import ApiError
from services.common.timefmt import china_day_start, local_iso
from services.oversight import audit
from services.people import health_codes, identity, profile
from services.risk_data import risk_inputs
from services.risk_data.risk_inputs import china_date
from services.scanning.scans import FEVER, REQUEST_ID_RE
from services.venues import places, share_codes
from services.venues.place_types import place_type


def my_place(account: Account) -> Place:
    """The one place this account administers, or a 404."""
    place = Place.get_or_none(Place.admin == account)
    if place is None:
        raise ApiError("no_place", "您还没有创建场所", 404)
    return place


def administered_place(account: Account, place_id) -> Place:
    """The place `place_id` when this account administers it (its codes to download or reissue,
    B2, B3); a 403 for any other place, or none, so that ids reveal nothing."""
    place = Place.get_or_none(Place.id == int(place_id))
    if place is None or place.admin_id != account.id:
        raise ApiError("not_your_place", "只有场所管理员可以管理该场所码", 403)
    return place


def create_place(account: Account, data: dict) -> Place:
    """createPlace: one admin, one place; the creator becomes its admin (B4)."""
    kind = place_type(data["place_type"])
    if kind.category == "compound":
        raise ApiError("invalid_field", "小区由后台管理员创建", 400, "place_type")
    region = Region.get_or_none(Region.code == data["region_code"])
    if region is None:
        raise ApiError("unknown_region", "所在区域不存在", 400, "region_code")
    if Place.select().where(Place.admin == account).exists():
        raise ApiError("already_place_admin", "一个管理员只能创建一个场所", 409)
    with db.atomic():
        place, _ = places.create_place(place_type_code=kind.code, name=data["name"], region=region,
                                       address=data["address"], admin=account)
        Place.update(declaration_code=share_codes.new_code(Place.declaration_code)).where(
            Place.id == place.id).execute()
        auth.grant_role(account, "place_admin")
        audit.record(account, "place_admin", "create_place", place, name=place.name, type=kind.code)
    return Place.get_by_id(place.id)


def _counts(place: Place) -> dict:
    today_start = china_day_start()
    entries = EntryRecord.select().where(EntryRecord.place == place)
    return {"inspectors": InspectorBinding.select().where(InspectorBinding.place == place).count(),
            "today": entries.where(EntryRecord.created_at >= today_start).count(), "total": entries.count()}


def place_summary(place: Place, config) -> dict:
    """getMyPlace: the place, its codes to share and its figures."""
    token = places.current_code(place).token
    inspectors = (InspectorBinding.select(InspectorBinding, Account).join(Account)
                  .where(InspectorBinding.place == place).order_by(InspectorBinding.bound_at))
    return {**places.place_view(place), "declaration_code": place.declaration_code,
            "code_url": places.code_url(config, token), "quick_checkin_url": quick_checkin_url(config, place, token),
            "stats": _counts(place),
            "inspectors": [{"account_id": b.inspector_id, "name": _masked_name(b.inspector),
                            "bound_at": local_iso(b.bound_at)} for b in inspectors]}


def quick_checkin_url(config, place: Place, token: str) -> str | None:
    """C7: the code people scan to check in with a normal temperature, no inspector needed; None
    at a checkpoint, whose type offers no quick check-in."""
    if not place_type(place.place_type).quick_checkin:
        return None
    return places.code_url(config, token) + "?quick=1"


def _masked_name(account: Account) -> str | None:
    person = profile.self_person(account)
    return identity.mask_name(person.name) if person and person.name else None


def hand_over(account: Account, new_admin_id: int) -> Place:
    """Make one of the place's inspectors its admin; the old admin keeps only what else they have."""
    place = my_place(account)
    binding = InspectorBinding.get_or_none((InspectorBinding.place == place)
                                           & (InspectorBinding.inspector == new_admin_id))
    if binding is None:
        raise ApiError("not_an_inspector_here", "只能移交给本场所已绑定的检测员", 400, "account_id")
    if Place.select().where(Place.admin == new_admin_id).exists():
        raise ApiError("already_place_admin", "对方已是其他场所的管理员", 409, "account_id")
    with db.atomic():
        Place.update(admin=new_admin_id).where(Place.id == place.id).execute()
        auth.revoke_role(account, "place_admin")
        auth.grant_role(binding.inspector, "place_admin")
        audit.record(account, "place_admin", "hand_over_place", place, to_account=new_admin_id)
    return Place.get_by_id(place.id)


def unbind_inspector(account: Account, inspector_id: int) -> None:
    """Member management: the admin removes an inspector from the place."""
    place = my_place(account)
    with db.atomic():
        removed = InspectorBinding.delete().where((InspectorBinding.place == place)
                                                  & (InspectorBinding.inspector == inspector_id)).execute()
        if not removed:
            raise ApiError("not_an_inspector_here", "该检测员未绑定本场所", 404, "account_id")
        audit.record(account, "place_admin", "unbind_inspector", place, inspector=inspector_id)


# --- inspectors ---------------------------------------------------------------------------------

def bind_place(account: Account, declaration_code: str) -> InspectorBinding:
    """bindPlace: the place behind a declaration code; it becomes the inspector's current place."""
    place = Place.get_or_none(Place.declaration_code == share_codes.normalise(declaration_code))
    if place is None:
        raise ApiError("unknown_declaration_code", "场所申报码不存在，请向场所管理员核对", 404, "declaration_code")
    with db.atomic():
        binding, _ = InspectorBinding.get_or_create(inspector=account, place=place)
        _make_current(account, place)
        auth.grant_role(account, "inspector")
        audit.record(account, "inspector", "bind_place", place)
    return InspectorBinding.get_by_id(binding.id)


def _make_current(account: Account, place: Place) -> None:
    InspectorBinding.update(is_current=(InspectorBinding.place == place)).where(
        InspectorBinding.inspector == account).execute()


def binding(account: Account, place_id) -> InspectorBinding:
    """The inspector's binding to a place; a place they are not bound to is a 403."""
    found = InspectorBinding.get_or_none((InspectorBinding.inspector == account) & (InspectorBinding.place == place_id))
    if found is None:
        raise ApiError("not_bound_to_place", "您未绑定该场所，不能在此登记", 403, "place_id")
    return found


def current_binding(account: Account) -> InspectorBinding:
    """The inspector's current place binding."""
    found = (InspectorBinding.select().where((InspectorBinding.inspector == account) & InspectorBinding.is_current)
             .first())
    if found is None:
        raise ApiError("no_current_place", "请先绑定场所", 400, "place_id")
    return found


def set_current(account: Account, place_id) -> None:
    """Switch the inspector's current place."""
    place = binding(account, place_id).place
    _make_current(account, place)


def unbind_place(account: Account, place_id) -> None:
    """The inspector leaves a place."""
    found = binding(account, place_id)
    with db.atomic():
        found.delete_instance()
        audit.record(account, "inspector", "unbind_place", found.place)


def inspector_places(account: Account, config) -> list[dict]:
    """The inspector's places, current first, each with its quick check-in code."""
    rows = (InspectorBinding.select(InspectorBinding, Place).join(Place)
            .where(InspectorBinding.inspector == account)
            .order_by(InspectorBinding.is_current.desc(), InspectorBinding.bound_at))
    return [{**places.place_view(b.place), "is_current": b.is_current, "bound_at": local_iso(b.bound_at),
             "quick_checkin_url": quick_checkin_url(config, b.place, places.current_code(b.place).token)}
            for b in rows]


# How late an inspector's page may send a check it queued while offline (N7): beyond this the
# citizen has long left, and the code's verdict at the time can no longer be trusted.
OFFLINE_CHECK_MAX_HOURS = 72


def _checked_at(value, now: dt.datetime) -> dt.datetime:
    """The UTC time (naive, as stored) of a check made offline: ISO 8601 with a zone, not in the
    future, not older than OFFLINE_CHECK_MAX_HOURS."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError("invalid_field", "checked_at 应为带时区的 ISO 8601 时间，如 2020-02-01T08:30:00+08:00", 400,
                       "checked_at")
    moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if moment > now + dt.timedelta(seconds=health_codes.CLOCK_SKEW_SECONDS):
        raise ApiError("checked_at_in_future", "登记时间晚于服务器时间，请校准手机时间后重试", 400, "checked_at")
    if moment < now - dt.timedelta(hours=OFFLINE_CHECK_MAX_HOURS):
        raise ApiError("offline_check_too_old", f"离线登记已超过{OFFLINE_CHECK_MAX_HOURS}小时，无法补传，请重新登记", 400,
                       "checked_at")
    return moment


def _same_check(earlier: EntryRecord, body: dict) -> bool:
    """Whether a request id's first record says what this body says (a replay, not a reuse)."""
    try:
        result = json.loads(earlier.form or "{}").get("result")
    except ValueError:
        result = None
    return result == body["result"] and risk_inputs.same_temperature(body.get("temperature"), earlier.temperature)


def _replayed(account: Account, body: dict) -> dict | None:
    """The first answer for this request id (a retried or replayed check), or None if it is new."""
    earlier = EntryRecord.get_or_none(EntryRecord.request_id == body["request_id"])
    if earlier is None:
        return None
    if earlier.account_id != account.id:
        raise ApiError("request_id_conflict", "request_id 已被使用", 409, "request_id")
    if not _same_check(earlier, body):
        raise ApiError("request_id_conflict", "该请求编号已用于另一条不同的登记，请重新登记", 409, "request_id")
    return json.loads(earlier.verdict)


def record_temperature_check(account: Account, body: dict, config) -> dict:
    """recordTemperatureCheck: a verified citizen code, normal or fever, at a bound place (E1).

    With `checked_at`, a check the inspector's page queued while offline (N7): the code is
    verified as of that time and the record bears it. The request id makes a queue replayed
    twice write one record per check."""
    if not REQUEST_ID_RE.fullmatch(body["request_id"]):
        raise ApiError("invalid_field", "request_id 应为 8-64 位字母、数字、- 或 _", 400, "request_id")
    bound = binding(account, body["place_id"]) if body.get("place_id") is not None else current_binding(account)
    earlier = _replayed(account, body)
    if earlier is not None:
        return earlier
    now = utcnow()
    if body.get("checked_at"):
        now = _checked_at(body["checked_at"], now)
    person, _ = health_codes.resolve(body["payload"], config, now=now)
    fever = body["result"] == "fever"
    value = risk_inputs.check_temperature(body["temperature"]) if body.get("temperature") is not None else None
    if value is not None and (value >= FEVER) != fever:
        raise ApiError("temperature_mismatch", "体温数值与“正常/发热”选择不一致", 400, "temperature")
    form = {"result": body["result"]}
    if body.get("checked_at"):
        form["offline"] = True
    try:
        with db.atomic():
            answer = _write_check(account, bound, person, fever, value, body, form, now, config)
    except peewee.IntegrityError:
        # The same queue sent twice at once: the other request wrote this request id first.
        earlier = _replayed(account, body)
        if earlier is None:
            raise
        return earlier
    return answer


def _write_check(account, bound, person, fever, value, body, form, now, config) -> dict:
    if fever:
        risk_inputs.record_temperature(person, value if value is not None else FEVER, source="inspector",
                                       measured_at=now, recorded_by=account)
    elif value is not None:
        TemperatureRecord.create(person=person, subject=person.subject, value=value, measured_at=now,
                                 event_date=china_date(now), source="inspector", recorded_by=account)
    verdict = colour.verdict(person.subject).as_dict(colour_scheme.current(config))
    kind = place_type(bound.place.place_type)
    admitted = verdict["colour"] in kind.admits
    answer = {**{k: verdict[k] for k in ("colour", "colour_label", "reasons", "guidance")},
              "admit": admitted, "result": body["result"], "temperature": float(value) if value else None,
              "place": places.place_view(bound.place), "name_masked": identity.mask_name(person.name),
              "phone_masked": identity.mask_phone(person.phone) or None,
              "registered_at": local_iso(now)}
    entry = EntryRecord.create(request_id=body["request_id"], place=bound.place, person=person, account=account,
                               flow="inspection", source="inspector", temperature=value, colour=verdict["colour"],
                               admitted=admitted, form=json.dumps(form),
                               verdict=json.dumps(answer, ensure_ascii=False), created_at=now)
    audit.record(account, "inspector", "temperature_check", entry, result=body["result"])
    return answer


def inspector_stats(account: Account) -> dict:
    """E5: the inspector's registrations today and in total."""
    mine = EntryRecord.select().where((EntryRecord.account == account) & (EntryRecord.source == "inspector"))
    return {"today": mine.where(EntryRecord.created_at >= china_day_start()).count(), "total": mine.count()}
