"""Text messages and verification codes on both databases."""

import datetime as dt
import logging

import pytest

from models.db import db as proxy
from models.messaging import SmsCode, SmsMessage
from services.common.errors import ApiError
from services.messaging import sms as service

PHONE = "13800000000"


def test_a_code_is_accepted_once(db, sms):
    service.send_code(PHONE, "register", ip="127.0.0.1")
    code = sms.last_code(PHONE)
    service.check_code(PHONE, "register", code)
    with pytest.raises(ApiError) as error:
        service.check_code(PHONE, "register", code)
    assert error.value.code == "sms_code_expired"


def test_wrong_expired_and_other_purpose_codes(db, sms):
    service.send_code(PHONE, "register")
    with pytest.raises(ApiError) as wrong:
        service.check_code(PHONE, "register", "000000" if sms.last_code(PHONE) != "000000" else "111111")
    assert (wrong.value.code, wrong.value.field, wrong.value.status) == ("sms_code_wrong", "sms_code", 400)
    with pytest.raises(ApiError) as other:
        service.check_code(PHONE, "reset_password", sms.last_code(PHONE))
    assert other.value.code == "sms_code_expired"
    SmsCode.update(expires_at=dt.datetime(2000, 1, 1)).execute()
    with pytest.raises(ApiError) as expired:
        service.check_code(PHONE, "register", sms.last_code(PHONE))
    assert expired.value.code == "sms_code_expired"


def test_five_wrong_guesses_burn_the_code(db, sms):
    service.send_code(PHONE, "login")
    right = sms.last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(service.MAX_ATTEMPTS):
        with pytest.raises(ApiError):
            service.check_code(PHONE, "login", wrong)
    with pytest.raises(ApiError) as error:
        service.check_code(PHONE, "login", right)
    assert error.value.code == "sms_code_expired"


def test_the_sixth_request_in_a_minute_is_refused(db, sms):
    for _ in range(5):
        service.send_code(PHONE, "register", ip="10.0.0.1")
    with pytest.raises(ApiError) as error:
        service.send_code(PHONE, "register", ip="10.0.0.1")
    assert (error.value.code, error.value.status) == ("sms_rate_limited", 429)
    assert SmsCode.select().count() == 5 and len(sms.messages) == 5
    for n in range(15):  # other phones from the same address, up to the per-address limit
        service.send_code(f"1390000{n:04d}", "register", ip="10.0.0.1")
    with pytest.raises(ApiError):
        service.send_code("13700000000", "register", ip="10.0.0.1")


def test_a_provider_failure_is_a_clear_503(db, sms):
    sms.failing = True
    with pytest.raises(ApiError) as error:
        service.send(PHONE, "new_password", password="Abc12345")
    assert (error.value.code, error.value.status) == ("sms_unavailable", 503)


def test_the_development_provider_keeps_messages_encrypted_and_logs_them_masked(db, caplog):
    caplog.set_level(logging.INFO, "healthcode.sms")
    service.send(PHONE, "new_password", password="Secret-9876")
    message = SmsMessage.get()
    assert message.phone == PHONE and "Secret-9876" in message.content
    raw = proxy.execute_sql("SELECT phone, content FROM sms_message").fetchone()
    assert PHONE not in str(raw) and "Secret-9876" not in str(raw)
    assert "138****0000" in caplog.text and PHONE not in caplog.text and "Secret-9876" not in caplog.text
