"""Alipay mini-program sign-in (alipay.system.oauth.token) through alipay-sdk-python.

The SDK is used as is for signing requests and verifying response signatures; `patch_alipay_sdk`
only repairs its HTTP transport and its request clock (see there). Every failure reaches the
caller as an `ApiError` with a Chinese message.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import importlib
import logging
import re
import ssl
import threading
import types
import urllib.parse

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.exception.Exception import RequestException, ResponseException
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import AlipaySystemOauthTokenRequest
from alipay.aop.api.response.AlipaySystemOauthTokenResponse import AlipaySystemOauthTokenResponse
from alipay.aop.api.util import WebUtils
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config import Config
from services.common.errors import ApiError
from services.operations import pools

logger = logging.getLogger(__name__)

_GMT8 = datetime.timezone(datetime.timedelta(hours=8), "GMT+8")
_PATCH_LOCK = threading.Lock()
_PATCH_MARK = "_healthcode_patched"


def _get_http_connection(url, query_string, timeout):
    """WebUtils.get_http_connection, honouring the URL's scheme, port and the timeout.

    The SDK's version always connects to port 80/443 and then crashes building the request target
    (`str + int`) whenever the URL carries a port.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise RequestException("unsupported gateway URL scheme: " + parsed.scheme)
    if parsed.scheme == "https":
        connection = http.client.HTTPSConnection(
            parsed.hostname, parsed.port or 443, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    # The SDK sends the absolute URL as the request target; keep that, with the port this time.
    target = f"{parsed.scheme}://{parsed.netloc}{parsed.path or '/'}"
    if query_string:
        target += "?" + query_string
    return target, connection


def _do_post(url, query_string=None, headers=None, params=None, charset="utf-8", timeout=15):
    """WebUtils.do_post with every transport failure raised as RequestException.

    The SDK's version lets a read timeout escape as a bare socket error and crashes with a
    TypeError (`str + bytes`) on any non-200 status instead of reporting it.
    """
    url, connection = WebUtils.get_http_connection(url, query_string, timeout)
    body = WebUtils.url_encode(params, charset) if params else None
    try:
        connection.request("POST", url, body=body, headers=headers or {})
        response = connection.getresponse()
        result = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise RequestException(f"post failed: {type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise RequestException(f"invalid http status {response.status}")
    return result


class _Gmt8Datetime(datetime.datetime):
    """`datetime.now()` in Beijing time: the gateway reads the naive `timestamp` as GMT+8."""

    @classmethod
    def now(cls, tz=None):
        if tz is None:
            return datetime.datetime.now(_GMT8).replace(tzinfo=None)
        return datetime.datetime.now(tz)


def patch_alipay_sdk() -> None:
    """Repair alipay-sdk-python 3.7 in place; safe to call any number of times.

    - `WebUtils.get_http_connection` honours the URL's port, http vs https, and the timeout;
    - `WebUtils.do_post` reports timeouts and non-200 answers as `RequestException`;
    - the client's request `timestamp` is Beijing time whatever the server's time zone (the SDK
      uses naive local time, which the gateway rejects on a UTC host).
    """
    with _PATCH_LOCK:
        if getattr(WebUtils.get_http_connection, _PATCH_MARK, False):
            return
        setattr(_get_http_connection, _PATCH_MARK, True)
        WebUtils.get_http_connection = _get_http_connection
        WebUtils.do_post = _do_post
        client_module = importlib.import_module("alipay.aop.api.DefaultAlipayClient")
        # DefaultAlipayClient did `from WebUtils import *`: rebind its own name too.
        client_module.do_post = _do_post
        shim = types.ModuleType("datetime")
        shim.__dict__.update(datetime.__dict__)
        shim.datetime = _Gmt8Datetime
        client_module.datetime = shim


def _pem_body(text: str) -> str:
    """The base64 body of a PEM (or of bare base64), whitespace removed."""
    return re.sub(r"-----[A-Z ]+-----|\s|\\n", "", text)


def normalise_private_key(value: str) -> str:
    """The app private key as the SDK needs it (PKCS#1 PEM), from PKCS#1 or PKCS#8, PEM or base64."""
    try:
        der = base64.b64decode(_pem_body(value), validate=True)
        try:
            key = serialization.load_der_private_key(der, password=None)
        except ValueError:
            # Bare PKCS#1 DER is not accepted by load_der_private_key on every backend; wrap it.
            key = serialization.load_pem_private_key(
                b"-----BEGIN RSA PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PRIVATE KEY-----\n",
                password=None,
            )
    except (ValueError, TypeError):
        raise ValueError("ALIPAY_PRIVATE_KEY is not a valid RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("ALIPAY_PRIVATE_KEY is not an RSA key")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def normalise_public_key(value: str) -> str:
    """The Alipay public key as the SDK needs it: the SubjectPublicKeyInfo base64 body only."""
    body = _pem_body(value)
    try:
        key = serialization.load_der_public_key(base64.b64decode(body, validate=True))
    except (ValueError, TypeError):
        raise ValueError("ALIPAY_PUBLIC_KEY is not a valid SubjectPublicKeyInfo public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("ALIPAY_PUBLIC_KEY is not an RSA key")
    return body


def _unavailable() -> ApiError:
    return ApiError("alipay_unavailable", "暂时无法连接支付宝服务器，请稍后再试", 503)


def map_alipay_error(code, msg, sub_code, sub_msg) -> ApiError:
    """The ApiError for an Alipay error_response."""
    sub = (sub_code or "").lower()
    if sub.startswith("isv.") and "code" in sub:
        return ApiError("alipay_code_invalid", "支付宝授权码无效或已过期，请重新授权", 400, "auth_code")
    detail = sub_msg or msg or f"错误码 {code}"
    return ApiError("alipay_error", f"支付宝接口返回错误：{detail}", 502)


class AlipayGateway:
    """Alipay open-platform calls for one mini-program (keys and gateway from Config).

    Raises ValueError at construction if the configured keys cannot be loaded.
    """

    def __init__(self, config: Config):
        patch_alipay_sdk()
        client_config = AlipayClientConfig()
        client_config.server_url = config.alipay_gateway
        client_config.app_id = config.alipay_appid
        client_config.app_private_key = normalise_private_key(config.alipay_private_key)
        client_config.alipay_public_key = normalise_public_key(config.alipay_public_key)
        client_config.sign_type = "RSA2"
        client_config.timeout = config.http_timeout_seconds
        # No logger on purpose: the SDK would log the auth code, user_id and access_token in full.
        self.client = DefaultAlipayClient(client_config)

    def oauth_token(self, auth_code: str) -> dict:
        """Exchange a `my.getAuthCode` code: `{"user_id", "open_id", "access_token", "expires_in", ...}`."""
        if not isinstance(auth_code, str) or not auth_code.strip():
            raise map_alipay_error(None, None, "isv.code-invalid", None)
        request = AlipaySystemOauthTokenRequest()
        request.grant_type = "authorization_code"
        request.code = auth_code.strip()
        try:
            text = self.client.execute(request)
        except RequestException as exc:
            logger.warning("Alipay gateway unreachable: %s", str(exc)[:200])
            raise _unavailable() from None
        except ResponseException:
            # Raised for a missing or wrong response signature (and an unsigned, malformed body).
            logger.warning("Alipay response signature did not verify; response rejected")
            raise ApiError("alipay_signature_invalid", "支付宝响应签名校验失败，已拒绝", 502) from None
        response = AlipaySystemOauthTokenResponse()
        try:
            response.parse_response_content(text)
        except ValueError:
            raise _unavailable() from None
        if not response.is_success() or (response.code and response.code != "10000"):
            logger.warning("Alipay oauth.token error: code=%s sub_code=%s", response.code, response.sub_code)
            raise map_alipay_error(response.code, response.msg, response.sub_code, response.sub_msg)
        if not response.user_id and not response.open_id:
            raise map_alipay_error(None, None, None, "响应中缺少用户标识")
        return {
            "user_id": response.user_id,
            "open_id": response.open_id,
            "access_token": response.access_token,
            "expires_in": response.expires_in,
            "refresh_token": response.refresh_token,
        }

    async def login(self, auth_code: str) -> dict:
        """`oauth_token` off the IOLoop thread, for Tornado handlers."""
        return await pools.run_in(pools.SDK, self.oauth_token, auth_code)
