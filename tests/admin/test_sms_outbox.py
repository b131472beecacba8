"""短信发件箱 (development SMS): in development the codes are printed in the server log and listed
on a back-office page, so that a tester finishes a phone registration and a back-office password
reset without reading the database; in production the page is a 404 and nothing is printed."""

from __future__ import annotations

import logging
import re

import pytest

from config import TestConfig
from models.messaging import SmsMessage
from services.accounts import admin_auth
from services.common.regions import load_tree
from services.messaging import sms as sms_service
from services.operations.demo import ZHENGZHOU
from tests.admin.conftest import CAPTCHA, AdminClient
from tests.conftest import row_counts

TESTER = "13700000009"
CITIZEN = "13800138011"


@pytest.fixture
def dev_sms():
    """The development provider, as the server's start-up configures it outside production."""
    previous = sms_service.provider()
    sms_service.use_provider(sms_service.DevSmsProvider())
    sms_service.configure(TestConfig(app_env="development"))
    yield sms_service.provider()
    sms_service.use_provider(previous)


def office_for(make_server, **changes):
    server = make_server(captcha_fixed_answer=CAPTCHA, **changes)
    load_tree(ZHENGZHOU)
    _, password = admin_auth.create_admin(None, phone=TESTER, name="测试员", role="city", region_code="410100",
                                          send_sms=False)
    client = AdminClient(server.base_url)
    assert client.login(TESTER, password).status_code == 302
    return server, client


def outbox_codes(page_text: str) -> list[str]:
    return re.findall(r"验证码为(\d{6})", page_text)


def test_a_tester_registers_a_phone_with_the_code_from_the_outbox_and_the_log(make_server, dev_sms, caplog):
    caplog.set_level(logging.INFO, logger="healthcode.sms")
    server, tester = office_for(make_server, app_env="development")
    assert server.call("authSmsSend", {"phone": CITIZEN, "purpose": "register"}).status_code == 200
    page = tester.get("/admin/r/sms_outbox/", params={"phone": CITIZEN})
    assert page.status_code == 200 and "短信发件箱" in page.text and "138****8011" in page.text
    assert CITIZEN not in page.text.split("<table")[1]  # the phone stays masked; the message itself is shown
    [code] = outbox_codes(page.text)
    assert any(code in record.getMessage() for record in caplog.records)  # printed in the server log
    assert not any(CITIZEN in record.getMessage() for record in caplog.records)
    registered = server.call("authPhoneRegister", {"phone": CITIZEN, "sms_code": code, "password": "secret12"})
    assert registered.status_code == 201, registered.text
    # The menu lists it under 账号与系统.
    assert re.search(r"<h2>账号与系统</h2>.*?/admin/r/sms_outbox/", page.text, re.S)


def test_a_tester_resets_a_back_office_password_with_the_outbox(make_server, dev_sms):
    server, tester = office_for(make_server, app_env="development")
    _, password = admin_auth.create_admin(None, phone="13700000010", name="忘记密码的人", role="district",
                                          region_code="410105", send_sms=False)
    forgetful = AdminClient(server.base_url)
    forgetful.get("/admin/password/forgot")
    forgetful.get("/admin/captcha")
    assert forgetful.post("/admin/password/forgot", {"phone": "13700000010", "captcha": CAPTCHA}).status_code == 200
    [code] = outbox_codes(tester.get("/admin/r/sms_outbox/", params={"phone": "13700000010"}).text)
    reset = forgetful.post("/admin/password/forgot", {"step": "reset", "phone": "13700000010", "sms_code": code},
                           allow_redirects=False)
    assert reset.status_code == 302
    listed = tester.get("/admin/r/sms_outbox/", params={"phone": "13700000010", "template": "new_password"}).text
    new_password = re.search(r"新密码为(\S+?)，", listed).group(1)
    assert new_password != password
    assert AdminClient(server.base_url).login("13700000010", new_password).status_code == 302


def test_in_production_there_is_no_outbox_and_nothing_is_printed(make_server, caplog):
    caplog.set_level(logging.INFO, logger="healthcode.sms")
    previous = sms_service.provider()
    sms_service.use_provider(sms_service.DevSmsProvider(print_messages=True))
    try:
        sms_service.configure(TestConfig(app_env="production"))
        server, tester = office_for(make_server, app_env="production", admin_cookie_secure=False)
        assert server.call("authSmsSend", {"phone": CITIZEN, "purpose": "register"}).status_code == 200
    finally:
        sms_service.use_provider(previous)
    before = row_counts()
    page = tester.get("/admin/r/sms_outbox/")
    assert page.status_code == 404 and "页面不存在" in page.text
    message = SmsMessage.get()
    assert tester.get(f"/admin/r/sms_outbox/{message.id}").status_code == 404
    assert tester.get("/admin/r/sms_outbox/export").status_code == 404
    assert "短信发件箱" not in tester.get("/admin/password").text  # in no menu
    code = re.search(r"\d{6}", message.content).group(0)
    assert not any(code in record.getMessage() for record in caplog.records)
    assert row_counts() == before
