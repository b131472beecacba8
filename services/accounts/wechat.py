"""WeChat mini-program server API: sign-in (code2Session), phone payload decryption, wxa codes.

Everything goes through the real wechatpy client; only the base URL is configurable so that tests
(and a proxy in production, if ever needed) can point it elsewhere. Every failure reaches the caller
as an `ApiError` with a Chinese message; raw SDK or `requests` exceptions never escape.
"""

from __future__ import annotations

import logging

import requests
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import WeChatClientException, WeChatException

from config import Config
from services.common.errors import ApiError
from services.operations import pools

logger = logging.getLogger(__name__)

# Errcodes meaning "our cached access_token is no longer valid": fetch a new one and retry once.
_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
_CODE_INVALID_ERRCODES = frozenset({40029, 40163})
# 45011 is the per-minute quota of jscode2session; 45009 the daily quota of other APIs.
_RATE_LIMIT_ERRCODES = frozenset({45009, 45011})


def _unavailable() -> ApiError:
    return ApiError("wechat_unavailable", "暂时无法连接微信服务器，请稍后再试", 503)


def _invalid_phone_payload() -> ApiError:
    return ApiError("invalid_phone_payload", "手机号数据解密失败，请重新授权", 400, "encrypted_data")


def map_wechat_error(errcode) -> ApiError:
    """The ApiError for a WeChat errcode (None means a transport / HTTP-level failure)."""
    if errcode is None:
        return _unavailable()
    if errcode in _CODE_INVALID_ERRCODES:
        return ApiError("wechat_code_invalid", "微信登录凭证无效或已过期，请重新登录", 400, "code")
    if errcode in _RATE_LIMIT_ERRCODES:
        return ApiError("wechat_rate_limited", "微信接口调用过于频繁，请稍后再试", 429)
    if errcode == -1:
        return ApiError("wechat_busy", "微信服务器繁忙，请稍后再试", 503)
    return ApiError("wechat_error", f"微信接口返回错误（错误码 {errcode}）", 502)


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout.

    wechatpy's `_fetch_access_token` calls `self._http.get` without any timeout, so a hanging token
    endpoint would block an executor thread forever; this closes that gap for every call.
    """

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, **kwargs)


class _ConfiguredWeChatClient(WeChatClient):
    """wechatpy's client with every URL (token, cgi-bin, wxa, sns) under one configurable base."""

    def __init__(self, appid: str, secret: str, api_base: str, timeout: float):
        # auto_retry=False: wechatpy's own retry recurses without bound if the server keeps
        # answering 40001; WechatGateway retries exactly once instead.
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._http = _TimeoutSession(timeout)
        self.api_base = api_base
        # Instance attributes, not class ones: the endpoint objects are per client (see __new__).
        self.API_BASE_URL = api_base + "cgi-bin/"
        self.wxa.API_BASE_URL = api_base

    def fetch_access_token(self):
        """Fetch an access token from the configured base instead of the hard-coded host."""
        return self._fetch_access_token(
            url=self.api_base + "cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


class WechatGateway:
    """The WeChat mini-program server API for one app (appid / secret from Config)."""

    def __init__(self, config: Config):
        base = config.wechat_api_base.rstrip("/") + "/"
        self.appid = config.wechat_appid
        self.client = _ConfiguredWeChatClient(
            config.wechat_appid, config.wechat_secret, base, config.http_timeout_seconds
        )

    def _call(self, func, *args, **kwargs):
        """Run one SDK call, retrying once on a stale access token, mapping every failure."""
        for attempt in (1, 2):
            try:
                return func(*args, **kwargs)
            except WeChatClientException as exc:
                if exc.errcode in _TOKEN_ERRCODES and attempt == 1:
                    # The token may have been refreshed elsewhere; drop ours and try again.
                    self.client.session.delete(self.client.access_token_key)
                    continue
                logger.warning("WeChat API error: errcode=%s errmsg=%s", exc.errcode, exc.errmsg)
                raise map_wechat_error(exc.errcode) from None
            except requests.RequestException as exc:
                # Connection refused, timeouts, and non-JSON token responses (JSONDecodeError).
                logger.warning("WeChat API unreachable: %s", type(exc).__name__)
                raise _unavailable() from None
        raise _unavailable()  # pragma: no cover - the loop always returns or raises

    def code_to_session(self, code: str) -> dict:
        """Exchange a `wx.login()` code for `{"openid", "session_key", "unionid"}` (blocking)."""
        if not isinstance(code, str) or not code.strip():
            raise map_wechat_error(40029)
        result = self._call(self.client.wxa.code_to_session, code.strip())
        # wechatpy hands back the raw Response when the body is not JSON (an HTML error page).
        if not isinstance(result, dict) or not result.get("openid") or not result.get("session_key"):
            logger.warning("WeChat jscode2session returned an unexpected body")
            raise _unavailable()
        return {
            "openid": result["openid"],
            "session_key": result["session_key"],
            "unionid": result.get("unionid") or None,
        }

    def decrypt_phone(self, session_key: str, encrypted_data: str, iv: str) -> dict:
        """Decrypt a `getPhoneNumber` payload: `{"phone_number", "pure_phone_number", "country_code"}`."""
        try:
            data = WeChatWxaCrypto(session_key, iv, self.appid).decrypt_message(encrypted_data)
            return {
                "phone_number": str(data["phoneNumber"]),
                "pure_phone_number": str(data["purePhoneNumber"]),
                "country_code": str(data["countryCode"]),
            }
        except (WeChatException, ValueError, TypeError, KeyError, IndexError, AttributeError):
            # Wrong appid in the watermark, bad base64, wrong key/iv size, bad padding, non-JSON
            # plaintext: all mean the client must authorise again. UnicodeDecodeError, binascii.Error
            # and JSONDecodeError are ValueErrors.
            raise _invalid_phone_payload() from None

    def get_wxa_code_unlimited(self, scene: str, page: str | None = None) -> bytes:
        """The image bytes (PNG) of an unlimited mini-program code for `scene` (blocking)."""
        result = self._call(self.client.wxa.get_wxa_code_unlimited, scene, page=page)
        # Success is a binary image, which wechatpy returns as the raw Response; a JSON body
        # without errcode is not something WeChat sends.
        if isinstance(result, requests.Response) and result.content:
            return result.content
        logger.warning("WeChat getwxacodeunlimit returned an unexpected body")
        raise _unavailable()

    async def login(self, code: str) -> dict:
        """`code_to_session` off the IOLoop thread, for Tornado handlers."""
        return await pools.run_in(pools.SDK, self.code_to_session, code)

    async def wxa_code(self, scene: str, page: str | None = None) -> bytes:
        """`get_wxa_code_unlimited` off the IOLoop thread, for Tornado handlers."""
        return await pools.run_in(pools.SDK, self.get_wxa_code_unlimited, scene, page)
