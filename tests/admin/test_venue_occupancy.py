"""N8 in the back office: a type's statistics page shows the live count of its counting places
(against their capacity, and whether full), read from the database as scans change it."""

from __future__ import annotations

from models.fields import utcnow
from models.places import Place
from models.transactions import run_transaction
from services.venues import occupancy
from tests.admin.test_venues import cells, market, venues  # noqa: F401  (fixture)
from tests.conftest import make_person


def test_the_statistics_page_shows_who_is_inside_the_counting_places(venues):  # noqa: F811
    counting = market("supermarket", "丹尼斯超市", "410105", "13900000031", credit_code="91410100MA44XXXX1A")
    market("supermarket", "世纪联华", "410103", "13900000032", credit_code="91410100MA44YYYY2B")
    occupancy.set_occupancy(None, counting, True, 1)
    client = venues.sign_in("city")
    page = client.get("/admin/r/venue_supermarket_stats/")
    assert 'id="live-occupancy"' in page.text
    assert cells(page, "场所名称") == ["丹尼斯超市"] and cells(page, "当前在场人数") == ["0"]
    assert cells(page, "容纳人数") == ["1"] and cells(page, "状态") == ["可进入"]
    person = make_person(3)
    run_transaction(lambda: occupancy.count_in(Place.get_by_id(counting.id), person, utcnow()))
    page = client.get("/admin/r/venue_supermarket_stats/")
    assert cells(page, "当前在场人数") == ["1"] and "人数已满" in page.text
    occupancy.set_occupancy(None, counting, False)
    assert 'id="live-occupancy"' not in client.get("/admin/r/venue_supermarket_stats/").text
