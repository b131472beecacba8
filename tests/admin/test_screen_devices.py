"""Door screens (N1) in the back office, on both databases: the place's detail page in <类型>列表管理
lists its screens (never a key) and whether it takes screen codes only; 停用现场屏幕 stops one
(audited, its key refused at once); a screen of another place, or a place with no screen left, is
a clear error with nothing written."""

from __future__ import annotations

import pytest

from models.fieldwork import OperationLog
from models.places import ScreenDevice
from models.regions import Region
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.common.regions import load_tree
from services.operations.demo import ZHENGZHOU
from services.venues import places, screen_codes
from tests.admin.conftest import CAPTCHA, AdminClient, page_error
from tests.conftest import row_counts

PAGES = "/admin/r/venue_supermarket_places"


@pytest.fixture
def office(make_server):
    server = make_server(captcha_fixed_answer=CAPTCHA)
    load_tree(ZHENGZHOU)
    _, password = admin_auth.create_admin(None, phone="13820000002", name="市级管理员", role="city",
                                          region_code="410100", send_sms=False)
    client = AdminClient(server.base_url)
    assert client.login("13820000002", password).status_code == 302
    server.client = client
    district = Region.get(Region.code == "410105")
    server.place, _ = places.create_place(place_type_code="supermarket", name="丹尼斯百货", region=district)
    server.other, _ = places.create_place(place_type_code="supermarket", name="另一家超市", region=district)
    server.device, server.key = screen_codes.create_device(None, server.place, "正门屏幕")
    server.other_device, _ = screen_codes.create_device(None, server.other, "侧门屏幕")
    return server


def test_staff_see_a_places_screens_and_stop_one(office):
    client, place, device = office.client, office.place, office.device
    detail = client.get(f"{PAGES}/{place.id}")
    assert detail.status_code == 200 and "正门屏幕" in detail.text and "使用中，尚未打开" in detail.text
    assert "只接受屏幕场所码" in detail.text and office.key not in detail.text and device.key_hash not in detail.text
    assert "/do/revoke_screen" in detail.text

    form = client.get(f"{PAGES}/{place.id}/do/revoke_screen")
    assert form.status_code == 200 and "正门屏幕" in form.text and "侧门屏幕" not in form.text
    done = client.post(f"{PAGES}/{place.id}/do/revoke_screen", {"choice": str(device.id)}, allow_redirects=False)
    assert done.status_code == 302, page_error(done)
    assert ScreenDevice.get_by_id(device.id).revoked_at is not None
    assert ScreenDevice.get_by_id(office.other_device.id).revoked_at is None
    log = OperationLog.get(OperationLog.action == "revoke_screen")
    assert log.admin_actor_id is not None and log.target_id == device.id
    with pytest.raises(ApiError) as refused:
        screen_codes.authenticate(device.token, office.key)
    assert refused.value.code == "screen_key_revoked"
    assert "已停用" in client.get(f"{PAGES}/{place.id}").text


def test_another_places_screen_or_none_left_is_refused_and_nothing_is_written(office):
    client, place = office.client, office.place
    before = row_counts()
    other = client.post(f"{PAGES}/{place.id}/do/revoke_screen", {"choice": str(office.other_device.id)},
                        allow_redirects=False)
    assert other.status_code == 400 and page_error(other)
    assert row_counts() == before and ScreenDevice.get_by_id(office.other_device.id).revoked_at is None
    screen_codes.revoke_device(place, office.device.id)
    before = row_counts()
    none_left = client.post(f"{PAGES}/{place.id}/do/revoke_screen", {"choice": str(office.device.id)},
                            allow_redirects=False)
    assert none_left.status_code == 409 and row_counts() == before
