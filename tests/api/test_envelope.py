"""The API base: one envelope, one error shape, limits, 404s, no stack traces, OpenAPI."""

import re

from handlers.base import ApiHandler, operation
from tests.conftest import assert_error, row_counts


class ExplodingHandler(ApiHandler):
    public = True

    @operation("testExplode", "一个总是出错的接口（仅测试）")
    def get(self):
        raise RuntimeError("boom with a secret 110101199003070011 inside")


def test_healthz_checks_the_database(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ok"


def test_unknown_route_is_a_json_404(api):
    error = assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    assert error["field"] is None


def test_wrong_method_is_a_json_405(api):
    response = api.session.delete(api.base_url + "/api/v1/me/profile")
    assert_error(response, 405, "method_not_allowed")


def test_bad_json_is_400_and_writes_nothing(api):
    before = row_counts()
    assert_error(api.call("authDevLogin", data=b'{"openid": '), 400, "invalid_json")
    assert_error(api.call("authDevLogin", data=b"\xff\xfe"), 400, "invalid_json")
    assert_error(api.call("authDevLogin", data=b"[1, 2]"), 400, "invalid_body")
    assert row_counts() == before


def test_missing_unknown_and_wrong_typed_fields_name_the_field(api):
    before = row_counts()
    assert_error(api.call("authDevLogin", {}), 400, "missing_field", "openid")
    assert_error(api.call("authDevLogin", {"openid": 12}), 400, "invalid_field", "openid")
    assert_error(api.call("authDevLogin", {"openid": "a", "admin": True}), 400, "unknown_field", "admin")
    assert_error(api.call("authDevLogin", {"openid": "has space"}), 400, "invalid_field", "openid")
    assert row_counts() == before


def test_body_over_the_cap_is_413(make_server):
    api = make_server(max_body_bytes=1024)
    before = row_counts()
    body = b'{"openid": "' + b"a" * 2000 + b'"}'
    assert_error(api.call("authDevLogin", data=body), 413, "body_too_large")
    assert row_counts() == before


def test_an_unexpected_failure_is_a_500_without_stack_trace(make_server):
    api = make_server(extra_routes=[(r"/api/v1/test/explode", ExplodingHandler)])
    response = api.call("testExplode")
    error = assert_error(response, 500, "internal_error")
    assert "Traceback" not in response.text and "boom" not in response.text
    assert "110101199003070011" not in response.text
    assert error["message"] == "服务器内部错误，请稍后再试"


def test_openapi_lists_every_operation_once_with_camel_case_ids(api):
    document = api.get("/openapi.json").json()
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]+", i) for i in ids)
    for expected in ("authWechatLogin", "authAlipayLogin", "authDevLogin", "authBindPhone", "authLogout",
                     "getProfile", "updateProfile"):
        assert expected in ids
    update = document["paths"]["/api/v1/me/profile"]["put"]
    schema_name = update["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = document["components"]["schemas"][schema_name]["properties"]
    assert set(properties) == {"name", "gender", "id_type", "id_number", "phone", "address", "building", "unit",
                               "room", "resident_category", "employer"}
    assert update["security"] == [{"bearer": []}]


def test_path_parameters_are_typed_as_routed_and_their_operations_may_answer_404(api):
    document = api.get("/openapi.json").json()
    remove = document["paths"]["/api/v1/me/family/{member_id}"]["delete"]
    assert remove["parameters"][0]["schema"] == {"type": "integer", "format": "int64", "minimum": 0,
                                                 "maximum": 2 ** 63 - 1}
    assert "404" in remove["responses"]
    by_code = document["paths"]["/api/v1/places/by-code/{token}"]["get"]["parameters"][0]["schema"]
    assert by_code == {"type": "string", "pattern": "^[A-Za-z0-9_\\-]{1,64}$"}
    assert "404" not in document["paths"]["/api/v1/me/profile"]["get"]["responses"]  # no id, no such record


def test_the_same_schema_validates_and_documents(api):
    document = api.get("/openapi.json").json()
    dev = document["components"]["schemas"]["DevLoginRequest"]
    assert dev["required"] == ["openid"] and dev["properties"]["openid"]["maxLength"] == 64
    assert_error(api.call("authDevLogin", {"openid": "x" * 65}), 400, "invalid_field", "openid")


def test_every_503_says_when_to_retry():
    """A 503 names its Retry-After even when its raiser names none (SMS, mail, a platform, a
    font); a 4xx names one only when it has one."""
    from services.common.errors import ApiError

    assert ApiError("sms_unavailable", "短信发送失败，请稍后再试", 503).retry_after == 1
    assert ApiError("wechat_busy", "微信服务器繁忙，请稍后再试", 503, retry_after=5).retry_after == 5
    assert ApiError("invalid_json", "请求体不是合法的 JSON", 400).retry_after is None
