"""The partner feed (D3): partner systems (police, health commission, telecom big-data platforms)
push risk records as signed JSON batches through `feedRiskRecords`.

Credentials. The back office gives each partner a key id and a secret (`create_credential`), the
record kinds it may feed and the region it feeds for. The secret is shown once; it is stored
encrypted with the platform's data cipher (the server needs it to check signatures), never in
the clear. A revoked key is refused from then on.

Signature. Every request carries four headers:

    X-Partner-Key        the key id
    X-Partner-Timestamp  Unix time in seconds, within 5 minutes of the server's clock
    X-Partner-Nonce      16-64 characters of [A-Za-z0-9_-], never used before by this key
    X-Partner-Signature  lower-case hex HMAC-SHA256, keyed by the secret (its UTF-8 bytes), of

        METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(body))

METHOD is upper case ("POST"), PATH the request path without query string
("/api/v1/partner/risk-records"), TIMESTAMP and NONCE exactly as in their headers, and the body
hash the lower-case hex SHA-256 of the raw body bytes as sent. A wrong signature, an unknown or
revoked key, a timestamp more than 5 minutes off, or a nonce seen before is a 401 and nothing is
kept. Nonces are kept in the database (`partner_nonce`) for twice the window, so a replay is
refused by every server process; `purge_nonces` (a job) deletes older ones.

Batches. A batch holds one kind of record, up to 10,000 records, and an id chosen by the
partner. Its records go through the one risk-record validator and ingest
(`services.risk_data.risk_records.ingest`), in one transaction with the nonce and the batch's own row, so a
failure keeps nothing. The same batch id sent again stores nothing twice and answers the first
answer (with `replayed` true); the same id with another body is a 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

import peewee

from models.db import db
from models.fields import utcnow
from models.partners import PartnerBatch, PartnerCredential, PartnerNonce
from models.regions import Region
from models.transactions import run_transaction
from services.accounts.admin_auth import require_scope
from services.common.errors import ApiError
from services.common.timefmt import china_today, local_iso
from services.oversight import audit
from services.risk_data import risk_records
from services.risk_data.risk_inputs import past_date

CLOCK_WINDOW_SECONDS = 300
NONCE_KEEP = dt.timedelta(seconds=2 * CLOCK_WINDOW_SECONDS)
MAX_RECORDS = 10_000
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
BATCH_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
HEADERS = {"key": "X-Partner-Key", "timestamp": "X-Partner-Timestamp", "nonce": "X-Partner-Nonce",
           "signature": "X-Partner-Signature"}
KEY_ID_PREFIX = "pk_"


# --- signing ---------------------------------------------------------------------------------------

def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body_sha256: str) -> str:
    """The lower-case hex HMAC-SHA256 a partner sends in X-Partner-Signature, over the canonical
    text of the module docstring (`body_sha256`: the lower-case hex SHA-256 of the raw body)."""
    text = "\n".join((method.upper(), path, timestamp, nonce, body_sha256))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _unauthorized(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(code, message, 401, field)


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature checked out: the partner's credential and the request's nonce."""

    credential: PartnerCredential
    nonce: str
    body_sha256: str


def authenticate(method: str, path: str, headers, body: bytes, now: dt.datetime | None = None) -> SignedRequest:
    """The credential that signed this request, with its nonce, or a 401 (a missing or malformed
    header, an unknown or revoked key, a timestamp out of the window, a wrong signature). The
    nonce is checked and kept by `feed`, in the batch's transaction."""
    values = {name: (headers.get(header) or "").strip() for name, header in HEADERS.items()}
    for name, header in HEADERS.items():
        if not values[name]:
            raise _unauthorized("signature_missing", f"缺少签名请求头 {header}", header)
    credential = PartnerCredential.get_or_none(PartnerCredential.key_id == values["key"])
    if credential is None:
        raise _unauthorized("unknown_key", "合作方密钥不存在", HEADERS["key"])
    if credential.status != "active":
        raise _unauthorized("key_revoked", "合作方密钥已吊销", HEADERS["key"])
    if not values["timestamp"].isdigit() or len(values["timestamp"]) > 12:
        raise _unauthorized("invalid_timestamp", "时间戳应为 Unix 秒数", HEADERS["timestamp"])
    now = now or utcnow()
    sent = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(values["timestamp"]))
    if abs((now - sent).total_seconds()) > CLOCK_WINDOW_SECONDS:
        raise _unauthorized("timestamp_expired", "请求时间戳与服务器时间相差超过5分钟", HEADERS["timestamp"])
    if not NONCE_RE.fullmatch(values["nonce"]):
        raise _unauthorized("invalid_nonce", "随机串应为16至64位字母、数字、下划线或连字符", HEADERS["nonce"])
    body_sha256 = hashlib.sha256(body).hexdigest()
    expected = signature(credential.secret, method, path, values["timestamp"], values["nonce"], body_sha256)
    if not hmac.compare_digest(expected, values["signature"].lower()):
        raise _unauthorized("bad_signature", "签名校验失败", HEADERS["signature"])
    return SignedRequest(credential, values["nonce"], body_sha256)


# --- feeding ---------------------------------------------------------------------------------------

class _BatchTaken(Exception):
    """Another request stored this batch id first (found when claiming it)."""


def feed(request: SignedRequest, body: dict) -> dict:
    """Store one authenticated batch {batch_id, kind, listed_on?, records} and answer
    {batch_id, kind, received, accepted, duplicates, rejected: [{index, field, code, message}],
    received_at, replayed}. A kind the partner was not granted is a 403; a resend answers the
    first answer."""
    credential, nonce, body_sha256, kind = request.credential, request.nonce, request.body_sha256, body["kind"]
    if kind not in credential.granted():
        raise ApiError("kind_not_granted", f"该合作方无权报送此类数据：{risk_records.KINDS[kind].label}", 403, "kind")
    listed_on = past_date(body.get("listed_on") or china_today(), "listed_on")

    def write() -> dict:
        _use_nonce(credential, nonce)
        stored = _stored(credential, body["batch_id"], body_sha256)
        if stored is not None:
            return stored
        try:
            with db.atomic():
                batch = PartnerBatch.create(credential=credential, batch_id=body["batch_id"], kind=kind,
                                            body_sha256=body_sha256, received=len(body["records"]))
        except peewee.IntegrityError:
            raise _BatchTaken() from None
        return _ingest(credential, batch, body, listed_on)

    try:
        return run_transaction(write)
    except _BatchTaken:
        # A concurrent request with the same batch id committed first: answer what it stored.
        def replay() -> dict:
            _use_nonce(credential, nonce)
            return _stored(credential, body["batch_id"], body_sha256)

        return run_transaction(replay)


def _use_nonce(credential: PartnerCredential, nonce: str) -> None:
    try:
        with db.atomic():
            PartnerNonce.create(credential=credential, nonce=nonce)
    except peewee.IntegrityError:
        raise _unauthorized("nonce_reused", "该随机串已使用过，请求可能被重放", HEADERS["nonce"]) from None
    # The key is checked again inside the batch's transaction: it may have been revoked since.
    used = (PartnerCredential.update(last_used_at=utcnow())
            .where((PartnerCredential.id == credential.id) & (PartnerCredential.status == "active")).execute())
    if not used:
        raise _unauthorized("key_revoked", "合作方密钥已吊销", HEADERS["key"])


def _stored(credential: PartnerCredential, batch_id: str, body_sha256: str) -> dict | None:
    batch = PartnerBatch.get_or_none((PartnerBatch.credential == credential) & (PartnerBatch.batch_id == batch_id))
    if batch is None:
        return None
    if batch.body_sha256 != body_sha256:
        raise ApiError("batch_id_conflict", "该批次号已用于内容不同的另一批数据", 409, "batch_id")
    return {**json.loads(batch.result), "replayed": True}


def _ingest(credential: PartnerCredential, batch: PartnerBatch, body: dict, listed_on: dt.date) -> dict:
    """Check and apply the records through the one risk-record ingest (which keeps their
    provenance: the partner's name, its key and batch id, the list's date); keep the answer and
    log the batch."""
    outcome = risk_records.ingest(body["kind"], body["records"], source_label=credential.name,
                                  source_ref=f"partner:{credential.key_id}:{batch.batch_id}",
                                  listed_on=listed_on, region=credential.region, from_json=True)
    rejected = [r.as_dict() for r in outcome.rejected]
    result = {"batch_id": batch.batch_id, "kind": batch.kind, "received": batch.received,
              "accepted": outcome.accepted, "duplicates": outcome.duplicates, "rejected": rejected,
              "received_at": local_iso(batch.received_at), "replayed": False}
    PartnerBatch.update(accepted=outcome.accepted, rejected=len(rejected),
                        result=json.dumps(result, ensure_ascii=False)).where(PartnerBatch.id == batch.id).execute()
    audit.record(None, "partner", "partner_batch_received", credential, key_id=credential.key_id,
                 batch_id=batch.batch_id, kind=batch.kind, received=batch.received, accepted=outcome.accepted,
                 duplicates=outcome.duplicates, rejected=len(rejected))
    return result


def purge_nonces(now: dt.datetime | None = None) -> int:
    """Delete the nonces whose requests could no longer be accepted anyway; return how many."""
    return PartnerNonce.delete().where(PartnerNonce.seen_at < (now or utcnow()) - NONCE_KEEP).execute()


# --- credentials (back office) ---------------------------------------------------------------------

def create_credential(admin, *, name: str, kinds: list[str],
                      region_code: str | None = None) -> tuple[PartnerCredential, str]:
    """A new partner key for `name`, feeding `kinds` for a region within the admin's own (default:
    the admin's region); returns it with its secret, which is not shown again. Audited."""
    name = (name or "").strip()
    if not name:
        raise ApiError("missing_field", "请填写合作方名称", 400, "name")
    unknown = [k for k in kinds if k not in risk_records.KINDS]
    if unknown:
        raise ApiError("invalid_field", f"不支持的数据类型：{unknown[0]}", 400, "kinds")
    if not kinds:
        raise ApiError("missing_field", "请至少授权一类数据", 400, "kinds")
    if region_code:
        region = Region.get_or_none(Region.code == region_code)
        if region is None:
            raise ApiError("unknown_region", "区域代码不存在", 400, "region_code")
    elif admin is not None:
        region = admin.region
    else:
        raise ApiError("missing_field", "请填写区域代码", 400, "region_code")
    if admin is not None:
        require_scope(admin, region)
    secret = secrets.token_urlsafe(32)
    credential = PartnerCredential.create(name=name[:64], key_id=KEY_ID_PREFIX + secrets.token_hex(12),
                                          secret=secret, kinds=",".join(k for k in risk_records.KINDS if k in kinds),
                                          region=region, created_by=admin)
    audit.record(None, admin.role if admin else "system", "partner_key_created", credential, admin_actor=admin,
                 key_id=credential.key_id, kinds=credential.kinds, region=region.code)
    return credential, secret


def reveal_secret(admin, credential: PartnerCredential) -> str | None:
    """The secret, to the admin who created the key, the first time only (then None)."""
    if credential.created_by_id is None or admin is None or credential.created_by_id != admin.id:
        return None
    shown = (PartnerCredential.update(secret_shown_at=utcnow())
             .where((PartnerCredential.id == credential.id) & PartnerCredential.secret_shown_at.is_null()).execute())
    return credential.secret if shown else None


def revoke_credential(admin, credential: PartnerCredential, reason: str) -> PartnerCredential:
    """Revoke a key: every later request signed with it is a 401. A reason is required. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ApiError("missing_field", "请填写吊销原因", 400, "reason")
    updated = (PartnerCredential.update(status="revoked", revoked_by=admin, revoked_at=utcnow(),
                                        revoke_reason=reason[:255])
               .where((PartnerCredential.id == credential.id) & (PartnerCredential.status == "active")).execute())
    if not updated:
        raise ApiError("already_revoked", "该密钥已吊销", 409)
    audit.record(None, admin.role, "partner_key_revoked", credential, admin_actor=admin, key_id=credential.key_id,
                 reason=reason[:255])
    return PartnerCredential.get_by_id(credential.id)


def credentials():
    """Every partner key with its region (the 合作方密钥 list before any limit)."""
    return PartnerCredential.select(PartnerCredential, Region).join(Region)


def recent_batches(credential: PartnerCredential, limit: int = 20) -> list[PartnerBatch]:
    """The key's latest batches, newest first."""
    return list(PartnerBatch.select().where(PartnerBatch.credential == credential)
                .order_by(PartnerBatch.id.desc()).limit(limit))
