"""Text messages through a provider interface, and rate-limited verification codes.

`provider()` is the configured provider: "dev" (the default) writes each message to the log,
phone masked, and to the `sms_message` table; tests install a recording provider with
`use_provider`. A real gateway is one more class with `send(phone, template, content)`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets

from models.fields import blind_index, utcnow
from models.messaging import SmsCode, SmsMessage
from services import identity
from services.errors import ApiError

log = logging.getLogger("healthcode.sms")

CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
PER_PHONE_PER_MINUTE = 5
PER_IP_PER_MINUTE = 20
SIGNATURE = "【健康码平台】"
TEMPLATES = {
    "code": "您的验证码为{code}，5分钟内有效，请勿泄露给他人。",
    "new_password": "您的新密码为{password}，请登录后尽快修改。",
    "account_created": "您的后台账号已开通，登录账号为本手机号，初始密码为{password}，请登录后修改。",
}


class SmsUnavailable(Exception):
    """The provider could not send the message."""


class DevSmsProvider:
    """Development provider: the log (phone masked, content withheld) and the sms_message table."""

    name = "dev"

    def send(self, phone: str, template: str, content: str) -> None:
        """Record the message; nothing leaves the machine."""
        SmsMessage.create(phone=phone, phone_bidx=blind_index(phone, "phone"), template=template, content=content,
                          provider=self.name)
        log.info("SMS (%s) to %s recorded in sms_message", template, identity.mask_phone(phone))


_provider = DevSmsProvider()


def provider():
    """The provider messages go through."""
    return _provider


def use_provider(new) -> None:
    """Install another provider (a real gateway adapter, or a test double)."""
    global _provider
    _provider = new


def send(phone: str, template: str, **params) -> None:
    """Send one templated message; a provider failure is a clear 503."""
    content = SIGNATURE + TEMPLATES[template].format(**params)
    try:
        provider().send(phone, template, content)
    except SmsUnavailable:
        raise ApiError("sms_unavailable", "短信发送失败，请稍后再试", 503) from None


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def send_code(phone: str, purpose: str, ip: str | None = None, deliver: bool = True) -> None:
    """Send a 6-digit code for `purpose`; at most 5 a minute per phone and 20 per IP (429).

    `deliver` False keeps the code without sending it: a phone with no account then answers
    every later step exactly as an account's does, so nothing tells the two apart."""
    phone = identity.validate_phone(phone)
    bidx = blind_index(phone, "phone")
    minute_ago = utcnow() - dt.timedelta(minutes=1)
    recent = SmsCode.select().where(SmsCode.created_at >= minute_ago)
    if recent.where(SmsCode.phone_bidx == bidx).count() >= PER_PHONE_PER_MINUTE:
        raise ApiError("sms_rate_limited", "验证码发送过于频繁，请1分钟后再试", 429, "phone")
    if ip and recent.where(SmsCode.ip == ip).count() >= PER_IP_PER_MINUTE:
        raise ApiError("sms_rate_limited", "验证码发送过于频繁，请稍后再试", 429)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    SmsCode.create(phone_bidx=bidx, purpose=purpose, code_hash=_code_hash(code), ip=ip,
                   expires_at=utcnow() + CODE_TTL)
    if deliver:
        send(phone, "code", code=code)


def check_code(phone: str, purpose: str, code: str, field: str = "sms_code") -> None:
    """Accept the latest unused, unexpired code for `purpose` once; else a 400 naming `field`.

    Wrong guesses count against the code, so it cannot be brute-forced.
    """
    bidx = blind_index(identity.validate_phone(phone), "phone")
    latest = (SmsCode.select().where((SmsCode.phone_bidx == bidx) & (SmsCode.purpose == purpose)
                                     & SmsCode.used_at.is_null())
              .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).first())
    if latest is None or latest.expires_at < utcnow() or latest.attempts >= MAX_ATTEMPTS:
        raise ApiError("sms_code_expired", "验证码已失效，请重新获取", 400, field)
    if not hmac.compare_digest(latest.code_hash, _code_hash(str(code or "").strip())):
        SmsCode.update(attempts=SmsCode.attempts + 1).where(SmsCode.id == latest.id).execute()
        raise ApiError("sms_code_wrong", "验证码错误", 400, field)
    SmsCode.update(used_at=utcnow()).where(SmsCode.id == latest.id).execute()
