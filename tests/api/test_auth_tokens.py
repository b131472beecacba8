"""Sign-in with authDevLogin, bearer tokens (hashed, expiring, revocable) and role checks."""

import datetime as dt
import hashlib

from handlers.base import ApiHandler, operation
from models.accounts import Account, AuthIdentity, AuthToken
from services.accounts import auth
from tests.conftest import assert_error, row_counts


class InspectorOnlyHandler(ApiHandler):
    roles = ("inspector",)

    @operation("testInspectorOnly", "仅核验员可用（仅测试）")
    def get(self):
        return {"ok": True}


def test_dev_login_creates_an_account_once(api):
    first = api.dev_login("citizen-a")
    again = api.dev_login("citizen-a")
    assert first["account"] == again["account"] == {"id": first["account"]["id"], "roles": ["citizen"]}
    assert first["token"] != again["token"]
    assert first["profile_complete"] is False
    assert Account.select().count() == 1 and AuthIdentity.select().count() == 1


def test_tokens_are_long_random_and_stored_only_hashed(api):
    token = api.dev_login()["token"]
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    stored = [t.token_hash for t in AuthToken.select()]
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_missing_forged_and_malformed_tokens_are_401(api):
    api.dev_login()
    assert_error(api.call("getProfile", token=""), 401, "unauthorized")
    assert_error(api.call("getProfile", token="forged-" + "a" * 40), 401, "unauthorized")
    response = api.session.get(api.base_url + "/api/v1/me/profile", headers={"Authorization": "Basic abc"})
    assert_error(response, 401, "unauthorized")


def test_a_token_in_the_url_is_not_accepted(api):
    token = api.dev_login()["token"]
    response = api.session.get(api.base_url + f"/api/v1/me/profile?access_token={token}")
    assert_error(response, 401, "unauthorized")


def test_idle_and_absolute_expiry(api):
    token = api.dev_login()["token"]
    row = AuthToken.get()
    AuthToken.update(last_used_at=row.last_used_at - dt.timedelta(seconds=api.config.token_idle_seconds + 1)).execute()
    assert_error(api.call("getProfile", token=token), 401, "token_expired")

    token = api.dev_login()["token"]
    AuthToken.update(expires_at=dt.datetime(2000, 1, 1)).where(AuthToken.token_hash == auth._hash(token)).execute()
    assert_error(api.call("getProfile", token=token), 401, "token_expired")


def test_use_keeps_a_token_alive(api):
    token = api.dev_login()["token"]
    row = AuthToken.get()
    old = row.last_used_at - dt.timedelta(seconds=api.config.token_idle_seconds - 30)
    AuthToken.update(last_used_at=old).execute()
    api.ok("getProfile", token=token)
    assert AuthToken.get().last_used_at > old


def test_logout_revokes_the_token(api):
    token = api.dev_login()["token"]
    assert api.ok("authLogout") == {"logged_out": True}
    assert_error(api.call("getProfile", token=token), 401, "unauthorized")
    assert_error(api.call("authLogout", token=token), 401, "unauthorized")


def test_a_citizen_calling_a_role_restricted_route_is_403(make_server):
    api = make_server(extra_routes=[(r"/api/v1/test/inspector", InspectorOnlyHandler)])
    login = api.dev_login()
    assert_error(api.call("testInspectorOnly"), 403, "forbidden")
    auth.grant_role(Account.get_by_id(login["account"]["id"]), "inspector")
    assert api.ok("testInspectorOnly") == {"ok": True}
    document = api.get("/openapi.json").json()
    assert document["paths"]["/api/v1/test/inspector"]["get"]["x-roles"] == ["inspector"]


def test_disabled_accounts_cannot_sign_in(api):
    login = api.dev_login()
    Account.update(status="disabled").where(Account.id == login["account"]["id"]).execute()
    assert_error(api.call("getProfile"), 403, "account_disabled")
    assert_error(api.call("authDevLogin", {"openid": "citizen-1"}), 403, "account_disabled")


def test_dev_login_does_not_exist_in_production(make_server):
    api = make_server(app_env="production")
    before = row_counts()
    assert "authDevLogin" not in api.operations()
    response = api.session.post(api.base_url + "/api/v1/auth/dev/login", json={"openid": "x"})
    assert_error(response, 404, "not_found")
    assert row_counts() == before


def test_dev_login_does_not_exist_when_a_platform_is_configured(make_server):
    api = make_server(wechat_appid="wx123", wechat_secret="s" * 32)
    assert "authDevLogin" not in api.operations()
    response = api.session.post(api.base_url + "/api/v1/auth/dev/login", json={"openid": "x"})
    assert_error(response, 404, "not_found")


def test_platform_logins_without_configuration_are_503(api):
    assert_error(api.call("authWechatLogin", {"code": "abc"}), 503, "platform_not_configured")
    assert_error(api.call("authAlipayLogin", {"auth_code": "abc"}), 503, "platform_not_configured")


def test_phone_binding_needs_a_wechat_session(api):
    api.dev_login()
    assert_error(api.call("authBindPhone", {"encrypted_data": "x", "iv": "y"}), 400, "not_wechat_session")


def test_a_phone_browser_signs_in_with_the_key_it_keeps(api):
    first = api.ok("authDeviceLogin", {})
    key = first["device_key"]
    assert len(key) >= 43 and first["token"]
    again = api.ok("authDeviceLogin", {"device_key": key})
    assert again["account"]["id"] == first["account"]["id"] and again["device_key"] == key
    assert key not in [i.subject for i in AuthIdentity.select()]  # stored hashed
    before = row_counts()
    assert_error(api.call("authDeviceLogin", {"device_key": "forged-key-0000000000"}), 401, "unknown_device",
                 "device_key")
    assert row_counts() == before
