"""Properties of the colour engine (hypothesis), on both databases: adding a risk fact never
lowers a colour, and the same facts always give the same colour."""

import contextlib
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.colour import ColourHistory, HealthStatus
from models.risk_inputs import (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord, ReleaseNotice,
                                RiskArea, TemperatureRecord, TravelRecord)
from services.colours import colour
from services.colours.colour_rules import SEVERITY
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.conftest import make_person

TODAY = china_today()
FACT_TABLES = (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord, ReleaseNotice, TemperatureRecord,
               TravelRecord, HealthStatus, ColourHistory)

days = st.integers(min_value=0, max_value=20)
facts = st.one_of(
    st.tuples(st.just("contact"), days),
    st.tuples(st.just("temperature"), days, st.decimals("35.0", "41.0", places=1)),
    st.tuples(st.just("travel"), days, st.sampled_from(["420100", "440305", "110101"])),
    st.tuples(st.just("medicine"), days),
    st.tuples(st.just("case"), days, st.sampled_from(["confirmed", "suspected"])),
    # A status is replaced, not added: "confirmed isolation" is the risk fact; pending or
    # released are not facts that add risk (and a release is meant to lower the colour).
    st.tuples(st.just("isolation"), days),
)


def add(person, fact) -> None:
    kind, ago = fact[0], fact[1]
    day = TODAY - dt.timedelta(days=ago)
    moment = dt.datetime.utcnow() - dt.timedelta(days=ago)
    if kind == "contact":
        risk_inputs.add_close_contacts([{"id_number": person.id_number, "listed_on": day}])
    elif kind == "temperature":
        risk_inputs.record_temperature(person, fact[2], measured_at=moment)
    elif kind == "travel":
        risk_inputs.record_travel(person, arrival_date=day, origin_code=fact[2])
    elif kind == "medicine":
        risk_inputs.add_fever_medicine_purchases([{"id_number": person.id_number, "pharmacy": "药房",
                                                   "purchased_at": moment}])
    elif kind == "case":
        risk_inputs.report_cases([{"id_number": person.id_number, "kind": fact[2], "reported_on": day}])
    elif kind == "isolation":
        risk_inputs.set_isolation(person.subject, "confirmed", since=day)


def wipe() -> None:
    for table in FACT_TABLES:
        table.delete().execute()


def setup_areas() -> None:
    if not RiskArea.select().exists():
        risk_inputs.set_risk_area(code="420000", name="湖北省", area_level="province", risk="key",
                                  effective_from="2020-01-01")
        risk_inputs.set_risk_area(code="440305", name="深圳市南山区", area_level="district", risk="high",
                                  effective_from="2020-01-01")


@contextlib.contextmanager
def person_with(fact_list):
    """A person with `fact_list` added, in the risk areas of setup_areas; every fact and the person
    are deleted after (hypothesis runs many examples in one test's database)."""
    setup_areas()
    person = make_person(1)
    try:
        for fact in fact_list:
            add(person, fact)
        yield person
    finally:
        wipe()
        person.delete_instance()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(facts, max_size=5), facts)
def test_adding_a_fact_never_lowers_the_colour(db, earlier, extra):
    with person_with(earlier) as person:
        before = colour.verdict(person.subject).colour
        add(person, extra)
        after = colour.verdict(person.subject).colour
        assert SEVERITY[after] >= SEVERITY[before]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(facts, max_size=6))
def test_the_same_facts_always_give_the_same_colour(db, fact_list):
    with person_with(fact_list) as person:
        stored = colour.verdict(person.subject).colour
        hits = colour.evaluate([person.subject])
        again = colour.evaluate([person.subject])
        assert hits == again
        colour.recompute(None, why="property")
        assert colour.verdict(person.subject).colour == stored
        # In another order, the same facts give the same colour.
        wipe()
        for fact in reversed(fact_list):
            add(person, fact)
        assert colour.verdict(person.subject).colour == stored
