"""Text messages through a provider interface, and rate-limited verification codes.

`provider()` is the configured provider: "dev" (the default) writes each message to the
`sms_message` table and a line to the log, phone masked. In development (`configure`, from the
server's start-up, with any APP_ENV but production) that line holds the message itself, code or
password included, and the back office lists the table on its 短信发件箱 page, so that a tester
finishes a phone registration or a password reset without reading the database; in production
neither. Tests install a recording provider with `use_provider`. A real gateway is one more
class with `send(phone, template, content)`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets

from peewee import fn

from models.fields import blind_index, utcnow
from models.messaging import SmsCode, SmsMessage
from services.common.errors import ApiError
from services.common.timefmt import china_day_start
from services.people import identity

log = logging.getLogger("healthcode.sms")

CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
PER_PHONE_PER_MINUTE = 5
PER_IP_PER_MINUTE = 20
# A China calendar day: codes sent to one phone and from one address, and wrong guesses of one
# phone's codes (each code also takes only MAX_ATTEMPTS).
PER_PHONE_PER_DAY = 10
PER_IP_PER_DAY = 100
GUESSES_PER_PHONE_PER_DAY = 20
SIGNATURE = "【健康码平台】"
SMS_RETRY_AFTER_SECONDS = 30  # a provider that did not answer: when to ask again
TEMPLATES = {
    "code": "您的验证码为{code}，5分钟内有效，请勿泄露给他人。",
    "new_password": "您的新密码为{password}，请登录后尽快修改。",
    "account_created": "您的后台账号已开通，登录账号为本手机号，初始密码为{password}，请登录后修改。",
}


class SmsUnavailable(Exception):
    """The provider could not send the message (not reached, or no answer in time)."""


class SmsRejected(SmsUnavailable):
    """The provider answered, with an error (a refused template, a quota, a bad key)."""


class DevSmsProvider:
    """Development provider: the sms_message table and the log (phone masked; the message
    itself only when `print_messages`, never in production)."""

    name = "dev"

    def __init__(self, print_messages: bool = False) -> None:
        self.print_messages = print_messages

    def send(self, phone: str, template: str, content: str, params: dict | None = None) -> None:
        """Record the message; nothing leaves the machine."""
        SmsMessage.create(phone=phone, phone_bidx=blind_index(phone, "phone"), template=template, content=content,
                          provider=self.name)
        if self.print_messages:
            log.info("SMS (%s) to %s (development, not sent): %s", template, identity.mask_phone(phone), content)
        else:
            log.info("SMS (%s) to %s recorded in sms_message", template, identity.mask_phone(phone))


_provider = DevSmsProvider()


def configure(config) -> None:
    """At start-up: the provider SMS_PROVIDER names. "dev" prints the messages it records unless
    in production; "aliyun" sends through Alibaba Cloud SMS (its keys, sign name and templates
    from config, checked by `Config.check`)."""
    global _provider
    if config.sms_provider == "aliyun":
        from services.messaging.sms_aliyun import AliyunSmsProvider, parse_templates

        _provider = AliyunSmsProvider(config.aliyun_sms_access_key_id, config.aliyun_sms_access_key_secret,
                                      config.aliyun_sms_sign_name, parse_templates(config.aliyun_sms_templates),
                                      config.aliyun_sms_endpoint, config.http_timeout_seconds)
    elif isinstance(_provider, DevSmsProvider) or getattr(_provider, "name", "") == "aliyun":
        _provider = DevSmsProvider(print_messages=not config.is_production)


def provider():
    """The provider messages go through."""
    return _provider


def use_provider(new) -> None:
    """Install another provider (a real gateway adapter, or a test double)."""
    global _provider
    _provider = new


def send(phone: str, template: str, **params) -> None:
    """Send one templated message (blocking: a real provider's HTTP call). A provider that
    cannot be reached is a 503 with Retry-After; one that answers an error, a 502."""
    content = SIGNATURE + TEMPLATES[template].format(**params)
    try:
        provider().send(phone, template, content, params)
    except SmsRejected:
        raise ApiError("sms_failed", "短信发送失败：短信服务商返回错误，请稍后再试", 502) from None
    except SmsUnavailable:
        raise ApiError("sms_unavailable", "短信发送失败，请稍后再试", 503,
                       retry_after=SMS_RETRY_AFTER_SECONDS) from None


def _seconds_to_tomorrow() -> int:
    return max(1, int((china_day_start() + dt.timedelta(days=1) - utcnow()).total_seconds()))


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
        raise ApiError("sms_rate_limited", "验证码发送过于频繁，请1分钟后再试", 429, "phone", retry_after=60)
    if ip and recent.where(SmsCode.ip == ip).count() >= PER_IP_PER_MINUTE:
        raise ApiError("sms_rate_limited", "验证码发送过于频繁，请稍后再试", 429, retry_after=60)
    today = SmsCode.select().where(SmsCode.created_at >= china_day_start())
    if today.where(SmsCode.phone_bidx == bidx).count() >= PER_PHONE_PER_DAY:
        raise ApiError("sms_daily_limit", f"该手机号今日已获取{PER_PHONE_PER_DAY}次验证码，请明天再试", 429, "phone",
                       retry_after=_seconds_to_tomorrow())
    if ip and today.where(SmsCode.ip == ip).count() >= PER_IP_PER_DAY:
        raise ApiError("sms_daily_limit", "今日获取验证码次数过多，请明天再试", 429, retry_after=_seconds_to_tomorrow())
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
    guessed = (SmsCode.select(fn.COALESCE(fn.SUM(SmsCode.attempts), 0))
               .where((SmsCode.phone_bidx == bidx) & (SmsCode.created_at >= china_day_start())).scalar())
    if guessed >= GUESSES_PER_PHONE_PER_DAY:
        raise ApiError("sms_guesses_exhausted", "今日验证码输错次数过多，请明天再试", 429, field,
                       retry_after=_seconds_to_tomorrow())
    latest = (SmsCode.select().where((SmsCode.phone_bidx == bidx) & (SmsCode.purpose == purpose)
                                     & SmsCode.used_at.is_null())
              .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).first())
    if latest is None or latest.expires_at < utcnow() or latest.attempts >= MAX_ATTEMPTS:
        raise ApiError("sms_code_expired", "验证码已失效，请重新获取", 400, field)
    if not hmac.compare_digest(latest.code_hash, _code_hash(str(code or "").strip())):
        SmsCode.update(attempts=SmsCode.attempts + 1).where(SmsCode.id == latest.id).execute()
        raise ApiError("sms_code_wrong", "验证码错误", 400, field)
    SmsCode.update(used_at=utcnow()).where(SmsCode.id == latest.id).execute()
