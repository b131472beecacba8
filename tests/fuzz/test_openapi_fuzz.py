"""Every operation of /openapi.json fuzzed by schemathesis against the real server, on SQLite and
MariaDB, with no token, a citizen's and an inspector's: no answer may be a 5xx, and every answer
must match the schema it declares. WeChat and Alipay are the fake platforms, so their sign-ins
answer as they would (a 4xx for a made-up code), not "not configured".

Each run is bounded in time (FUZZ_SECONDS) and seeded, so a failure can be replayed with the
command it prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from services.accounts import auth
from services.people import profile
from tests.conftest import make_id_number
from tests.fakes.alipay_gateway import FakeAlipay, make_app_keypair
from tests.fakes.wechat_server import FakeWechat

FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "25"))
SEED = 20261204
APPID, ALIPAY_APP_ID = "wx-fuzz-appid", "2021000000000009"
SCHEMATHESIS = shutil.which("schemathesis", path=os.path.dirname(sys.executable))


@pytest.fixture
def platform_server(make_server):
    keys = make_app_keypair()
    with FakeWechat(appid=APPID, secret="fuzz-secret") as wechat, \
            FakeAlipay(app_public_key_pem=keys[1], app_id=ALIPAY_APP_ID) as alipay:
        yield make_server(wechat_appid=APPID, wechat_secret="fuzz-secret", wechat_api_base=wechat.url + "/",
                          alipay_appid=ALIPAY_APP_ID, alipay_private_key=keys[0],
                          alipay_public_key=alipay.alipay_public_key_for_config(),
                          alipay_gateway=alipay.gateway_url, captcha_fixed_answer="ABCD")


def _token(server, who: str) -> str | None:
    """A bearer token for `who`: a citizen with a profile, or an inspector (also a citizen)."""
    if who == "anonymous":
        return None
    identity = auth.sign_in("wechat", f"fuzz-{who}")
    profile.update_profile(identity.account, {"name": "模糊测试", "id_number": make_id_number(77 if who == "citizen" else 78),
                                              "phone": "13800007777"})
    if who == "inspector":
        auth.grant_role(identity.account, "inspector")
    return auth.issue_token(identity, server.config)["token"]


@pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed (pip install -r requirements-dev.txt)")
@pytest.mark.parametrize("who", ["anonymous", "citizen", "inspector"])
def test_no_operation_answers_5xx_or_breaks_its_schema(platform_server, who, tmp_path):
    token = _token(platform_server, who)
    command = [SCHEMATHESIS, "run", platform_server.base_url + "/openapi.json",
               "--checks", "not_a_server_error,response_schema_conformance",
               "--max-time", str(FUZZ_SECONDS), "--seed", str(SEED), "--workers", "1",
               "--request-timeout", "10", "--report-dir", str(tmp_path), "--warnings", "off"]
    if token:
        # Signing out would end the run's session: the anonymous run calls it.
        command += ["-H", f"Authorization: Bearer {token}", "--exclude-operation-id", "authLogout"]
    # Run in tmp_path: schemathesis keeps a cache (.schemathesis/) in its working directory.
    run = subprocess.run(command, capture_output=True, text=True, timeout=FUZZ_SECONDS * 4 + 60,
                         env={**os.environ, "NO_COLOR": "1"}, cwd=tmp_path)
    assert run.returncode == 0, f"schemathesis ({who}) found failures:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
