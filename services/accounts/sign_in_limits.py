"""How many wrong passwords a sign-in may take (the back office's and the mini-program's).

Failures are rows of `sign_in_failure`, so every server process counts the same ones. An
account (its phone, known or not: unknown phones are counted alike, so the answers never tell
which phones have accounts) takes PER_ACCOUNT failures in WINDOW, an address PER_ADDRESS; past
that, sign-in answers 429 with Retry-After until the oldest failure leaves the window. A
successful sign-in clears its account's failures. The back office asks for an SMS code after
SMS_AFTER failures in ten minutes (G1); the mini-program for an image captcha after CAPTCHA_AFTER.
"""

from __future__ import annotations

import datetime as dt
import math

from models.accounts import SignInFailure
from models.fields import blind_index, utcnow
from services.common.errors import ApiError
from services.people import identity

WINDOW = dt.timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20
SMS_AFTER = 4
CAPTCHA_AFTER = 3


def account_key(kind: str, phone) -> str:
    """The key failures are counted under: the kind of sign-in and the phone's blind index (any
    text that is not a phone counts under one shared key of its kind)."""
    try:
        return f"{kind}:{blind_index(identity.validate_phone(phone), 'phone')}"
    except ApiError:
        return f"{kind}:invalid"


def failures(key: str, within: dt.timedelta = WINDOW) -> int:
    """The failures counted under `key` in the last `within`."""
    return SignInFailure.select().where((SignInFailure.key == key)
                                        & (SignInFailure.failed_at > utcnow() - within)).count()


def check(key: str, ip: str | None) -> None:
    """429 with Retry-After when the account or the address has used up its failures."""
    since = utcnow() - WINDOW
    limits = [(SignInFailure.key == key, PER_ACCOUNT)] + ([(SignInFailure.ip == ip, PER_ADDRESS)] if ip else [])
    for condition, limit in limits:
        recent = (SignInFailure.select(SignInFailure.failed_at).where(condition & (SignInFailure.failed_at > since))
                  .order_by(SignInFailure.failed_at.desc()).limit(limit))
        times = [row.failed_at for row in recent]
        if len(times) >= limit:
            wait = math.ceil((times[-1] + WINDOW - utcnow()).total_seconds())
            raise ApiError("too_many_failures", f"密码错误次数过多，请{max(1, math.ceil(wait / 60))}分钟后再试", 429,
                           retry_after=max(1, wait))


def record_failure(key: str, ip: str | None) -> None:
    """Count one failure against the account and the address."""
    SignInFailure.create(key=key, ip=ip)


def clear(key: str) -> None:
    """A successful sign-in: the account's failures are forgiven (the address's stay counted)."""
    SignInFailure.update(key=key + ":cleared").where(SignInFailure.key == key).execute()


def purge(before: dt.datetime) -> int:
    """Delete failures older than `before` (the retention job)."""
    return SignInFailure.delete().where(SignInFailure.failed_at < before).execute()
