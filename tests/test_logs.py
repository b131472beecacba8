"""Logs never hold a full ID number, phone, token or session key."""

import io
import logging

from handlers.base import ApiHandler, operation
from services import logsafe

ID = "110101199003070011"


class LeakyHandler(ApiHandler):
    public = True

    @operation("testLeak", "记录敏感数据的接口（仅测试）")
    def get(self):
        logging.getLogger("healthcode.test").info("looking up %s phone 13800000000", ID)
        raise RuntimeError(f"failed for {ID} / 138 0000 0000 / Bearer abcdefghijklmnopqrstuvwxyz012345")


def test_redact_masks_ids_phones_and_tokens():
    text = logsafe.redact(f"id={ID} phone=+86 138-0000-0000 Authorization: Bearer abcdefghijklmnop1234 "
                          "session_key=c2Vzc2lvbmtleXNlY3JldA==")
    assert ID not in text and "110101*****0011" in text
    assert "0000-0000" not in text and "138****0000" in text
    assert "abcdefghijklmnop1234" not in text and "c2Vzc2lvbmtleXNlY3JldA" not in text


def test_server_logs_hold_no_personal_data(make_server):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    logsafe.install("INFO")
    try:
        api = make_server(extra_routes=[(r"/api/v1/test/leak", LeakyHandler)])
        token = api.dev_login()["token"]
        api.ok("updateProfile", {"name": "王小明", "id_number": ID, "phone": "13800000000"})
        api.call("updateProfile", {"id_number": ID[:-1] + "9"})
        assert api.call("testLeak").status_code == 500
    finally:
        root.removeHandler(handler)
    output = stream.getvalue()
    assert "RuntimeError" in output and "110101*****0011" in output  # the failure was logged...
    assert ID not in output and "13800000000" not in output and "0000 0000" not in output  # ...masked
    assert token not in output and "abcdefghijklmnopqrstuvwxyz012345" not in output


def test_query_logs_at_debug_hold_no_parameters(db):
    """peewee logs (sql, params) at DEBUG; the data layer's filter keeps the SQL only."""
    from models.regions import Region

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        assert Region.select().where(Region.name == "王小明的住址").count() == 0
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert "SELECT" in stream.getvalue() and "王小明的住址" not in stream.getvalue()
