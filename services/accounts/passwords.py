"""Passwords: argon2id hashes, and the rules a new password must meet."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.errors import ApiError

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


def check_new(password, field: str = "password", minimum: int = 6, maximum: int = 64) -> str:
    """A new password of `minimum`-`maximum` characters (400 naming `field` otherwise)."""
    if not isinstance(password, str) or not minimum <= len(password) <= maximum:
        raise ApiError("invalid_password", f"密码应为 {minimum}-{maximum} 位", 400, field)
    return password


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing or malformed hash never matches."""
    if not stored_hash or not isinstance(password, str):
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password("decoy-password-never-used")


def verify_or_decoy(stored_hash: str | None, password) -> bool:
    """`verify`, against a decoy hash when there is no account: an unknown account and a wrong
    password take the same time, so the timing does not tell whether an account exists."""
    return verify(stored_hash or _decoy_hash(), password) and bool(stored_hash)


def generate(length: int = 10) -> str:
    """A random password to send by SMS: letters and digits without look-alikes."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
