"""A fake WeChat API server (api.weixin.qq.com) on 127.0.0.1, in WeChat's real wire formats.

Serves `/cgi-bin/token`, `/sns/jscode2session` and `/wxa/getwxacodeunlimit`, records every
request, and can switch into rate-limited / busy / broken modes. `FakeWechat.encrypt_phone_payload`
builds a `getPhoneNumber` payload exactly as WeChat encrypts it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import threading
import time

import tornado.web
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.server_thread import FakeService, ServerThread

# A valid 1x1 PNG, used only if neither qrcode nor Pillow is importable.
_MINIMAL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
)


def _make_png(text: str) -> bytes:
    try:
        import qrcode

        buffer = io.BytesIO()
        qrcode.make(text).save(buffer, format="PNG")
        return buffer.getvalue()
    except ImportError:
        pass
    try:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("L", (8, 8), 255).save(buffer, format="PNG")
        return buffer.getvalue()
    except ImportError:
        return _MINIMAL_PNG


class _Handler(tornado.web.RequestHandler):
    def initialize(self, fake: "FakeWechat"):
        self.fake = fake

    def prepare(self):
        query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        self.fake._record(self.request.method, self.request.path, query, self.request.body)
        if self.fake.http_status_override:
            self.set_status(self.fake.http_status_override)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish("<html><body>502 Bad Gateway</body></html>")
        elif self.fake.non_json:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish("<html><body>maintenance</body></html>")

    def reply(self, payload: dict, content_type: str = "application/json; encoding=utf-8"):
        self.set_header("Content-Type", content_type)
        self.finish(json.dumps(payload, ensure_ascii=False))

    def error(self, errcode: int, errmsg: str, content_type: str = "application/json; encoding=utf-8"):
        rid = secrets.token_hex(4)
        self.reply({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"}, content_type)

    def check_app(self, content_type: str) -> bool:
        if self.get_query_argument("appid", "") != self.fake.appid:
            self.error(40013, "invalid appid", content_type)
            return False
        if self.get_query_argument("secret", "") != self.fake.secret:
            self.error(40125, "invalid appsecret", content_type)
            return False
        return True

    def check_switches(self, content_type: str) -> bool:
        if self.fake.busy:
            self.error(-1, "system error", content_type)
            return False
        if self.fake.rate_limited:
            self.error(45011, "api minute-quota reach limit  mustslower  retry next minute", content_type)
            return False
        return True


class _TokenHandler(_Handler):
    def get(self):
        if self.get_query_argument("grant_type", "") != "client_credential":
            return self.error(40002, "invalid grant_type")
        if not self.check_app("application/json; encoding=utf-8"):
            return
        token = "fake-token-" + secrets.token_urlsafe(24)
        with self.fake._lock:
            self.fake.access_tokens.add(token)
        self.reply({"access_token": token, "expires_in": 7200})


class _JsCode2SessionHandler(_Handler):
    # The real endpoint answers with text/plain even though the body is JSON.
    CONTENT_TYPE = "text/plain"

    def get(self):
        ct = self.CONTENT_TYPE
        if not self.check_app(ct) or not self.check_switches(ct):
            return
        if self.get_query_argument("grant_type", "") != "authorization_code":
            return self.error(40002, "invalid grant_type", ct)
        code = self.get_query_argument("js_code", "")
        if not code:
            return self.error(41008, "missing code", ct)
        with self.fake._lock:
            if code in self.fake.used_codes:
                return self.error(40163, "code been used", ct)
            entry = self.fake.codes.pop(code, None)
            if entry is None:
                return self.error(40029, "invalid code", ct)
            self.fake.used_codes.add(code)
        payload = {"session_key": entry["session_key"], "openid": entry["openid"]}
        if entry["unionid"]:
            payload["unionid"] = entry["unionid"]
        self.reply(payload, ct)


class _WxaCodeUnlimitHandler(_Handler):
    def post(self):
        if self.get_query_argument("access_token", "") not in self.fake.access_tokens:
            return self.error(40001, "invalid credential, access_token is invalid or not latest")
        if not self.check_switches("application/json; encoding=utf-8"):
            return
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            return self.error(47001, "data format error")
        scene = body.get("scene")
        if not isinstance(scene, str) or not 0 < len(scene) <= 32:
            return self.error(40169, "invalid length for scene, or the data is not json string")
        self.set_header("Content-Type", "image/png")
        self.finish(_make_png(f"fake-wxacode|{scene}|{body.get('page') or ''}"))


class FakeWechat(FakeService):
    """A fake api.weixin.qq.com. Use as a context manager; `url` is the base for `wechat_api_base`.

    Register sign-in codes with `add_code`; flip `rate_limited`, `busy`, `non_json` or set
    `http_status_override` to simulate failures. `requests` lists every request received.
    """

    def __init__(self, appid: str = "wx-fake-appid", secret: str = "fake-secret"):
        self.appid = appid
        self.secret = secret
        self.codes: dict[str, dict] = {}
        self.used_codes: set[str] = set()
        self.access_tokens: set[str] = set()
        self.requests: list[dict] = []
        self.rate_limited = False
        self.busy = False
        self.non_json = False
        self.http_status_override: int | None = None
        self._lock = threading.Lock()
        app = tornado.web.Application(
            [
                (r"/cgi-bin/token", _TokenHandler, {"fake": self}),
                (r"/sns/jscode2session", _JsCode2SessionHandler, {"fake": self}),
                (r"/wxa/getwxacodeunlimit", _WxaCodeUnlimitHandler, {"fake": self}),
            ]
        )
        self._server = ServerThread(app)

    @property
    def url(self) -> str:
        """The base URL (with trailing slash) to put in `wechat_api_base`."""
        return self._server.url + "/"


    def add_code(self, code: str, openid: str, unionid: str | None = None, session_key: str | None = None) -> str:
        """Register a one-time `wx.login()` code; returns the session_key the server will hand out."""
        if session_key is None:
            session_key = base64.b64encode(os.urandom(16)).decode()
        with self._lock:
            self.codes[code] = {"openid": openid, "unionid": unionid, "session_key": session_key}
        return session_key

    def requests_to(self, path: str) -> list[dict]:
        """The recorded requests whose path is `path`."""
        return [r for r in self.requests if r["path"] == path]

    def _record(self, method: str, path: str, query: dict, body: bytes) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "body": body})

    @staticmethod
    def encrypt_phone_payload(
        session_key: str, appid: str, phone: str, country_code: str = "86", timestamp: int | None = None
    ) -> tuple[str, str]:
        """Encrypt a phone number as WeChat's `getPhoneNumber` does: returns (encrypted_data, iv)."""
        pure = phone[len("+" + country_code):] if phone.startswith("+" + country_code) else phone
        plaintext = json.dumps(
            {
                "phoneNumber": phone,
                "purePhoneNumber": pure,
                "countryCode": country_code,
                "watermark": {"appid": appid, "timestamp": int(timestamp or time.time())},
            },
            ensure_ascii=False,
        ).encode()
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
        encrypted = encryptor.update(padded) + encryptor.finalize()
        return base64.b64encode(encrypted).decode(), base64.b64encode(iv).decode()
