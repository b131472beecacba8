"""Health codes (D5): the dynamic QR a citizen shows and the printable paper code.

A code is a signed text that goes into a QR:

    "HC1." + b64url(claims JSON) + "." + b64url(Ed25519 signature)

The signature covers `"HC1." + b64url(claims JSON)`; base64 is URL-safe without padding, the JSON
compact with sorted keys. Claims: `v` (1), `kid` (the signing key), `t` ("d" dynamic, "p" paper),
`p` (person id), `iat` / `exp` (unix seconds), `n` (8 random bytes), for paper codes `c`
(the PaperCode id) and, for dynamic codes, `col` (the colour when it was issued, so an inspector
without a network still sees it; paper codes have none, since a colour changes over their life).

A dynamic code lives `HEALTH_CODE_TTL_SECONDS` (default 60), so a screenshot is useless a minute
later. A paper code lives `PAPER_CODE_DAYS` and stays revocable through its PaperCode row, which
`resolve` checks on every scan.

Ed25519 rather than an HMAC so that an offline verifier is given the public keys
(`offline_list`: the keys and the revoked paper codes, with the time the list was made) without
being able to mint codes. CODE_SIGNING_KEYS holds
"kid:base64(32-byte seed),..."; the first key signs, every key verifies, so a key is rotated by
putting a new one in front and dropping the old one once its codes have expired (for paper codes:
after PAPER_CODE_DAYS, or after re-issuing them).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import io
import json
import re
import secrets
import time
from types import SimpleNamespace
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from models.declarations import PaperCode
from models.fields import utcnow
from models.people import Person
from services.common.errors import ApiError
from services.common.fonts import cjk_font, draw_lock, load_font
from services.common.timefmt import CHINA, local_iso
from services.people.identity import mask_id_number, mask_name

PREFIX = "HC1"
VERSION = 1
DERIVED_KID = "k0"
_DERIVE_INFO = b"healthcode code signing"
_SEED_BYTES = 32
_SIGNATURE_BYTES = 64
_NONCE_BYTES = 8
# Phones and servers disagree on the time by a few seconds; more than this is not drift.
CLOCK_SKEW_SECONDS = 30
# Far above any real payload (about 250 characters): refuse huge inputs before decoding them.
_MAX_PAYLOAD_CHARS = 2048
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")

KIND_DYNAMIC = "d"
KIND_PAPER = "p"


# --- errors -------------------------------------------------------------------------------------

def _malformed() -> ApiError:
    return ApiError("code_malformed", "无法识别的健康码", 400, "payload")


def _forged() -> ApiError:
    return ApiError("code_forged", "健康码签名无效，可能是伪造的", 400, "payload")


def _expired() -> ApiError:
    return ApiError("code_expired", "健康码已过期，请刷新后重新出示", 400, "payload")


def _revoked() -> ApiError:
    return ApiError("code_revoked", "该纸质健康码已作废", 400, "payload")


def _unknown_person() -> ApiError:
    return ApiError("code_unknown_person", "健康码对应的人员不存在", 400, "payload")


def _paper_not_found() -> ApiError:
    return ApiError("paper_code_not_found", "纸质健康码不存在", 404)


# --- encoding helpers ---------------------------------------------------------------------------

def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict URL-safe base64 without padding; raises ValueError on anything else."""
    if not _B64URL_RE.fullmatch(text):
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    # Non-canonical trailing bits would let one code be written as several different strings.
    if _b64e(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _decode_seed(text: str, where: str) -> bytes:
    # Both alphabets, padded or not: seeds are pasted by hand into environment files.
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    if not cleaned:
        raise ValueError(f"CODE_SIGNING_KEYS {where} has an empty key")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        seed = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"CODE_SIGNING_KEYS {where} is not valid base64") from None
    if len(seed) != _SEED_BYTES:
        raise ValueError(f"CODE_SIGNING_KEYS {where} must decode to {_SEED_BYTES} bytes, got {len(seed)}")
    return seed


def _unix(value) -> float:
    """Unix seconds from None (now), a number, or a datetime (naive means UTC, as stored)."""
    if value is None:
        return time.time()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return float(value)


def _utc_naive(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


def _is_int(value) -> bool:
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


# --- signing ------------------------------------------------------------------------------------

class CodeSigner:
    """Signs and verifies health code payloads with Ed25519 keys; the first key signs."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]):
        """`keys`: (key id, 32-byte seed) pairs, newest first."""
        pairs = list(keys)
        if not pairs:
            raise ValueError("CodeSigner needs at least one key")
        self._private: dict[str, Ed25519PrivateKey] = {}
        for kid, seed in pairs:
            if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
                raise ValueError("code signing key ids must be 1-16 letters, digits, '_' or '-'")
            if kid in self._private:
                raise ValueError(f"code signing key id {kid!r} appears twice")
            if len(seed) != _SEED_BYTES:
                raise ValueError(f"code signing key {kid!r} must be {_SEED_BYTES} bytes")
            self._private[kid] = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        self.kid = pairs[0][0]
        self._public = {kid: key.public_key() for kid, key in self._private.items()}

    @classmethod
    def from_config(cls, config) -> "CodeSigner":
        """Keys from CODE_SIGNING_KEYS, or one key "k0" derived from SECRET_KEY when it is empty."""
        setting = (config.code_signing_keys or "").strip()
        if not setting:
            secret = config.secret_key or ""
            if not secret:
                raise ValueError("SECRET_KEY is empty: cannot derive a code signing key "
                                 "(set SECRET_KEY or CODE_SIGNING_KEYS)")
            seed = HKDF(algorithm=hashes.SHA256(), length=_SEED_BYTES, salt=None,
                        info=_DERIVE_INFO).derive(secret.encode("utf-8"))
            return cls([(DERIVED_KID, seed)])
        pairs = []
        for number, entry in enumerate(setting.split(","), start=1):
            where = f"entry {number}"
            entry = entry.strip()
            if not entry:
                raise ValueError(f"CODE_SIGNING_KEYS {where} is empty")
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep:
                raise ValueError(f"CODE_SIGNING_KEYS {where} must look like kid:base64")
            if not _KID_RE.fullmatch(kid):
                raise ValueError(f"CODE_SIGNING_KEYS {where}: key id must be 1-16 letters, digits, '_' or '-'")
            if any(kid == seen for seen, _ in pairs):
                raise ValueError(f"CODE_SIGNING_KEYS {where}: key id {kid!r} appears twice")
            pairs.append((kid, _decode_seed(encoded, f"{where} ({kid})")))
        return cls(pairs)

    def public_keys(self) -> dict[str, str]:
        """{kid: base64 of the raw 32-byte public key} for every key that verifies."""
        return {kid: base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")
                for kid, key in self._public.items()}

    def sign(self, claims: dict) -> str:
        """The payload text for `claims`; `v` and `kid` are set here."""
        body = dict(claims, v=VERSION, kid=self.kid)
        encoded = _b64e(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=True).encode("ascii"))
        signed = f"{PREFIX}.{encoded}"
        signature = self._private[self.kid].sign(signed.encode("ascii"))
        return f"{signed}.{_b64e(signature)}"

    def verify(self, payload, now=None) -> dict:
        """The claims of a genuine, unexpired payload; ApiError code_malformed / code_forged /
        code_expired otherwise. `now`: unix seconds or datetime (default: the clock).

        A code is valid while now <= exp.
        """
        if not isinstance(payload, str):
            raise _malformed()
        # Scanners often hand over a trailing newline.
        payload = payload.strip()
        if len(payload) > _MAX_PAYLOAD_CHARS or not payload.isascii():
            raise _malformed()
        parts = payload.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise _malformed()
        try:
            body = _b64d(parts[1])
            signature = _b64d(parts[2])
            claims = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: deeply nested JSON fits in the size limit.
            raise _malformed() from None
        if not isinstance(claims, dict) or not _is_int(claims.get("v")) or claims["v"] != VERSION:
            raise _malformed()
        public = self._public.get(claims.get("kid")) if isinstance(claims.get("kid"), str) else None
        if public is None or len(signature) != _SIGNATURE_BYTES:
            raise _forged()
        try:
            public.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        except InvalidSignature:
            raise _forged() from None
        _check_claims(claims)
        moment = _unix(now)
        if claims["iat"] > moment + CLOCK_SKEW_SECONDS:
            # Only a holder of the key could produce this; a code from the future is not ours.
            raise _forged()
        if moment > claims["exp"]:
            raise _expired()
        return claims


def _check_claims(claims: dict) -> None:
    # Runs after the signature check, so a failure here means our own code wrote bad claims
    # (or an old format): unreadable rather than forged.
    if claims.get("t") not in (KIND_DYNAMIC, KIND_PAPER):
        raise _malformed()
    for name in ("p", "iat", "exp"):
        if not _is_int(claims.get(name)):
            raise _malformed()
    if claims["exp"] < claims["iat"] or not isinstance(claims.get("n"), str):
        raise _malformed()
    if claims["t"] == KIND_PAPER and not _is_int(claims.get("c")):
        raise _malformed()


@functools.lru_cache(maxsize=8)
def _signer_for(code_signing_keys: str, secret_key: str) -> CodeSigner:
    return CodeSigner.from_config(SimpleNamespace(code_signing_keys=code_signing_keys,
                                                  secret_key=secret_key))


def signer_for(config) -> CodeSigner:
    """The CodeSigner of `config`, built once per distinct key setting."""
    return _signer_for(config.code_signing_keys or "", config.secret_key or "")


def _nonce() -> str:
    return _b64e(secrets.token_bytes(_NONCE_BYTES))


# --- dynamic codes ------------------------------------------------------------------------------

def dynamic_code(person: Person, config, now=None, colour: str | None = None) -> dict:
    """A fresh dynamic code for `person`: {"payload", "issued_at", "expires_at"} (times +08:00).
    `colour`: the colour shown beside it, signed in as `col` for offline verifiers."""
    iat = int(_unix(now))
    exp = iat + int(config.health_code_ttl_seconds)
    claims = {"t": KIND_DYNAMIC, "p": person.id, "iat": iat, "exp": exp, "n": _nonce()}
    if colour:
        claims["col"] = colour
    payload = signer_for(config).sign(claims)
    return {"payload": payload, "issued_at": local_iso(_utc_naive(iat)),
            "expires_at": local_iso(_utc_naive(exp))}


# --- paper codes --------------------------------------------------------------------------------

def paper_payload(code: PaperCode, config) -> str:
    """A signed "p" payload for an existing paper code (e.g. to print it again)."""
    return signer_for(config).sign({
        "t": KIND_PAPER, "p": code.person_id, "c": code.id,
        "iat": int(_unix(code.issued_at)), "exp": int(_unix(code.expires_at)), "n": _nonce(),
    })


def issue_paper_code(person: Person, config, issued_by=None) -> tuple[PaperCode, str]:
    """Create a PaperCode row for `person` (valid PAPER_CODE_DAYS) and its signed payload."""
    # Whole seconds: MariaDB DATETIME drops the fraction, and `resolve` compares the payload's
    # iat with the stored issue time exactly.
    issued_at = utcnow().replace(microsecond=0)
    code = PaperCode.create(person=person, issued_by=issued_by, issued_at=issued_at,
                            expires_at=issued_at + dt.timedelta(days=int(config.paper_code_days)))
    return code, paper_payload(code, config)


def _paper_code_id(value) -> int | None:
    # Ids come from URLs too; anything outside a BIGINT cannot name a row.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        value = int(value)
    if _is_int(value) and 0 < value < 2**63:
        return value
    return None


def paper_code_of(person: Person | None, paper_code_id) -> PaperCode:
    """A paper code by id; with `person`, only that person's codes: another person's code is
    reported as not found rather than as forbidden, so ids cannot be probed."""
    code_id = _paper_code_id(paper_code_id)
    code = PaperCode.get_or_none(PaperCode.id == code_id) if code_id is not None else None
    if code is None or (person is not None and code.person_id != person.id):
        raise _paper_not_found()
    return code


def is_printable(code: PaperCode) -> bool:
    """Whether a paper code still verifies, so that its image may be handed out: not revoked, not expired."""
    return code.revoked_at is None and code.expires_at > utcnow()


def printable_paper_code(person: Person, paper_code_id) -> PaperCode:
    """One of `person`'s paper codes that may still be printed: a revoked or expired one is gone
    (410), so a code that no longer verifies is never handed out again."""
    code = paper_code_of(person, paper_code_id)
    if code.revoked_at is not None:
        raise ApiError("paper_code_revoked", "该纸质健康码已作废，不能再打印；如需要请重新生成", 410, "code_id")
    if not is_printable(code):
        raise ApiError("paper_code_expired", "该纸质健康码已过期，不能再打印；如需要请重新生成", 410, "code_id")
    return code


def revoke_paper_code(paper_code_id, person: Person | None = None) -> PaperCode:
    """Mark a paper code revoked (again is harmless); `person` as in `paper_code_of`."""
    code = paper_code_of(person, paper_code_id)
    if code.revoked_at is None:
        code.revoked_at = utcnow().replace(microsecond=0)
        code.save(only=[PaperCode.revoked_at])
    return code


def list_paper_codes(person: Person) -> list[PaperCode]:
    """The paper codes of `person`, newest first, revoked ones included."""
    return list(PaperCode.select().where(PaperCode.person == person)
                .order_by(PaperCode.issued_at.desc(), PaperCode.id.desc()))


# --- offline verification (N2, N7) -------------------------------------------------------------

# An offline verdict older than this warns the inspector that the list may miss revocations.
OFFLINE_LIST_STALE_SECONDS = 24 * 3600


def revoked_paper_codes(now=None) -> list[int]:
    """Ids of the revoked paper codes that would still be within their validity: the only codes an
    offline verifier cannot refuse by signature and expiry alone."""
    moment = _utc_naive(_unix(now))
    rows = (PaperCode.select(PaperCode.id)
            .where(PaperCode.revoked_at.is_null(False) & (PaperCode.expires_at > moment))
            .order_by(PaperCode.id))
    return [row.id for row in rows]


def offline_list(config, now=None) -> dict:
    """What an inspector's page caches to verify codes without a network: the public keys, the
    revoked paper codes and the time the list was made (shown with every offline verdict)."""
    moment = int(_unix(now))
    return {"algorithm": "Ed25519", "prefix": PREFIX, "version": VERSION,
            "keys": signer_for(config).public_keys(), "revoked_paper_codes": revoked_paper_codes(moment),
            "generated_at": local_iso(_utc_naive(moment)), "generated_at_unix": moment,
            "clock_skew_seconds": CLOCK_SKEW_SECONDS, "stale_after_seconds": OFFLINE_LIST_STALE_SECONDS}


# --- scanning -----------------------------------------------------------------------------------

def issued_at_of(claims: dict) -> str:
    """The issue time of a verified payload, ISO 8601 in +08:00."""
    return local_iso(_utc_naive(claims["iat"]))


def resolve(payload, config, now=None) -> tuple[Person, dict]:
    """The person and claims behind a scanned payload, after every check: signature, expiry,
    and for paper codes that the code still exists, matches and is not revoked."""
    claims = signer_for(config).verify(payload, now)
    person = Person.get_or_none(Person.id == claims["p"])
    if person is None:
        raise _unknown_person()
    if claims["t"] == KIND_PAPER:
        code = PaperCode.get_or_none(PaperCode.id == claims["c"])
        # A missing row, or an id now used by a different code (SQLite reuses the ids of deleted
        # rows), means the code that was printed no longer exists: treat it as void.
        if (code is None or code.person_id != claims["p"]
                or int(_unix(code.issued_at)) != claims["iat"] or code.revoked_at is not None):
            raise _revoked()
        if _unix(now) > _unix(code.expires_at):
            raise _expired()
    return person, claims


# --- the printable paper code -------------------------------------------------------------------

_PAPER_CODE = "纸质健康码"


def _qr_image(payload: str, target: int):
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=1)
    qr.add_data(payload)
    qr.make(fit=True)
    modules = qr.modules_count + 2 * qr.border
    # Whole pixels per module keep the edges sharp; at least 4 so a phone camera reads it.
    qr.box_size = max(4, target // modules)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def paper_code_png(person: Person, payload: str, issued_at: dt.datetime) -> bytes:
    """A printable PNG (600x800 or taller): title, QR, masked name and ID, issue date.

    Only the masked name and ID are drawn, since the paper travels through many hands.
    """
    # Before drawing anything: a server without the font answers font_missing straight away.
    cjk_font(_PAPER_CODE)
    with draw_lock:
        return _draw_paper_code(person, payload, issued_at)


def _draw_paper_code(person: Person, payload: str, issued_at) -> bytes:
    from PIL import Image, ImageDraw

    title_font = load_font(40, _PAPER_CODE)
    text_font = load_font(26, _PAPER_CODE)
    note_font = load_font(22, _PAPER_CODE)

    width = 600
    qr = _qr_image(payload, 440)
    lines = [
        (f"姓名：{mask_name(person.name)}", text_font, (0, 0, 0)),
        (f"证件号码：{mask_id_number(person.id_number)}", text_font, (0, 0, 0)),
        (f"签发日期：{_china_date(issued_at)}", text_font, (0, 0, 0)),
        ("本码长期有效，如遗失请及时作废", note_font, (170, 0, 0)),
    ]
    top, gap = 40, 16
    title_height = 56
    line_heights = [36 if font is text_font else 32 for _, font, _ in lines]
    height = max(800, top + title_height + gap + qr.height + gap + sum(h + 8 for h in line_heights) + 40)

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((width // 2, top), "健康码（纸质）", font=title_font, fill=(0, 0, 0), anchor="mt")
    y = top + title_height + gap
    image.paste(qr, ((width - qr.width) // 2, y))
    y += qr.height + gap
    for (text, font, colour), line_height in zip(lines, line_heights):
        draw.text((width // 2, y), text, font=font, fill=colour, anchor="mt")
        y += line_height + 8

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _china_date(value) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(CHINA).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value or "")
