"""Screen place codes (N1) over HTTP on both databases: the place admin's screens and their keys,
the screen's code, scans of screen codes (fresh, old, forged), "screen codes only", and every
bad input refused with a Chinese message and nothing written."""

import base64
import hashlib
import time
import urllib.parse
import uuid

import pytest

from models.fieldwork import OperationLog
from models.places import EntryRecord, Place, ScreenDevice
from services.common.errors import ApiError
from services.venues import screen_codes
from tests.api.test_field_roles import PUBLIC, person
from tests.conftest import assert_error, row_counts


@pytest.fixture
def citizen(api, city):
    return person(api, "citizen", 2, "王小明")


@pytest.fixture
def screen(admin, place):
    return admin.ok("createScreenDevice", {"name": "正门屏幕"})


def rid() -> str:
    return uuid.uuid4().hex


def screen_code(api, screen, key=None):
    """getScreenCode as the screen calls it: (response)."""
    headers = {} if key is False else {screen_codes.KEY_HEADER: key or screen["key"]}
    return api.call("getScreenCode", path={"token": screen["url"].rsplit("/", 1)[1]}, headers=headers, token="")


def sc_of(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["sc"][0]


def scan(client, place, **body):
    return client.call("scanPlace", {"code": place["token"], "quick_checkin": True, "request_id": rid(), **body})


def test_the_place_admin_makes_lists_and_revokes_screens(api, admin, place, screen):
    # The key is shown once, in the screen's full address; only its hash is kept.
    assert screen["status"] == "active" and screen["name"] == "正门屏幕"
    assert screen["screen_url"] == screen["url"] + "?key=" + screen["key"] and "/screen/" in screen["url"]
    stored = ScreenDevice.get_by_id(screen["id"])
    assert stored.key_hash == hashlib.sha256(screen["key"].encode()).hexdigest() and screen["key"] not in stored.token
    listed = admin.ok("listScreenDevices")
    assert listed["screen_only"] is False and listed["window_seconds"] == 30
    assert [s["id"] for s in listed["items"]] == [screen["id"]]
    assert "key" not in listed["items"][0] and screen["key"] not in str(listed)

    shown = screen_code(api, screen)
    assert shown.status_code == 200, shown.text
    data = shown.json()["data"]
    assert data["place"]["name"] == PUBLIC["name"] and data["screen"] == "正门屏幕"
    assert data["url"].startswith(f"{api.config.public_base_url}/s/{place['token']}?sc=")
    assert sc_of(data["url"]).split(".")[0] == str(data["window"])
    assert data["image"].startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(data["image"].split(",", 1)[1])
    assert data["server_time"].endswith("+08:00") and 0 < data["next_change_ms"] <= 30_000
    assert ScreenDevice.get_by_id(screen["id"]).last_seen_at is not None

    revoked = admin.ok("revokeScreenDevice", path={"screen_id": screen["id"]})
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    assert_error(screen_code(api, screen), 403, "screen_key_revoked", "key")
    actions = [log.action for log in OperationLog.select().order_by(OperationLog.id)]
    assert actions[-2:] == ["create_screen", "revoke_screen"]


def test_a_scan_of_the_screen_code_passes_and_one_two_windows_old_is_refused(api, citizen, place, screen):
    data = screen_code(api, screen).json()["data"]
    verdict = citizen.ok("scanPlace", {"code": place["token"], "quick_checkin": True, "request_id": rid(),
                                        "screen_code": sc_of(data["url"])})
    assert verdict["place"]["name"] == PUBLIC["name"]
    # The window before the current one is still taken (a scan just after the code changed).
    previous = screen_codes.sign(place["id"], screen_codes.window_of(api.config) - 1, api.config)
    assert scan(citizen, place, screen_code=previous).status_code == 200

    old = screen_codes.sign(place["id"], screen_codes.window_of(api.config) - 2, api.config)
    before = row_counts()
    error = assert_error(scan(citizen, place, screen_code=old), 400, "screen_code_expired", "screen_code")
    assert error["message"] == "请扫描现场屏幕上的最新场所码"
    assert row_counts() == before
    # A printed code still works at a place that keeps them.
    assert scan(citizen, place).status_code == 200


@pytest.mark.parametrize("forge", ["tampered", "other_place", "future", "malformed", "empty"])
def test_a_forged_screen_code_is_refused_and_nothing_is_written(api, citizen, place, forge):
    window = screen_codes.window_of(api.config)
    good = screen_codes.sign(place["id"], window, api.config)
    code = {"tampered": good[:-1] + ("A" if good[-1] != "A" else "B"),
            "other_place": screen_codes.sign(place["id"] + 1, window, api.config),
            "future": screen_codes.sign(place["id"], window + 5, api.config),
            "malformed": "12345.not-a-signature", "empty": ""}[forge]
    before = row_counts()
    error = assert_error(scan(citizen, place, screen_code=code), 400, "screen_code_invalid", "screen_code")
    assert "请扫描现场屏幕上的最新场所码" in error["message"]
    assert row_counts() == before and not EntryRecord.select().exists()


def test_a_screen_only_place_refuses_its_printed_code(api, admin, citizen, place, screen):
    assert admin.ok("setScreenOnly", {"screen_only": True})["screen_only"] is True
    assert Place.get_by_id(place["id"]).screen_only is True
    before = row_counts()
    error = assert_error(scan(citizen, place), 409, "screen_code_required", "code")
    assert "请扫描现场屏幕上的最新场所码" in error["message"] and row_counts() == before
    # The H5 page of the printed code says so before anyone fills a form.
    page = api.get(f"/s/{place['token']}")
    assert page.status_code == 409 and "只接受现场屏幕上的场所码" in page.text
    data = screen_code(api, screen).json()["data"]
    assert data["screen_only"] is True
    assert scan(citizen, place, screen_code=sc_of(data["url"])).status_code == 200
    assert api.get(data["url"].replace(api.config.public_base_url, "")).status_code == 200
    admin.ok("setScreenOnly", {"screen_only": False})
    assert scan(citizen, place).status_code == 200
    assert "set_screen_only" in [log.action for log in OperationLog.select()]


def test_the_scan_page_refuses_an_old_screen_code(api, place):
    old = screen_codes.sign(place["id"], screen_codes.window_of(api.config) - 2, api.config)
    page = api.get(f"/s/{place['token']}?sc={old}")
    assert page.status_code == 400 and "请扫描现场屏幕上的最新场所码" in page.text
    forged = api.get(f"/s/{place['token']}?sc=1.AAAAAAAAAAAAAAAAAAAAAA")
    assert forged.status_code == 400 and "场所码校验失败" in forged.text


@pytest.mark.parametrize("case", ["no_key", "wrong_key", "unknown_screen", "revoked"])
def test_a_screen_without_a_valid_key_gets_a_403_and_nothing_is_written(api, admin, screen, case):
    token = screen["url"].rsplit("/", 1)[1]
    if case == "revoked":
        admin.ok("revokeScreenDevice", path={"screen_id": screen["id"]})
    key = {"no_key": None, "wrong_key": "x" * 32, "unknown_screen": screen["key"], "revoked": screen["key"]}[case]
    path_token = "A" * 16 if case == "unknown_screen" else token
    code = {"no_key": "screen_key_required", "revoked": "screen_key_revoked"}.get(case, "screen_key_invalid")
    before, seen = row_counts(), ScreenDevice.get_by_id(screen["id"]).last_seen_at
    headers = {screen_codes.KEY_HEADER: key} if key else {}
    response = api.call("getScreenCode", path={"token": path_token}, headers=headers, token="")
    assert_error(response, 403, code, "key")
    page = api.get(f"/screen/{path_token}" + (f"?key={key}" if key else ""))
    assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
    assert response.json()["error"]["message"] in page.text
    assert row_counts() == before and ScreenDevice.get_by_id(screen["id"]).last_seen_at == seen


def test_the_screen_page_opens_with_its_key(api, screen, caplog):
    caplog.set_level("INFO")
    page = api.get(screen["screen_url"].replace(api.config.public_base_url, ""))
    assert page.status_code == 200 and PUBLIC["name"] in page.text and "服务器时间" in page.text
    assert "no-store" in page.headers["Cache-Control"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    deadline = time.monotonic() + 5  # the access line is written just after the answer is sent
    while "/screen/" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "/screen/" in caplog.text and screen["key"] not in caplog.text  # the access log has no query string


@pytest.mark.parametrize("body, status, code, field", [
    ({"name": "  "}, 400, "missing_field", "name"),
    ({"name": "屏" * 65}, 400, "invalid_field", "name"),
])
def test_a_bad_screen_name_is_refused_and_nothing_is_written(admin, place, body, status, code, field):
    before = row_counts()
    assert_error(admin.call("createScreenDevice", body), status, code, field)
    assert row_counts() == before


def test_only_the_place_admin_manages_screens(api, admin, citizen, place, screen):
    before = row_counts()
    assert_error(citizen.call("createScreenDevice", {"name": "假屏幕"}), 403, "forbidden")
    assert_error(citizen.call("revokeScreenDevice", path={"screen_id": screen["id"]}), 403, "forbidden")
    assert_error(citizen.call("setScreenOnly", {"screen_only": True}), 403, "forbidden")
    assert_error(admin.call("revokeScreenDevice", path={"screen_id": screen["id"] + 100}), 404, "screen_not_found")
    assert row_counts() == before
    admin.ok("revokeScreenDevice", path={"screen_id": screen["id"]})
    before = row_counts()
    assert_error(admin.call("revokeScreenDevice", path={"screen_id": screen["id"]}), 409, "screen_already_revoked")
    assert row_counts() == before


def test_checking_a_scans_code_reads_nothing_from_the_database(api, place, database_out_of_reach):
    """The scan reads the place (with `screen_only`) in its one statement; the check itself is an
    HMAC over values in hand: it works with the database out of reach."""
    row = Place.get_by_id(place["id"])
    window = screen_codes.window_of(api.config)
    with database_out_of_reach():
        screen_codes.check_scan(row, None, api.config)
        screen_codes.check_scan(row, screen_codes.sign(row.id, window, api.config), api.config)
        with pytest.raises(ApiError) as old:
            screen_codes.check_scan(row, screen_codes.sign(row.id, window - 2, api.config), api.config)
    assert old.value.code == "screen_code_expired"
