"""Phone accounts (A4): register with an SMS code and a password, sign in with the password,
reset it with an SMS code.

A phone account is an `AuthIdentity(provider="phone", subject=<blind index of the phone>)` with
an argon2id `password_hash`; the phone itself lives, encrypted, on the account's own `Person`
(verified, since the SMS code proved it). Tokens are the same as for the mini-program sign-in.

"One person": when a self Person already holds the same verified phone (a WeChat account that
bound it with authBindPhone), the phone identity joins that account instead of making a new one.
A phone that already has a phone identity cannot be registered again (409).

Sign-in failures never tell whether the phone is registered: one message, and the same argon2
work whether or not there was a hash to check.
"""

from __future__ import annotations

import logging

import peewee

from models.accounts import Account, AuthIdentity, AuthToken
from models.db import db
from models.fields import blind_index, utcnow
from models.people import Person
from services.accounts import captchas, passwords, sign_in_limits
from services.common.errors import ApiError
from services.fieldwork import medical_staff
from services.messaging import sms
from services.oversight import audit
from services.people import identity

log = logging.getLogger("healthcode.phone_auth")

PROVIDER = "phone"
PURPOSES = {"register": "注册", "reset_password": "重置密码"}
PASSWORD_MIN, PASSWORD_MAX = 6, 12


def _bad_credentials() -> ApiError:
    return ApiError("invalid_credentials", "手机号或密码错误", 401)


def _subject(phone: str) -> str:
    return blind_index(phone, "phone")


def _phone_identity(phone: str) -> AuthIdentity | None:
    return AuthIdentity.get_or_none((AuthIdentity.provider == PROVIDER) & (AuthIdentity.subject == _subject(phone)))


def send_code(phone, purpose: str, ip: str | None) -> dict:
    """authSmsSend: a 6-digit code for `purpose`, rate-limited per phone and per IP (429).

    Sent whether or not the phone is registered, so the answer reveals nothing; registration and
    reset tell the phone's owner, and only them, after the code is checked.
    """
    if purpose not in PURPOSES:
        raise ApiError("invalid_field", "验证码用途无效", 400, "purpose")
    phone = identity.validate_phone(phone)
    sms.send_code(phone, purpose, ip)
    return {"sent": True, "expires_in_seconds": int(sms.CODE_TTL.total_seconds())}


def register(phone, sms_code: str, password) -> AuthIdentity:
    """authPhoneRegister: the new phone identity (joined to the account that owns the verified
    phone, if any). Everything that can be refused is checked before the code is used up."""
    phone = identity.validate_phone(phone)
    password = passwords.check_new(password, minimum=PASSWORD_MIN, maximum=PASSWORD_MAX)
    if _phone_identity(phone) is not None:
        raise ApiError("phone_registered", "该手机号已注册，请直接登录", 409, "phone")
    # Outside the transaction: a wrong guess must count against the code even though we refuse.
    sms.check_code(phone, "register", sms_code)
    password_hash = passwords.hash_password(password)
    try:
        with db.atomic():
            owner = (Person.select().join(Account)
                     .where((Person.relation == "self") & (Person.phone_bidx == _subject(phone))
                            & (Person.phone_verified == True) & (Account.status == "active"))  # noqa: E712
                     .order_by(Person.id).first())
            if owner is not None:
                account = owner.account
            else:
                account = Account.create()
                person = Person(account=account, relation="self")
                person.set_phone(phone, verified=True)
                person.save()
                medical_staff.link_phone(account, phone)
            return AuthIdentity.create(account=account, provider=PROVIDER, subject=_subject(phone),
                                       password_hash=password_hash)
    except peewee.IntegrityError:
        # Two registrations of one phone at the same moment: the unique (provider, subject) decides.
        raise ApiError("phone_registered", "该手机号已注册，请直接登录", 409, "phone") from None


def login(phone, password, ip: str | None = None, captcha_key: str | None = None,
          captcha: str | None = None) -> AuthIdentity:
    """authPasswordLogin: the phone identity whose password matches, else "手机号或密码错误".

    Failures are limited per phone and per address (`sign_in_limits`: 429 past them); after
    three, an image captcha (`authCaptcha`) is asked for too. A phone with no identity is
    answered, and takes as long, as a wrong password."""
    key = sign_in_limits.account_key("phone", phone)
    sign_in_limits.check(key, ip)
    if sign_in_limits.failures(key) >= sign_in_limits.CAPTCHA_AFTER:
        if not captcha_key or not captcha:
            raise ApiError("captcha_required", "密码已多次输错，请先填写图形验证码", 400, "captcha")
        captchas.check_captcha(captcha_key, captcha)
    try:
        phone = identity.validate_phone(phone)
    except ApiError:
        phone = None
    found = _phone_identity(phone) if phone else None
    if not passwords.verify_or_decoy(found.password_hash if found else None, password):
        sign_in_limits.record_failure(key, ip)
        audit.record(found.account if found else None, "citizen", "login_failed", found, ip=ip,
                     failed=sign_in_limits.failures(key))
        log.info("phone sign-in refused")
        raise _bad_credentials()
    if found.account.status != "active":
        raise ApiError("account_disabled", "账号已停用，请联系管理员", 403)
    sign_in_limits.clear(key)
    AuthIdentity.update(last_login_at=utcnow()).where(AuthIdentity.id == found.id).execute()
    return found


def reset_password(phone, sms_code: str, password) -> dict:
    """authPasswordReset: a new password after an SMS code; sessions signed in with the old
    password end at once (other sign-ins of the account, e.g. WeChat, are not touched)."""
    phone = identity.validate_phone(phone)
    password = passwords.check_new(password, minimum=PASSWORD_MIN, maximum=PASSWORD_MAX)
    sms.check_code(phone, "reset_password", sms_code)
    found = _phone_identity(phone)
    if found is None:
        # Only the phone's owner gets here (the code was right), so saying so reveals nothing.
        raise ApiError("phone_not_registered", "该手机号尚未注册", 404, "phone")
    password_hash = passwords.hash_password(password)
    with db.atomic():
        AuthIdentity.update(password_hash=password_hash).where(AuthIdentity.id == found.id).execute()
        AuthToken.update(revoked_at=utcnow()).where((AuthToken.identity == found)
                                                    & AuthToken.revoked_at.is_null()).execute()
    return {"reset": True}
