"""The public scan flow (C1-C8): what a code asks for, and a scan's verdict and entry record.

A scan resolves the code, picks who is scanning (me, a family member, a proxy identity), applies
the place type's flow (profile on the first scan, the flow's form, temperature, the checkpoint's
travel check, one compound per person), reads the current colour and answers the verdict. The
entry record is idempotent on the client's request id: a retried scan returns the first answer.

`scan` reads everything it decides on in one statement, the caller's token included (the
handler signs in through it: see ApiHandler.signs_in_itself). When the scan has nothing to write
but its entry record (and a normal temperature) - the common case of a known person - the rows
go to the group-commit writer (services/scanning/entry_writer.py) and the answer is given once they are
committed; any other scan (profile to save, proxy identity, compound to bind, travel, fever, a
resident whose colour calls for isolation going to 待确认隔离, any scan at a place that counts who
is inside, N8: services/venues/occupancy.py) runs in one transaction on the DB pool. The answer
is serialised once, for the stored entry and the response alike (RawJson).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import peewee

from services.operations import pools
from models.accounts import Account, AuthToken
from models.colour import HealthStatus
from models import loop_guard
from models.db import Prepared, loaded
from models.fields import utcnow
from models.people import Person
from models.places import EntryRecord, Place, PlaceCode
from models.risk_inputs import TemperatureRecord
from models.transactions import run_transaction
from services.accounts import auth
from services.back_office import residents
from services.colours import colour, colour_rules, colour_scheme
from services.common.errors import ApiError
from services.common.forms import clean_form
from services.common.raw_json import RawJson
from services.common.timefmt import local_iso
from services.investigations.records import record_checkpoint_scan
from services.operations import metrics
from services.people import family, identity, profile
from services.risk_data import risk_inputs
from services.risk_data.risk_inputs import china_date
from services.scanning import entry_writer
from services.venues import occupancy, places, screen_codes
from services.venues.place_types import PlaceType, place_type

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
FEVER = 37.3
QUICK_TEMPERATURE_LABEL = "体温正常（快速打卡）"
# Rules whose people the guard must notice at once: flashing red with a sound (C6).
ALERT_RULES = {"key_region"}
ALERT = {"flash": True, "sound": True, "message": "重点地区返回人员，请重点关注"}
PLACE_VIEW_SECONDS = 60
# Whom a scan is for, besides the caller: at most one of them.
SUBJECT_FIELDS = ("member_id", "proxy_identity_id", "identity")
# Made once (json.dumps makes one per call); what it encodes is built here, never circular: no check.
_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


_EARLIER = EntryRecord.alias("earlier")
_SEEN = EntryRecord.alias("seen")
# What a common scan uses of each row it reads (fewer columns: fewer values to convert).
_READ_COLUMNS = ((AuthToken, ("id", "revoked_at", "expires_at", "last_used_at")),
                 (Account, ("id", "status", "created_at")),
                 (Person, ("id", "name", "id_number", "id_number_bidx", "phone_bidx", "compound")),
                 (HealthStatus, ("id", "colour", "reasons", "valid_until", "computed_at")),
                 (PlaceCode, ("id", "status", "place")),
                 (Place, ("id", "place_type", "name", "region", "address", "status", "created_at", "screen_only",
                           "counts_occupancy")))


def _scan_reads(token_hash, token, request_id, flow_code):
    """All a scan reads before it decides, as one statement (one round trip, not eight): the
    caller's token and account, their own person and stored colour, the code and its place,
    the first entry of this request id, whether the person scanned with this flow before, and
    the colour rules' fingerprint. The row comes back as values (Prepared.first_values):
    building the models by hand (`_ScanReads.of`) costs a fraction of peewee's join machinery."""
    earlier = _EARLIER.select(_EARLIER.id).where(_EARLIER.request_id == request_id).limit(1)
    seen = _SEEN.select(_SEEN.id).where((_SEEN.person == Person.id) & (_SEEN.flow == flow_code)).limit(1)
    columns = [getattr(model, name) for model, names in _READ_COLUMNS for name in names]
    return (AuthToken.select(*columns, earlier, seen, colour_rules.rules_fingerprint())
            .join(Account, on=Account.id == AuthToken.account)
            .join(Person, peewee.JOIN.LEFT_OUTER, on=(Person.account == Account.id) & (Person.relation == "self"))
            .join(HealthStatus, peewee.JOIN.LEFT_OUTER, on=HealthStatus.subject == Person.id_number_bidx)
            .switch(AuthToken)
            .join(PlaceCode, peewee.JOIN.LEFT_OUTER, on=PlaceCode.token == token)
            .join(Place, peewee.JOIN.LEFT_OUTER, on=Place.id == PlaceCode.place)
            .where(AuthToken.token_hash == token_hash).limit(1).tuples())


def _spans() -> tuple[list, int]:
    """(model, names, first index, end index) of each model's columns in `_READS`' row, and the
    index of the columns after them."""
    spans, start = [], 0
    for model, names in _READ_COLUMNS:
        spans.append((model, names, start, start + len(names)))
        start += len(names)
    return spans, start


# Where each model's columns sit in the row (`_ScanReads.of`), and where the rest begins.
_READ_SPANS, _READ_END = _spans()

# The rules' fingerprint is the same for every scan: a MySQL batch reads it once.
_READS = Prepared(_scan_reads, "\x00token-hash", "\x00token", "\x00request-id", "\x00flow",
                  shared_last_column=True)


@dataclass
class _ScanReads:
    """`_READS`' row as models (None for a row that is not there): `token.account` is the
    caller's account, `me.health_status` the person's stored colour row or None."""

    token: AuthToken
    me: Person | None
    code: PlaceCode | None
    place: Place | None
    earlier_id: int | None
    seen_id: int | None
    rules: object  # the colour rules' fingerprint (colour_rules.rules_fingerprint)

    @classmethod
    def of(cls, row: list | None) -> _ScanReads | None:
        """Split the row into its models (each given only the columns read); None for no row
        (an unknown token)."""
        if row is None:
            return None
        token, account, me, status, code, place = [
            loaded(model, dict(zip(names, row[start:end]))) if row[start] is not None else None
            for model, names, start, end in _READ_SPANS]
        token.account = account
        if me is not None:
            me.health_status = status
        return cls(token, me, code, place, *row[_READ_END:])


_place_views: dict = {}


@dataclass
class _Begun:
    """A scan's setting, once its request id is known to be new."""

    request_id: str
    place: Place
    kind: PlaceType
    flow: object
    temperature: float | None
    reads: _ScanReads


def _active_place(token, reads: _ScanReads) -> Place:
    """The code's place when both are active; any other code goes through places.active_place,
    which says what is wrong."""
    code, place = reads.code, reads.place
    if code is None or code.status != "active" or place is None or place.status != "active":
        return places.active_place(token)[1]
    return place


def _place_view(place: Place) -> dict:
    """places.place_view, kept a minute per version of the place row: the address it may derive
    from the region tree costs two queries, so a renamed region shows within the minute."""
    key = (place.id, place.created_at, place.name, place.address, place.region_id, place.place_type)
    now = time.monotonic()
    kept = _place_views.get(key)
    if kept is None or kept[0] < now:
        if len(_place_views) > 10000:
            _place_views.clear()
        kept = _place_views[key] = (now + PLACE_VIEW_SECONDS, places.place_view(place))
    return kept[1]


def describe_code(token: str, account: Account) -> dict:
    """getPlaceByCode: the place, its flows and their forms, and what this person must still fill."""
    code = places.find_code(token)
    kind = place_type(code.place_type)
    if code.status == "blank":
        return {"status": "blank", "type": kind.code, "type_label": kind.label,
                "activation_form": [f.describe() for f in kind.activation_form]}
    _, place = places.active_place(token)
    me = profile.self_person(account)
    flows = []
    for flow in kind.flows:
        flows.append({"code": flow.code, "label": flow.label, "ask_every_time": flow.ask_every_time,
                      "form": [f.describe() for f in flow.form],
                      "form_needed": bool(flow.form) and (flow.ask_every_time or not _has_scanned(me, flow.code))})
    compound = None
    if kind.category == "compound" and me is not None and me.compound_id:
        compound = {"is_this_compound": me.compound_id == place.region_id, "name": me.compound.name}
    quick = ({"offered": True, "flow": kind.quick_flow().code} if kind.quick_checkin
             else {"offered": False, "message": kind.quick_checkin_refusal})
    return {"status": "active", "place": places.place_view(place), "type": kind.describe(), "flows": flows,
            "quick_checkin": quick, "needs_profile": not profile.is_complete(me), "my_compound": compound,
            # Only the members this account may scan for: children, and adults who consented (N4).
            "family": [family.member_view(p) for p in family.family_members(account) if family.may_act_for(p)],
            "proxy_identities": [family.member_view(p) for p in family.proxy_identities(account)]}


def _has_scanned(person: Person | None, flow_code: str) -> bool:
    if person is None:
        return False
    return EntryRecord.select().where((EntryRecord.person == person) & (EntryRecord.flow == flow_code)).exists()


def _who(account: Account, body: dict) -> tuple[Person, str]:
    """The person scanning and the entry's source."""
    chosen = [name for name in SUBJECT_FIELDS if body.get(name) is not None]
    if len(chosen) > 1:
        raise ApiError("conflicting_fields", "member_id、proxy_identity_id 和 identity 只能填写一项", 400, chosen[1])
    if body.get("member_id") is not None:
        return family.member_of(account, body["member_id"]), "family"
    if body.get("proxy_identity_id") is not None:
        return family.member_of(account, body["proxy_identity_id"], relation="proxy"), "proxy"
    if body.get("identity") is not None:
        try:
            return family.proxy_identity(account, body["identity"]), "proxy"
        except ApiError as error:  # its fields are the identity's
            error.field = f"identity.{error.field}" if error.field else "identity"
            raise
    me = profile.self_person(account)
    if not profile.is_complete(me):
        if not body.get("profile"):
            raise ApiError("profile_required", "首次扫码请先填写个人信息", 400, "profile")
        profile.update_profile(account, body["profile"])
        me = profile.self_person(account)
        if not profile.is_complete(me):
            raise ApiError("profile_required", "请填写姓名、证件号码和手机号", 400, "profile")
    return me, "self"


def _bind_compound(person: Person, place: Place) -> None:
    """C5: the first compound scan binds the person; another compound refuses them."""
    if person.compound_id is None:
        Person.update(compound=place.region_id).where(Person.id == person.id).execute()
        person.compound = place.region_id
        residents.bind(person, place.region, source="scan")  # what the back office lists (G3)
    elif person.compound_id != place.region_id:
        raise ApiError("not_this_compound", "非本小区人员，禁止入内", 403, "code")


def _travel(person: Person, flow_code: str, form: dict, source: str) -> None:
    """The travel a form declares reaches the colour engine before the verdict is read (C4)."""
    travelled = form.get("returned_from_elsewhere") or form.get("from_abroad") or source == "checkpoint"
    if not travelled:
        return
    if not form.get("arrival_date"):
        raise ApiError("missing_field", "请填写来郑日期", 400, "form.arrival_date")
    if form.get("from_abroad") and not form.get("country"):
        raise ApiError("missing_field", "请填写返回国家", 400, "form.country")
    risk_inputs.record_travel(person, arrival_date=form["arrival_date"], origin_code=form.get("origin_code"),
                              origin_name=form.get("origin_name"), from_abroad=bool(form.get("from_abroad")),
                              country=form.get("country"), transport_number=form.get("transport_number"),
                              source=source)


def _answer(place: Place, kind: PlaceType, person: Person, verdict: dict, admitted: bool, registered_at, flow,
            source: str) -> dict:
    alert = ALERT if any(d["rule"] in ALERT_RULES for d in verdict["details"]) else None
    # Someone else's reasons are their health data: a proxy (A8) learns the colour and the
    # decision, what the gate needs, and never why.
    why = {"reasons": [], "guidance": []} if source == "proxy" else {k: verdict[k] for k in ("reasons", "guidance")}
    return {"colour": verdict["colour"], "colour_label": verdict["colour_label"], **why,
            "admit": admitted, "admit_label": "允许通行" if admitted else "禁止通行",
            "place": _place_view(place), "flow": flow.code, "flow_label": flow.label, "source": source,
            "name_masked": identity.mask_name(person.name), "id_masked": identity.mask_id_number(person.id_number),
            "registered_at": local_iso(registered_at), "alert": alert}


def _begin(row, body: dict, config, request_id_ok: bool) -> tuple[Account, RawJson | _Begun]:
    """What needs no transaction, from the scan's reads (`row`): the caller's token, the request
    id (a retry answers its first answer at once), the place, its type and flow, the temperature.
    Returns the caller's account and the first answer or the scan's setting."""
    request_id, token, flow_code = body["request_id"], body["code"], body.get("flow")
    reads = _ScanReads.of(row)
    account = auth.check_token(reads and reads.token, config).account  # signed in before anything else
    if not request_id_ok:
        raise ApiError("invalid_field", "request_id 应为 8-64 位字母、数字、- 或 _", 400, "request_id")
    if reads.earlier_id is not None:
        return account, _replay(EntryRecord.get_by_id(reads.earlier_id), account, body,
                                reads.code.place_id if reads.code is not None else None)
    place = _active_place(token, reads)
    # N1: a door screen's code is signed for its place and window (an HMAC: no query).
    screen_codes.check_scan(place, body.get("screen_code"), config)
    kind = place_type(place.place_type)
    quick = bool(body.get("quick_checkin"))
    flow = kind.quick_flow(flow_code) if quick else kind.flow(flow_code)
    temperature = risk_inputs.check_temperature(body["temperature"]) if body.get("temperature") is not None else None
    if quick and temperature is not None and temperature >= FEVER:
        # C7 is for people found normal at the door; a fever is registered by the inspector (E1).
        raise ApiError("fever_not_quick", "体温异常（≥37.3℃）不能使用体温正常快速打卡，请联系现场检测人员登记", 400,
                       "temperature")
    return account, _Begun(request_id, place, kind, flow, temperature, reads)


def _form(person: Person, flow, body: dict, scanned: bool | None = None) -> dict | None:
    """The flow's form, checked, when this scan must fill it; None when it need not (a quick
    check-in asks none, C7, though it may carry one). `scanned`: whether the person scanned with
    this flow before, when the caller knows."""
    if not flow.form or (body.get("quick_checkin") and not body.get("form")):
        return None
    if not (flow.ask_every_time or body.get("form")):
        if _has_scanned(person, flow.code) if scanned is None else scanned:
            return None
    return clean_form(flow.form, body.get("form"))


def _travelled(form: dict | None, kind: PlaceType) -> bool:
    return form is not None and bool(form.get("returned_from_elsewhere") or form.get("from_abroad")
                                     or kind.category == "checkpoint")


def _record(account: Account, body: dict, config, begun: _Begun, person: Person, source: str, form: dict | None,
            now, stored=colour.READ) -> tuple[dict, dict, dict | None, object]:
    """The verdict and the rows the scan leaves: (answer, entry row, normal-temperature row or None,
    isolation due): the last is, for a compound resident whose colour calls for isolation, the
    date it is due from (residents.isolation_due), else None.
    `stored`: the person's HealthStatus row when it was read already (see colour.verdict)."""
    request_id, place, kind, flow, temperature = (begun.request_id, begun.place, begun.kind, begun.flow,
                                                  begun.temperature)
    verdict = colour.verdict(person.subject, stored=stored, rules=begun.reads.rules).as_dict(
        colour_scheme.current(config))
    admitted = verdict["colour"] in kind.admits and verdict["colour"] != "unknown"
    answer = _answer(place, kind, person, verdict, admitted, now, flow, source)
    form = form or {}
    if body.get("quick_checkin"):
        # C7: 默认体温正常 - the entry says so even when no value was typed (as an inspector's
        # "normal" does, services/fieldwork/place_admin.py).
        form = {**form, "quick_checkin": True, "result": "normal"}
        answer.update(quick_checkin=True, temperature_label=QUICK_TEMPERATURE_LABEL)
    entry = {"request_id": request_id, "place": place.id, "person": person.id, "account": account.id,
             "flow": flow.code, "source": source, "temperature": temperature, "colour": verdict["colour"],
             "admitted": admitted, "form": _JSON.encode(form) if form else "{}", "verdict": _JSON.encode(answer),
             "created_at": now}
    normal = None
    if temperature is not None and temperature < FEVER:
        # A normal temperature cannot raise a colour: stored, with no recompute on the hot path.
        normal = {"person": person.id, "subject": person.subject, "value": temperature, "measured_at": now,
                  "event_date": china_date(now), "source": "scan", "recorded_by": account.id,
                  "created_at": now}
    due = residents.isolation_due(verdict["details"]) if flow.binds_compound else None
    return answer, entry, normal, due


def _scan_in_transaction(account: Account, body: dict, config, begun: _Begun) -> RawJson:
    """A scan that writes more than its entry, all in one transaction on this thread: profile,
    proxy identity, compound binding, travel, fever, the count of a counting place (N8). Run again
    if MariaDB rolled it back as a deadlock's victim (models/transactions.py): a fever's recompute
    locks the person's colour, which the hourly recompute may hold."""
    place, kind, flow, temperature = begun.place, begun.kind, begun.flow, begun.temperature
    stored_entry = {}

    def write() -> RawJson:
        person, source = _who(account, body)
        form = _form(person, flow, body)
        if flow.binds_compound:
            _bind_compound(person, place)
        if form is not None:
            _travel(person, flow.code, form, "checkpoint" if kind.category == "checkpoint" else "declaration")
        now = utcnow()
        if temperature is not None and temperature >= FEVER:
            risk_inputs.record_temperature(person, temperature, source="scan", measured_at=now)
        answer, entry, normal, due = _record(account, body, config, begun, person, source, form, now)
        if place.counts_occupancy and entry["admitted"]:
            occupancy.count_in(place, person, now)  # N8: at capacity, raises and nothing is kept
        if due is not None and residents.awaits_confirmation(person, due):
            residents.mark_pending(person, place.region)  # G3: 待确认隔离 for the compound admin
        if kind.category == "checkpoint":
            # H2: red / yellow arrivals join the medium / high-risk returnee list at once.
            record_checkpoint_scan(person, answer["colour"], place, form)
        if normal is not None:
            TemperatureRecord.insert(normal).execute()
        EntryRecord.insert(entry).execute()
        stored_entry.update(entry)  # a deadlock's retry writes it again: counted once, committed
        return RawJson(entry["verdict"])

    answer = run_transaction(write)
    metrics.count_scan(stored_entry["colour"], stored_entry["admitted"])
    return answer


async def scan(bearer: str, body: dict, config) -> RawJson:
    """scanPlace for the bearer of this token: a scan that writes nothing but its entry (and a
    normal temperature) is read in one statement (`_scan_reads`) and written by the group-commit
    writer, the answer given once the batch is committed; any other scan takes
    `_scan_in_transaction`. The answer is the stored verdict's JSON text.

    What the scan decides from its reads (`_decide`) is tried on the event loop with no query
    allowed (models/loop_guard.py): the common scan has all it needs. One that needs another
    query (a member's row, a colour to recompute, a token's last use to note) decides on the DB pool."""
    request_id, token, flow_code = body["request_id"], body["code"], body.get("flow")
    request_id_ok = REQUEST_ID_RE.fullmatch(request_id) is not None
    row = await _READS.read_values(auth.token_hash(bearer),
                                   token if isinstance(token, str) and len(token) <= 32 else None,
                                   request_id if request_id_ok else None,
                                   flow_code if isinstance(flow_code, str) else None)
    try:
        with loop_guard.no_queries():
            decided = _decide(row, body, config, request_id_ok)
    except loop_guard.QueryNeeded:
        decided = await pools.run_in(pools.DB, _decide, row, body, config, request_id_ok)
    if isinstance(decided, RawJson):
        return decided
    account, begun, entry, normal = decided
    if entry is None:
        # On the DB pool: its statements (a fever's colour recompute among them) would otherwise
        # wait on the event loop, and every scan behind them.
        return await pools.run_in(pools.DB, _scan_in_transaction, account, body, config, begun)
    earlier = await entry_writer.writer.write(entry, normal)
    if earlier is not None:
        return _replay(earlier, account, body, begun.place.id)
    metrics.count_scan(entry["colour"], entry["admitted"])
    return RawJson(entry["verdict"])


def _decide(row, body: dict, config, request_id_ok: bool) -> RawJson | tuple:
    """The scan's course from its reads: the first answer of a retried request, or (account,
    setting, entry row, normal-temperature row), the entry None when the scan writes more than
    its entry and takes `_scan_in_transaction`."""
    account, begun = _begin(row, body, config, request_id_ok)
    if isinstance(begun, RawJson):
        return begun
    flow, temperature = begun.flow, begun.temperature
    in_transaction = (account, begun, None, None)
    if begun.place.counts_occupancy:
        return in_transaction  # N8: counted in its own transaction
    if body.get("identity") is not None or (temperature is not None and temperature >= FEVER):
        return in_transaction
    stored = colour.READ
    if body.get("member_id") is not None or body.get("proxy_identity_id") is not None:
        person, source = _who(account, body)  # reads only
        form = _form(person, flow, body)
    else:
        person, source = begun.reads.me, "self"
        if not profile.is_complete(person):  # the profile must be saved first (or refused)
            return in_transaction
        stored = person.health_status  # read with the rest (`_ScanReads.of`)
        form = _form(person, flow, body, scanned=begun.reads.seen_id is not None)
    if flow.binds_compound and person.compound_id is None:
        return in_transaction
    if _travelled(form, begun.kind):
        return in_transaction
    if flow.binds_compound:
        _bind_compound(person, begun.place)  # bound here already, or refused: nothing to write
    answer, entry, normal, due = _record(account, body, config, begun, person, source, form, utcnow(), stored)
    if due is not None and residents.awaits_confirmation(person, due):
        # Rare (a resident to be isolated whom nobody has yet decided about): status to write.
        return in_transaction
    return account, begun, entry, normal


def _replay(entry: EntryRecord, account: Account, body: dict, place_id: int | None) -> RawJson:
    """The first answer again, for a retried request (C8). Another account's id is a conflict,
    and so is another registration under the same id (another place, flow or temperature: its
    data would be dropped for the first answer), as recordTemperatureCheck holds it."""
    if entry.account_id != account.id:
        raise ApiError("request_id_conflict", "request_id 已被使用", 409, "request_id")
    if (entry.place_id != place_id or body.get("flow") not in (None, entry.flow)
            or not risk_inputs.same_temperature(body.get("temperature"), entry.temperature)):
        raise ApiError("request_id_conflict", "该请求编号已用于另一条不同的登记，请重新登记", 409, "request_id")
    return RawJson(entry.verdict)


def entries_of(person: Person):
    """The person's entry records, newest first (a query, for paging)."""
    return (EntryRecord.select(EntryRecord, Place).join(Place)
            .where(EntryRecord.person == person).order_by(EntryRecord.created_at.desc(), EntryRecord.id.desc()))


def entry_view(entry: EntryRecord) -> dict:
    """An entry record as "my records" shows it."""
    kind = place_type(entry.place.place_type)
    return {"id": entry.id, "place": entry.place.name, "type_label": kind.label, "flow": entry.flow,
            "source": entry.source, "colour": entry.colour, "admitted": entry.admitted,
            "temperature": float(entry.temperature) if entry.temperature is not None else None,
            "registered_at": local_iso(entry.created_at)}
