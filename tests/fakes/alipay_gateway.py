"""A fake Alipay open-platform gateway (openapi.alipay.com/gateway.do) on 127.0.0.1.

It checks the RSA2 request signature with the app's public key, answers
`alipay.system.oauth.token` in Alipay's real format, and signs every response with its own
"Alipay" key pair, generated at construction (no key file is ever written).
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading

import tornado.web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server_thread import FakeService, ServerThread

_GMT8 = datetime.timezone(datetime.timedelta(hours=8))
# How far the request `timestamp` (Beijing time) may be from now.
TIMESTAMP_TOLERANCE = datetime.timedelta(minutes=10)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _spki_body(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def make_app_keypair() -> tuple[str, str]:
    """A fresh app key pair: (PKCS#1 PEM private key for ALIPAY_PRIVATE_KEY, SPKI PEM public key)."""
    key = _new_key()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def sign_content(params: dict) -> str:
    """Alipay's string-to-sign: non-empty params but `sign`, sorted, `k=v` joined by `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")


class _GatewayHandler(tornado.web.RequestHandler):
    def initialize(self, fake: "FakeAlipay"):
        self.fake = fake

    def get(self, *args):
        self._handle()

    def post(self, *args):
        self._handle()

    def _handle(self):
        query = {k: v[-1].decode("utf-8") for k, v in self.request.query_arguments.items()}
        form = {k: v[-1].decode("utf-8") for k, v in self.request.body_arguments.items()}
        params = {**query, **form}
        record = {
            "method": self.request.method,
            "target": self.request.uri,
            "query": query,
            "form": form,
            "params": params,
            "sign_valid": self.fake._verify_request(params),
        }
        with self.fake._lock:
            self.fake.requests.append(record)
        if self.fake.http_status_override:
            self.set_status(self.fake.http_status_override)
            self.finish("<html><body>Service Unavailable</body></html>")
            return
        api = params.get("method", "")
        response_key = api.replace(".", "_") + "_response"
        error = self._check_common(params, record["sign_valid"])
        if error:
            return self._reply("error_response", error)
        if api != "alipay.system.oauth.token":
            return self._reply(
                "error_response",
                self.fake.error("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名"),
            )
        if params.get("grant_type") != "authorization_code":
            return self._reply(
                "error_response",
                self.fake.error("40002", "Invalid Arguments", "isv.grant-type-invalid", "grant_type参数不正确"),
            )
        with self.fake._lock:
            entry = self.fake.codes.pop(params.get("code", ""), None)
        if entry is None:
            return self._reply(
                "error_response", self.fake.error("40002", "Invalid Arguments", "isv.code-invalid", "授权码code无效")
            )
        now = datetime.datetime.now(_GMT8).strftime("%Y-%m-%d %H:%M:%S")
        body = {
            "access_token": "authusrB" + secrets.token_hex(16),
            "auth_start": now,
            "expires_in": 1296000,
            "re_expires_in": 2592000,
            "refresh_token": "authusrB" + secrets.token_hex(16),
        }
        if entry["user_id"]:
            body["user_id"] = entry["user_id"]
        if entry["open_id"]:
            body["open_id"] = entry["open_id"]
        self._reply(response_key, body)

    def _check_common(self, params: dict, sign_valid: bool | None) -> dict | None:
        if not params.get("sign"):
            return self.fake.error("40001", "Missing Required Arguments", "isv.missing-signature", "缺少签名参数")
        if sign_valid is False:
            return self.fake.error(
                "40002", "Invalid Arguments", "isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"
            )
        if self.fake.app_id and params.get("app_id") != self.fake.app_id:
            return self.fake.error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数")
        if params.get("sign_type") != "RSA2" or params.get("charset", "utf-8").lower() != "utf-8":
            return self.fake.error("40002", "Invalid Arguments", "isv.invalid-signature-type", "无效签名类型")
        try:
            sent = datetime.datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=_GMT8)
        except ValueError:
            return self.fake.error("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数")
        if abs(datetime.datetime.now(_GMT8) - sent) > TIMESTAMP_TOLERANCE:
            return self.fake.error("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数")
        return None

    def _reply(self, key: str, inner: dict) -> None:
        # The signature covers exactly these bytes, so build the text by hand around them.
        inner_text = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
        sign = self.fake._sign(inner_text.encode("utf-8"))
        self.set_header("Content-Type", "text/html;charset=utf-8")
        self.finish(f'{{"{key}":{inner_text},"sign":"{sign}"}}'.encode("utf-8"))


class FakeAlipay(FakeService):
    """A fake Alipay gateway. Use as a context manager; `gateway_url` goes into `alipay_gateway`.

    `add_code` registers a one-time auth code; `bad_signature = True` signs responses with a key
    Alipay's public key does not match; `http_status_override` answers every call with that status.
    `requests` records each call with its params and whether its signature verified.
    """

    def __init__(self, app_public_key_pem: str | None = None, app_id: str | None = None):
        self._key = _new_key()
        self._other_key: rsa.RSAPrivateKey | None = None
        self._app_public_key = (
            serialization.load_pem_public_key(app_public_key_pem.encode()) if app_public_key_pem else None
        )
        self.app_id = app_id
        self.codes: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.bad_signature = False
        self.http_status_override: int | None = None
        self._lock = threading.Lock()
        app = tornado.web.Application([(r"(?:https?://[^/]+)?/gateway\.do", _GatewayHandler, {"fake": self})])
        self._server = ServerThread(app)

    @property
    def gateway_url(self) -> str:
        """The gateway URL for `alipay_gateway`."""
        return self._server.url + "/gateway.do"


    def alipay_public_key_for_config(self) -> str:
        """The "Alipay public key" as ALIPAY_PUBLIC_KEY expects it: SPKI, base64 body only."""
        return _spki_body(self._key.public_key())

    def add_code(self, code: str, user_id: str | None, open_id: str | None = None) -> None:
        """Register a one-time auth code for `alipay.system.oauth.token`."""
        with self._lock:
            self.codes[code] = {"user_id": user_id, "open_id": open_id}

    @staticmethod
    def error(code: str, msg: str, sub_code: str, sub_msg: str) -> dict:
        """An `error_response` body."""
        return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}

    def _sign(self, data: bytes) -> str:
        key = self._key
        if self.bad_signature:
            if self._other_key is None:
                self._other_key = _new_key()
            key = self._other_key
        return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()

    def _verify_request(self, params: dict) -> bool | None:
        """Whether the request's RSA2 signature verifies (None when no app key was given)."""
        if self._app_public_key is None:
            return None
        try:
            self._app_public_key.verify(
                base64.b64decode(params.get("sign", "")),
                sign_content(params).encode("utf-8"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return True
        except (InvalidSignature, ValueError):
            return False
