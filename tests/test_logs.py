"""Logs never hold a full ID number, phone, token or session key."""

import contextlib
import io
import json
import logging

from handlers.base import ApiHandler, operation
from services.operations import logsafe

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


@contextlib.contextmanager
def json_logs():
    """Root's handlers write LOG_FORMAT=json lines for the block; the lines are yielded as a
    list, filled when the block ends. The handlers' formatters are put back after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    formatters = {h: h.formatter for h in root.handlers}
    lines: list = []
    logsafe.install("INFO", "json")
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for h, formatter in formatters.items():
            h.setFormatter(formatter)
    lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_json_logs_are_one_redacted_object_a_line():
    logsafe.REQUEST.set(None)  # outside any request (a test of the routing may have found one here)
    with json_logs() as lines:
        logging.getLogger("healthcode.test").warning(
            "looking up %s phone 13800000000 Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", ID,
            extra={"phone": "+86 138-0000-0000", "detail": {"id_number": ID}})
        try:
            raise RuntimeError(f"failed for {ID} token=abcdefghijklmnopqrstuvwxyz012345")
        except RuntimeError:
            logging.getLogger("healthcode.test").exception("failed")
    first, failure = lines
    assert list(first)[:8] == ["time", "level", "logger", "request_id", "operation", "status", "duration_ms",
                               "message"]
    assert (first["level"], first["logger"], first["request_id"]) == ("WARNING", "healthcode.test", None)
    assert first["time"].endswith("+00:00")
    text = json.dumps(lines, ensure_ascii=False)
    assert ID not in text and "13800000000" not in text and "0000-0000" not in text
    assert "abcdefghijklmnopqrstuvwxyz012345" not in text
    assert "110101*****0011" in first["message"] and "138****0000" in first["message"]
    assert "138****0000" in first["phone"]
    assert first["detail"] == {"id_number": "110101*****0011"}
    assert "RuntimeError" in failure["exc_info"] and "110101*****0011" in failure["exc_info"]


def test_json_access_lines_carry_the_request_id_operation_status_and_duration(make_server):
    api = make_server()
    with json_logs() as lines:
        api.dev_login()
        api.call("getProfile", headers={"X-Request-Id": "req-json-000001"})
        api.call("updateProfile", {"id_number": ID[:-1] + "9"}, headers={"X-Request-Id": "req-json-000002"})
        api.get("/healthz")  # answered after the line before it was logged (one loop, in turn)
    access = {line["request_id"]: line for line in lines if line["logger"] == "tornado.access"}
    assert access["req-json-000001"]["operation"] == "getProfile" and access["req-json-000001"]["status"] == 200
    assert isinstance(access["req-json-000001"]["duration_ms"], float)
    bad = access["req-json-000002"]
    assert (bad["operation"], bad["status"], bad["level"]) == ("updateProfile", 400, "WARNING")
    # The handler's own line for the refused body carries the same request id.
    assert any(line["request_id"] == "req-json-000002" and line["logger"] == "healthcode.api" for line in lines)
    assert ID[:-1] not in json.dumps(lines, ensure_ascii=False)
