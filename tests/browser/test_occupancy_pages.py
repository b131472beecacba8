"""N8 in headless Chromium on both databases: the citizen's scan page at a full place says
人数已满，请稍候 (in red, nothing recorded), admits once someone has left and offers to scan out;
the place admin's page shows the live count, follows it as people leave, and refuses a capacity of
0 at the field."""

from __future__ import annotations

import json

from models.fields import utcnow
from models.occupancy import PlaceOccupancy
from models.places import EntryRecord, Place
from models.transactions import run_transaction
from services.common.regions import load_tree
from services.operations.demo import ZHENGZHOU
from services.venues import occupancy, places
from tests.api.test_field_roles import PUBLIC
from tests.browser.conftest import PHONE, guarded_page
from tests.browser.test_h5_scan import fill_profile, submit, verdict
from tests.conftest import ApiClient, make_id_number, make_person, row_counts


def expect(locator):
    from playwright.sync_api import expect as playwright_expect  # installed with the browser tests only

    return playwright_expect(locator)


def enter(place, person):
    run_transaction(lambda: occupancy.count_in(Place.get_by_id(place.id), person, utcnow()))


def test_a_full_place_refuses_the_scan_until_someone_leaves(phone, h5, db):
    place, code = places.create_place(place_type_code="supermarket", name="丹尼斯百货")
    occupancy.set_occupancy(None, place, True, 1)
    inside = make_person(9, name="先到者")
    enter(place, inside)
    phone.goto(f"{h5.base_url}/s/{code.token}?quick=1")
    phone.locator("#registration:not([hidden])").wait_for()
    fill_profile(phone)
    before = row_counts()
    submit(phone)
    banner = phone.locator("#top-error.strong")
    banner.wait_for()
    assert banner.inner_text() == "人数已满，请稍候"
    assert row_counts() == before and EntryRecord.select().count() == 0
    occupancy.count_out(place.id, inside.id)
    phone.click("#scan-submit")
    verdict(phone)
    assert phone.locator("#verdict-admit").inner_text() == "允许通行"
    assert occupancy.view(Place.get_by_id(place.id))["inside"] == 1 and EntryRecord.select().count() == 1
    # Leaving: the verdict's button scans out, once.
    phone.click("#verdict-leave")
    left = phone.locator("#verdict-left:not([hidden])")
    left.wait_for()
    assert left.inner_text() == "已离场登记，谢谢配合" and phone.locator("#verdict-leave").is_hidden()
    assert occupancy.view(Place.get_by_id(place.id))["inside"] == 0


def test_a_place_that_does_not_count_offers_no_leaving(phone, h5, db):
    _, code = places.create_place(place_type_code="supermarket", name="世纪联华")
    phone.goto(f"{h5.base_url}/s/{code.token}?quick=1")
    phone.locator("#registration:not([hidden])").wait_for()
    fill_profile(phone)
    submit(phone)
    verdict(phone)
    assert phone.locator("#verdict-admit").inner_text() == "允许通行" and phone.locator("#verdict-leave").is_hidden()


def test_the_place_admins_page_shows_the_live_count_and_refuses_a_capacity_of_0(browser, h5, db):
    load_tree(ZHENGZHOU)
    admin = ApiClient(h5.base_url)
    login = admin.ok("authDeviceLogin", {"device_key": None})
    admin.token = login["token"]
    admin.ok("updateProfile", {"name": "周管理", "id_number": make_id_number(1), "phone": "13900000001"})
    place_id = admin.ok("createPlace", PUBLIC)["id"]
    admin.token = admin.ok("authDeviceLogin", {"device_key": login["device_key"]})["token"]  # with the role
    admin.ok("setPlaceOccupancy", {"counting": True, "capacity": 2})
    place = Place.get_by_id(place_id)
    people = [make_person(n) for n in (2, 3)]
    for person in people:
        enter(place, person)

    context, page = guarded_page(browser, h5.base_url, PHONE, failed_loads_ok=True)
    context.add_init_script(f"window.localStorage.setItem('hc.h5.device_key', {json.dumps(login['device_key'])});")
    try:
        page.goto(f"{h5.base_url}/place-admin/occupancy")
        page.locator("#live:not([hidden])").wait_for()
        assert page.locator("#inside").inner_text() == "2" and page.locator("#capacity").inner_text() == "2"
        assert page.locator("#live-status").inner_text() == "人数已满，暂停入场"
        occupancy.count_out(place_id, people[0].id)
        expect(page.locator("#inside")).to_have_text("1", timeout=12000)  # the next refresh (5 s)
        assert page.locator("#live-status").inner_text() == "还可进入 1 人"

        before = row_counts()
        page.fill("#capacity-input", "0")
        page.click("#save")
        error = page.locator('[data-error-for="capacity"]:not([hidden])')
        error.wait_for()
        assert error.inner_text() == "容纳人数不能小于 1"
        assert row_counts() == before and PlaceOccupancy.get_by_id(place_id).capacity == 2

        page.fill("#capacity-input", "5")
        page.click("#save")
        page.locator("#saved:not([hidden])").wait_for()
        assert page.locator("#capacity").inner_text() == "5" and PlaceOccupancy.get_by_id(place_id).capacity == 5
    finally:
        context.close()
    assert not page.problems, page.problems


def test_someone_who_is_not_a_place_admin_is_told_so(phone, h5, db):
    phone.goto(f"{h5.base_url}/place-admin/occupancy")
    message = phone.locator("#top-error:not([hidden])")
    message.wait_for()
    assert "场所管理员" in message.inner_text()
    assert phone.locator("#live").is_hidden()
