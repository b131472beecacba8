"""Back-office sign-in (G1) on both databases: captcha, four wrong passwords, SMS, XSRF,
password change and reset, logout, and the log of every attempt."""

import datetime as dt

import pytest

from config import Config
from models.accounts import SignInFailure
from models.admin import AdminUser
from models.fieldwork import OperationLog
from services.accounts import admin_auth
from tests.admin.conftest import AdminClient, page_error


def test_login_with_captcha_lands_on_the_residents_page(office):
    _, phone, password = office.admins["jinshui"]
    client = AdminClient(office.base_url)
    page = client.login(phone, password, follow=True)
    assert page.status_code == 200 and "小区居民管理" in page.text and "jinshui管理员" in page.text
    assert OperationLog.select().where(OperationLog.action == "login").count() == 1


def test_pages_need_a_session(office):
    client = AdminClient(office.base_url)
    response = client.get("/admin/r/residents/", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_a_wrong_captcha_is_refused(office):
    _, phone, password = office.admins["jinshui"]
    client = AdminClient(office.base_url)
    response = client.login(phone, password, captcha="ZZZZ")
    assert response.status_code == 400 and page_error(response) == "图形验证码错误"
    assert "admin_session" not in client.http.cookies
    # A captcha is single use: its second submission is refused even with the right answer.
    client.get("/admin/captcha")
    first = client.post("/admin/login", {"phone": phone, "password": "wrong-one", "captcha": "ABCD"})
    assert page_error(first) == "手机号或密码错误"
    again = client.post("/admin/login", {"phone": phone, "password": password, "captcha": "ABCD"})
    assert page_error(again) == "验证码已过期，请点击图片刷新"


def test_four_wrong_passwords_require_an_sms_code_or_ten_minutes(office, sms):
    _, phone, password = office.admins["jinshui"]
    client = AdminClient(office.base_url)
    for _ in range(4):
        assert page_error(client.login(phone, "not-the-password")) == "手机号或密码错误"
    refused = client.login(phone, password)
    assert refused.status_code == 400 and "手机验证码" in page_error(refused)
    assert "获取验证码" in refused.text
    client.post("/admin/login/sms-code", {"phone": phone})
    assert client.login(phone, password, sms_code=sms.last_code(phone)).status_code == 302
    # Four more failures, then the ten minutes pass: the password alone works again.
    for _ in range(4):
        client.login(phone, "not-the-password")
    SignInFailure.update(failed_at=dt.datetime.utcnow() - admin_auth.SMS_WINDOW - dt.timedelta(seconds=1)).execute()
    assert client.login(phone, password).status_code == 302
    failures = OperationLog.select().where(OperationLog.action == "login_failed").count()
    assert failures == 8


def test_a_forged_xsrf_token_is_refused(as_admin, office):
    client = as_admin("jinshui")
    response = client.post("/admin/logout", xsrf="forged-token")
    assert response.status_code == 403 and "请求已失效" in response.text
    assert client.get("/admin/r/residents/").status_code == 200  # still signed in


def test_change_password_and_logout(as_admin, office):
    _, phone, password = office.admins["jinshui"]
    client = as_admin("jinshui")
    bad = client.post("/admin/password", {"old_password": "nope", "new_password": "Newpass123",
                                          "confirm_password": "Newpass123"})
    assert bad.status_code == 400 and page_error(bad) == "原密码错误"
    short = client.post("/admin/password", {"old_password": password, "new_password": "abc",
                                            "confirm_password": "abc"})
    assert "8-32" in page_error(short)
    done = client.post("/admin/password", {"old_password": password, "new_password": "Newpass123",
                                           "confirm_password": "Newpass123"}, allow_redirects=False)
    assert done.status_code == 302
    fresh = AdminClient(office.base_url)
    assert fresh.login(phone, password).status_code == 400
    assert fresh.login(phone, "Newpass123").status_code == 302
    assert fresh.post("/admin/logout", allow_redirects=False).status_code == 302
    assert fresh.get("/admin/r/residents/", allow_redirects=False).status_code == 302


def test_forgot_password_sends_a_new_one_by_sms(office, sms):
    _, phone, password = office.admins["jinshui"]
    client = AdminClient(office.base_url)
    client.get("/admin/password/forgot")
    client.get("/admin/captcha")
    step = client.post("/admin/password/forgot", {"phone": phone, "captcha": "ABCD"})
    assert step.status_code == 200 and 'name="sms_code"' in step.text
    wrong = client.post("/admin/password/forgot", {"phone": phone, "step": "reset", "sms_code": "000000"})
    assert page_error(wrong) in ("验证码错误", "验证码已失效，请重新获取")
    client.get("/admin/captcha")
    client.post("/admin/password/forgot", {"phone": phone, "captcha": "ABCD"})
    done = client.post("/admin/password/forgot", {"phone": phone, "step": "reset", "sms_code": sms.last_code(phone)},
                       allow_redirects=False)
    assert done.status_code == 302
    new_password = sms.last_password(phone)
    assert AdminClient(office.base_url).login(phone, password).status_code == 400
    assert AdminClient(office.base_url).login(phone, new_password).status_code == 302


def test_production_refuses_a_fixed_captcha():
    config = Config(app_env="production", secret_key="x" * 40, data_key="ay" * 22, captcha_fixed_answer="ABCD")
    with pytest.raises(SystemExit, match="CAPTCHA_FIXED_ANSWER"):
        config.check()


def test_the_xsrf_cookie_is_secure_and_same_site_where_sessions_are(make_server):
    """In production (ADMIN_COOKIE_SECURE on) the XSRF cookie, like the session's, goes over HTTPS
    only and never cross-site; in development it still stays on this site."""
    for secure in (True, False):
        server = make_server(admin_cookie_secure=secure)
        cookie = server.get("/admin/login").headers["Set-Cookie"]
        assert cookie.startswith("_xsrf=") and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


def test_a_known_phone_and_an_unknown_one_are_answered_alike(office, sms, monkeypatch):
    """The same messages in the same order, an SMS step for both, and a password check for both
    (against a decoy hash when there is no account), so neither words nor time tell them apart."""
    from services.accounts import passwords

    checks, real_verify = [], passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda *args: checks.append(args[0]) or real_verify(*args))
    _, phone, _ = office.admins["jinshui"]
    answers = {}
    for who in (phone, "13912345678"):
        client = AdminClient(office.base_url)
        answers[who] = [page_error(client.login(who, "not-the-password")) for _ in range(5)]
        client.post("/admin/login/sms-code", {"phone": who})
        answers[who].append(page_error(client.login(who, "not-the-password", sms_code="000000")))
    assert answers[phone] == answers["13912345678"]
    assert answers[phone][:4] == ["手机号或密码错误"] * 4 and "手机验证码" in answers[phone][4]
    # Four passwords checked for each phone (the SMS step stops the fifth), each against a real hash.
    assert len(checks) == 8 and all(h.startswith("$argon2id$") for h in checks)
    assert [to for to, _, _ in sms.messages] == [phone]  # a code went only to the real account


def test_five_wrong_passwords_pause_the_account_for_fifteen_minutes(office, sms):
    _, phone, password = office.admins["jinshui"]
    client = AdminClient(office.base_url)
    for _ in range(4):
        client.login(phone, "not-the-password")
    client.post("/admin/login/sms-code", {"phone": phone})
    assert page_error(client.login(phone, "still-wrong", sms_code=sms.last_code(phone))) == "手机号或密码错误"
    client.post("/admin/login/sms-code", {"phone": phone})
    paused = client.login(phone, password, sms_code=sms.last_code(phone))
    assert paused.status_code == 429 and "分钟后再试" in page_error(paused)
    assert 800 < int(paused.headers["Retry-After"]) <= 900
    assert "admin_session" not in client.http.cookies
    assert OperationLog.select().where(OperationLog.action == "login_failed").count() == 5
