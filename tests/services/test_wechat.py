"""WechatGateway through the real wechatpy client against the fake WeChat server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket

import pytest

from config import TestConfig
from services.accounts.wechat import WechatGateway
from services.common.errors import ApiError
from tests.fakes.server_thread import free_port
from tests.fakes.wechat_server import FakeWechat

APPID = "wx-test-appid"
SECRET = "wx-test-secret"


@pytest.fixture
def fake():
    with FakeWechat(appid=APPID, secret=SECRET) as server:
        yield server


def make_gateway(base: str, secret: str = SECRET, timeout: float = 2.0) -> WechatGateway:
    config = TestConfig(wechat_appid=APPID, wechat_secret=secret, wechat_api_base=base, http_timeout_seconds=timeout)
    return WechatGateway(config)


@pytest.fixture
def gateway(fake):
    # No trailing slash on purpose: the gateway must normalise it.
    return make_gateway(fake.url.rstrip("/"))


def test_login_success_keeps_every_request_on_the_configured_base(fake, gateway):
    session_key = fake.add_code("code-1", "openid-1", unionid="union-1")
    result = gateway.code_to_session("code-1")
    assert result == {"openid": "openid-1", "session_key": session_key, "unionid": "union-1"}
    paths = [r["path"] for r in fake.requests]
    assert paths == ["/cgi-bin/token", "/sns/jscode2session"]
    sent = fake.requests_to("/sns/jscode2session")[0]["query"]
    assert sent["js_code"] == "code-1" and sent["appid"] == APPID and sent["grant_type"] == "authorization_code"


def test_login_without_unionid_gives_none(fake, gateway):
    fake.add_code("code-2", "openid-2")
    assert gateway.code_to_session("code-2")["unionid"] is None


def test_async_login_runs_in_executor(fake, gateway):
    fake.add_code("code-async", "openid-async")
    result = asyncio.run(gateway.login("code-async"))
    assert result["openid"] == "openid-async"


def assert_api_error(exc_info, code, status, field=None):
    err = exc_info.value
    assert (err.code, err.status, err.field) == (code, status, field)
    return err


def test_unknown_code_is_40029(fake, gateway):
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("no-such-code")
    err = assert_api_error(exc_info, "wechat_code_invalid", 400, "code")
    assert err.message == "微信登录凭证无效或已过期，请重新登录"


def test_used_code_is_40163(fake, gateway):
    fake.add_code("once", "openid-once")
    gateway.code_to_session("once")
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("once")
    assert_api_error(exc_info, "wechat_code_invalid", 400, "code")


def test_empty_code_is_rejected_without_a_call(fake, gateway):
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("  ")
    assert_api_error(exc_info, "wechat_code_invalid", 400, "code")
    assert fake.requests == []


def test_rate_limited_is_429(fake, gateway):
    fake.add_code("code-rl", "openid-rl")
    fake.rate_limited = True
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("code-rl")
    err = assert_api_error(exc_info, "wechat_rate_limited", 429)
    assert err.message == "微信接口调用过于频繁，请稍后再试"


def test_busy_is_503(fake, gateway):
    fake.busy = True
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("whatever")
    assert_api_error(exc_info, "wechat_busy", 503)


def test_wrong_secret_is_a_502_wechat_error(fake):
    gateway = make_gateway(fake.url, secret="wrong")
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("whatever")
    err = assert_api_error(exc_info, "wechat_error", 502)
    assert err.message == "微信接口返回错误（错误码 40125）"


def test_server_down_is_503():
    gateway = make_gateway(f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("whatever")
    err = assert_api_error(exc_info, "wechat_unavailable", 503)
    assert err.message == "暂时无法连接微信服务器，请稍后再试"


def test_server_hanging_times_out_as_503():
    # Accepts the connection (kernel backlog) but never answers: exercises the token timeout,
    # which wechatpy itself does not set.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        gateway = make_gateway(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=0.2)
        with pytest.raises(ApiError) as exc_info:
            gateway.code_to_session("whatever")
        assert_api_error(exc_info, "wechat_unavailable", 503)
    finally:
        listener.close()


@pytest.mark.parametrize("mode", ["http_502", "non_json"])
def test_http_5xx_or_non_json_is_503(fake, gateway, mode):
    if mode == "http_502":
        fake.http_status_override = 502
    else:
        fake.non_json = True
    with pytest.raises(ApiError) as exc_info:
        gateway.code_to_session("whatever")
    assert_api_error(exc_info, "wechat_unavailable", 503)


def test_decrypt_phone_success(gateway):
    session_key = base64.b64encode(os.urandom(16)).decode()
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, APPID, "13800138000")
    assert gateway.decrypt_phone(session_key, encrypted, iv) == {
        "phone_number": "13800138000",
        "pure_phone_number": "13800138000",
        "country_code": "86",
    }


def test_decrypt_phone_wrong_appid(gateway):
    session_key = base64.b64encode(os.urandom(16)).decode()
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, "wx-someone-else", "13800138000")
    with pytest.raises(ApiError) as exc_info:
        gateway.decrypt_phone(session_key, encrypted, iv)
    err = assert_api_error(exc_info, "invalid_phone_payload", 400, "encrypted_data")
    assert err.message == "手机号数据解密失败，请重新授权"


@pytest.mark.parametrize(
    "case",
    ["garbage_base64", "garbage_bytes", "wrong_session_key", "bad_iv", "short_key", "truncated", "not_json"],
)
def test_decrypt_phone_garbage(gateway, case):
    session_key = base64.b64encode(os.urandom(16)).decode()
    encrypted, iv = FakeWechat.encrypt_phone_payload(session_key, APPID, "13800138000")
    if case == "garbage_base64":
        encrypted = "!!!not base64 at all"
    elif case == "garbage_bytes":
        encrypted = base64.b64encode(os.urandom(48)).decode()
    elif case == "wrong_session_key":
        session_key = base64.b64encode(os.urandom(16)).decode()
    elif case == "bad_iv":
        iv = base64.b64encode(b"short").decode()
    elif case == "short_key":
        session_key = base64.b64encode(b"abc").decode()
    elif case == "truncated":
        encrypted = base64.b64encode(base64.b64decode(encrypted)[:-3]).decode()
    elif case == "not_json":
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        raw_iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        data = padder.update(b"hello, not json") + padder.finalize()
        enc = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(raw_iv)).encryptor()
        encrypted = base64.b64encode(enc.update(data) + enc.finalize()).decode()
        iv = base64.b64encode(raw_iv).decode()
    with pytest.raises(ApiError) as exc_info:
        gateway.decrypt_phone(session_key, encrypted, iv)
    assert_api_error(exc_info, "invalid_phone_payload", 400, "encrypted_data")


def test_wxa_code_is_a_png(fake, gateway):
    png = asyncio.run(gateway.wxa_code("uid=42", page="pages/index/index"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    sent = fake.requests_to("/wxa/getwxacodeunlimit")[0]
    assert json.loads(sent["body"])["scene"] == "uid=42"
    assert json.loads(sent["body"])["page"] == "pages/index/index"
    assert sent["query"]["access_token"].startswith("fake-token-")


def test_wxa_code_retries_once_on_stale_token(fake, gateway):
    gateway.get_wxa_code_unlimited("a=1")
    fake.access_tokens.clear()  # the platform invalidated our token
    assert gateway.get_wxa_code_unlimited("a=2").startswith(b"\x89PNG")
    assert [r["path"] for r in fake.requests].count("/cgi-bin/token") == 2


def test_wxa_code_error_is_mapped(fake, gateway):
    with pytest.raises(ApiError) as exc_info:
        gateway.get_wxa_code_unlimited("x" * 40)
    err = assert_api_error(exc_info, "wechat_error", 502)
    assert "40169" in err.message
