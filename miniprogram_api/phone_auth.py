"""Phone accounts (A4, seed 001): SMS codes, registration, password sign-in and reset.

The sign-in answers are the mini-program's (LoginResult): the same token model, so a phone
account and a WeChat account of the same verified phone are one account (services.accounts.phone_auth).
"""

from __future__ import annotations

import base64

from handlers.base import ApiHandler, on_executor, operation
from miniprogram_api import fields
from handlers.schema import Bool, Int, Str, model, response_model
from miniprogram_api.auth import LOGIN_RESULT, signed_in
from services.accounts import captchas, phone_auth


class Password(Str):
    """A password exactly as typed: unlike other texts it is not stripped (a space is a character).
    A new password's length rule (6~12) is the service's, checked with the other rules of
    registration (`deferred`, stated in the document)."""

    as_typed = True


PHONE = fields.phone("手机号码")
SMS_CODE = Str("短信验证码", max_len=6, min_len=6, pattern=r"[0-9]{6}")
PASSWORD = Password("密码", min_len=phone_auth.PASSWORD_MIN, max_len=phone_auth.PASSWORD_MAX, deferred=True)

SMS_SEND = model("SmsSendRequest", {
    "phone": PHONE,
    "purpose": Str("用途：register 注册 / reset_password 重置密码", choices=tuple(phone_auth.PURPOSES)),
})
SMS_SENT = response_model("SmsSent", {"sent": Bool("已发送"), "expires_in_seconds": Int("验证码有效期（秒）")})
PHONE_REGISTER = model("PhoneRegisterRequest", {"phone": PHONE, "sms_code": SMS_CODE, "password": PASSWORD})
PASSWORD_LOGIN = model("PasswordLoginRequest", {
    "phone": PHONE, "password": Password("密码", max_len=64),
    "captcha_key": Str("图形验证码编号（authCaptcha；连续输错3次后必填）", max_len=64, required=False),
    "captcha": Str("图形验证码（4个字母）", max_len=8, required=False)})
CAPTCHA = response_model("Captcha", {"captcha_key": Str("图形验证码编号"),
                             "image": Str("图形验证码图片（data:image/png;base64,...）", max_len=20000)})
PASSWORD_RESET = model("PasswordResetRequest", {"phone": PHONE, "sms_code": SMS_CODE, "password": PASSWORD})
PASSWORD_RESET_DONE = response_model("PasswordResetDone", {"reset": Bool("密码已重置，请用新密码登录")})


class SmsSendHandler(ApiHandler):
    public = True

    @operation("authSmsSend", "发送短信验证码（注册 / 重置密码；每个手机号每分钟最多 5 次）", body=SMS_SEND,
               response=SMS_SENT, errors=(429, 502, 503))
    async def post(self, body):
        # The SMS gateway's HTTP call blocks: off the event loop.
        return await on_executor(phone_auth.send_code, body["phone"], body["purpose"], self.request.remote_ip)


class PhoneRegisterHandler(ApiHandler):
    public = True

    @operation("authPhoneRegister", "手机号注册（短信验证码 + 6~12 位密码），注册后即登录", body=PHONE_REGISTER,
               response=LOGIN_RESULT, status=201, errors=(409,))
    def post(self, body):
        identity = phone_auth.register(body["phone"], body["sms_code"], body["password"])
        return signed_in(identity, self.config)


def _password_signed_in(config, phone, password, ip, captcha_key, captcha) -> dict:
    """The password check and, when it passes, the sign-in's answer: one hop to the sign-in pool."""
    return signed_in(phone_auth.login(phone, password, ip, captcha_key, captcha), config)


class PasswordLoginHandler(ApiHandler):
    public = True

    @operation("authPasswordLogin", "手机号 + 密码登录（每个手机号15分钟内最多输错5次）", body=PASSWORD_LOGIN,
               response=LOGIN_RESULT, errors=(401, 403, 429))
    async def post(self, body):
        return await self.sign_in(_password_signed_in, self.config, body["phone"], body["password"],
                                  self.request.remote_ip, body.get("captcha_key"), body.get("captcha"))


class CaptchaHandler(ApiHandler):
    public = True

    @operation("authCaptcha", "图形验证码（密码连续输错3次后登录须填写）", response=CAPTCHA)
    def get(self):
        key, png = captchas.new_captcha(self.config)  # its row and a small drawing, on the DB pool
        return {"captcha_key": key, "image": "data:image/png;base64," + base64.b64encode(png).decode()}


class PasswordResetHandler(ApiHandler):
    public = True

    @operation("authPasswordReset", "通过短信验证码重置密码（原密码登录的会话随即失效）", body=PASSWORD_RESET,
               response=PASSWORD_RESET_DONE, errors=(404,))
    def post(self, body):
        return phone_auth.reset_password(body["phone"], body["sms_code"], body["password"])


def routes(config) -> list:
    """The phone-account routes."""
    return [
        (r"/api/v1/auth/sms/send", SmsSendHandler),
        (r"/api/v1/auth/phone/register", PhoneRegisterHandler),
        (r"/api/v1/auth/phone/login", PasswordLoginHandler),
        (r"/api/v1/auth/captcha", CaptchaHandler),
        (r"/api/v1/auth/phone/password/reset", PasswordResetHandler),
    ]
