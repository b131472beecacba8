"""services/risk_data/risk_records.py on both databases: each kind turns the colour it should, the reason
names the list and its date, provenance is kept, duplicates are not stored twice, and bad rows
are refused with a code and a field while the good ones count and nothing else is written."""

import datetime as dt

import pytest

from models.colour import HealthStatus
from models.risk_inputs import CaseReport, CloseContact, FeverMedicinePurchase, RiskBatch, RiskListing
from services.colours import colour
from services.common.errors import ApiError
from services.common.regions import add_region
from services.common.timefmt import china_today
from services.risk_data import risk_records
from tests.conftest import make_id_number, make_person, row_counts

TODAY = china_today()
SOURCE = {"source_label": "郑州市疾控中心", "listed_on": TODAY}


@pytest.fixture
def city(db):
    province = add_region("410000", "河南省", "province")
    return add_region("410100", "郑州市", "city", province)


@pytest.fixture
def compound(city):
    district = add_region("410105", "金水区", "district", city)
    street = add_region("410105001", "经八路街道", "street", district)
    community = add_region("410105001001", "黄河路社区", "community", street)
    return add_region("410105001001001", "经八路5号院", "compound", community)


def colour_of(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


def row(n: int, **extra) -> dict:
    return {"id_number": make_id_number(n), "name": "张三", "date": TODAY.isoformat(), **extra}


def test_close_contacts_turn_red_and_the_reason_names_the_list_and_its_date(city):
    person = make_person(1)
    result = risk_records.ingest("close_contact", [row(1), row(2)], source_ref="import:1", region=city, **SOURCE)
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, [])
    assert colour_of(person) == "red"
    verdict = colour.verdict(person.subject).as_dict()
    assert verdict["reasons"] == [f"密切接触者：密接名单（郑州市疾控中心 {TODAY.isoformat()}）"]
    batch = RiskBatch.get_by_id(result.batch_id)
    assert (batch.source_ref, batch.listed_on, batch.region_id, batch.accepted) == ("import:1", TODAY, city.id, 2)
    assert {c.batch_id for c in CloseContact.select()} == {batch.id}
    assert verdict["details"][0]["source"] == batch.title


def test_a_listed_person_who_registers_later_is_red_then(city):
    risk_records.ingest("close_contact", [row(5)], source_ref="import:2", region=city, **SOURCE)
    person = make_person(5)
    assert colour.verdict(person.subject).colour == "red"


def test_a_confirmed_case_in_a_compound_turns_its_neighbours_orange(compound):
    case_person, neighbour = make_person(1, compound=compound), make_person(2, compound=compound)
    result = risk_records.ingest("case", [row(1, kind="确诊", compound_code=compound.code)], source_ref="import:3",
                                 region=None, **SOURCE)
    assert result.accepted == 1
    assert (colour_of(case_person), colour_of(neighbour)) == ("red", "orange")
    case = CaseReport.get()
    assert (case.kind, case.compound_id, case.region_id) == ("confirmed", compound.id, compound.id)


@pytest.mark.parametrize("kind, extra, expected", [
    ("case", {"kind": "asymptomatic"}, "red"),
    ("secondary_contact", {}, "yellow"),
    ("fever_clinic_visit", {"hospital": "省人民医院"}, "yellow"),
    ("fever_medicine", {"pharmacy": "大药房", "medicine": "布洛芬"}, "yellow"),
    ("isolation_order", {"place": "居家"}, "red"),
    ("key_person", {}, "red"),
])
def test_each_kind_turns_the_colour_its_default_rule_says(city, kind, extra, expected):
    person = make_person(1)
    result = risk_records.ingest(kind, [row(1, **extra)], source_ref="partner:p1:b1", region=city, **SOURCE)
    assert (result.accepted, result.rejected) == (1, [])
    assert colour_of(person) == expected
    reason = colour.verdict(person.subject).as_dict()["reasons"][0]
    assert risk_records.KINDS[kind].list_label in reason and TODAY.isoformat() in reason


def test_a_batch_sent_again_stores_nothing_twice(city):
    first = risk_records.ingest("fever_medicine", [row(1, pharmacy="大药房"), row(2, pharmacy="大药房")],
                                source_ref="import:4", region=city, **SOURCE)
    again = risk_records.ingest("fever_medicine", [row(1, pharmacy="大药房"), row(2, pharmacy="大药房")],
                                source_ref="import:5", region=city, **SOURCE)
    assert (first.accepted, again.accepted, again.duplicates) == (2, 0, 2)
    assert FeverMedicinePurchase.select().count() == 2


def test_a_row_repeating_one_of_an_earlier_call_of_the_same_batch_is_a_bad_row(city):
    """An import sends its file 1,000 rows at a time under one reference: a repeat far down the
    file is still a duplicate row, not a record already stored by somebody else."""
    risk_records.ingest("close_contact", [row(1)], source_ref="import:9", region=city, **SOURCE)
    later = risk_records.ingest("close_contact", [row(2), row(1)], source_ref="import:9", region=city, **SOURCE)
    assert (later.accepted, later.duplicates) == (1, 0)
    assert [(r.index, r.field, r.code) for r in later.rejected] == [(1, "id_number", "duplicate_row")]
    other = risk_records.ingest("close_contact", [row(1)], source_ref="import:10", region=city, **SOURCE)
    assert (other.accepted, other.duplicates, other.rejected) == (0, 1, [])


def test_bad_rows_are_refused_with_code_and_field_and_the_good_ones_count(city):
    bad_digit = make_id_number(3)[:-1] + ("0" if make_id_number(3)[-1] != "0" else "1")
    rows = [row(1), row(2, region_code="999999"), row(3, id_number=bad_digit), row(1),
            row(4, date=(TODAY + dt.timedelta(days=1)).isoformat()), row(6, id_number="")]
    result = risk_records.ingest("secondary_contact", rows, source_ref="import:6", region=city, **SOURCE)
    got = {(r.index, r.field, r.code) for r in result.rejected}
    assert got == {(1, "region_code", "unknown_region"), (2, "id_number", "invalid_id_number"),
                   (3, "id_number", "duplicate_row"), (4, "date", "date_in_future"),
                   (5, "id_number", "missing_field")}
    messages = {r.index: r.message for r in result.rejected}
    assert "地区代码不存在" in messages[1] and "校验位" in messages[2] and "第 1 条" in messages[3]
    assert result.accepted == 1
    assert RiskListing.select().count() == 1
    assert RiskBatch.get_by_id(result.batch_id).rejected == 5


def test_a_district_account_may_not_list_people_of_another_district(compound, city):
    other = add_region("410102", "中原区", "district", city)
    result = risk_records.ingest("close_contact", [row(1, region_code=compound.code)], source_ref="form:1",
                                 region=other, **SOURCE)
    assert [(r.field, r.code) for r in result.rejected] == [("region_code", "out_of_scope")]
    assert CloseContact.select().count() == 0


def test_an_unknown_compound_is_refused(city):
    result = risk_records.ingest("case", [row(1, kind="confirmed", compound_code="410100")], source_ref="import:7",
                                 region=city, **SOURCE)
    assert [(r.field, r.code) for r in result.rejected] == [("compound_code", "unknown_compound")]


@pytest.mark.parametrize("kind, rows, status, code", [
    ("no_such_kind", [], 400, "unknown_kind"),
    ("close_contact", [{"id_number": make_id_number(1), "date": TODAY.isoformat()}] * 10_001, 413,
     "too_many_records"),
])
def test_a_refused_call_writes_nothing(city, kind, rows, status, code):
    before = row_counts()
    with pytest.raises(ApiError) as error:
        risk_records.ingest(kind, rows, source_ref="partner:p1:b2", region=city, **SOURCE)
    assert (error.value.status, error.value.code) == (status, code)
    assert row_counts() == before


def test_a_failed_import_is_withdrawn_and_its_colours_lift(city):
    person = make_person(1)
    risk_records.ingest("key_person", [row(1)], source_ref="import:8", region=city, **SOURCE)
    assert colour_of(person) == "red"
    assert risk_records.withdraw_batch("key_person", "import:8") == 1
    assert colour_of(person) == "green"
    assert RiskListing.select().count() == RiskBatch.select().count() == 0
