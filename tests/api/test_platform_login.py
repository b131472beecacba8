"""authWechatLogin, authBindPhone and authAlipayLogin through the real SDKs, end to end over HTTP,
against the fake platforms on 127.0.0.1."""

import socket

import pytest

from models.accounts import AuthIdentity
from models.db import db as proxy
from models.people import Person
from tests.conftest import assert_error, outbound_attempts, row_counts
from tests.fakes.server_thread import free_port
from tests.fakes.alipay_gateway import FakeAlipay, make_app_keypair
from tests.fakes.wechat_server import FakeWechat

APPID = "wx-fake-appid"
ALIPAY_APP_ID = "2021000000000001"


@pytest.fixture
def wechat():
    with FakeWechat(appid=APPID, secret="fake-secret") as fake:
        yield fake


@pytest.fixture
def wechat_api(make_server, wechat):
    return make_server(wechat_appid=APPID, wechat_secret="fake-secret", wechat_api_base=wechat.url + "/")


@pytest.fixture(scope="module")
def app_keys():
    return make_app_keypair()


@pytest.fixture
def alipay(app_keys):
    with FakeAlipay(app_public_key_pem=app_keys[1], app_id=ALIPAY_APP_ID) as fake:
        yield fake


@pytest.fixture
def alipay_api(make_server, alipay, app_keys):
    return make_server(alipay_appid=ALIPAY_APP_ID, alipay_private_key=app_keys[0],
                       alipay_public_key=alipay.alipay_public_key_for_config(), alipay_gateway=alipay.gateway_url)


def test_wechat_login_creates_the_account_and_keeps_the_session_key_server_side(wechat_api, wechat):
    session_key = wechat.add_code("code-1", "openid-1", unionid="union-1")
    response = wechat_api.call("authWechatLogin", {"code": "code-1"})
    assert response.status_code == 200
    assert session_key not in response.text and "openid-1" not in response.text
    identity = AuthIdentity.get()
    assert (identity.provider, identity.subject, identity.unionid) == ("wechat", "openid-1", "union-1")
    assert identity.session_key == session_key  # decrypted by the field: stored encrypted
    raw = proxy.execute_sql("SELECT session_key FROM auth_identity").fetchone()[0]
    assert raw and session_key not in raw
    assert wechat.requests_to("/sns/jscode2session")


@pytest.mark.parametrize("setup, status, code", [
    (lambda fake: None, 400, "wechat_code_invalid"),                       # 40029
    (lambda fake: setattr(fake, "rate_limited", True), 429, "wechat_rate_limited"),  # 45011
    (lambda fake: setattr(fake, "busy", True), 503, "wechat_busy"),
])
def test_wechat_errors_are_clear_and_write_nothing(wechat_api, wechat, setup, status, code):
    setup(wechat)
    wechat.add_code("code-1", "openid-1")
    before = row_counts()
    code_sent = "code-1" if status != 400 else "unknown-code"
    assert_error(wechat_api.call("authWechatLogin", {"code": code_sent}), status, code)
    assert row_counts() == before


def test_an_unreachable_wechat_is_503(make_server):
    api = make_server(wechat_appid=APPID, wechat_secret="fake-secret",
                      wechat_api_base=f"http://127.0.0.1:{free_port()}/")
    before = row_counts()
    assert_error(api.call("authWechatLogin", {"code": "c"}), 503, "wechat_unavailable")
    assert row_counts() == before


def test_bind_phone_decrypts_with_the_stored_session_key(wechat_api, wechat):
    session_key = wechat.add_code("code-1", "openid-1")
    wechat_api.token = wechat_api.ok("authWechatLogin", {"code": "code-1"})["token"]
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, APPID, "13912345678")
    bound = wechat_api.ok("authBindPhone", {"encrypted_data": encrypted, "iv": iv})
    assert (bound["phone"], bound["phone_verified"]) == ("139****5678", True)
    person = Person.get()
    assert person.phone == "13912345678" and person.phone_verified
    assert wechat_api.ok("getProfile")["phone"] == "139****5678"


def test_bind_phone_refuses_a_payload_for_another_app_or_garbage(wechat_api, wechat):
    session_key = wechat.add_code("code-1", "openid-1")
    wechat_api.token = wechat_api.ok("authWechatLogin", {"code": "code-1"})["token"]
    before = row_counts()
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, "wx-someone-else", "13912345678")
    assert_error(wechat_api.call("authBindPhone", {"encrypted_data": encrypted, "iv": iv}), 400,
                 "invalid_phone_payload", "encrypted_data")
    assert_error(wechat_api.call("authBindPhone", {"encrypted_data": "bm9wZQ==", "iv": iv}), 400,
                 "invalid_phone_payload", "encrypted_data")
    assert row_counts() == before


def test_alipay_login(alipay_api, alipay):
    alipay.add_code("auth-1", "2088000000000001")
    result = alipay_api.ok("authAlipayLogin", {"auth_code": "auth-1"})
    assert result["account"]["roles"] == ["citizen"]
    identity = AuthIdentity.get()
    assert (identity.provider, identity.subject) == ("alipay", "2088000000000001")
    assert all(r["sign_valid"] for r in alipay.requests)  # our requests were RSA2-signed


def test_an_alipay_error_response_is_clear(alipay_api, alipay):
    before = row_counts()
    assert_error(alipay_api.call("authAlipayLogin", {"auth_code": "nope"}), 400, "alipay_code_invalid", "auth_code")
    assert row_counts() == before


def test_an_alipay_response_with_a_bad_signature_is_refused(alipay_api, alipay):
    alipay.add_code("auth-1", "2088000000000001")
    alipay.bad_signature = True
    before = row_counts()
    assert_error(alipay_api.call("authAlipayLogin", {"auth_code": "auth-1"}), 502, "alipay_signature_invalid")
    assert row_counts() == before


def test_an_unreachable_alipay_is_503(make_server, app_keys, alipay):
    api = make_server(alipay_appid=ALIPAY_APP_ID, alipay_private_key=app_keys[0],
                      alipay_public_key=alipay.alipay_public_key_for_config(),
                      alipay_gateway=f"http://127.0.0.1:{free_port()}/gateway.do")
    assert_error(api.call("authAlipayLogin", {"auth_code": "auth-1"}), 503, "alipay_unavailable")


def test_no_request_leaves_loopback(wechat_api, wechat, alipay_api, alipay):
    """Every sign-in flow ran against 127.0.0.1, and the guard refuses anything else."""
    wechat.add_code("code-1", "openid-1")
    alipay.add_code("auth-1", "2088000000000001")
    before = len(outbound_attempts)
    wechat_api.ok("authWechatLogin", {"code": "code-1"})
    alipay_api.ok("authAlipayLogin", {"auth_code": "auth-1"})
    assert len(outbound_attempts) == before
    with pytest.raises(OSError):
        socket.create_connection(("203.0.113.10", 443), timeout=1)
    with pytest.raises(OSError):
        socket.getaddrinfo("api.weixin.qq.com", 443)
    assert len(outbound_attempts) == before + 2


def test_a_wechat_account_joins_the_phone_account_of_the_same_phone(wechat_api, wechat, sms):
    """A4: a phone account and a WeChat account of the same verified phone are one person."""
    wechat_api.ok("authSmsSend", {"phone": "13912345678", "purpose": "register"})
    registered = wechat_api.ok("authPhoneRegister", {"phone": "13912345678", "password": "secret12",
                                                     "sms_code": sms.last_code("13912345678")})
    session_key = wechat.add_code("code-1", "openid-1")
    wechat_api.token = wechat_api.ok("authWechatLogin", {"code": "code-1"})["token"]
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, APPID, "13912345678")
    bound = wechat_api.ok("authBindPhone", {"encrypted_data": encrypted, "iv": iv})
    assert bound["account_id"] == registered["account"]["id"]
    assert AuthIdentity.get(AuthIdentity.provider == "wechat").account_id == registered["account"]["id"]
    assert wechat_api.ok("getProfile")["phone"] == "139****5678"  # the same token now reads that account
    # Signing in with WeChat again lands on the same, merged account.
    wechat.add_code("code-2", "openid-1")
    assert wechat_api.ok("authWechatLogin", {"code": "code-2"})["account"]["id"] == registered["account"]["id"]
