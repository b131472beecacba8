"""Mini-program sign-in (A1-A3): WeChat, Alipay, the development sign-in, phone binding, logout."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Bool, Int, List, Obj, Str, model, response_model
from services.accounts import auth
from services.common.errors import ApiError
from services.people import profile

ACCOUNT = response_model("Account", {
    "id": Int("账号编号"),
    "roles": List(Str("角色", choices=tuple(auth.ROLES)), "角色列表", max_items=len(auth.ROLES)),
})
LOGIN_RESULT = response_model("LoginResult", {
    "token": Str("访问令牌，放在 Authorization: Bearer 头中"),
    "token_type": Str("固定为 Bearer"),
    "expires_at": Str("绝对过期时间（ISO 8601）"),
    "idle_timeout_seconds": Int("闲置多久后失效（秒）"),
    "account": Obj(ACCOUNT),
    "profile_complete": Bool("是否已填写实名信息"),
})
WECHAT_LOGIN = model("WechatLoginRequest", {"code": Str("wx.login 返回的 code", max_len=128)})
ALIPAY_LOGIN = model("AlipayLoginRequest", {"auth_code": Str("my.getAuthCode 返回的授权码", max_len=128)})
DEV_LOGIN = model("DevLoginRequest", {
    "openid": Str("开发用 openid", max_len=64, pattern=r"[A-Za-z0-9_\-]+", example="demo-citizen"),
})
BIND_PHONE = model("BindPhoneRequest", {
    "encrypted_data": Str("getPhoneNumber 返回的 encryptedData", max_len=4096),
    "iv": Str("getPhoneNumber 返回的 iv", max_len=64),
})
DEVICE_LOGIN = model("DeviceLoginRequest", {
    "device_key": Str("本机保存的设备密钥（首次留空，由服务器生成）", max_len=64, required=False, nullable=True),
})
DEVICE_RESULT = response_model("DeviceLoginResult", {**LOGIN_RESULT.__specs__, "device_key": Str("设备密钥：保存在本机，下次登录使用")})
BOUND_PHONE = response_model("BoundPhone", {"phone": Str("手机号（已脱敏）"), "phone_verified": Bool("是否经平台验证"),
                                    "account_id": Int("账号编号（与同一手机号的手机账号合并后为该账号）")})
LOGGED_OUT = response_model("LoggedOut", {"logged_out": Bool("已退出")})


def signed_in(identity, config) -> dict:
    """The answer to every sign-in: a new token, the account, whether the profile is filled."""
    result = auth.issue_token(identity, config)
    result["account"] = auth.account_summary(identity.account)
    result["profile_complete"] = profile.is_complete(profile.self_person(identity.account))
    return result


def _platform_signed_in(config, platform: str, user_id: str, details: dict) -> dict:
    """`signed_in` for the platform's user (its account made on the first sign-in)."""
    return signed_in(auth.sign_in(platform, user_id, **details), config)


def _gateway(handler, name: str, label: str):
    gateway = handler.services.get(name)
    if gateway is None:
        raise ApiError("platform_not_configured", f"服务器未配置{label}登录", 503)
    return gateway


class WechatLoginHandler(ApiHandler):
    public = True

    @operation("authWechatLogin", "微信小程序登录（code 换取会话）", body=WECHAT_LOGIN, response=LOGIN_RESULT,
               errors=(400, 429, 502, 503))
    async def post(self, body):
        session = await _gateway(self, "wechat", "微信").login(body["code"])
        return await self.on_db(_platform_signed_in, self.config, "wechat", session["openid"],
                                dict(unionid=session.get("unionid"), session_key=session["session_key"]))


class AlipayLoginHandler(ApiHandler):
    public = True

    @operation("authAlipayLogin", "支付宝小程序登录（授权码换取用户）", body=ALIPAY_LOGIN, response=LOGIN_RESULT,
               errors=(400, 502, 503))
    async def post(self, body):
        token = await _gateway(self, "alipay", "支付宝").login(body["auth_code"])
        return await self.on_db(_platform_signed_in, self.config, "alipay", token["user_id"], {})


class DevLoginHandler(ApiHandler):
    """A2: routed only when no platform is configured and never in production (see routes())."""

    public = True

    @operation("authDevLogin", "开发环境登录（未配置微信和支付宝时可用）", body=DEV_LOGIN, response=LOGIN_RESULT)
    def post(self, body):
        identity = auth.sign_in("dev", body["openid"])
        return signed_in(identity, self.config)


class DeviceLoginHandler(ApiHandler):
    """The H5 scan pages' sign-in: a phone browser is an account of its own, remembered by a
    random key it keeps, as the 002 system's pages remembered identities per phone (A8)."""

    public = True

    @operation("authDeviceLogin", "H5 页面登录（本机设备密钥）", body=DEVICE_LOGIN, response=DEVICE_RESULT,
               errors=(400, 401))
    def post(self, body):
        identity, device_key = auth.device_sign_in(body.get("device_key"))
        return {**signed_in(identity, self.config), "device_key": device_key}


class BindPhoneHandler(ApiHandler):
    @operation("authBindPhone", "绑定微信手机号（服务端解密）", body=BIND_PHONE, response=BOUND_PHONE,
               errors=(400, 401))
    def post(self, body):
        identity = self.current_token.identity
        if identity is None or identity.provider != "wechat" or not identity.session_key:
            raise ApiError("not_wechat_session", "请先通过微信登录后再绑定手机号", 400)
        phone = _gateway(self, "wechat", "微信").decrypt_phone(identity.session_key, body["encrypted_data"], body["iv"])
        if phone.get("country_code") not in (None, "", "86"):
            raise ApiError("invalid_phone", "仅支持中国大陆手机号", 400, "encrypted_data")
        return profile.bind_verified_phone(self.current_account, phone["pure_phone_number"], via=identity)


class LogoutHandler(ApiHandler):
    @operation("authLogout", "退出登录（令牌立即失效）", response=LOGGED_OUT, errors=(401,))
    def post(self):
        auth.sign_out(self.current_token)
        return {"logged_out": True}


def routes(config) -> list:
    """The sign-in routes; the development sign-in only where A2 allows it."""
    table = [
        (r"/api/v1/auth/wechat/login", WechatLoginHandler),
        (r"/api/v1/auth/alipay/login", AlipayLoginHandler),
        (r"/api/v1/auth/device/login", DeviceLoginHandler),
        (r"/api/v1/auth/phone/bind", BindPhoneHandler),
        (r"/api/v1/auth/logout", LogoutHandler),
    ]
    if config.dev_login_enabled:
        table.append((r"/api/v1/auth/dev/login", DevLoginHandler))
    return table
