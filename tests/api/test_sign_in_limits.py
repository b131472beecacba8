"""Password guessing is limited, on both databases: the mini-program's password sign-in asks for
an image captcha after three failures and refuses a phone after five (429 with Retry-After),
counting unknown phones alike; one address is held to twenty; failures are audited; and a burst
of sign-ins beyond the sign-in threads is refused at once rather than queued."""

from __future__ import annotations

import concurrent.futures

import pytest

from models.accounts import AuthToken, SignInFailure
from models.fieldwork import OperationLog
from services.accounts import sign_in_limits
from tests.api.test_phone_auth import register, serve
from tests.conftest import assert_error

PHONE, UNKNOWN = "13800138000", "13900139000"


@pytest.fixture
def api(make_server, sms):
    return serve(make_server, captcha_fixed_answer="ABCD")


def login(api, phone, password, **captcha):
    return api.call("authPasswordLogin", {"phone": phone, "password": password, **captcha})


def test_a_captcha_after_three_failures_and_a_pause_after_five(api, sms):
    assert register(api, sms).status_code == 201
    tokens = AuthToken.select().count()
    for phone in (PHONE, UNKNOWN):  # a phone with no account is answered the same way
        for _ in range(3):
            assert_error(login(api, phone, "wrong-one"), 401, "invalid_credentials", None)
        assert_error(login(api, phone, "secret12"), 400, "captcha_required", "captcha")
        for _ in range(2):
            captcha = api.ok("authCaptcha")
            assert captcha["image"].startswith("data:image/png;base64,")
            assert_error(login(api, phone, "wrong-one", captcha_key=captcha["captcha_key"], captcha="ABCD"), 401,
                         "invalid_credentials")
        refused = login(api, phone, "secret12", captcha_key=api.ok("authCaptcha")["captcha_key"], captcha="ABCD")
        assert_error(refused, 429, "too_many_failures")
        assert 800 < int(refused.headers["Retry-After"]) <= 900
    assert AuthToken.select().count() == tokens  # nothing signed in
    failed = OperationLog.select().where(OperationLog.action == "login_failed")
    assert failed.count() == 10 and all("138" not in row.detail for row in failed)
    # Fifteen minutes later the right password works again.
    SignInFailure.update(failed_at=sign_in_limits.utcnow() - sign_in_limits.WINDOW).execute()
    assert login(api, PHONE, "secret12").status_code == 200


def test_a_wrong_captcha_is_refused_and_counts_nothing_against_the_password(api, sms):
    assert register(api, sms).status_code == 201
    for _ in range(3):
        login(api, PHONE, "wrong-one")
    before = SignInFailure.select().count()
    assert_error(login(api, PHONE, "secret12", captcha_key=api.ok("authCaptcha")["captcha_key"], captcha="ZZZZ"),
                 400, "captcha_wrong", "captcha")
    assert SignInFailure.select().count() == before


def test_one_address_is_held_to_twenty_failures(api, sms):
    for n in range(sign_in_limits.PER_ADDRESS):
        assert_error(login(api, f"1390013{n:04d}", "wrong-one"), 401, "invalid_credentials")
    assert_error(login(api, "13700137000", "wrong-one"), 429, "too_many_failures")


def test_a_burst_beyond_the_sign_in_threads_is_refused_at_once(make_server, sms):
    api = serve(make_server, sign_in_workers=1, sign_in_queue=0)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: login(api, f"1390014{n:04d}", "wrong-one"), range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert 401 in statuses and 429 in statuses and set(statuses) <= {401, 429}, statuses
    busy = next(a for a in answers if a.status_code == 429)
    assert busy.json()["error"]["code"] == "sign_in_busy" and busy.headers["Retry-After"] == "1"
