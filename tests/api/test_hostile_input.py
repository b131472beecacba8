"""Hostile input gets a 4xx in the envelope, never a 500, and writes nothing: numbers past 64
bits, NaN and Infinity, deep nesting, bodies past the server's limit, control characters, dates
out of range, and 405s that say what is allowed."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from tests.conftest import assert_error, row_counts

HUGE = 10 ** 20  # past a signed 64-bit integer


def test_integers_past_64_bits_in_queries_paths_and_bodies_are_400_or_404(api):
    api.dev_login("hostile-1")
    before = row_counts()
    for query in ({"page": str(HUGE)}, {"page": "99999999999999999999"}, {"page": "1000000000000000001"}):
        assert_error(api.call("listDeclarations", query=query), 400, "invalid_field", "page")
    assert_error(api.call("listMyEntries", query={"member_id": str(-HUGE)}), 400, "invalid_field", "member_id")
    assert_error(api.call("removeFamilyMember", path={"member_id": str(HUGE)}), 404, "not_found")
    assert_error(api.call("scanPlace", {"code": "x" * 20, "flow": "normal", "request_id": "hostile-req-1",
                                        "member_id": HUGE}), 400, "invalid_field", "member_id")
    assert row_counts() == before


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_numbers(api, constant):
    api.dev_login("hostile-2")
    before = row_counts()
    body = ('{"code": "abcdefgh", "flow": "normal", "request_id": "hostile-req-2", "temperature": %s}'
            % constant).encode()
    error = assert_error(api.call("scanPlace", data=body), 400, "invalid_json")
    assert constant.lstrip("-") in error["message"]
    assert row_counts() == before


def test_deeply_nested_json_is_refused(api):
    before = row_counts()
    for depth in (40, 5_000, 30_000):  # past the limit, past Python's recursion limit, near the body cap
        body = ('{"openid": ' + "[" * depth + "]" * depth + "}").encode()
        error = assert_error(api.call("authDevLogin", data=body), 400, "invalid_json")
        assert "嵌套过深" in error["message"]
    # Nesting within the limit reaches the schema, which names the field.
    assert_error(api.call("authDevLogin", data=b'{"openid": [[["a"]]]}'), 400, "invalid_field", "openid")
    assert row_counts() == before


def test_a_body_past_the_servers_limit_is_a_json_413(api):
    before = row_counts()
    body = b'{"openid": "' + b"a" * (20 * 1024 * 1024) + b'"}'
    assert_error(api.call("authDevLogin", data=body), 413, "body_too_large")
    # Announced but far past what is read and dropped: answered at once, before the body.
    address = urlparse(api.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(b"POST /api/v1/auth/dev/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000000\r\n\r\n")
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and b"body_too_large" in answer
    assert api.get("/healthz").status_code == 200  # the server goes on
    assert row_counts() == before


@pytest.mark.parametrize("text", ["王\x00小明", "王\x07小明", "王\u202e明小", "王\x1b[31m"])
def test_control_characters_in_names_are_refused(api, text):
    api.dev_login("hostile-3")
    before = row_counts()
    error = assert_error(api.call("updateProfile", {"name": text, "id_number": "110101199003070011"}), 400,
                         "invalid_field", "name")
    assert "控制字符" in error["message"]
    assert row_counts() == before


def test_dates_before_1900_or_in_the_future_where_a_past_date_is_meant(api):
    api.dev_login("hostile-4")
    api.ok("updateProfile", {"name": "王小明", "id_number": "110101199003070011", "phone": "13800000000"})
    before = row_counts()
    for day, code in (("1899-12-31", "invalid_field"), ("0001-01-01", "invalid_field"),
                      ("2999-01-01", "date_in_future")):
        error = assert_error(api.call("registerProvinceEntry", {
            "entry_date": day, "origin_code": "420100", "origin_name": "武汉市", "transport": "car",
            "destination": "郑州市金水区经八路5号"}), 400, code)
        assert error["field"] == "entry_date"
    assert row_counts() == before


def test_a_405_says_which_methods_are_allowed(api):
    response = api.session.delete(api.base_url + "/api/v1/me/profile")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PUT"}
    api.get("/admin/login")  # the XSRF cookie: the back office checks it before the method
    admin = api.session.put(api.base_url + "/admin/login", headers={"X-Xsrftoken": api.session.cookies["_xsrf"]})
    assert admin.status_code == 405 and "GET" in admin.headers["Allow"] and "POST" in admin.headers["Allow"]
