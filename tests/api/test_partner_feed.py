"""feedRiskRecords (D3): signed batches from partner systems, on SQLite and MariaDB, through the
real server. A signed batch stores its records and turns colours; a resend answers the first
answer and stores nothing twice; every bad request (signature, key, timestamp, nonce, kind, size)
gets its status and code, and nothing is kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from jobs import partner_nonces
from models.colour import HealthStatus
from models.fields import blind_index, utcnow
from models.partners import PartnerBatch, PartnerCredential, PartnerNonce
from models.risk_inputs import CloseContact
from services.colours import colour
from services.common.errors import ApiError
from services.common.regions import load_tree
from services.common.timefmt import china_today
from services.operations.demo import ZHENGZHOU
from services.risk_data import partner_feed
from tests.conftest import assert_error, make_id_number, make_person

PATH = "/api/v1/partner/risk-records"


class Partner:
    """A partner system: signs each request as the README tells partners to."""

    def __init__(self, base_url: str, key_id: str, secret: str):
        self.base_url, self.key_id, self.secret = base_url, key_id, secret

    def send(self, body, *, nonce: str | None = None, timestamp: int | None = None, secret: str | None = None,
             key_id: str | None = None, sign_body: bytes | None = None) -> requests.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(16)
        signed = partner_feed.signature(secret or self.secret, "POST", PATH, stamp, nonce,
                                        hashlib.sha256(sign_body if sign_body is not None else raw).hexdigest())
        headers = {"Content-Type": "application/json", "X-Partner-Key": key_id or self.key_id,
                   "X-Partner-Timestamp": stamp, "X-Partner-Nonce": nonce, "X-Partner-Signature": signed}
        return requests.post(self.base_url + PATH, data=raw, headers=headers, timeout=30)


def batch(batch_id: str, records: list, kind: str = "close_contact") -> dict:
    return {"batch_id": batch_id, "kind": kind, "records": records}


def contact(n: int, **extra) -> dict:
    return {"name": f"密接{n}", "id_number": make_id_number(n), "date": china_today().isoformat(), **extra}


def start_partner(make_server, name: str, region_code: str = "410100", **config) -> Partner:
    """The server (with these settings), the demo regions, and a partner granted close contacts."""
    server = make_server(**config)
    load_tree(ZHENGZHOU)
    credential, secret = partner_feed.create_credential(None, name=name, kinds=["close_contact"],
                                                        region_code=region_code)
    partner = Partner(server.base_url, credential.key_id, secret)
    partner.credential, partner.server = credential, server
    return partner


@pytest.fixture
def police(make_server):
    """A city-wide partner granted close contacts."""
    return start_partner(make_server, "市公安局")


def stored() -> dict:
    """What the feed can have written: list entries, batches, nonces, colours."""
    return {"contacts": CloseContact.select().count(), "batches": PartnerBatch.select().count(),
            "nonces": PartnerNonce.select().count(), "colours": HealthStatus.select().count()}


def test_a_signed_batch_stores_its_records_and_turns_colours(police):
    person = make_person(1, name="王登记")
    assert colour.verdict(person.id_number_bidx).colour == "green"
    wrong = make_id_number(3)[:-1] + ("0" if make_id_number(3)[-1] != "0" else "1")
    response = police.send(batch("police-0001", [contact(1), contact(2), contact(3, id_number=wrong)]))
    assert response.status_code == 200, response.text
    answer = response.json()["data"]
    assert answer["batch_id"] == "police-0001" and answer["kind"] == "close_contact"
    assert answer["received"] == 3 and answer["accepted"] == 2 and answer["replayed"] is False
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(2, "id_number")]
    assert answer["rejected"][0]["code"] and not answer["rejected"][0]["message"].isascii()
    assert CloseContact.select().count() == 2
    # The registered person is red at once; the unregistered one will be the day they register.
    assert colour.verdict(person.id_number_bidx).colour == "red"
    assert HealthStatus.get(HealthStatus.subject == person.id_number_bidx).colour == "red"
    unregistered = blind_index(make_id_number(2), "id_number")
    assert CloseContact.select().where(CloseContact.subject == unregistered).count() == 1
    assert stored()["batches"] == 1 and stored()["nonces"] == 1


def test_a_resend_answers_the_first_answer_and_stores_nothing_twice(police):
    make_person(1)
    first = police.send(batch("police-0002", [contact(1), contact(2)])).json()["data"]
    before = stored()
    again = police.send(batch("police-0002", [contact(1), contact(2)]))  # a new nonce, the same batch
    assert again.status_code == 200, again.text
    answer = again.json()["data"]
    assert answer == {**first, "replayed": True}
    after = stored()
    assert after == {**before, "nonces": before["nonces"] + 1}  # only the new request's nonce
    # The same batch id with other records is refused, and nothing is kept, not even its nonce.
    conflict = police.send(batch("police-0002", [contact(5)]))
    assert_error(conflict, 409, "batch_id_conflict", "batch_id")
    assert stored() == after


def test_the_same_batch_sent_twice_at_once_is_stored_once(police):
    body = batch("police-twice", [contact(n) for n in range(1, 301)])
    with ThreadPoolExecutor(2) as pool:
        answers = [r.json()["data"] for r in pool.map(police.send, [body, body])]
    assert sorted(a["replayed"] for a in answers) == [False, True]
    assert answers[0]["accepted"] == answers[1]["accepted"] == 300
    assert CloseContact.select().count() == 300 and stored()["batches"] == 1 and stored()["nonces"] == 2


def test_the_openapi_document_describes_the_partner_operation(police):
    document = requests.get(police.server.base_url + "/openapi.json", timeout=10).json()
    operation = document["paths"][PATH]["post"]
    assert operation["operationId"] == "feedRiskRecords" and operation["tags"] == ["partner"]
    assert operation["security"] == [{"partnerSignature": []}]
    assert {"401", "403", "409", "413"} <= set(operation["responses"])
    assert "HMAC-SHA256" in operation["description"] and "SHA-256" in operation["description"]
    assert {p["name"] for p in operation["parameters"]} == set(partner_feed.HEADERS.values())
    assert "partnerSignature" in document["components"]["securitySchemes"]
    assert any(tag["name"] == "partner" for tag in document["tags"])
    request = document["components"]["schemas"]["FeedRiskRecordsRequest"]
    assert request["properties"]["records"]["maxItems"] == 10_000 and request["properties"]["records"]["minItems"] == 1


def _revoked(police):
    PartnerCredential.update(status="revoked").where(PartnerCredential.id == police.credential.id).execute()
    return {}


BAD = {
    "bad_signature": (lambda p: {"secret": "not-the-secret"}, 401, "bad_signature", "X-Partner-Signature"),
    "body_changed": (lambda p: {"sign_body": b"{}"}, 401, "bad_signature", "X-Partner-Signature"),
    "unknown_key": (lambda p: {"key_id": "pk_000000000000000000000000"}, 401, "unknown_key", "X-Partner-Key"),
    "revoked_key": (_revoked, 401, "key_revoked", "X-Partner-Key"),
    "old_timestamp": (lambda p: {"timestamp": int(time.time()) - 301}, 401, "timestamp_expired", "X-Partner-Timestamp"),
    "future_timestamp": (lambda p: {"timestamp": int(time.time()) + 400}, 401, "timestamp_expired",
                         "X-Partner-Timestamp"),
    "short_nonce": (lambda p: {"nonce": "abc"}, 401, "invalid_nonce", "X-Partner-Nonce"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_signature_key_or_timestamp_is_401_and_keeps_nothing(police, case):
    make_person(1)
    change, status, code, field = BAD[case]
    before = stored()
    response = police.send(batch("police-bad", [contact(1)]), **change(police))
    assert_error(response, status, code, field)
    assert stored() == before
    assert colour.verdict(blind_index(make_id_number(1), "id_number")).colour == "green"


def test_missing_headers_are_401(police):
    response = requests.post(police.server.base_url + PATH, json=batch("x", [contact(1)]), timeout=10)
    assert_error(response, 401, "signature_missing", "X-Partner-Key")
    assert stored()["contacts"] == 0


def test_a_reused_nonce_is_401_and_keeps_nothing(police):
    nonce = secrets.token_hex(16)
    assert police.send(batch("police-n1", [contact(1)]), nonce=nonce).status_code == 200
    before = stored()
    response = police.send(batch("police-n2", [contact(2)]), nonce=nonce)
    assert_error(response, 401, "nonce_reused", "X-Partner-Nonce")
    assert stored() == before
    assert not PartnerBatch.select().where(PartnerBatch.batch_id == "police-n2").exists()


def test_a_kind_not_granted_is_403_and_keeps_nothing(police):
    response = police.send(batch("police-k", [contact(1)], kind="key_person"))
    assert_error(response, 403, "kind_not_granted", "kind")
    assert stored() == {"contacts": 0, "batches": 0, "nonces": 0, "colours": 0}


def test_a_batch_over_10000_records_is_413_and_keeps_nothing(police):
    records = [contact(n % 1000) for n in range(10_001)]
    response = police.send(batch("police-big", records))
    assert_error(response, 413, "batch_too_large", "records")
    assert stored() == {"contacts": 0, "batches": 0, "nonces": 0, "colours": 0}


def test_the_body_cap_is_raised_for_this_route_only(make_server):
    partner = start_partner(make_server, "通信大数据平台", partner_max_body_bytes=200_000)
    server = partner.server
    # ~100 KB: over the JSON API's 64 KB, under this route's cap.
    records = [contact(n % 1000, remark="来自通信大数据行程分析" * 4) for n in range(800)]
    body = json.dumps(batch("tel-1", records), ensure_ascii=False).encode()
    assert 65536 < len(body) < 200_000
    response = partner.send(body)
    assert response.status_code == 200, response.text[:300]
    other = requests.post(server.base_url + "/api/v1/auth/dev/login", data=body, timeout=10)
    assert_error(other, 413, "body_too_large")
    before = stored()
    huge = json.dumps(batch("tel-2", records * 3), ensure_ascii=False).encode()
    assert len(huge) > 200_000
    assert_error(partner.send(huge), 413, "body_too_large")
    assert stored() == before


def test_bad_bodies_are_400_and_keep_nothing(police):
    assert_error(police.send(b"not json"), 400, "invalid_json")
    assert_error(police.send(batch("bad id!", [contact(1)])), 400, "invalid_field", "batch_id")
    assert_error(police.send(batch("police-e", [])), 400, "empty_batch", "records")
    assert_error(police.send(batch("police-u", [contact(1)], kind="telepathy")), 400, "invalid_field", "kind")
    tomorrow = (china_today() + dt.timedelta(days=1)).isoformat()
    assert_error(police.send({**batch("police-f", [contact(1)]), "listed_on": tomorrow}), 400, "date_in_future",
                 "listed_on")
    assert stored() == {"contacts": 0, "batches": 0, "nonces": 0, "colours": 0}


def test_records_of_the_wrong_json_shape_are_rejected_one_by_one_and_the_good_ones_stored(police):
    """A JSON record's texts are texts: no number or array for a name, no integer for a date,
    no field the kind does not have, and no control or bidirectional-override character."""
    records = [contact(0),
               contact(1, name=["甲"]), contact(2, name={"x": 1}), contact(3, remark=123),
               contact(4, region_code=410105), contact(5, date=int(china_today().strftime("%Y%m%d"))),
               contact(6, date=china_today().strftime("%Y%m%d")), contact(7, foo="bar"),
               contact(8, name="\u202e甲"), contact(9, remark="备注\x1b")]
    answer = police.send(batch("police-shape", records)).json()["data"]
    assert answer["accepted"] == 1 and CloseContact.select().count() == 1
    assert [(r["index"], r["field"], r["code"]) for r in answer["rejected"]] == [
        (1, "name", "invalid_field"), (2, "name", "invalid_field"), (3, "remark", "invalid_field"),
        (4, "region_code", "invalid_field"), (5, "date", "invalid_field"), (6, "date", "invalid_date"),
        (7, "foo", "unknown_field"), (8, "name", "control_characters"), (9, "remark", "control_characters")]
    assert all(not r["message"].isascii() for r in answer["rejected"])


def test_a_number_past_a_doubles_range_is_invalid_json_and_keeps_nothing(police):
    raw = json.dumps(batch("police-inf", [contact(1)])).replace('"records"', '"weight": 1e999, "records"').encode()
    assert_error(police.send(raw), 400, "invalid_json")
    assert stored() == {"contacts": 0, "batches": 0, "nonces": 0, "colours": 0}


def test_old_nonces_are_purged_by_the_job(police):
    police.send(batch("police-p", [contact(1)]))
    assert PartnerNonce.select().count() == 1
    assert partner_nonces.run(utcnow() + dt.timedelta(minutes=5)) == {"purged": 0}  # still in the window
    assert partner_nonces.run(utcnow() + dt.timedelta(minutes=11)) == {"purged": 1}
    assert PartnerNonce.select().count() == 0


def test_a_partner_feeds_only_within_its_region(make_server):
    partner = start_partner(make_server, "金水分局", "410105")
    records = [contact(1, region_code="410105001001001"), contact(2, region_code="410103"), contact(3)]
    answer = partner.send(batch("jinshui-1", records)).json()["data"]
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"], r["code"]) for r in answer["rejected"]] == [(1, "region_code", "out_of_scope")]
    assert not CloseContact.select().where(CloseContact.subject == blind_index(make_id_number(2), "id_number")).exists()


def test_a_key_revoked_while_its_batch_waits_stores_nothing(db):
    load_tree(ZHENGZHOU)
    credential, secret = partner_feed.create_credential(None, name="市公安局", kinds=["close_contact"],
                                                        region_code="410100")
    raw = json.dumps(batch("late-1", [contact(1)])).encode()
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {"X-Partner-Key": credential.key_id, "X-Partner-Timestamp": stamp, "X-Partner-Nonce": nonce,
               "X-Partner-Signature": partner_feed.signature(secret, "POST", PATH, stamp, nonce,
                                                             hashlib.sha256(raw).hexdigest())}
    signed = partner_feed.authenticate("POST", PATH, headers, raw)
    PartnerCredential.update(status="revoked").where(PartnerCredential.id == credential.id).execute()
    with pytest.raises(ApiError) as refused:
        partner_feed.feed(signed, json.loads(raw))
    assert (refused.value.status, refused.value.code) == (401, "key_revoked")
    assert stored() == {"contacts": 0, "batches": 0, "nonces": 0, "colours": 0}
