"""Alibaba Cloud SMS (dysmsapi 2017-05-25) as an SMS provider, through the official Python SDK.

Chosen by SMS_PROVIDER=aliyun (see `services.messaging.sms.configure`). Each platform template
(`services.messaging.sms.TEMPLATES`) maps to a template approved in the Alibaba Cloud console
(ALIYUN_SMS_TEMPLATES, "code:SMS_1234,new_password:SMS_5678,..."), whose variables are the
template's parameters (`${code}`, `${password}`); the sign name is ALIYUN_SMS_SIGN_NAME.

The SDK call is blocking (HTTP with connect and read timeouts of HTTP_TIMEOUT_SECONDS): callers
run it on an executor thread, never on the event loop. A timeout or an unreachable endpoint is
`SmsUnavailable` (503, retry later); an answer other than Code "OK" is `SmsRejected` (502). The
log names the template, the provider's code and request id, never the phone number.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlparse

from services.messaging.sms import SmsRejected, SmsUnavailable

log = logging.getLogger("healthcode.sms")

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"


def parse_templates(text: str) -> dict[str, str]:
    """"code:SMS_1,new_password:SMS_2" -> {"code": "SMS_1", "new_password": "SMS_2"}."""
    templates = {}
    for part in text.split(","):
        name, sep, code = part.strip().partition(":")
        if sep and name.strip() and code.strip():
            templates[name.strip()] = code.strip()
    return templates


class AliyunSmsProvider:
    """SendSms through alibabacloud_dysmsapi20170525 (signature ACS3-HMAC-SHA256, made by the SDK)."""

    name = "aliyun"

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, templates: dict[str, str],
                 endpoint: str = DEFAULT_ENDPOINT, timeout_seconds: float = 5.0) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi_models

        parsed = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
        self.sign_name = sign_name
        self.templates = templates
        self.timeout_ms = int(timeout_seconds * 1000)
        self.client = Client(openapi_models.Config(
            access_key_id=access_key_id, access_key_secret=access_key_secret,
            endpoint=parsed.netloc, protocol=parsed.scheme.upper(),
            connect_timeout=self.timeout_ms, read_timeout=self.timeout_ms))

    def send(self, phone: str, template: str, content: str, params: dict | None = None) -> None:
        """Send `template` with `params` to `phone` (`content`, the rendered text, is not sent:
        the provider renders its approved template)."""
        from alibabacloud_dysmsapi20170525 import models as sms_models
        from darabonba.runtime import RuntimeOptions

        template_code = self.templates.get(template)
        if not template_code:
            log.error("SMS (%s) not sent: no Aliyun template code configured for it", template)
            raise SmsRejected(f"no template code for {template}")
        request = sms_models.SendSmsRequest(
            phone_numbers=phone, sign_name=self.sign_name, template_code=template_code,
            template_param=json.dumps({k: str(v) for k, v in (params or {}).items()}, ensure_ascii=False))
        # No automatic retry: a resend could deliver the same code twice; the user retries.
        runtime = RuntimeOptions(autoretry=False, connect_timeout=self.timeout_ms, read_timeout=self.timeout_ms)
        try:
            response = self.client.send_sms_with_options(request, runtime)
        except Exception as exc:  # the SDK raises its own types, requests' and aiohttp's alike
            self._failed(template, exc)
        body = response.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", None)
            log.warning("SMS (%s) refused by aliyun: code %s, request id %s", template, code,
                        getattr(body, "request_id", None))
            raise SmsRejected(f"aliyun answered {code}")
        log.info("SMS (%s) sent by aliyun: request id %s", template, body.request_id)

    @staticmethod
    def _failed(template: str, exc: Exception):
        """Raise the platform's error for an SDK exception: answered (an HTTP error status) or not."""
        status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
        code = getattr(exc, "code", None)
        if status:
            log.warning("SMS (%s) refused by aliyun: HTTP %s, code %s, request id %s", template, status, code,
                        getattr(exc, "request_id", None))
            raise SmsRejected(f"aliyun answered HTTP {status} {code}") from None
        # Timeouts and unreachable endpoints: the exception's text names the host, not the phone.
        log.warning("SMS (%s) not sent: aliyun did not answer (%s)", template, type(exc).__name__)
        raise SmsUnavailable(type(exc).__name__) from None
