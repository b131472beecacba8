"""Phone accounts (A4) end to end over HTTP on both databases: SMS codes, registration, password
sign-in and reset, "one person" with a WeChat account, and every bad input with nothing written."""

import datetime as dt
import logging

import pytest

from config import TestConfig
from miniprogram_api import enterprise as enterprise_api
from miniprogram_api import phone_auth as phone_auth_api
from models.accounts import Account, AuthIdentity
from models.messaging import SmsCode
from models.people import Person
from services.messaging import sms as sms_service
from services.people import profile
from tests.conftest import ApiClient, assert_error, make_id_number, row_counts

PHONE = "13800138000"


def serve(make_server, **changes) -> ApiClient:
    # This routes that server.api_routes does not hold yet (none once it is wired there).
    from server import api_routes

    wired = {handler for _, handler, *_ in api_routes(TestConfig())}
    routes = phone_auth_api.routes(None) + enterprise_api.routes(None)
    return make_server(extra_routes=[route for route in routes if route[1] not in wired], **changes)


@pytest.fixture
def api(make_server, sms):
    return serve(make_server)


def send(api, phone=PHONE, purpose="register"):
    return api.call("authSmsSend", {"phone": phone, "purpose": purpose})


def register(api, sms, phone=PHONE, password="secret12"):
    assert send(api, phone).status_code == 200
    return api.call("authPhoneRegister", {"phone": phone, "sms_code": sms.last_code(phone), "password": password})


def test_register_then_sign_in_with_the_password(api, sms, caplog):
    caplog.set_level(logging.INFO)
    sent = send(api)
    assert sent.status_code == 200 and sent.json()["data"] == {"sent": True, "expires_in_seconds": 300}
    response = api.call("authPhoneRegister", {"phone": PHONE, "sms_code": sms.last_code(PHONE), "password": "secret12"})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["profile_complete"] is False
    identity = AuthIdentity.get(AuthIdentity.provider == "phone")
    assert PHONE not in identity.subject and identity.password_hash.startswith("$argon2id$")
    # The phone is the account's own, verified, and shown masked.
    me = api.ok("getProfile", token=data["token"])
    assert me["phone"] == "138****8000" and me["phone_verified"] is True
    login = api.ok("authPasswordLogin", {"phone": PHONE, "password": "secret12"})
    assert login["account"]["id"] == data["account"]["id"]
    assert api.ok("getProfile", token=login["token"])["phone"] == "138****8000"
    assert PHONE not in response.text + str(login)
    assert not any(PHONE in record.getMessage() for record in caplog.records)


def test_a_phone_account_joins_the_wechat_account_that_verified_the_same_phone(api, sms):
    wechat_user = api.dev_login("wechat-user")  # stands for a WeChat sign-in
    account = Account.get_by_id(wechat_user["account"]["id"])
    profile.bind_verified_phone(account, PHONE)  # what authBindPhone stores
    response = register(api, sms)
    assert response.status_code == 201
    assert response.json()["data"]["account"]["id"] == account.id
    assert Person.select().where(Person.relation == "self").count() == 1
    assert {i.provider for i in AuthIdentity.select().where(AuthIdentity.account == account)} == {"dev", "phone"}


def test_an_unverified_profile_phone_does_not_capture_the_registration(api, sms):
    other = api.dev_login("someone")
    api.ok("updateProfile", {"name": "李四", "id_number": make_id_number(1), "phone": PHONE}, token=other["token"])
    response = register(api, sms)
    assert response.status_code == 201
    assert response.json()["data"]["account"]["id"] != other["account"]["id"]


def test_a_phone_is_registered_once(api, sms):
    assert register(api, sms).status_code == 201
    assert send(api).status_code == 200
    before = row_counts()
    assert_error(api.call("authPhoneRegister", {"phone": PHONE, "sms_code": sms.last_code(PHONE),
                                                "password": "another1"}), 409, "phone_registered", "phone")
    assert row_counts() == before


@pytest.mark.parametrize("password", ["12345", "1234567890123"])
def test_a_password_outside_6_to_12_characters_is_refused_and_the_code_kept(api, sms, password):
    send(api)
    code = sms.last_code(PHONE)
    before = row_counts()
    error = assert_error(api.call("authPhoneRegister", {"phone": PHONE, "sms_code": code, "password": password}),
                         400, "invalid_password", "password")
    assert "6-12" in error["message"]
    assert row_counts() == before
    # The code was not used up by the refused request.
    assert api.call("authPhoneRegister", {"phone": PHONE, "sms_code": code, "password": "123456"}).status_code == 201


def test_a_wrong_sms_code_is_refused_and_counted(api, sms):
    send(api)
    code = sms.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    before = row_counts()
    assert_error(api.call("authPhoneRegister", {"phone": PHONE, "sms_code": wrong, "password": "secret12"}),
                 400, "sms_code_wrong", "sms_code")
    assert row_counts() == before
    assert SmsCode.get().attempts == 1  # the failed guess counts even though nothing else was written


def test_an_expired_sms_code_is_refused(api, sms):
    send(api)
    SmsCode.update(expires_at=dt.datetime.utcnow() - dt.timedelta(seconds=1)).execute()
    before = row_counts()
    assert_error(api.call("authPhoneRegister", {"phone": PHONE, "sms_code": sms.last_code(PHONE),
                                                "password": "secret12"}), 400, "sms_code_expired", "sms_code")
    assert row_counts() == before


def test_a_code_for_another_purpose_does_not_register(api, sms):
    send(api, purpose="reset_password")
    before = row_counts()
    assert_error(api.call("authPhoneRegister", {"phone": PHONE, "sms_code": sms.last_code(PHONE),
                                                "password": "secret12"}), 400, "sms_code_expired", "sms_code")
    assert row_counts() == before


def test_the_sixth_sms_in_a_minute_is_refused(api, sms):
    for _ in range(5):
        assert send(api).status_code == 200
    before = row_counts()
    assert_error(send(api), 429, "sms_rate_limited", "phone")
    assert row_counts() == before and len(sms.messages) == 5


def test_one_address_cannot_send_more_than_20_codes_a_minute(api, sms):
    for n in range(20):
        assert send(api, f"1390000{n:04d}").status_code == 200
    before = row_counts()
    assert_error(send(api, "13911112222"), 429, "sms_rate_limited")
    assert row_counts() == before


def _earlier(minutes: int) -> None:
    """Move every code sent so far back in time (the per-minute limits then let more through)."""
    SmsCode.update(created_at=dt.datetime.utcnow() - dt.timedelta(minutes=minutes)).execute()


def test_a_phone_gets_10_codes_a_day_and_an_address_100(api, sms):
    for n in range(sms_service.PER_PHONE_PER_DAY):
        if n and n % sms_service.PER_PHONE_PER_MINUTE == 0:
            _earlier(2)
        assert send(api).status_code == 200
    _earlier(2)
    before = row_counts()
    refused = send(api)
    assert_error(refused, 429, "sms_daily_limit", "phone")
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert row_counts() == before and len(sms.messages) == sms_service.PER_PHONE_PER_DAY
    for n in range(sms_service.PER_IP_PER_DAY - sms_service.PER_PHONE_PER_DAY):
        if n % sms_service.PER_IP_PER_MINUTE == 0:
            _earlier(2)
        assert send(api, f"1390000{n:04d}").status_code == 200
    _earlier(2)
    assert_error(send(api, "13911112222"), 429, "sms_daily_limit")


def test_a_phone_has_a_daily_budget_of_wrong_code_guesses(api, sms):
    guesses = 0
    while guesses < sms_service.GUESSES_PER_PHONE_PER_DAY:
        _earlier(2)
        assert send(api).status_code == 200
        for _ in range(sms_service.MAX_ATTEMPTS):
            answer = api.call("authPhoneRegister", {"phone": PHONE, "sms_code": "000000", "password": "secret12"})
            assert answer.json()["error"]["code"] in ("sms_code_wrong", "sms_code_expired")
            guesses += 1
    _earlier(2)
    assert send(api).status_code == 200
    before = row_counts()
    # Even the right code is refused once the day's guesses are spent.
    refused = api.call("authPhoneRegister", {"phone": PHONE, "sms_code": sms.last_code(PHONE), "password": "secret12"})
    assert_error(refused, 429, "sms_guesses_exhausted", "sms_code")
    assert row_counts() == before


@pytest.mark.parametrize("body, code, field", [
    ({"phone": "12345", "purpose": "register"}, "invalid_phone", "phone"),
    ({"phone": PHONE, "purpose": "anything"}, "invalid_field", "purpose"),
])
def test_bad_sms_requests_are_refused(api, sms, body, code, field):
    before = row_counts()
    assert_error(api.call("authSmsSend", body), 400, code, field)
    assert row_counts() == before and sms.messages == []


def test_sign_in_failures_do_not_tell_whether_the_phone_exists(api, sms):
    register(api, sms)
    wrong_password = assert_error(api.call("authPasswordLogin", {"phone": PHONE, "password": "wrong-pw"}),
                                  401, "invalid_credentials")
    unknown_phone = assert_error(api.call("authPasswordLogin", {"phone": "13900000000", "password": "secret12"}),
                                 401, "invalid_credentials")
    malformed = assert_error(api.call("authPasswordLogin", {"phone": "not-a-phone", "password": "secret12"}),
                             401, "invalid_credentials")
    assert wrong_password == unknown_phone == malformed
    assert wrong_password["message"] == "手机号或密码错误"


def test_passwords_are_taken_exactly_as_typed(api, sms):
    register(api, sms, password=" pass 1 ")
    assert api.call("authPasswordLogin", {"phone": PHONE, "password": "pass 1"}).status_code == 401
    assert api.call("authPasswordLogin", {"phone": PHONE, "password": " pass 1 "}).status_code == 200


def test_reset_the_password_by_sms_code(api, sms):
    register(api, sms)
    old_session = api.ok("authPasswordLogin", {"phone": PHONE, "password": "secret12"})["token"]
    wechat_session = api.dev_login("dev-of-someone-else")["token"]
    assert send(api, purpose="reset_password").status_code == 200
    done = api.ok("authPasswordReset", {"phone": PHONE, "sms_code": sms.last_code(PHONE), "password": "newpass9"})
    assert done == {"reset": True}
    assert_error(api.call("authPasswordLogin", {"phone": PHONE, "password": "secret12"}), 401, "invalid_credentials")
    assert api.ok("authPasswordLogin", {"phone": PHONE, "password": "newpass9"})["token"]
    assert_error(api.call("getProfile", token=old_session), 401, "unauthorized")  # signed out at once
    assert api.call("getProfile", token=wechat_session).status_code == 200


def test_a_reset_with_a_wrong_code_or_short_password_changes_nothing(api, sms):
    register(api, sms)
    send(api, purpose="reset_password")
    code = sms.last_code(PHONE)
    stored = AuthIdentity.get(AuthIdentity.provider == "phone").password_hash
    before = row_counts()
    assert_error(api.call("authPasswordReset", {"phone": PHONE, "sms_code": "999999" if code != "999999" else "888888",
                                                "password": "newpass9"}), 400, "sms_code_wrong", "sms_code")
    assert_error(api.call("authPasswordReset", {"phone": PHONE, "sms_code": code, "password": "short"}),
                 400, "invalid_password", "password")
    assert row_counts() == before
    assert AuthIdentity.get(AuthIdentity.provider == "phone").password_hash == stored
    assert api.call("authPasswordLogin", {"phone": PHONE, "password": "secret12"}).status_code == 200


def test_a_reset_for_an_unregistered_phone_is_refused(api, sms):
    send(api, "13700000000", purpose="reset_password")
    before = row_counts()
    assert_error(api.call("authPasswordReset", {"phone": "13700000000", "sms_code": sms.last_code("13700000000"),
                                                "password": "newpass9"}), 404, "phone_not_registered", "phone")
    assert row_counts() == before


def test_a_disabled_account_cannot_sign_in_with_its_password(api, sms):
    account_id = register(api, sms).json()["data"]["account"]["id"]
    Account.update(status="disabled").where(Account.id == account_id).execute()
    assert_error(api.call("authPasswordLogin", {"phone": PHONE, "password": "secret12"}), 403, "account_disabled")
    client = ApiClient(api.base_url)
    assert_error(client.call("authPasswordLogin", {"phone": PHONE, "password": "wrong-pw"}), 401,
                 "invalid_credentials")


@pytest.mark.parametrize("trusted", [False, True])
def test_a_client_names_its_address_only_through_a_trusted_proxy(make_server, sms, trusted):
    """The per-address SMS limit counts the connection's address; a client's own X-Real-Ip is
    believed only with TRUST_PROXY_HEADERS (a proxy that sets it), or it could pass the limit by
    naming a new address on every request."""
    api = serve(make_server, trust_proxy_headers=trusted)
    limit = sms_service.PER_IP_PER_MINUTE
    sent = range(1, limit + 3)
    answers = [api.call("authSmsSend", {"phone": f"1380013{n:04d}", "purpose": "register"},
                        headers={"X-Real-Ip": f"203.0.113.{n}"}).status_code for n in sent]
    ips = [code.ip for code in SmsCode.select().order_by(SmsCode.id)]
    if trusted:
        assert answers == [200] * len(sent) and ips == [f"203.0.113.{n}" for n in sent]
    else:
        assert answers == [200] * limit + [429] * 2 and ips == ["127.0.0.1"] * limit  # the refused wrote nothing
