"""An adult family member's consent (N4) over HTTP on both databases: a child needs none; an
adult's code is refused until they consent, by a code sent to their phone or from their own
account; they withdraw it there; the adder's removal withdraws it too. Bad input (consent asked
for a child, a wrong code, no phone, someone else's request) is a clear 4xx that keeps nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from models.fieldwork import OperationLog
from models.people import Person
from models.privacy import FamilyConsent
from services.common.timefmt import china_today
from services.people import identity
from tests.conftest import ApiClient, assert_error, make_id_number, row_counts

ADULT_ID = make_id_number(31, birth="19800101")
ADULT_PHONE = "13700000031"


def _years_ago(years: int, days: int = 0) -> str:
    today = china_today()
    return (today.replace(year=today.year - years) + dt.timedelta(days=days)).strftime("%Y%m%d")


CHILD_ID = make_id_number(32, birth=_years_ago(8))


def _client(api, openid: str, name: str, number: str, phone: str) -> ApiClient:
    client = ApiClient(api.base_url)
    client.dev_login(openid)
    client.ok("updateProfile", {"name": name, "id_number": number, "phone": phone})
    return client


@pytest.fixture
def adder(api):
    return _client(api, "adder", "王家长", make_id_number(30), "13700000030")


def _add(client, name, number, relationship="parent", phone=None):
    return client.ok("addFamilyMember", {"name": name, "relationship": relationship, "id_number": number,
                                         **({"phone": phone} if phone else {})})


def test_age_is_whole_years_in_china_today():
    today = dt.date(2026, 12, 5)
    assert identity.age_of(make_id_number(1, birth="20121205"), today) == 14
    assert identity.age_of(make_id_number(1, birth="20121206"), today) == 13


def test_a_child_needs_no_consent_and_asking_for_it_is_refused(adder, sms):
    child = _add(adder, "王小宝", CHILD_ID, "child")
    assert (child["consent_status"], child["consent_label"]) == ("not_needed", "未满14周岁，无需本人同意")
    assert adder.ok("getMyHealthCode", query={"member_id": child["id"]})["name"] == "王**"
    before = row_counts()
    assert_error(adder.call("sendFamilyConsentCode", {"phone": ADULT_PHONE}, path={"member_id": child["id"]}),
                 400, "consent_not_needed", "member_id")
    assert_error(adder.call("confirmFamilyConsent", {"code": "123456"}, path={"member_id": child["id"]}),
                 400, "consent_not_needed", "member_id")
    assert row_counts() == before and sms.messages == []


def test_an_adult_consents_by_a_code_sent_to_their_phone(adder, sms):
    member = _add(adder, "王爷爷", ADULT_ID, phone=ADULT_PHONE)
    assert member["consent_status"] == "pending"
    for operation in ("getMyHealthCode", "listMyEntries", "getMyReleaseNotice", "listMyDataAccess"):
        assert_error(adder.call(operation, query={"member_id": member["id"]}), 403, "consent_required", "member_id")
    # Asked for confirmation before any code: nothing to check.
    before = row_counts()
    assert_error(adder.call("confirmFamilyConsent", {"code": "123456"}, path={"member_id": member["id"]}),
                 400, "consent_code_not_sent", "code")
    assert row_counts() == before

    sent = adder.ok("sendFamilyConsentCode", {}, path={"member_id": member["id"]})
    assert sent == {"status": "pending", "status_label": "待本人同意", "sent_to": "137****0031"}
    code = sms.last_code(ADULT_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    before = row_counts()
    assert_error(adder.call("confirmFamilyConsent", {"code": wrong}, path={"member_id": member["id"]}),
                 400, "sms_code_wrong", "code")
    assert_error(adder.call("confirmFamilyConsent", {"code": "12345a"}, path={"member_id": member["id"]}),
                 400, "invalid_field", "code")
    short = assert_error(adder.call("confirmFamilyConsent", {"code": "12345"}, path={"member_id": member["id"]}),
                         400, "invalid_field", "code")  # typed, too short: not "empty"
    assert "至少 6 个字符" in short["message"]
    assert row_counts() == before
    assert FamilyConsent.get().status == "pending"
    assert_error(adder.call("getMyHealthCode", query={"member_id": member["id"]}), 403, "consent_required")

    confirmed = adder.ok("confirmFamilyConsent", {"code": code}, path={"member_id": member["id"]})
    assert confirmed["consent_status"] == "granted"
    assert adder.ok("getMyHealthCode", query={"member_id": member["id"]})["id_number"] == identity.mask_id_number(
        ADULT_ID)
    assert_error(adder.call("sendFamilyConsentCode", {}, path={"member_id": member["id"]}),
                 409, "consent_already_granted", "member_id")
    row = FamilyConsent.get()
    assert (row.status, row.method) == ("granted", "sms")
    actions = [r.action for r in OperationLog.select().order_by(OperationLog.id)]
    assert actions[-2:] == ["family_consent_code_sent", "family_consent_granted"]
    assert ADULT_PHONE not in OperationLog.select().order_by(OperationLog.id.desc()).get().detail


def test_wrong_codes_are_limited(adder, sms):
    member = _add(adder, "王爷爷", ADULT_ID, phone=ADULT_PHONE)
    adder.ok("sendFamilyConsentCode", {}, path={"member_id": member["id"]})
    code = sms.last_code(ADULT_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert_error(adder.call("confirmFamilyConsent", {"code": wrong}, path={"member_id": member["id"]}),
                     400, "sms_code_wrong", "code")
    # The code took its five guesses: even the right one is spent now.
    assert_error(adder.call("confirmFamilyConsent", {"code": code}, path={"member_id": member["id"]}),
                 400, "sms_code_expired", "code")
    assert FamilyConsent.get().status == "pending"


def test_no_phone_and_a_failing_provider_keep_nothing(adder, sms):
    member = _add(adder, "王爷爷", ADULT_ID)
    before = row_counts()
    assert_error(adder.call("sendFamilyConsentCode", {}, path={"member_id": member["id"]}), 400, "phone_required",
                 "phone")
    sms.failing = True
    assert_error(adder.call("sendFamilyConsentCode", {"phone": ADULT_PHONE}, path={"member_id": member["id"]}),
                 503, "sms_unavailable")
    assert row_counts() == before
    assert Person.get_by_id(member["id"]).phone is None  # the phone given is not kept either


def test_the_code_goes_to_the_phone_the_adults_own_account_verified(api, adder, sms):
    _client(api, "grandpa", "王爷爷", ADULT_ID, ADULT_PHONE)
    Person.update(phone_verified=True).where(Person.name_is("王爷爷") & (Person.relation == "self")).execute()
    member = _add(adder, "王爷爷", ADULT_ID)
    sent = adder.ok("sendFamilyConsentCode", {"phone": "13900000099"}, path={"member_id": member["id"]})
    assert sent["sent_to"] == "137****0031" and sms.messages[-1][0] == ADULT_PHONE


def test_an_adult_consents_and_withdraws_from_their_own_account(api, adder, sms):
    member = _add(adder, "王爷爷", ADULT_ID, phone=ADULT_PHONE)
    own = _client(api, "grandpa", "王爷爷", ADULT_ID, ADULT_PHONE)
    stranger = _client(api, "stranger", "李路人", make_id_number(33), "13700000033")
    requests = own.ok("listFamilyConsentRequests")["items"]
    assert [(r["id"], r["added_by"], r["status"]) for r in requests] == [(member["id"], "王**", "pending")]
    assert stranger.ok("listFamilyConsentRequests")["items"] == []
    before = row_counts()
    for operation in ("grantFamilyConsent", "withdrawFamilyConsent"):
        assert_error(stranger.call(operation, path={"member_id": member["id"]}), 403, "not_about_you", "member_id")
        assert_error(adder.call(operation, path={"member_id": member["id"]}), 403, "not_about_you", "member_id")
    assert row_counts() == before

    granted = own.ok("grantFamilyConsent", path={"member_id": member["id"]})
    assert (granted["status"], granted["status_label"]) == ("granted", "本人已同意")
    assert adder.ok("listFamilyMembers")["items"][0]["consent_status"] == "granted"
    assert adder.ok("getMyHealthCode", query={"member_id": member["id"]})["name"] == "王**"
    assert_error(own.call("grantFamilyConsent", path={"member_id": member["id"]}), 409, "consent_already_granted")

    withdrawn = own.ok("withdrawFamilyConsent", path={"member_id": member["id"]})
    assert withdrawn["status"] == "withdrawn"
    assert_error(adder.call("getMyHealthCode", query={"member_id": member["id"]}), 403, "consent_required")
    assert_error(own.call("withdrawFamilyConsent", path={"member_id": member["id"]}), 409,
                 "consent_already_withdrawn")
    row = FamilyConsent.get()
    assert (row.status, row.withdrawn_by) == ("withdrawn", "member")


def test_removing_the_member_withdraws_the_consent(api, adder, sms):
    member = _add(adder, "王爷爷", ADULT_ID, phone=ADULT_PHONE)
    own = _client(api, "grandpa", "王爷爷", ADULT_ID, ADULT_PHONE)
    own.ok("grantFamilyConsent", path={"member_id": member["id"]})
    adder.ok("removeFamilyMember", path={"member_id": member["id"]})
    row = FamilyConsent.get()
    assert (row.status, row.withdrawn_by) == ("withdrawn", "adder")
    assert own.ok("listFamilyConsentRequests")["items"] == []


def test_someone_turning_fourteen_today_needs_consent(adder):
    fourteen = _add(adder, "王少年", make_id_number(34, birth=_years_ago(14)), "child")
    thirteen = _add(adder, "王小妹", make_id_number(35, birth=_years_ago(14, days=1)), "child")
    assert (fourteen["consent_status"], thirteen["consent_status"]) == ("pending", "not_needed")
