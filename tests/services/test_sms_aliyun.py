"""Alibaba Cloud SMS through its official SDK against a local fake endpoint that checks the
ACS3-HMAC-SHA256 signature (tests/fakes/aliyun_sms.py), on both databases: a code sent and
accepted, an error answer, a timeout and a bad signature (the code is kept, the failure is a clear
502 / 503, the log holds no phone number), and the same over HTTP through authSmsSend."""

import logging
import time

import pytest

from config import Config, TestConfig
from models.messaging import SmsCode
from services.common.errors import ApiError
from services.messaging import sms as service
from services.messaging.sms_aliyun import AliyunSmsProvider, parse_templates
from tests.conftest import ApiClient, assert_error
from tests.fakes.aliyun_sms import FakeAliyunSms

PHONE = "13800138000"
TEMPLATES = "code:SMS_100001,new_password:SMS_100002,account_created:SMS_100003"


def ours(caplog) -> str:
    """What the platform logged (the fake's own access log shows the request as sent)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("healthcode"))


@pytest.fixture
def fake():
    with FakeAliyunSms() as server:
        yield server


def aliyun(fake, secret=None, timeout=2.0) -> AliyunSmsProvider:
    return AliyunSmsProvider(fake.access_key_id, secret or fake.access_key_secret, "健康码平台",
                             parse_templates(TEMPLATES), fake.endpoint, timeout)


@pytest.fixture
def installed(fake):
    """The Aliyun provider installed for the test (the previous one put back after)."""
    previous = service.provider()
    provider = aliyun(fake)
    service.use_provider(provider)
    yield provider
    service.use_provider(previous)


def test_a_code_goes_out_signed_and_is_accepted(db, fake, installed):
    service.send_code(PHONE, "register", "10.0.0.1")
    (sent,) = fake.sent
    assert (sent["phone"], sent["sign_name"], sent["template_code"]) == (PHONE, "健康码平台", "SMS_100001")
    assert set(sent["params"]) == {"code"} and len(sent["params"]["code"]) == 6 and not fake.rejected
    service.check_code(PHONE, "register", sent["params"]["code"])
    service.send(PHONE, "new_password", password="Abc-12345")
    assert fake.sent[-1]["template_code"] == "SMS_100002" and fake.sent[-1]["params"] == {"password": "Abc-12345"}


def test_an_error_answer_keeps_the_code_and_is_a_clear_502(db, fake, installed, caplog):
    caplog.set_level(logging.INFO, "healthcode.sms")
    fake.answer_code, fake.answer_message = "isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5"
    with pytest.raises(ApiError) as error:
        service.send_code(PHONE, "register", "10.0.0.1")
    assert (error.value.code, error.value.status) == ("sms_failed", 502) and not error.value.message.isascii()
    assert SmsCode.select().count() == 1  # kept: counted by the limits, and the user asks again
    assert "isv.BUSINESS_LIMIT_CONTROL" in caplog.text and PHONE not in ours(caplog)


def test_a_timeout_keeps_the_code_and_is_a_503_with_retry_after(db, fake, caplog):
    caplog.set_level(logging.INFO, "healthcode.sms")
    fake.delay_seconds = 3
    previous = service.provider()
    service.use_provider(aliyun(fake, timeout=0.5))
    try:
        started = time.monotonic()
        with pytest.raises(ApiError) as error:
            service.send_code(PHONE, "register", "10.0.0.1")
        assert time.monotonic() - started < 2.5  # the read timeout, no retry
    finally:
        service.use_provider(previous)
    assert (error.value.code, error.value.status, error.value.retry_after) == (
        "sms_unavailable", 503, service.SMS_RETRY_AFTER_SECONDS)
    assert SmsCode.select().count() == 1
    assert "did not answer" in caplog.text and PHONE not in ours(caplog)


def test_a_wrong_secret_is_refused_by_the_signature_check(db, fake, caplog):
    caplog.set_level(logging.INFO, "healthcode.sms")
    previous = service.provider()
    service.use_provider(aliyun(fake, secret="not-the-secret"))
    try:
        with pytest.raises(ApiError) as error:
            service.send_code(PHONE, "register", "10.0.0.1")
    finally:
        service.use_provider(previous)
    assert fake.rejected == ["SignatureDoesNotMatch"] and not fake.sent
    assert (error.value.code, error.value.status) == ("sms_failed", 502)
    assert SmsCode.select().count() == 1 and PHONE not in ours(caplog)


def test_the_provider_is_chosen_by_config(fake):
    previous = service.provider()
    config = TestConfig(sms_provider="aliyun", aliyun_sms_access_key_id="id", aliyun_sms_access_key_secret="s",
                        aliyun_sms_sign_name="健康码平台", aliyun_sms_templates=TEMPLATES,
                        aliyun_sms_endpoint=fake.endpoint)
    try:
        config.check()
        service.configure(config)
        assert service.provider().name == "aliyun"
        service.configure(TestConfig())
        assert service.provider().name == "dev"
    finally:
        service.use_provider(previous)
    with pytest.raises(SystemExit, match="ALIYUN_SMS_TEMPLATES"):
        config.replace(aliyun_sms_templates="code:SMS_1").check()
    with pytest.raises(SystemExit, match="ALIYUN_SMS_ACCESS_KEY_ID"):
        config.replace(aliyun_sms_access_key_id="").check()
    with pytest.raises(SystemExit, match="SMS_PROVIDER"):
        config.replace(sms_provider="carrier-pigeon").check()
    assert Config.from_env({"SMS_PROVIDER": "aliyun", "ALIYUN_SMS_TEMPLATES": TEMPLATES}).aliyun_sms_templates == TEMPLATES


def test_authsmssend_over_http_answers_the_failure_and_keeps_the_code(make_server, fake, installed):
    api: ApiClient = make_server()
    ok = api.call("authSmsSend", {"phone": PHONE, "purpose": "register"})
    assert ok.status_code == 200 and fake.sent[-1]["phone"] == PHONE
    fake.answer_code = "isv.MOBILE_NUMBER_ILLEGAL"
    refused = api.call("authSmsSend", {"phone": PHONE, "purpose": "register"})
    assert_error(refused, 502, "sms_failed")
    assert SmsCode.select().count() == 2
    fake.answer_code, fake.delay_seconds = "OK", 3
    installed.timeout_ms = 500
    installed.client._read_timeout = 500
    slow = api.call("authSmsSend", {"phone": PHONE, "purpose": "register"})
    assert_error(slow, 503, "sms_unavailable")
    assert slow.headers["Retry-After"] == str(service.SMS_RETRY_AFTER_SECONDS)
    assert SmsCode.select().count() == 3
