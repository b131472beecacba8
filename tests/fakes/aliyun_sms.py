"""A fake Alibaba Cloud SMS endpoint (dysmsapi.aliyuncs.com) on 127.0.0.1, in its real wire format.

The official SDK (alibabacloud_dysmsapi20170525, V3 request style) sends `SendSms` as
`POST /?PhoneNumbers=...&SignName=...&TemplateCode=...&TemplateParam=...` with the headers
`x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`
and `Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex>`.

The signature is checked here the way the service documents it, written independently of the
SDK's code:

    CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
                       SignedHeaders \n HexPayloadHash
    CanonicalQueryString: parameters sorted by name, name=value with the value percent-encoded
                          (RFC 3986: only A-Z a-z 0-9 - _ . ~ left as they are), joined by &
    CanonicalHeaders: each signed header as lowercase-name:trimmed-value\\n, sorted by name
                      (host, content-type and every x-acs-* header must be among them)
    StringToSign = "ACS3-HMAC-SHA256" \n hex(SHA-256(CanonicalRequest))
    Signature = hex(HMAC-SHA256(AccessKeySecret, StringToSign))

and the body's SHA-256 must equal x-acs-content-sha256. Answers are the service's JSON:
`{"Code": "OK", "Message": "OK", "BizId": ..., "RequestId": ...}` (HTTP 200); a business error
keeps HTTP 200 with another Code (`isv.BUSINESS_LIMIT_CONTROL`, ...); a signature error is
HTTP 400 `SignatureDoesNotMatch`. `delay_seconds` holds the answer back (a timeout test).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import quote

import tornado.gen
import tornado.web

from tests.fakes.server_thread import FakeService, ServerThread

REQUIRED_SIGNED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                   "x-acs-content-sha256")


def _encode(value: str) -> str:
    return quote(value, safe="-_.~", encoding="utf-8")


def expected_signature(secret: str, method: str, path: str, query: dict, headers: dict, signed: list[str],
                       body: bytes) -> str:
    """ACS3-HMAC-SHA256 of a request as the fake received it (see the module docstring)."""
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join([method, path or "/", canonical_query, canonical_headers, ";".join(signed),
                           hashlib.sha256(body).hexdigest()])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class _SendSms(tornado.web.RequestHandler):
    def initialize(self, fake: "FakeAliyunSms"):
        self.fake = fake

    async def post(self):
        fake, request = self.fake, self.request
        if fake.delay_seconds:
            await tornado.gen.sleep(fake.delay_seconds)
        request_id = str(uuid.uuid4()).upper()
        query = {k: self.get_query_argument(k) for k in request.query_arguments}
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = self._signature_problem(query, headers)
        if problem:
            fake.rejected.append(problem)
            self._answer({"Code": problem, "Message": "Specified signature is not matched with our calculation.",
                          "RequestId": request_id, "Recommend": "", "HostId": "dysmsapi.aliyuncs.com"}, 400)
            return
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            self._answer({"Code": "InvalidAction.NotFound", "Message": "Specified api is not found.",
                          "RequestId": request_id}, 404)
            return
        fake.sent.append({"phone": query.get("PhoneNumbers"), "sign_name": query.get("SignName"),
                          "template_code": query.get("TemplateCode"),
                          "params": json.loads(query.get("TemplateParam") or "{}")})
        if fake.answer_code != "OK":
            self._answer({"Code": fake.answer_code, "Message": fake.answer_message, "RequestId": request_id}, 200)
            return
        self._answer({"Code": "OK", "Message": "OK", "BizId": f"{int(time.time())}^0", "RequestId": request_id}, 200)

    def _signature_problem(self, query: dict, headers: dict) -> str | None:
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            return "IncompleteSignature"
        parts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        signed = parts.get("SignedHeaders", "").split(";")
        if parts.get("Credential") != self.fake.access_key_id:
            return "InvalidAccessKeyId.NotFound"
        if any(name not in signed for name in REQUIRED_SIGNED) or signed != sorted(signed):
            return "IncompleteSignature"
        if headers.get("x-acs-content-sha256") != hashlib.sha256(self.request.body).hexdigest():
            return "IncompleteSignature"
        wanted = expected_signature(self.fake.access_key_secret, self.request.method, self.request.path, query,
                                    headers, signed, self.request.body)
        if not hmac.compare_digest(wanted, parts.get("Signature", "")):
            return "SignatureDoesNotMatch"
        return None

    def _answer(self, data: dict, status: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json;charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False))


class FakeAliyunSms(FakeService):
    """The fake endpoint: `endpoint` ("127.0.0.1:port") for the SDK's Config; `sent` holds each
    accepted SendSms, `rejected` each signature failure. `answer_code` / `answer_message` make it
    answer a business error; `delay_seconds` makes it slow."""

    def __init__(self, access_key_id: str = "LTAI-test-key", access_key_secret: str = "test-secret-0123456789"):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sent: list[dict] = []
        self.rejected: list[str] = []
        self.answer_code = "OK"
        self.answer_message = "OK"
        self.delay_seconds = 0.0
        self._server = ServerThread(tornado.web.Application([(r"/", _SendSms, {"fake": self})]))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"
