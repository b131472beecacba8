"""地铁等其他类型后台管理 (G5) over HTTP on both databases: the venue roles, the statistics page
(hourly cards above the search, the search's own sums under it, export), list management
(activation counts, searches, edit shown on the scan page), the medical entry list, and the
misuse cases: another type's place (403), another district (403), a reversed or over-long date
range, a negative N, an edit with an empty name — each a clear error with nothing written."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid

import openpyxl
import pytest

from admin import venue_pages
from jobs import hourly_stats
from models.fieldwork import OperationLog
from models.places import EntryRecord, Place, PlaceCode
from services.accounts import admin_auth
from services.back_office import statistics
from services.common.regions import load_tree
from services.common.timefmt import china_day_start, china_today
from services.operations import demo
from services.operations.demo import ZHENGZHOU
from services.venues import places
from tests.admin.conftest import CAPTCHA, AdminClient, create_admins, page_error, region_names
from tests.conftest import make_person, row_counts

TODAY = china_day_start()  # naive UTC of today's 00:00 in China
JOB_NOW = TODAY + dt.timedelta(hours=6)  # the job "runs" at 06:00 today (China)


def activate(type_code: str, answers: dict) -> Place:
    """A blank code of the type, activated with the answers (the real first scan's path)."""
    batch = places.generate_batch(type_code, 1)
    code = PlaceCode.get(PlaceCode.batch == batch)
    return places.activate(code.token, answers, None)


def scans(place: Place, when: dt.datetime, colours: str, person=None) -> None:
    """Entries at `place` from `when` on, one per letter: g(reen) y(ellow) o(range) r(ed)."""
    person = person or make_person(1)
    names = {"g": "green", "y": "yellow", "o": "orange", "r": "red"}
    for i, letter in enumerate(colours):
        EntryRecord.create(request_id=uuid.uuid4().hex, place=place, person=person, flow="customer", source="self",
                           colour=names[letter], admitted=letter == "g", verdict="{}",
                           created_at=when + dt.timedelta(seconds=i))


def taxi(plate: str, company: str, phone: str, name: str = "张师傅") -> Place:
    return activate("taxi", {"company": company, "plate": plate, "contact_name": name, "contact_phone": phone})


def market(type_code: str, name: str, district: str, phone: str, **extra) -> Place:
    return activate(type_code, {"name": name, "district_code": district, "contact_name": "李经理",
                                "contact_phone": phone, **extra})


@pytest.fixture
def venues(make_server, sms):
    """The server with the venue pages, the demo regions, and admins: city, 金水 district, and
    venue admins (taxi, bus city-wide; medical for 金水 only)."""
    from config import TestConfig

    statistics.forget_summaries()  # figures kept by an earlier test of this process
    server = make_server(captcha_fixed_answer=CAPTCHA, extra_routes=venue_pages.routes(TestConfig()))
    load_tree(ZHENGZHOU)
    demo.load()
    admins = server.admins = create_admins(("city", "13820000001", "city", "410100"),
                                           ("jinshui", "13820000002", "district", "410105"),
                                           ("taxi", "13820000003", "v_taxi", "410100"),
                                           ("bus", "13820000004", "v_bus", "410100"),
                                           ("medical_jinshui", "13820000005", "v_medical_d", "410105"),
                                           ("compound", "13820000006", "compound", "410105001001001"))

    def sign_in(key: str) -> AdminClient:
        _, phone, password = admins[key]
        client = AdminClient(server.base_url)
        assert client.login(phone, password).status_code == 302
        return client

    server.sign_in = sign_in
    return server


def cells(page, label: str) -> list[str]:
    return re.findall(rf'<td data-label="{label}">([^<]*)</td>', page.text)


def figure(page, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">([^<]*)<', page.text)
    assert found, element_id
    return int(found.group(1))


@pytest.fixture
def taxis(venues):
    """Two taxis with scans today, yesterday and 40 days ago, aggregated by the hourly job."""
    first = taxi("豫A12345", "郑州出租一公司", "13900000011")
    second = taxi("豫B67890", "郑州出租二公司", "13900000012")
    scans(first, TODAY + dt.timedelta(hours=1), "ggyr")  # today: 4 scans, 2 abnormal
    scans(first, TODAY - dt.timedelta(hours=20), "gggo")  # yesterday: 4, 1 abnormal
    scans(second, TODAY + dt.timedelta(hours=2), "gg")  # today: 2, 0
    scans(second, TODAY - dt.timedelta(days=40), "rrr")  # 40 days ago: 3, 3
    hourly_stats.run(now=JOB_NOW, retention_days=60)
    return first, second


# --- roles ---------------------------------------------------------------------------------------

def test_every_pre_generated_type_has_its_roles_and_pages(venues):
    assert admin_auth.ROLES["v_bus"] == "公交管理员"
    assert admin_auth.ROLE_LEVELS["v_medical_d"] == ("医疗机构管理员（区县）", "district")
    assert admin_auth.ROLE_LEVELS["v_p_market_d"] == ("专业市场管理员（区县）", "district")
    assert "v_metro_d" not in admin_auth.ROLES  # no 所属区县 in the metro's form
    city = venues.sign_in("city")
    # A city admin makes venue accounts like any other, through 小区账号管理.
    made = city.post("/admin/r/accounts/new", {"phone": "13820000099", "name": "公交新管理员", "role": "v_bus",
                                                **region_names("郑州市")}, allow_redirects=False)
    assert made.status_code == 302, page_error(made)
    bus = venues.sign_in("bus")
    home = bus.get("/admin/", allow_redirects=False)
    assert home.headers["Location"] == "/admin/r/venue_bus_places/"  # the first entry of its menu
    nav = bus.get("/admin/r/venue_bus_stats/").text
    assert "公交扫码统计" in nav and "公交列表管理" in nav
    assert "出租车扫码统计" not in nav and "小区居民管理" not in nav


# --- statistics ----------------------------------------------------------------------------------

def test_the_hourly_summary_stays_while_the_search_sums_follow(venues, taxis):
    first, second = taxis
    client = venues.sign_in("taxi")
    page = client.get("/admin/r/venue_taxi_stats/")
    assert page.status_code == 200
    # Above the search: the hourly summary of every taxi.
    assert (figure(page, "card-scans"), figure(page, "card-abnormal")) == (13, 6)
    assert (figure(page, "card-today"), figure(page, "card-today-abnormal")) == (6, 2)
    assert "扫码数据每小时汇总" in page.text and f"{china_today():%Y-%m-%d} 06:00" in page.text
    assert sorted(cells(page, "车牌号")) == ["豫A12345", "豫B67890"]
    assert cells(page, "公司名称") == ["郑州出租二公司", "郑州出租一公司"]
    assert cells(page, "扫码总次数") == ["5", "8"] and cells(page, "今日扫码次数") == ["2", "4"]
    # The taxi rule: a search by plate changes the sums under it, not the cards above it.
    searched = client.get("/admin/r/venue_taxi_stats/", params={"plate": "A12345"})
    assert cells(searched, "车牌号") == ["豫A12345"]
    assert (figure(searched, "card-scans"), figure(searched, "card-today")) == (13, 6)
    assert (figure(searched, "sum-scans"), figure(searched, "sum-abnormal")) == (8, 3)
    assert (figure(searched, "sum-today"), figure(searched, "sum-today-abnormal")) == (4, 2)
    # By company, by date range (the totals are the range's; today's stay today's).
    by_company = client.get("/admin/r/venue_taxi_stats/", params={"company": "二公司"})
    assert cells(by_company, "车牌号") == ["豫B67890"]
    yesterday = china_today() - dt.timedelta(days=1)
    ranged = client.get("/admin/r/venue_taxi_stats/", params={"date_from": yesterday.isoformat(),
                                                              "date_to": yesterday.isoformat()})
    assert cells(ranged, "扫码总次数") == ["0", "4"]
    assert (figure(ranged, "sum-scans"), figure(ranged, "sum-abnormal"), figure(ranged, "sum-today")) == (4, 1, 6)
    # 当日扫码数量小于等于 N.
    at_most = client.get("/admin/r/venue_taxi_stats/", params={"today_max": "3"})
    assert cells(at_most, "车牌号") == ["豫B67890"] and figure(at_most, "sum-scans") == 5
    assert cells(client.get("/admin/r/venue_taxi_stats/", params={"today_max": "0"}), "车牌号") == []


def test_the_export_is_the_search(venues, taxis):
    client = venues.sign_in("taxi")
    response = client.export("/admin/r/venue_taxi_stats/export", params={"plate": "豫A12345"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    watermark, *rows = list(sheet.iter_rows(values_only=True))
    assert watermark[0].endswith("用途：核查名单数据")
    assert rows[0] == ("序号", "车牌号", "公司名称", "扫码总次数", "扫码异常总次数", "今日扫码次数", "今日异常扫码次数", "更新时间")
    assert len(rows) == 2 and "豫A12345" in rows[1]
    export = OperationLog.get(OperationLog.action == "export")
    assert json.loads(export.detail)["resource"] == "venue_taxi_stats"


@pytest.mark.parametrize("params, message", [
    ({"date_from": "2024-03-02", "date_to": "2024-03-01"}, "开始日期不能晚于结束日期"),
    ({"date_from": "2023-01-01", "date_to": "2024-03-01"}, "查询时间跨度不能超过一年"),
    ({"today_max": "-1"}, "当日扫码数量应为不小于0的整数"),
    ({"today_max": "十"}, "当日扫码数量应为不小于0的整数"),
    ({"date_from": "2024-13-01"}, "日期应为 YYYY-MM-DD 格式"),
])
def test_bad_searches_are_clear_errors_and_write_nothing(venues, taxis, params, message):
    client = venues.sign_in("taxi")
    before = row_counts()
    page = client.get("/admin/r/venue_taxi_stats/", params=params)
    assert page.status_code == 400 and message in page.text
    assert 'value="' + list(params.values())[0] + '"' in page.text  # the search is kept
    export = client.post("/admin/r/venue_taxi_stats/export", {"purpose": "核查车辆"}, params=params)
    assert export.status_code == 400 and message in export.text
    assert row_counts() == before  # not even an export log line


def test_statistics_pages_read_the_statistics_not_the_entries(venues, taxis):
    """The entries can go (retention): the figures stay, because the pages never read them."""
    EntryRecord.delete().execute()
    page = venues.sign_in("taxi").get("/admin/r/venue_taxi_stats/")
    assert (figure(page, "card-scans"), figure(page, "card-today")) == (13, 6)
    assert sorted(cells(page, "扫码总次数")) == ["5", "8"]


# --- scope ---------------------------------------------------------------------------------------

def test_another_types_place_is_403_and_nothing_is_written(venues, taxis):
    first, _ = taxis
    bus = venues.sign_in("bus")
    before = row_counts()
    for path in (f"/admin/r/venue_bus_places/{first.id}", f"/admin/r/venue_bus_places/{first.id}/edit",
                 f"/admin/r/venue_bus_stats/{first.id}"):
        response = bus.get(path)
        assert response.status_code == 403 and "无权查看或操作其他类型的场所" in response.text, path
    edit = bus.post(f"/admin/r/venue_bus_places/{first.id}/edit",
                    {"route": "1路", "plate": "豫A11111", "contact_name": "王", "contact_phone": ""})
    assert edit.status_code == 403
    for path in ("/admin/r/venue_taxi_stats/", "/admin/r/venue_taxi_places/", f"/admin/r/venue_taxi_places/{first.id}",
                 "/admin/r/venue_taxi_stats/export", "/admin/r/residents/"):
        assert bus.get(path).status_code == 403, path
    assert row_counts() == before
    assert Place.get_by_id(first.id).name == "豫A12345"


def test_a_district_venue_admin_sees_its_district_only(venues):
    jinshui = market("medical", "金水区人民医院", "410105", "13900000021")
    erqi = market("medical", "二七区人民医院", "410103", "13900000022")
    scans(jinshui, TODAY + dt.timedelta(hours=1), "gy")
    scans(erqi, TODAY + dt.timedelta(hours=1), "rrr")
    hourly_stats.run(now=JOB_NOW)
    client = venues.sign_in("medical_jinshui")
    page = client.get("/admin/r/venue_medical_stats/")
    assert cells(page, "医疗机构名称") == ["金水区人民医院"]
    assert (figure(page, "card-scans"), figure(page, "card-abnormal")) == (2, 1)
    assert client.get(f"/admin/r/venue_medical_places/{erqi.id}").status_code == 403
    assert client.get(f"/admin/r/venue_medical_places/{jinshui.id}").status_code == 200
    # It cannot move its hospital to another district either.
    before = row_counts()
    moved = client.post(f"/admin/r/venue_medical_places/{jinshui.id}/edit",
                        {"name": "金水区人民医院", "district_code.district": "二七区", "contact_name": "李经理",
                         "contact_phone": ""})
    # Another district is not among its choices: named anyway, it matches nothing it may pick.
    assert moved.status_code == 400 and page_error(moved) == "所属区县：没有名为“二七区”的区县，请从列表中选择"
    assert row_counts() == before and Place.get_by_id(jinshui.id).region.code == "410105"
    # The city's medical figures hold both; the district admin's only its own.
    city = venues.sign_in("city").get("/admin/r/venue_medical_stats/")
    assert figure(city, "card-scans") == 5
    assert figure(venues.sign_in("jinshui").get("/admin/r/venue_medical_stats/"), "card-scans") == 2


# --- list management -----------------------------------------------------------------------------

def test_list_management_counts_searches_and_edits(venues):
    first = market("supermarket", "丹尼斯超市", "410105", "13900000031", credit_code="91410100MA44XXXX1A")
    market("supermarket", "世纪联华", "410103", "13900000032", credit_code="91410100MA44YYYY2B")
    # Activated yesterday: counted in 激活总数, not in 今日激活数.
    Place.update(activated_at=TODAY - dt.timedelta(hours=3)).where(Place.id == first.id).execute()
    client = venues.sign_in("city")
    page = client.get("/admin/r/venue_supermarket_places/")
    assert "激活总数" in page.text and "今日激活数" in page.text
    counts = re.findall(r'<div class="figure"><span>[^<]+</span><strong>(\d+)</strong>', page.text)
    assert counts == ["2", "1"]
    assert "13900000031" not in page.text and "139****0031" in page.text  # masked phones
    search = lambda **params: cells(client.get("/admin/r/venue_supermarket_places/", params=params),  # noqa: E731
                                    "商超名称")
    assert search(phone="139 0000 0032") == ["世纪联华"]  # exact, through the blind index
    assert search(credit_code="91410100ma44xxxx1a") == ["丹尼斯超市"]  # exact, case-folded
    assert search(credit_code="YYYY") == ["世纪联华"]
    assert search(name="丹尼斯") == ["丹尼斯超市"]
    assert search(contact_name="李") == ["世纪联华", "丹尼斯超市"]
    assert search(district="二七") == ["世纪联华"] and search(district="410105") == ["丹尼斯超市"]
    assert client.get("/admin/r/venue_supermarket_places/", params={"phone": "139"}).status_code == 400
    # 编辑: the new name is what the scan page shows at once.
    form = client.get(f"/admin/r/venue_supermarket_places/{first.id}/edit")
    assert 'value="丹尼斯超市"' in form.text and "13900000031" not in form.text
    saved = client.post(f"/admin/r/venue_supermarket_places/{first.id}/edit",
                        {"name": "丹尼斯百货", "district_code.district": "金水区", "credit_code": "91410100MA44XXXX1A",
                         "contact_name": "王店长", "contact_phone": ""}, allow_redirects=False)
    assert saved.status_code == 302, page_error(saved)
    place = Place.get_by_id(first.id)
    assert place.name == "丹尼斯百货" and place.contact_name == "王店长" and place.contact_phone == "13900000031"
    assert json.loads(place.details)["name"] == "丹尼斯百货"
    token = places.current_code(place).token
    assert "丹尼斯百货" in client.http.get(f"{venues.base_url}/s/{token}", timeout=10).text
    assert OperationLog.select().where(OperationLog.action == "update_place").count() == 1


def test_bus_plate_is_searched_in_the_activation_answers(venues):
    activate("bus", {"route": "B1路", "plate": "豫A0001B", "contact_name": "赵", "contact_phone": "13900000041"})
    activate("bus", {"route": "2路", "plate": "豫A0002C", "contact_name": "钱", "contact_phone": "13900000042"})
    client = venues.sign_in("bus")
    page = client.get("/admin/r/venue_bus_places/", params={"plate": "0002"})
    assert cells(page, "公交线路") == ["2路"]
    # "B1" is in the other bus's route, not in any plate: the JSON key is matched, not the text.
    assert cells(client.get("/admin/r/venue_bus_places/", params={"plate": "B1"}), "公交线路") == []


def test_an_edit_with_an_empty_name_is_refused_and_nothing_is_written(venues, taxis):
    first, _ = taxis
    client = venues.sign_in("taxi")
    before = row_counts()
    response = client.post(f"/admin/r/venue_taxi_places/{first.id}/edit",
                           {"company": "郑州出租一公司", "plate": "", "contact_name": "张师傅", "contact_phone": ""})
    assert response.status_code == 400 and page_error(response) == "请填写车牌号"
    bad_phone = client.post(f"/admin/r/venue_taxi_places/{first.id}/edit",
                            {"company": "郑州出租一公司", "plate": "豫A12345", "contact_name": "张", "contact_phone": "123"})
    assert bad_phone.status_code == 400
    assert row_counts() == before and Place.get_by_id(first.id).name == "豫A12345"


# --- medical entries -----------------------------------------------------------------------------

def test_medical_entries_list_and_read_only_detail(venues, taxis):
    hospital = market("medical", "金水区人民医院", "410105", "13900000051")
    person = make_person(2, name="王小明")
    person.set_phone("13700000001")
    person.save()
    scans(hospital, TODAY + dt.timedelta(hours=1), "gr", person=person)
    client = venues.sign_in("medical_jinshui")
    page = client.get("/admin/r/venue_medical_entries/")
    assert cells(page, "姓名") == ["王**", "王**"] and cells(page, "医疗机构名称") == ["金水区人民医院"] * 2
    assert cells(page, "扫码人员状态") == ["红码", "绿码"] and "137****0001" in page.text
    assert cells(client.get("/admin/r/venue_medical_entries/", params={"colour": "red"}), "扫码人员状态") == ["红码"]
    assert len(cells(client.get("/admin/r/venue_medical_entries/", params={"phone": "13700000001"}), "姓名")) == 2
    entry = EntryRecord.select().where(EntryRecord.place == hospital).first()
    detail = client.get(f"/admin/r/venue_medical_entries/{entry.id}")
    assert detail.status_code == 200 and "金水区人民医院" in detail.text
    assert "/edit" not in detail.text and "/delete" not in detail.text
    # A taxi's entry is not the medical list's: 403.
    taxi_entry = EntryRecord.select().where(EntryRecord.place == taxis[0]).first()
    assert client.get(f"/admin/r/venue_medical_entries/{taxi_entry.id}").status_code == 403
    reversed_range = client.get("/admin/r/venue_medical_entries/", params={"date_from": "2024-03-02",
                                                                         "date_to": "2024-03-01"})
    assert reversed_range.status_code == 400 and "开始日期不能晚于结束日期" in reversed_range.text


def test_the_entry_list_pages_by_walking_the_ids_back(venues, taxis, monkeypatch):
    from services.back_office import venue_lists

    monkeypatch.setattr(venue_lists, "WALK_FIRST", 2)  # many small windows, as at ten million rows
    hospital = market("medical", "金水区人民医院", "410105", "13900000071")
    person = make_person(3)
    for i in range(25):
        scans(hospital, TODAY + dt.timedelta(minutes=i), "g", person=person)
        scans(taxis[0], TODAY + dt.timedelta(minutes=i), "gg", person=person)  # other types' rows between
    client = venues.sign_in("medical_jinshui")
    first = client.get("/admin/r/venue_medical_entries/")
    times = cells(first, "登记日期")
    assert len(times) == 20 and times == sorted(times, reverse=True)
    after = re.search(r'after=(\d+)">下一页', first.text).group(1)
    second = client.get("/admin/r/venue_medical_entries/", params={"after": after})
    assert len(cells(second, "登记日期")) == 5 and "下一页" not in second.text
    assert set(cells(first, "登记日期")).isdisjoint(cells(second, "登记日期"))
    # A phone narrows through its index instead, same answer.
    person.set_phone("13700000009")
    person.save()
    assert len(cells(client.get("/admin/r/venue_medical_entries/", params={"phone": "13700000009"}), "登记日期")) == 20
