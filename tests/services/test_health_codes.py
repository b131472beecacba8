"""Tests of services.people.health_codes: signed payloads, expiry, key rotation, paper codes, the PNG."""

import base64
import datetime as dt
import io
import json
import re

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from config import TestConfig
from models.declarations import PaperCode
from models.fields import utcnow
from models.people import Person
from services.common import fonts
from services.common.errors import ApiError
from services.people import health_codes as hc
from services.people.health_codes import CodeSigner
from tests.conftest import error_of

ID = "110101199003070011"
OLD_SEED = base64.b64encode(bytes(range(32))).decode()
NEW_SEED = base64.b64encode(bytes(range(100, 132))).decode()
NOW = 1_800_000_000
PAYLOAD_RE = re.compile(r"HC1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims(**changes) -> dict:
    base = {"t": "d", "p": 7, "iat": NOW, "exp": NOW + 60, "n": "AAAAAAAAAAA"}
    base.update(changes)
    return base


def reencode(payload: str, **changes) -> str:
    """The payload with some claims changed, keeping the old signature."""
    prefix, body, signature = payload.split(".")
    data = json.loads(b64d(body))
    data.update(changes)
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return f"{prefix}.{b64e(text)}.{signature}"


def rejected(signer: CodeSigner, payload, now=NOW) -> ApiError:
    error = error_of(signer.verify, payload, now=now)
    assert error.status == 400 and error.field == "payload"
    assert not error.message.isascii()
    return error


@pytest.fixture
def signer() -> CodeSigner:
    return CodeSigner.from_config(TestConfig())


def make_person(name="欧阳娜娜", id_number=ID) -> Person:
    person = Person.create(name=name, id_type="resident_id")
    person.set_id_number(id_number)
    person.save()
    return person


# --- signing and verification -------------------------------------------------------------------

def test_round_trip(signer):
    payload = signer.sign(claims())
    assert PAYLOAD_RE.fullmatch(payload) and "=" not in payload
    body = b64d(payload.split(".")[1])
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    assert signer.verify(payload, now=NOW) == claims(v=1, kid="k0")
    # A scanner's trailing newline is tolerated.
    assert signer.verify(payload + "\n", now=NOW)["p"] == 7


def test_signature_covers_prefix_and_claims(signer):
    prefix, body, signature = signer.sign(claims()).split(".")
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signer.public_keys()["k0"]))
    public.verify(b64d(signature), f"{prefix}.{body}".encode())


def test_flipped_signature_byte_is_forged(signer):
    prefix, body, signature = signer.sign(claims()).split(".")
    raw = bytearray(b64d(signature))
    raw[10] ^= 0x01
    assert rejected(signer, f"{prefix}.{body}.{b64e(bytes(raw))}").code == "code_forged"


def test_changed_claim_without_resigning_is_forged(signer):
    payload = signer.sign(claims())
    assert rejected(signer, reencode(payload, p=8)).code == "code_forged"
    assert rejected(signer, reencode(payload, exp=NOW + 3600), now=NOW + 120).code == "code_forged"


def test_other_key_is_forged(signer):
    same_kid = CodeSigner([("k0", bytes(range(32)))])
    other_kid = CodeSigner([("evil", bytes(range(32)))])
    assert rejected(signer, same_kid.sign(claims())).code == "code_forged"
    assert rejected(signer, other_kid.sign(claims())).code == "code_forged"


def test_truncated_signature_is_forged(signer):
    prefix, body, signature = signer.sign(claims()).split(".")
    assert rejected(signer, f"{prefix}.{body}.{signature[:40]}").code == "code_forged"


@pytest.mark.parametrize("payload", [
    None, 123, b"HC1.abc.def", "", "   ", "garbage", "HC1", "HC1.", "HC1..", "HC1.abc", "HC1.a.b.c",
    "HC1.!!!.abc", "HC1.e30.***", "https://example.com/?code=1", "HC1." + "A" * 3000 + ".AAAA",
    "HC1.健康.码", "HC1." + b64e(b"[" * 1500) + ".AA",
])
def test_garbage_is_malformed(signer, payload):
    assert rejected(signer, payload).code == "code_malformed"


def test_wrong_prefix_and_version_are_malformed(signer):
    payload = signer.sign(claims())
    assert rejected(signer, "HC2" + payload[3:]).code == "code_malformed"
    assert rejected(signer, "hc1" + payload[3:]).code == "code_malformed"
    assert rejected(signer, reencode(payload, v=2)).code == "code_malformed"
    assert rejected(signer, reencode(payload, v=True)).code == "code_malformed"


def test_bad_json_and_non_object_are_malformed(signer):
    signature = signer.sign(claims()).split(".")[2]
    for body in (b"not json", b"[1,2]", b'"text"', b"\xff\xfe"):
        assert rejected(signer, f"HC1.{b64e(body)}.{signature}").code == "code_malformed"


def test_non_canonical_base64_is_malformed(signer):
    prefix, body, signature = signer.sign(claims()).split(".")
    # 64 bytes end in a character carrying 4 unused bits; setting them writes the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) | 0b11]
    assert last != signature[-1]
    assert rejected(signer, f"{prefix}.{body}.{signature[:-1]}{last}").code == "code_malformed"


def test_signed_but_bad_claims_are_malformed(signer):
    for bad in (claims(t="x"), claims(p="7"), claims(iat=1.5), claims(exp=NOW - 10), claims(t="p")):
        assert rejected(signer, signer.sign(bad)).code == "code_malformed"


def test_expiry_boundary(signer):
    payload = signer.sign(claims())
    assert signer.verify(payload, now=NOW + 60)["exp"] == NOW + 60  # valid while now <= exp
    assert rejected(signer, payload, now=NOW + 61).code == "code_expired"
    assert rejected(signer, payload, now=NOW + 60.5).code == "code_expired"
    # A replay long after expiry is refused the same way.
    assert rejected(signer, payload, now=NOW + 86400).code == "code_expired"
    # datetimes work as `now` too (naive = UTC).
    moment = dt.datetime.fromtimestamp(NOW + 61, dt.timezone.utc).replace(tzinfo=None)
    assert rejected(signer, payload, now=moment).code == "code_expired"


def test_issued_in_the_future(signer):
    payload = signer.sign(claims(iat=NOW + 30, exp=NOW + 90))
    assert signer.verify(payload, now=NOW)["iat"] == NOW + 30  # clock skew
    payload = signer.sign(claims(iat=NOW + 31, exp=NOW + 91))
    assert rejected(signer, payload).code == "code_forged"


def test_sign_sets_version_and_kid(signer):
    payload = signer.sign(claims(v=9, kid="other"))
    assert signer.verify(payload, now=NOW)["kid"] == "k0"


# --- keys ---------------------------------------------------------------------------------------

def test_key_rotation():
    old = CodeSigner.from_config(TestConfig(code_signing_keys=f"old:{OLD_SEED}"))
    rotated = CodeSigner.from_config(TestConfig(code_signing_keys=f"new:{NEW_SEED}, old:{OLD_SEED}"))
    old_payload = old.sign(claims())
    assert rotated.verify(old_payload, now=NOW)["kid"] == "old"
    new_payload = rotated.sign(claims())
    assert rotated.verify(new_payload, now=NOW)["kid"] == "new"
    assert set(rotated.public_keys()) == {"new", "old"}
    assert rotated.public_keys()["old"] == old.public_keys()["old"]
    retired = CodeSigner.from_config(TestConfig(code_signing_keys=f"new:{NEW_SEED}"))
    assert rejected(retired, old_payload).code == "code_forged"
    assert retired.verify(new_payload, now=NOW)["kid"] == "new"


def test_url_safe_unpadded_seed_is_accepted():
    url_safe = base64.urlsafe_b64encode(bytes(range(100, 132))).decode().rstrip("=")
    a = CodeSigner.from_config(TestConfig(code_signing_keys=f"new:{url_safe}"))
    b = CodeSigner.from_config(TestConfig(code_signing_keys=f"new:{NEW_SEED}"))
    assert a.public_keys() == b.public_keys()


def test_derived_key():
    a = CodeSigner.from_config(TestConfig())
    again = CodeSigner.from_config(TestConfig())
    other = CodeSigner.from_config(TestConfig(secret_key="another-secret-key-0123456789abcdef0123"))
    assert list(a.public_keys()) == ["k0"]
    assert a.public_keys() == again.public_keys() != other.public_keys()
    assert len(base64.b64decode(a.public_keys()["k0"])) == 32
    assert again.verify(a.sign(claims()), now=NOW)["p"] == 7


@pytest.mark.parametrize("setting", [
    f"k1{OLD_SEED}",                      # no colon
    f"k1:{OLD_SEED},",                    # empty entry
    f":{OLD_SEED}",                       # empty kid
    f"bad kid!:{OLD_SEED}",               # kid characters
    "k1:not*base64",
    "k1:" + base64.b64encode(b"short-seed").decode(),
    f"k1:{OLD_SEED},k1:{NEW_SEED}",       # duplicate kid
    "k1:",
])
def test_bad_setting(setting):
    with pytest.raises(ValueError) as info:
        CodeSigner.from_config(TestConfig(code_signing_keys=setting))
    message = str(info.value)
    assert message.isascii() and "CODE_SIGNING_KEYS" in message
    assert OLD_SEED[:8] not in message and NEW_SEED[:8] not in message and "not*base64" not in message


def test_empty_secret_without_keys():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        CodeSigner.from_config(TestConfig(secret_key=""))


# --- dynamic codes ------------------------------------------------------------------------------

def test_dynamic_code():
    config = TestConfig(health_code_ttl_seconds=5)
    person = Person(id=42, name="王五")
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 600000)
    code = hc.dynamic_code(person, config, now=moment)
    assert code["issued_at"] == "2026-01-02T11:04:05+08:00"
    assert code["expires_at"] == "2026-01-02T11:04:10+08:00"
    signer = hc.signer_for(config)
    found = signer.verify(code["payload"], now=moment + dt.timedelta(seconds=4))
    assert found["t"] == "d" and found["p"] == 42 and found["exp"] - found["iat"] == 5
    assert len(b64d(found["n"])) == 8
    assert rejected(signer, code["payload"], now=moment + dt.timedelta(seconds=6)).code == "code_expired"
    assert hc.dynamic_code(person, config, now=moment)["payload"] != code["payload"]


def test_dynamic_code_default_ttl_and_clock():
    code = hc.dynamic_code(Person(id=1), TestConfig())
    found = hc.signer_for(TestConfig()).verify(code["payload"])
    assert found["exp"] - found["iat"] == 60


# --- resolving scans ----------------------------------------------------------------------------

def test_resolve_dynamic(db):
    config = TestConfig()
    person = make_person()
    found, found_claims = hc.resolve(hc.dynamic_code(person, config)["payload"], config)
    assert found.id == person.id and found.id_number == ID and found_claims["t"] == "d"


def test_resolve_dynamic_of_unknown_person(db):
    config = TestConfig()
    person = make_person()
    payload = hc.dynamic_code(person, config)["payload"]
    person.delete_instance()
    error = error_of(hc.resolve, payload, config)
    assert (error.code, error.status, error.field) == ("code_unknown_person", 400, "payload")


def test_paper_code_issue_resolve_revoke(db):
    config = TestConfig(paper_code_days=30)
    person = make_person()
    code, payload = hc.issue_paper_code(person, config)
    assert code.revoked_at is None and code.issued_at.microsecond == 0
    assert code.expires_at - code.issued_at == dt.timedelta(days=30)
    found, found_claims = hc.resolve(payload, config)
    assert found.id == person.id
    assert found_claims["t"] == "p" and found_claims["c"] == code.id and found_claims["p"] == person.id
    # Still good long after a dynamic code would have expired.
    later = utcnow() + dt.timedelta(days=29)
    assert hc.resolve(payload, config, now=later)[0].id == person.id

    revoked = hc.revoke_paper_code(code.id, person)
    assert revoked.revoked_at is not None
    first = PaperCode.get_by_id(code.id).revoked_at
    assert hc.revoke_paper_code(str(code.id)).revoked_at == first  # twice: harmless, unchanged
    error = error_of(hc.resolve, payload, config)
    assert (error.code, error.status, error.field) == ("code_revoked", 400, "payload")


def test_paper_code_expiry(db):
    config = TestConfig(paper_code_days=30)
    person = make_person()
    code, payload = hc.issue_paper_code(person, config)
    error = error_of(hc.resolve, payload, config, now=code.expires_at + dt.timedelta(seconds=1))
    assert error.code == "code_expired"
    # An expiry brought forward in the database wins over the one in the payload.
    PaperCode.update(expires_at=code.issued_at + dt.timedelta(days=1)).where(PaperCode.id == code.id).execute()
    error = error_of(hc.resolve, payload, config, now=code.issued_at + dt.timedelta(days=2))
    assert error.code == "code_expired"


def test_list_and_revoke_guards(db):
    config = TestConfig()
    alice, bob = make_person("张三"), make_person("李四", "11010519491231002X")
    first, _ = hc.issue_paper_code(alice, config)
    second, _ = hc.issue_paper_code(alice, config)
    bobs, _ = hc.issue_paper_code(bob, config)
    assert [c.id for c in hc.list_paper_codes(alice)] == [second.id, first.id]
    for code_id, owner in ((bobs.id, alice), (999999, None), ("abc", None), (None, None), (-1, None), (2**70, None)):
        error = error_of(hc.revoke_paper_code, code_id, owner)
        assert (error.code, error.status) == ("paper_code_not_found", 404)
    assert PaperCode.get_by_id(bobs.id).revoked_at is None


def test_paper_code_of_deleted_person(db):
    config = TestConfig()
    person = make_person()
    _, payload = hc.issue_paper_code(person, config)
    person.delete_instance()
    error = error_of(hc.resolve, payload, config)
    assert error.code == "code_unknown_person"


def test_paper_code_row_gone_or_not_matching(db):
    config = TestConfig()
    alice, bob = make_person("张三"), make_person("李四", "11010519491231002X")
    code, payload = hc.issue_paper_code(alice, config)
    bobs, _ = hc.issue_paper_code(bob, config)
    signer = hc.signer_for(config)
    iat = int(code.issued_at.replace(tzinfo=dt.timezone.utc).timestamp())
    # A genuine signature naming Bob's code for Alice (as after an id was reused) is void.
    crossed = signer.sign({"t": "p", "p": alice.id, "c": bobs.id, "iat": iat, "exp": iat + 3600, "n": "x"})
    # So is one naming the right code with another issue time (a deleted code's id reused).
    stale = signer.sign({"t": "p", "p": alice.id, "c": code.id, "iat": iat - 5, "exp": iat + 3600, "n": "x"})
    for bad in (crossed, stale):
        error = error_of(hc.resolve, bad, config)
        assert error.code == "code_revoked"
    PaperCode.delete().where(PaperCode.id == code.id).execute()
    error = error_of(hc.resolve, payload, config)
    assert error.code == "code_revoked"


# --- the printable paper code -------------------------------------------------------------------

def test_paper_code_png(drawn):
    person = Person(id=5, name="欧阳娜娜", id_number=ID)
    config = TestConfig()
    payload = hc.signer_for(config).sign({"t": "p", "p": 5, "c": 9, "iat": NOW, "exp": NOW + 3600, "n": "x"})
    png = hc.paper_code_png(person, payload, dt.datetime(2026, 1, 1, 20, 0))

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    for secret in ("欧阳娜娜", ID):
        assert secret.encode() not in png and secret.encode("utf-16-le") not in png
        assert not any(secret in text for text in drawn)
    assert "健康码（纸质）" in drawn and "本码长期有效，如遗失请及时作废" in drawn
    assert any("欧***" in text for text in drawn)
    assert any("110101*****0011" in text for text in drawn)
    assert any("2026-01-02" in text for text in drawn)  # the issue date in China

    image = Image.open(io.BytesIO(png))
    assert image.size[0] >= 600 and image.size[1] >= 800
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [payload]
    position = results[0].position
    corners = [position.top_left, position.top_right, position.bottom_left, position.bottom_right]
    qr_top = min(p.y for p in corners)
    qr_bottom = max(p.y for p in corners)
    assert qr_bottom - qr_top >= 250  # big enough for a phone camera
    gray = image.convert("L")
    width, height = gray.size
    # Dark pixels above the QR (the title) and below it (the masked name and the notes).
    assert gray.crop((0, 0, width, qr_top - 20)).getextrema()[0] < 100
    assert gray.crop((0, qr_bottom + 20, width, height)).getextrema()[0] < 100


def test_font_missing(no_font):
    error = error_of(hc.paper_code_png, Person(id=1, name="王五"), "HC1.x.y", utcnow())
    assert (error.code, error.status) == ("font_missing", 503)
    assert "纸质健康码" in error.message


def test_font_is_found_and_cached(monkeypatch):
    monkeypatch.setattr(fonts, "_font_choice", None)
    path, index = fonts.cjk_font()
    assert path and index >= 0
    monkeypatch.setattr(fonts, "_fc_list_fonts", lambda: pytest.fail("looked again"))
    assert fonts.cjk_font() == (path, index)
