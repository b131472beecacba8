"""Offline inspectors over HTTP on both databases (N2, N7): the keys and revocation list an
inspector's page caches, codes that carry their colour, and temperature checks queued offline
and replayed (twice: one record each), with the clear errors of a bad queue."""

import base64
import datetime as dt
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.people import Person
from models.places import EntryRecord
from models.risk_inputs import TemperatureRecord
from services.common.timefmt import CHINA
from services.people import health_codes
from tests.api.test_field_roles import declared_place, person
from tests.conftest import assert_error, row_counts


@pytest.fixture
def gate(api):
    """A place, its inspector and a citizen: (inspector, citizen)."""
    declaration_code = declared_place(api)
    inspector = person(api, "inspector", 3, "吴检测")
    inspector.ok("bindPlace", {"declaration_code": declaration_code})
    citizen = person(api, "citizen", 2, "王小明")
    return inspector, citizen


def old_code(citizen, config, seconds_ago: int) -> str:
    """The citizen's dynamic code as shown `seconds_ago` (long expired by now)."""
    me = Person.get(Person.account == citizen.account_id)
    return health_codes.dynamic_code(me, config, now=time.time() - seconds_ago, colour="green")["payload"]


def at(seconds_ago: int) -> str:
    return (dt.datetime.now(CHINA) - dt.timedelta(seconds=seconds_ago)).replace(microsecond=0).isoformat()


def test_the_offline_list_holds_the_keys_and_the_revoked_paper_codes(gate, api):
    inspector, citizen = gate
    kept = citizen.ok("createPaperHealthCode")
    revoked = citizen.ok("createPaperHealthCode")
    citizen.ok("revokePaperHealthCode", path={"code_id": revoked["id"]})
    listed = inspector.ok("getOfflineVerificationList")
    assert listed["revoked_paper_codes"] == [revoked["id"]] and kept["id"] not in listed["revoked_paper_codes"]
    assert listed["algorithm"] == "Ed25519" and listed["generated_at"].endswith("+08:00")
    # The published key verifies a code the citizen shows, and the code carries its colour.
    payload = citizen.ok("getMyHealthCode")["code"]["payload"]
    prefix, body, signature = payload.split(".")
    claims = health_codes.signer_for(api.config).verify(payload)
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(listed["keys"][claims["kid"]]))
    key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), f"{prefix}.{body}".encode())
    assert claims["col"] == "green"
    # Only inspectors and medical staff get it.
    assert_error(citizen.call("getOfflineVerificationList"), 403, "forbidden")


def test_an_offline_queue_replayed_twice_writes_one_record_each(gate, api):
    inspector, citizen = gate
    queue = [
        {"payload": old_code(citizen, api.config, 600), "result": "normal", "temperature": 36.5,
         "request_id": uuid.uuid4().hex, "checked_at": at(590)},
        {"payload": old_code(citizen, api.config, 300), "result": "fever", "temperature": 38.2,
         "request_id": uuid.uuid4().hex, "checked_at": at(295)},
    ]
    first = [inspector.ok("recordTemperatureCheck", item) for item in queue]
    again = [inspector.ok("recordTemperatureCheck", item) for item in queue]
    assert first == again
    assert EntryRecord.select().count() == 2 and TemperatureRecord.select().count() == 2
    entries = {e.request_id: e for e in EntryRecord.select()}
    for item, answer in zip(queue, first):
        entry = entries[item["request_id"]]
        assert '"offline": true' in entry.form
        # The record bears the time of the check, not of the upload.
        assert dt.datetime.fromisoformat(answer["registered_at"]) == dt.datetime.fromisoformat(item["checked_at"])
    assert first[1]["colour"] == "red"
    assert inspector.ok("getInspectorStats")["total"] == 2


@pytest.mark.parametrize("change, status, code, field", [
    ({"checked_at": "yesterday"}, 400, "invalid_field", "checked_at"),
    ({"checked_at": "2020-02-01T08:30:00"}, 400, "invalid_field", "checked_at"),  # no zone
    ({"checked_at": "future"}, 400, "checked_at_in_future", "checked_at"),
    ({"checked_at": "too_old"}, 400, "offline_check_too_old", "checked_at"),
    ({"checked_at": "after_expiry"}, 400, "code_expired", "payload"),
    ({"payload": "HC1.garbage.x"}, 400, "code_malformed", "payload"),
])
def test_a_bad_queued_check_is_refused_and_writes_nothing(gate, api, change, status, code, field):
    inspector, citizen = gate
    item = {"payload": old_code(citizen, api.config, 600), "result": "normal", "temperature": 36.5,
            "request_id": uuid.uuid4().hex, "checked_at": at(590)}
    item.update(change)
    moments = {"future": at(-600), "too_old": at(73 * 3600), "after_expiry": at(500)}
    item["checked_at"] = moments.get(item["checked_at"], item["checked_at"])
    before = row_counts()
    assert_error(inspector.call("recordTemperatureCheck", item), status, code, field)
    assert row_counts() == before


def test_a_request_id_reused_for_another_check_is_a_conflict(gate, api):
    inspector, citizen = gate
    item = {"payload": old_code(citizen, api.config, 600), "result": "normal", "temperature": 36.5,
            "request_id": uuid.uuid4().hex, "checked_at": at(590)}
    inspector.ok("recordTemperatureCheck", item)
    before = row_counts()
    error = assert_error(inspector.call("recordTemperatureCheck", {**item, "result": "fever", "temperature": 38.0}),
                         409, "request_id_conflict", "request_id")
    assert "另一条" in error["message"]
    assert row_counts() == before


def test_two_replays_at_once_write_one_record_and_answer_the_first(gate, api, monkeypatch):
    """The race of a queue sent from two tabs: the second request finds no record, then loses the
    insert on the unique request id; it answers the first answer and its own writes roll back."""
    from models.accounts import Account
    from services.fieldwork import place_admin

    inspector, citizen = gate
    item = {"payload": old_code(citizen, api.config, 600), "result": "fever", "temperature": 38.4,
            "request_id": uuid.uuid4().hex, "checked_at": at(590), "place_id": None}
    first = inspector.ok("recordTemperatureCheck", item)
    before = row_counts()
    looked = []
    real = place_admin._replayed

    def not_yet_written(account, body):
        looked.append(body["request_id"])
        return None if len(looked) == 1 else real(account, body)  # the first look ran before the other commit

    monkeypatch.setattr(place_admin, "_replayed", not_yet_written)
    answer = place_admin.record_temperature_check(Account.get_by_id(inspector.account_id), item, api.config)
    assert answer == first and len(looked) == 2
    assert row_counts() == before


def test_an_expired_revoked_paper_code_leaves_the_list(db):
    """Expiry alone refuses it offline, so the list stays short."""
    from config import TestConfig
    from models.declarations import PaperCode
    from tests.conftest import make_person

    someone = make_person(7)
    config = TestConfig()
    code, _ = health_codes.issue_paper_code(someone, config)
    health_codes.revoke_paper_code(code.id)
    assert health_codes.offline_list(config)["revoked_paper_codes"] == [code.id]
    PaperCode.update(expires_at=dt.datetime(2020, 1, 1)).where(PaperCode.id == code.id).execute()
    assert health_codes.offline_list(config)["revoked_paper_codes"] == []
