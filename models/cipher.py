"""Encryption at rest and blind indexes for personal data (ID numbers, phone numbers).

Columns holding personal data store `DataCipher.encrypt(...)` tokens; an equality lookup
("is this ID number already registered?") goes through a separate `blind_index(...)` column,
because AES-GCM with a random nonce gives a different ciphertext every time.

The DATA_KEY setting is either one base64 value of 32 bytes (key id "k1") or a list
"id:base64,id:base64". The first key encrypts new values, every key decrypts, so a key is rotated
by putting a new one in front and re-encrypting at leisure.

Nothing here logs, and no exception message contains a plaintext or key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_KEY_ID = "k1"
KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_INDEX_INFO = b"healthcode blind index"
_INDEX_HEX_CHARS = 32
# Key ids end up in every stored token, so keep them short and free of the "$" separator.
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,16}")


def _decode_key(text: str, where: str) -> bytes:
    # Accept both the standard and the URL-safe alphabet, with or without padding, since keys are
    # pasted by hand into environment files; reject anything else rather than guess.
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    if not cleaned:
        raise ValueError(f"DATA_KEY {where} is empty")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        key = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"DATA_KEY {where} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"DATA_KEY {where} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64decode(text: str) -> bytes:
    # Only the URL-safe alphabet, unpadded: the standard alphabet's "+" and "/" and any "=" are
    # refused here, any other character by the strict decoding (the default one skips characters
    # outside its alphabet without a word). Every value read is decoded: no regular expression.
    if "+" in text or "/" in text or "=" in text:
        raise ValueError("encrypted value is malformed")
    try:
        return binascii.a2b_base64(text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4),
                                   strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError("encrypted value is malformed") from None


def _check_purpose(purpose: str) -> bytes:
    if not isinstance(purpose, str) or not purpose:
        raise ValueError("purpose must be a non-empty string")
    return purpose.encode("utf-8")


class DataCipher:
    """AES-256-GCM encryption of text values, with key rotation and blind indexes."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]):
        """`keys`: (key id, 32-byte key) pairs, newest first; the first one encrypts."""
        pairs = list(keys)
        if not pairs:
            raise ValueError("DATA_KEY must contain at least one key")
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in pairs:
            if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
                raise ValueError("DATA_KEY key ids must be 1-16 letters, digits, '_' or '-'")
            if key_id in self._keys:
                raise ValueError(f"DATA_KEY lists key id {key_id!r} twice")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ValueError(f"DATA_KEY key {key_id!r} must be {KEY_BYTES} bytes")
            self._keys[key_id] = AESGCM(key)
        self._primary_id = pairs[0][0]
        # The index key comes from the LAST (oldest) key: putting a new encryption key in front
        # must not change existing indexes, or every lookup would miss until a full rebuild.
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_INDEX_INFO
        ).derive(pairs[-1][1])

    @classmethod
    def from_setting(cls, data_key: str) -> "DataCipher":
        """Build a cipher from the DATA_KEY setting.

        Either one base64 value of 32 bytes (key id "k1") or "id:base64,id:base64,..." where the
        first key encrypts and all keys decrypt. Raises ValueError on a malformed setting.
        """
        if not isinstance(data_key, str) or not data_key.strip():
            raise ValueError("DATA_KEY is empty")
        text = data_key.strip()
        # ":" and "," are not in either base64 alphabet, so their absence means a single key.
        if ":" not in text and "," not in text:
            return cls([(DEFAULT_KEY_ID, _decode_key(text, "value"))])
        pairs = []
        for position, entry in enumerate(text.split(","), start=1):
            entry = entry.strip()
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id:
                raise ValueError(f"DATA_KEY entry {position} must look like 'id:base64'")
            if not _KEY_ID_RE.fullmatch(key_id):
                raise ValueError(f"DATA_KEY entry {position}: key id must be 1-16 letters, digits, '_' or '-'")
            pairs.append((key_id, _decode_key(encoded, f"key {key_id!r}")))
        return cls(pairs)

    @property
    def primary_key_id(self) -> str:
        """The id of the key that encrypts new values."""
        return self._primary_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All key ids, newest first."""
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"DataCipher(key_ids={list(self._keys)!r})"

    def encrypt(self, plaintext: str | None, purpose: str) -> str | None:
        """Encrypt text as "<key_id>$<urlsafe base64 of nonce + ciphertext>".

        `purpose` (the column, e.g. "id_number") is bound as associated data, so a token copied
        into another column does not decrypt. None stays None and "" stays "".
        """
        aad = _check_purpose(purpose)
        if plaintext is None or plaintext == "":
            return plaintext
        if not isinstance(plaintext, str):
            raise TypeError("encrypt expects a str")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._primary_id].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return f"{self._primary_id}${_b64encode(nonce + sealed)}"

    def decrypt(self, token: str | None, purpose: str) -> str | None:
        """Decrypt a token made by `encrypt` with the same `purpose`.

        Raises ValueError for an unknown key id, a malformed or tampered token, or a wrong purpose.
        None stays None and "" stays "".
        """
        aad = _check_purpose(purpose)
        if token is None or token == "":
            return token
        if not isinstance(token, str):
            raise TypeError("decrypt expects a str")
        key_id, sep, body = token.partition("$")
        if not sep:
            raise ValueError("encrypted value is malformed")
        aead = self._keys.get(key_id)
        if aead is None:
            raise ValueError("encrypted value uses a key id that is not in DATA_KEY")
        raw = _b64decode(body)
        if len(raw) < NONCE_BYTES + _TAG_BYTES:
            raise ValueError("encrypted value is malformed")
        try:
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise ValueError("encrypted value failed authentication (tampered, wrong key or wrong purpose)") from None
        return plain.decode("utf-8")

    def needs_reencryption(self, token: str | None) -> bool:
        """Whether a stored token was made with a key other than the current encryption key."""
        if not token:
            return False
        return token.partition("$")[0] != self._primary_id

    def blind_index(self, value: str | None, purpose: str) -> str | None:
        """A deterministic 128-bit lookup token (32 hex chars) for an equality search.

        HMAC-SHA256 over `purpose + "\\x00" + value` with a key derived by HKDF-SHA256
        (info b"healthcode blind index") from the LAST key in DATA_KEY, i.e. the oldest one.
        Adding a new encryption key in front therefore leaves every existing index valid; only
        removing that oldest key changes the index key and requires rebuilding the index columns.
        Callers must normalize the value first (`services.people.identity.validate_*`), since "x" and
        "X" give different indexes. None stays None.
        """
        data = _check_purpose(purpose)
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError("blind_index expects a str")
        mac = hmac.new(self._index_key, data + b"\x00" + value.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:_INDEX_HEX_CHARS]


_current: DataCipher | None = None


def configure(cipher: DataCipher) -> None:
    """Install the process-wide cipher (done once at startup, and by the test fixtures)."""
    global _current
    if not isinstance(cipher, DataCipher):
        raise TypeError("configure expects a DataCipher")
    _current = cipher


def current() -> DataCipher:
    """The configured cipher; RuntimeError when `configure` has not been called."""
    if _current is None:
        raise RuntimeError("models.cipher is not configured: call cipher.configure(DataCipher.from_setting(...))")
    return _current
