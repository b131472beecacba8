"""Tests of models.cipher: AES-GCM encryption at rest, key rotation, blind indexes."""

import base64

import pytest

from models import cipher as cipher_module  # "cipher" is the fixture below
from models.cipher import DataCipher

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
OLD_B64 = base64.b64encode(OLD_KEY).decode()
NEW_B64 = base64.b64encode(NEW_KEY).decode()
ID = "11010519491231002X"


@pytest.fixture
def cipher():
    return DataCipher.from_setting(OLD_B64)


def test_round_trip(cipher):
    token = cipher.encrypt(ID, "id_number")
    assert token != ID and ID not in token
    assert token.startswith("k1$")
    assert token.isascii() and "=" not in token
    assert cipher.decrypt(token, "id_number") == ID


def test_round_trip_unicode(cipher):
    assert cipher.decrypt(cipher.encrypt("欧阳娜娜", "name"), "name") == "欧阳娜娜"


def test_none_and_empty(cipher):
    assert cipher.encrypt(None, "phone") is None
    assert cipher.encrypt("", "phone") == ""
    assert cipher.decrypt(None, "phone") is None
    assert cipher.decrypt("", "phone") == ""
    assert cipher.blind_index(None, "phone") is None


def test_ciphertext_differs_each_time(cipher):
    tokens = {cipher.encrypt(ID, "id_number") for _ in range(20)}
    assert len(tokens) == 20


def test_wrong_purpose_fails(cipher):
    token = cipher.encrypt("13800000000", "phone")
    with pytest.raises(ValueError) as info:
        cipher.decrypt(token, "id_number")
    assert "13800000000" not in str(info.value)


def test_purpose_required(cipher):
    with pytest.raises(ValueError):
        cipher.encrypt(ID, "")


def _flip(token: str, position: int) -> str:
    key_id, _, body = token.partition("$")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    return key_id + "$" + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_tampered_fails(cipher, position):
    token = cipher.encrypt(ID, "id_number")
    with pytest.raises(ValueError) as info:
        cipher.decrypt(_flip(token, position), "id_number")
    assert ID not in str(info.value)


@pytest.mark.parametrize("token", ["nodollar", "k1$", "k1$abc", "k1$!!!!", "k1$" + "A" * 10])
def test_malformed_fails(cipher, token):
    with pytest.raises(ValueError):
        cipher.decrypt(token, "id_number")


def test_wrong_key_fails(cipher):
    other = DataCipher.from_setting(NEW_B64)  # also id "k1"
    with pytest.raises(ValueError):
        other.decrypt(cipher.encrypt(ID, "id_number"), "id_number")


def test_unknown_key_id(cipher):
    token = cipher.encrypt(ID, "id_number")
    with pytest.raises(ValueError):
        cipher.decrypt("k9" + token[2:], "id_number")


def test_key_rotation():
    old = DataCipher.from_setting(f"old:{OLD_B64}")
    old_token = old.encrypt(ID, "id_number")
    old_index = old.blind_index(ID, "id_number")

    rotated = DataCipher.from_setting(f"new:{NEW_B64}, old:{OLD_B64}")
    assert rotated.primary_key_id == "new"
    assert rotated.key_ids == ("new", "old")
    assert rotated.decrypt(old_token, "id_number") == ID
    assert rotated.needs_reencryption(old_token)

    new_token = rotated.encrypt(ID, "id_number")
    assert new_token.startswith("new$")
    assert not rotated.needs_reencryption(new_token)
    assert rotated.decrypt(new_token, "id_number") == ID
    with pytest.raises(ValueError):
        old.decrypt(new_token, "id_number")

    assert rotated.blind_index(ID, "id_number") == old_index


def test_single_key_is_k1_and_same_index_as_listed():
    single = DataCipher.from_setting(OLD_B64)
    listed = DataCipher.from_setting(f"k1:{OLD_B64}")
    assert single.key_ids == ("k1",)
    assert listed.decrypt(single.encrypt(ID, "id_number"), "id_number") == ID
    assert single.blind_index(ID, "id_number") == listed.blind_index(ID, "id_number")


def test_urlsafe_and_unpadded_keys_accepted():
    key = bytes([0xFB] * 32)  # encodes with "+" / "/" in the standard alphabet
    standard = base64.b64encode(key).decode()
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert standard != urlsafe
    a = DataCipher.from_setting(standard)
    b = DataCipher.from_setting(urlsafe)
    assert b.decrypt(a.encrypt(ID, "id_number"), "id_number") == ID


def test_blind_index(cipher):
    index = cipher.blind_index(ID, "id_number")
    assert len(index) == 32 and all(c in "0123456789abcdef" for c in index)
    assert cipher.blind_index(ID, "id_number") == index
    assert cipher.blind_index(ID, "phone") != index
    assert cipher.blind_index(ID.lower(), "id_number") != index
    assert DataCipher.from_setting(NEW_B64).blind_index(ID, "id_number") != index


def test_blind_index_key_is_not_the_encryption_key(cipher):
    import hashlib
    import hmac

    direct = hmac.new(OLD_KEY, b"id_number\x00" + ID.encode(), hashlib.sha256).hexdigest()[:32]
    assert cipher.blind_index(ID, "id_number") != direct


@pytest.mark.parametrize(
    "setting",
    [
        "",
        "   ",
        "not base64 at all!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(range(16))).decode(),  # 16 bytes: too short
        base64.b64encode(bytes(range(33))).decode(),  # 33 bytes: too long
        f"new:{NEW_B64},{OLD_B64}",
        f":{NEW_B64}",
        f"new:{NEW_B64},new:{OLD_B64}",
        f"new:{NEW_B64},old:",
        f"ne$w:{NEW_B64}",
        f"new:{NEW_B64},old:%%%%",
        f"new:{NEW_B64},,old:{OLD_B64}",
    ],
)
def test_bad_settings_raise_value_error(setting):
    with pytest.raises(ValueError) as info:
        DataCipher.from_setting(setting)
    assert NEW_B64 not in str(info.value) and OLD_B64 not in str(info.value)


def test_repr_hides_keys():
    cipher = DataCipher.from_setting(f"new:{NEW_B64},old:{OLD_B64}")
    assert NEW_B64 not in repr(cipher) and "new" in repr(cipher)


def test_config_data_keys_are_valid():
    from config import DEV_DATA_KEY, TestConfig

    DataCipher.from_setting(DEV_DATA_KEY)
    DataCipher.from_setting(TestConfig().data_key)


def test_module_holder(monkeypatch):
    monkeypatch.setattr(cipher_module, "_current", None)
    with pytest.raises(RuntimeError):
        cipher_module.current()
    installed = DataCipher.from_setting(OLD_B64)
    cipher_module.configure(installed)
    assert cipher_module.current() is installed
    with pytest.raises(TypeError):
        cipher_module.configure("not a cipher")
