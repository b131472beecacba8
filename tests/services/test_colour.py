"""The colour engine on both databases: every default rule at its boundaries, precedence, the
3- and 4-colour schemes, recompute and history, expiry, fail-closed, and bad input."""

import datetime as dt
import json

import pytest
from peewee import fn

from models import db as database
from models.colour import ColourHistory, ColourRule, HealthStatus
from models.fields import utcnow
from models.regions import Region
from models.risk_inputs import TemperatureRecord
from services.colours import colour, colour_rules
from services.common.errors import ApiError
from services.common.regions import add_region
from services.common.timefmt import china_day_start, china_today
from services.risk_data import risk_inputs
from tests.conftest import make_id_number, make_person, row_counts, report_case

TODAY = china_today()


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def colour_on(person, day: dt.date) -> str:
    """The colour a full evaluation gives the person on `day` (no stored state involved)."""
    hits = colour.evaluate([person.subject], today=day).get(person.subject, [])
    return hits[0]["colour"] if hits else "green"


def stored(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


@pytest.fixture
def person(db):
    return make_person(1)


@pytest.fixture
def compound(db):
    province = add_region("410000", "河南省", "province")
    city = add_region("410100", "郑州市", "city", province)
    district = add_region("410105", "金水区", "district", city)
    street = add_region("410105001", "经八路街道", "street", district)
    community = add_region("410105001001", "黄河路社区", "community", street)
    return add_region("410105001001001", "经八路5号院", "compound", community)


# --- red ------------------------------------------------------------------------------------------

def test_close_contact_is_red_on_day_14_and_green_on_day_15(person):
    risk_inputs.add_close_contacts([{"name": "张三", "id_number": person.id_number, "listed_on": TODAY}])
    assert stored(person) == "red"
    assert colour_on(person, TODAY + dt.timedelta(days=13)) == "red"     # day 14
    assert colour_on(person, TODAY + dt.timedelta(days=14)) == "green"   # day 15


def test_fever_threshold_is_37_3(person):
    risk_inputs.record_temperature(person, 37.2)
    assert stored(person) == "green"
    risk_inputs.record_temperature(person, "37.3")
    assert stored(person) == "red"
    verdict = colour.verdict(person.subject).as_dict()
    assert verdict["reasons"] == ["体温异常（≥37.3℃）"] and verdict["guidance"]


def test_fever_counts_for_14_days(person):
    risk_inputs.record_temperature(person, 38.0)
    assert colour_on(person, TODAY + dt.timedelta(days=13)) == "red"
    assert colour_on(person, TODAY + dt.timedelta(days=14)) == "green"


def test_confirmed_and_suspected_cases_are_red_until_closed(person):
    case = report_case(name="张三", id_number=person.id_number, kind="suspected")
    assert stored(person) == "red"
    assert colour_on(person, TODAY + dt.timedelta(days=60)) == "red"  # no window: until closed
    risk_inputs.close_case(case.id)
    assert stored(person) == "green"


def test_confirmed_isolation_is_red_and_released_is_not(person):
    risk_inputs.set_isolation(person.subject, "pending")
    assert stored(person) == "green"
    risk_inputs.set_isolation(person.subject, "confirmed")
    assert stored(person) == "red"
    risk_inputs.set_isolation(person.subject, "released")
    assert stored(person) == "green"


def test_a_release_notice_lifts_contact_fever_and_isolation_but_not_a_case(person):
    risk_inputs.add_close_contacts([{"id_number": person.id_number, "listed_on": days_ago(3)}])
    risk_inputs.record_temperature(person, 38.5, measured_at=dt.datetime.utcnow() - dt.timedelta(days=2))
    risk_inputs.set_isolation(person.subject, "confirmed", since=days_ago(3))
    notice = risk_inputs.issue_release_notice(person, reason="隔离期满")
    assert stored(person) == "green"
    report_case(id_number=person.id_number, kind="confirmed")
    assert stored(person) == "red"
    assert [h["rule"] for h in colour.verdict(person.subject).hits] == ["case"]
    # A fever after the notice is red again; a revoked notice brings the old reds back.
    risk_inputs.revoke_release_notice(notice.id)
    assert {h["rule"] for h in colour.verdict(person.subject).hits} == {"case", "close_contact", "fever", "isolation"}


def test_a_notice_does_not_lift_a_later_fever(person):
    risk_inputs.issue_release_notice(person, issued_on=days_ago(1))
    risk_inputs.record_temperature(person, 37.8)
    assert stored(person) == "red"


# --- orange and yellow ----------------------------------------------------------------------------

def test_key_region_within_14_days_is_orange(person):
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    risk_inputs.record_travel(person, arrival_date=days_ago(13), origin_code="420106", origin_name="武汉市武昌区")
    assert stored(person) == "orange"                                      # day 14
    assert colour_on(person, TODAY + dt.timedelta(days=1)) == "green"      # day 15


def test_travel_before_the_area_was_listed_does_not_count(person):
    risk_inputs.record_travel(person, arrival_date=days_ago(5), origin_code="440305")
    risk_inputs.set_risk_area(code="440305", name="深圳市南山区", area_level="district", risk="high",
                              effective_from=days_ago(2))
    assert stored(person) == "green"


def test_listing_a_high_risk_area_recomputes_its_travellers(person):
    other = make_person(2)
    risk_inputs.record_travel(person, arrival_date=days_ago(3), origin_code="440305", transport="train",
                              transport_number="G80")
    risk_inputs.record_travel(other, arrival_date=days_ago(3), origin_code="440306")
    risk_inputs.set_risk_area(code="440305", name="深圳市南山区", area_level="district", risk="high",
                              effective_from=days_ago(10))
    assert stored(person) == "yellow" and stored(other) == "green"
    area = risk_inputs.set_risk_area(code="440300", name="深圳市", area_level="city", risk="high",
                                     effective_from=days_ago(10))
    assert stored(other) == "yellow"
    risk_inputs.end_risk_area(area.id, until=days_ago(5))
    assert stored(other) == "green" and stored(person) == "yellow"


def test_own_compound_with_a_case_is_orange_for_its_residents(person, compound):
    person.compound = compound
    person.save()
    neighbour_case = report_case(name="李四", id_number=make_id_number(50), kind="confirmed",
                                             compound=compound.code)
    assert stored(person) == "orange"
    risk_inputs.close_case(neighbour_case.id)
    assert stored(person) == "green"


def test_fever_medicine_within_14_days_is_yellow(person):
    # Bought today in China (an hour ago, or at midnight when China's day began less than an
    # hour ago): the 14 days count from that day.
    bought = max(utcnow() - dt.timedelta(hours=1), china_day_start(TODAY))
    risk_inputs.add_fever_medicine_purchases([{"name": "张三", "id_number": person.id_number,
                                               "pharmacy": "大药房", "medicine": "布洛芬", "purchased_at": bought}])
    assert stored(person) == "yellow"
    assert colour_on(person, TODAY + dt.timedelta(days=13)) == "yellow"
    assert colour_on(person, TODAY + dt.timedelta(days=14)) == "green"


def test_list_entries_match_people_who_register_later(db):
    number = make_id_number(7)
    risk_inputs.add_close_contacts([{"name": "王五", "id_number": number}])
    later = make_person(7)
    assert colour.verdict(later.subject).colour == "red"


# --- precedence and schemes -----------------------------------------------------------------------

def test_the_worst_colour_wins_and_all_reasons_are_kept(person):
    risk_inputs.add_fever_medicine_purchases([{"id_number": person.id_number, "pharmacy": "药房"}])
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    risk_inputs.record_travel(person, arrival_date=TODAY, origin_code="420100")
    assert stored(person) == "orange"
    risk_inputs.record_temperature(person, 39.0)
    verdict = colour.verdict(person.subject)
    assert verdict.colour == "red"
    assert [h["colour"] for h in verdict.hits] == ["red", "orange", "yellow"]
    assert len(verdict.as_dict()["reasons"]) == 3


def test_three_colour_scheme_shows_orange_as_yellow(person):
    risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                              effective_from="2020-01-01")
    risk_inputs.record_travel(person, arrival_date=TODAY, origin_code="420100")
    verdict = colour.verdict(person.subject)
    assert verdict.as_dict(scheme=4)["colour"] == "orange"
    three = verdict.as_dict(scheme=3)
    assert three["colour"] == "yellow" and three["colour_label"] == "黄码"
    assert three["details"][0]["colour"] == "yellow"


# --- recompute, history, the job ------------------------------------------------------------------

def test_history_records_each_change_with_reasons_and_why(person):
    risk_inputs.record_temperature(person, 38.2)
    risk_inputs.issue_release_notice(person)
    rows = list(ColourHistory.select().order_by(ColourHistory.id))
    assert [(r.from_colour, r.to_colour, r.why) for r in rows] == [
        ("green", "red", "temperature_recorded"), ("red", "green", "release_notice")]
    assert json.loads(rows[0].reasons)[0]["reason"] == "体温异常（≥37.3℃）"
    assert [h["to"] for h in colour.history(person.subject)] == ["green", "red"]


def test_full_recompute_turns_expired_windows_green_and_is_idempotent(person):
    other = make_person(2)
    risk_inputs.add_close_contacts([{"id_number": person.id_number}, {"id_number": other.id_number}])
    risk_inputs.set_isolation(other.subject, "confirmed")
    result = colour.recompute(None, why="job", today=TODAY + dt.timedelta(days=14))
    assert result["changed"] == 1
    assert stored(person) == "green" and stored(other) == "red"
    assert colour.recompute(None, why="job", today=TODAY + dt.timedelta(days=14))["changed"] == 0


def test_reading_after_the_window_recomputes_without_the_job(person):
    risk_inputs.add_close_contacts([{"id_number": person.id_number, "listed_on": days_ago(13)}])
    assert colour.verdict(person.subject).colour == "red"
    assert colour.verdict(person.subject, today=TODAY + dt.timedelta(days=1)).colour == "green"
    assert stored(person) == "green"
    assert ColourHistory.select().where(ColourHistory.why == "read_after_expiry").count() == 1


def population(count: int = 7) -> list:
    """People on lists of several kinds: some red for days yet, some turning green tomorrow."""
    people = [make_person(n) for n in range(1, count + 1)]
    risk_inputs.add_close_contacts([{"id_number": p.id_number} for p in people[0::3]])
    risk_inputs.add_close_contacts([{"id_number": p.id_number, "listed_on": days_ago(13)} for p in people[1::3]])
    for p in people[2::3]:
        risk_inputs.record_temperature(p, 38.0)
    risk_inputs.set_isolation(people[1].subject, "confirmed")
    return people


def colours_stored() -> dict:
    return {r.subject: (r.colour, r.reasons, r.valid_until) for r in HealthStatus.select()}


def history_since(last_id: int) -> list:
    return sorted((r.subject, r.from_colour, r.to_colour, r.why)
                  for r in ColourHistory.select().where(ColourHistory.id > last_id))


def restore(rows: list[dict], last_id: int) -> None:
    HealthStatus.delete().execute()
    for row in rows:
        HealthStatus.create(**row)
    ColourHistory.delete().where(ColourHistory.id > last_id).execute()


def test_chunked_reads_and_writes_give_the_same_colours_and_history(db, monkeypatch):
    population()
    tomorrow = TODAY + dt.timedelta(days=1)  # day 15 of the older listings: some turn green
    before = [r for r in HealthStatus.select().dicts()]
    last_id = ColourHistory.select(fn.MAX(ColourHistory.id)).scalar() or 0
    whole = colour.recompute(None, why="job", today=tomorrow)
    whole_state, whole_history = colours_stored(), history_since(last_id)

    restore(before, last_id)
    monkeypatch.setattr(colour, "READ_CHUNK", 2)
    monkeypatch.setattr(colour, "WRITE_CHUNK", 1)
    monkeypatch.setattr(colour, "MYSQL_WRITE_CHUNK", 1)
    chunked = colour.recompute(None, why="job", today=tomorrow)
    assert chunked == whole and whole["changed"] > 0
    assert colours_stored() == whole_state
    assert history_since(last_id) == whole_history
    assert colour.recompute(None, why="job", today=tomorrow)["changed"] == 0


def test_reasons_with_quotes_backslashes_and_percents_are_stored_as_they_are(db, monkeypatch):
    # On MySQL the rows are written as literal text, one statement per row here.
    monkeypatch.setattr(database, "STATEMENT_CHARS", 1)
    people = population(4)
    colour_rules.save_rule({"code": "odd_text", "colour": "yellow", "input": "close_contact", "conditions": [],
                            "window_days": 14,
                            "reason": "体温 >= 37.3 'x' \"y\" \\ %s %% 100%", "guidance": "%(name)s \\'"})
    HealthStatus.delete().execute()
    ColourHistory.delete().execute()
    assert colour.recompute(None, why="it's 100%")["changed"] == len(people)
    expected = colour.evaluate(None)
    assert {r.subject: json.loads(r.reasons) for r in HealthStatus.select()} == expected
    assert {(r.subject, r.why, r.reasons) for r in ColourHistory.select()} == {
        (r.subject, "it's 100%", r.reasons) for r in HealthStatus.select()}


def test_a_recompute_with_nothing_to_change_takes_no_write_transaction(db, monkeypatch):
    population()
    writes = []
    real = colour._write_changes
    monkeypatch.setattr(colour, "_write_changes", lambda *a: writes.append(len(a[0])) or real(*a))
    monkeypatch.setattr(colour, "WRITE_CHUNK", 2)
    monkeypatch.setattr(colour, "MYSQL_WRITE_CHUNK", 2)
    tomorrow = TODAY + dt.timedelta(days=1)
    result = colour.recompute(None, why="job", today=tomorrow)
    assert writes and max(writes) <= 2 and result["changed"] > 0  # only the people whose colour changed
    writes.clear()
    assert colour.recompute(None, why="job", today=tomorrow)["changed"] == 0
    assert writes == []


def test_a_colour_changed_between_the_read_and_the_write_is_written_once(person, monkeypatch):
    risk_inputs.add_close_contacts([{"id_number": person.id_number, "listed_on": days_ago(13)}])
    tomorrow = TODAY + dt.timedelta(days=1)
    real, raced = colour._stored_states, []

    def read_then_a_scan_recomputes(targets, pause=colour._no_pause):
        states = real(targets, pause)
        if not raced:  # once: the scan's own recompute reads through here too
            raced.append(True)
            assert colour.verdict(person.subject, today=tomorrow).colour == "green"  # read after expiry
        return states

    monkeypatch.setattr(colour, "_stored_states", read_then_a_scan_recomputes)
    assert colour.recompute(None, why="job", today=tomorrow)["changed"] == 0
    assert stored(person) == "green"
    assert [(r.from_colour, r.to_colour, r.why) for r in ColourHistory.select().order_by(ColourHistory.id)] == [
        ("green", "red", "close_contact_listed"), ("red", "green", "read_after_expiry")]


def test_a_paced_recompute_pauses_between_chunks_outside_any_transaction(db, monkeypatch):
    population()
    monkeypatch.setattr(colour, "READ_CHUNK", 2)
    monkeypatch.setattr(colour, "WRITE_CHUNK", 1)
    monkeypatch.setattr(colour, "MYSQL_WRITE_CHUNK", 1)
    in_transaction = []
    result = colour.recompute(None, why="job", today=TODAY + dt.timedelta(days=1),
                              pause=lambda: in_transaction.append(database.db.in_transaction()))
    rules = len(colour_rules.load_rules())
    # After each rule's query, after building the answers, between pages, between write transactions.
    assert len(in_transaction) >= rules + 1 + result["changed"] - 1
    assert not any(in_transaction)


# --- fail closed ----------------------------------------------------------------------------------

def test_no_rules_means_unknown_not_green(person):
    ColourRule.delete().execute()
    assert colour.verdict(person.subject).colour == "unknown"
    assert colour.verdict(person.subject).as_dict()["reasons"] == [colour.UNKNOWN_REASON]


def test_corrupt_rule_data_means_unknown(person):
    ColourRule.update(conditions="{not json").where(ColourRule.code == "fever").execute()
    assert colour.verdict(person.subject).colour == "unknown"
    ColourRule.update(conditions=json.dumps([{"field": "nope", "op": "=", "value": 1}])).where(
        ColourRule.code == "fever").execute()
    assert colour.verdict(person.subject).colour == "unknown"
    with pytest.raises(colour_rules.RuleDataError):
        colour.recompute(None)


def test_facts_written_while_rules_are_broken_are_not_lost(person):
    ColourRule.update(input="missing_input").where(ColourRule.code == "fever").execute()
    risk_inputs.record_temperature(person, 39.1)  # stored, person marked unknown
    assert TemperatureRecord.select().count() == 1
    assert colour.verdict(person.subject).colour == "unknown"
    ColourRule.update(input="temperature").where(ColourRule.code == "fever").execute()
    assert colour.verdict(person.subject).colour == "red"


def test_a_person_without_an_id_number_is_unknown(db):
    assert colour.verdict(None).colour == "unknown"


# --- rules as data --------------------------------------------------------------------------------

def test_an_admin_rule_changes_colours(person):
    risk_inputs.record_travel(person, arrival_date=days_ago(2), from_abroad=True, country="意大利")
    assert stored(person) == "green"
    colour_rules.save_rule({"code": "abroad", "colour": "red", "input": "travel",
                            "conditions": [{"field": "from_abroad", "op": "=", "value": True}], "window_days": 14,
                            "reason": "14天内境外返回", "guidance": "请配合集中隔离14天", "lifted_by_release": True})
    colour.recompute(None, why="rule_changed")
    assert stored(person) == "red"


@pytest.mark.parametrize("rule, code, field", [
    ({"input": "horoscope"}, "unknown_rule_input", "input"),
    ({"conditions": [{"field": "weight", "op": ">=", "value": 80}]}, "unknown_rule_field", "conditions[0].field"),
    ({"conditions": [{"field": "value", "op": "~", "value": 1}]}, "invalid_rule_condition", "conditions[0].op"),
    ({"conditions": [{"field": "value", "op": ">=", "value": "hot"}]}, "invalid_rule_condition",
     "conditions[0].value"),
    ({"colour": "purple"}, "invalid_field", "colour"),
    ({"window_days": 0}, "invalid_field", "window_days"),
    ({"guidance": ""}, "missing_field", "guidance"),
    ({"priority": 1}, "unknown_rule_field", "priority"),
])
def test_bad_rules_are_refused_and_nothing_is_stored(person, rule, code, field):
    before = list(ColourRule.select().tuples())
    base = {"code": "fever", "colour": "red", "input": "temperature",
            "conditions": [{"field": "value", "op": ">=", "value": 36.0}], "window_days": 14,
            "reason": "测试", "guidance": "测试"}
    with pytest.raises(ApiError) as error:
        colour_rules.save_rule({**base, **rule})
    assert (error.value.code, error.value.field) == (code, field)
    assert list(ColourRule.select().tuples()) == before


# --- bad input to the entry paths -----------------------------------------------------------------

@pytest.mark.parametrize("call, code, field", [
    (lambda p: risk_inputs.record_temperature(p, 33.9), "invalid_temperature", "temperature"),
    (lambda p: risk_inputs.record_temperature(p, 43.1), "invalid_temperature", "temperature"),
    (lambda p: risk_inputs.record_temperature(p, "hot"), "invalid_temperature", "temperature"),
    (lambda p: risk_inputs.record_temperature(p, 36.5, measured_at=dt.datetime.utcnow() + dt.timedelta(days=1)),
     "date_in_future", "measured_at"),
    (lambda p: risk_inputs.record_travel(p, arrival_date=TODAY + dt.timedelta(days=1)), "date_in_future",
     "arrival_date"),
    (lambda p: risk_inputs.record_travel(p, arrival_date=TODAY, origin_code="42"), "invalid_region_code",
     "origin_code"),
    (lambda p: risk_inputs.record_travel(p, arrival_date=TODAY, from_abroad=True), "missing_field", "country"),
    (lambda p: risk_inputs.add_close_contacts([{"id_number": p.id_number},
                                               {"id_number": "110101199003070012"}]),
     "invalid_id_number", "entries[1].id_number"),
    (lambda p: risk_inputs.add_close_contacts([{"id_number": p.id_number,
                                                "listed_on": TODAY + dt.timedelta(days=1)}]),
     "date_in_future", "entries[0].listed_on"),
    (lambda p: report_case(name="x", id_number=p.id_number, kind="probable"), "invalid_field",
     "entries[0].kind"),
    (lambda p: risk_inputs.set_isolation(p.subject, "sleeping"), "invalid_field", "status"),
    (lambda p: risk_inputs.set_risk_area(code="4200", name="湖北", area_level="province", risk="key"),
     "invalid_region_code", "code"),
    (lambda p: risk_inputs.set_risk_area(code="420000", name="湖北", area_level="planet", risk="key"),
     "invalid_field", "area_level"),
])
def test_bad_facts_are_refused_and_nothing_is_stored(person, call, code, field):
    before = row_counts()
    with pytest.raises(ApiError) as error:
        call(person)
    assert (error.value.code, error.value.field) == (code, field)
    assert row_counts() == before


def test_a_compound_must_exist(person):
    with pytest.raises(ApiError) as error:
        report_case(name="x", id_number=person.id_number, kind="confirmed", compound="999")
    assert error.value.code == "unknown_compound"
    assert Region.select().count() == 0


def _fingerprint():
    return database.db.execute_sql(*colour_rules.rules_fingerprint().sql()).fetchone()[0]


def test_every_kind_of_change_to_the_rules_changes_their_fingerprint(db):
    """Whatever writes colour_rule (the service, a hand-made INSERT, UPDATE or DELETE) changes the
    fingerprint the scan compares, in the same transaction: a rolled-back change leaves it."""
    colour_rules.install_defaults()
    seen = [_fingerprint()]
    rule = ColourRule.select().order_by(ColourRule.id).first()
    changes = [lambda: ColourRule.update(reason="改过").where(ColourRule.id == rule.id).execute(),
               lambda: database.db.execute_sql("DELETE FROM colour_rule WHERE id = %d" % rule.id),
               lambda: colour_rules.save_rule({"code": rule.code, "colour": rule.colour, "input": rule.input,
                                               "conditions": json.loads(rule.conditions),
                                               "window_days": rule.window_days, "reason": rule.reason,
                                               "guidance": rule.guidance})]
    for change in changes:
        change()
        seen.append(_fingerprint())
        assert seen[-1] != seen[-2]
    with database.db.atomic() as transaction:
        ColourRule.update(position=99).execute()
        assert _fingerprint() != seen[-1]
        transaction.rollback()
    assert _fingerprint() == seen[-1]
