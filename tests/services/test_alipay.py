"""AlipayGateway through the real alipay-sdk-python against the fake gateway (RSA2 both ways)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import socket

import pytest
from alipay.aop.api.util import WebUtils

from config import TestConfig
from services.accounts.alipay import AlipayGateway, normalise_private_key, patch_alipay_sdk
from services.common.errors import ApiError
from tests.fakes.server_thread import free_port
from tests.fakes.alipay_gateway import FakeAlipay, make_app_keypair

APP_ID = "2021000000000001"


@pytest.fixture(scope="module")
def app_keys():
    return make_app_keypair()


@pytest.fixture
def fake(app_keys):
    with FakeAlipay(app_public_key_pem=app_keys[1], app_id=APP_ID) as server:
        yield server


def make_gateway(app_keys, gateway_url: str, alipay_public_key: str, timeout: float = 2.0, private_key=None):
    config = TestConfig(
        alipay_appid=APP_ID,
        alipay_private_key=private_key or app_keys[0],
        alipay_public_key=alipay_public_key,
        alipay_gateway=gateway_url,
        http_timeout_seconds=timeout,
    )
    return AlipayGateway(config)


@pytest.fixture
def gateway(app_keys, fake):
    return make_gateway(app_keys, fake.gateway_url, fake.alipay_public_key_for_config())


def assert_api_error(exc_info, code, status, field=None):
    err = exc_info.value
    assert (err.code, err.status, err.field) == (code, status, field)
    return err


def test_login_success_with_a_correctly_signed_request(fake, gateway):
    fake.add_code("auth-1", "2088000000000001")
    result = gateway.oauth_token("auth-1")
    assert result["user_id"] == "2088000000000001"
    assert result["open_id"] is None
    assert result["access_token"].startswith("authusrB")
    assert result["expires_in"] == 1296000
    [seen] = fake.requests
    assert seen["sign_valid"] is True
    assert seen["params"]["method"] == "alipay.system.oauth.token"
    assert seen["params"]["sign_type"] == "RSA2"
    assert seen["params"]["app_id"] == APP_ID
    # Business params travel in the form body, common params (and sign) in the query string.
    assert seen["form"] == {"code": "auth-1", "grant_type": "authorization_code"}
    assert "sign" in seen["query"]


def test_request_timestamp_is_beijing_time(fake, gateway):
    fake.add_code("auth-ts", "2088000000000002")
    gateway.oauth_token("auth-ts")
    sent = datetime.datetime.strptime(fake.requests[0]["params"]["timestamp"], "%Y-%m-%d %H:%M:%S")
    beijing_now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(tzinfo=None)
    assert abs(beijing_now - sent) < datetime.timedelta(minutes=1)


def test_open_id_is_passed_through(fake, gateway):
    fake.add_code("auth-open", None, open_id="074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5")
    result = asyncio.run(gateway.login("auth-open"))
    assert result["open_id"] == "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"
    assert result["user_id"] is None


def test_invalid_code_is_400(fake, gateway):
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("no-such-code")
    err = assert_api_error(exc_info, "alipay_code_invalid", 400, "auth_code")
    assert err.message == "支付宝授权码无效或已过期，请重新授权"
    assert fake.requests[0]["sign_valid"] is True


def test_used_code_is_invalid(fake, gateway):
    fake.add_code("auth-once", "2088000000000003")
    gateway.oauth_token("auth-once")
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("auth-once")
    assert_api_error(exc_info, "alipay_code_invalid", 400, "auth_code")


def test_bad_response_signature_is_rejected(fake, gateway):
    fake.add_code("auth-sig", "2088000000000004")
    fake.bad_signature = True
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("auth-sig")
    err = assert_api_error(exc_info, "alipay_signature_invalid", 502)
    assert err.message == "支付宝响应签名校验失败，已拒绝"


def test_request_signed_with_the_wrong_app_key_is_an_alipay_error(fake):
    other_private, _ = make_app_keypair()
    gateway = make_gateway(None, fake.gateway_url, fake.alipay_public_key_for_config(), private_key=other_private)
    fake.add_code("auth-wrongkey", "2088000000000005")
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("auth-wrongkey")
    err = assert_api_error(exc_info, "alipay_error", 502)
    assert err.message.startswith("支付宝接口返回错误：验签出错")
    assert fake.requests[0]["sign_valid"] is False


def test_gateway_down_is_503(app_keys, fake):
    gateway = make_gateway(
        app_keys, f"http://127.0.0.1:{free_port()}/gateway.do", fake.alipay_public_key_for_config()
    )
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("auth-x")
    err = assert_api_error(exc_info, "alipay_unavailable", 503)
    assert err.message == "暂时无法连接支付宝服务器，请稍后再试"


def test_gateway_hanging_times_out_as_503(app_keys, fake):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        gateway = make_gateway(
            app_keys,
            f"http://127.0.0.1:{listener.getsockname()[1]}/gateway.do",
            fake.alipay_public_key_for_config(),
            timeout=0.2,
        )
        with pytest.raises(ApiError) as exc_info:
            gateway.oauth_token("auth-x")
        assert_api_error(exc_info, "alipay_unavailable", 503)
    finally:
        listener.close()


def test_gateway_http_5xx_is_503(fake, gateway):
    fake.http_status_override = 503
    with pytest.raises(ApiError) as exc_info:
        gateway.oauth_token("auth-x")
    assert_api_error(exc_info, "alipay_unavailable", 503)


def test_key_formats_are_normalised(app_keys, fake):
    # Bare base64 PKCS#1 and a full PEM public key work as well as the canonical forms.
    bare_private = "".join(line for line in app_keys[0].splitlines() if not line.startswith("-----"))
    assert normalise_private_key(bare_private) == app_keys[0]
    body = fake.alipay_public_key_for_config()
    pem_public = "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n"
    gateway = make_gateway(app_keys, fake.gateway_url, pem_public, private_key=bare_private)
    fake.add_code("auth-formats", "2088000000000006")
    assert gateway.oauth_token("auth-formats")["user_id"] == "2088000000000006"


def test_invalid_keys_fail_at_construction(app_keys, fake):
    with pytest.raises(ValueError):
        make_gateway(app_keys, fake.gateway_url, fake.alipay_public_key_for_config(), private_key="not a key")
    with pytest.raises(ValueError):
        make_gateway(app_keys, fake.gateway_url, base64.b64encode(b"nope").decode())


def test_patch_is_idempotent(gateway):
    patched = WebUtils.get_http_connection
    patch_alipay_sdk()
    patch_alipay_sdk()
    assert WebUtils.get_http_connection is patched
    url, connection = WebUtils.get_http_connection("https://example.com:8443/gateway.do", "a=1", 3)
    assert url == "https://example.com:8443/gateway.do?a=1"
    assert (connection.host, connection.port, connection.timeout) == ("example.com", 8443, 3)
