"""Names and addresses at rest (issue 23 item 5), on both databases: after a citizen registers a
profile, an official adds a resident and a list row is imported, all with the same name and
address, neither the database file (SQLite) nor a mysqldump (MariaDB) nor the logs captured at
DEBUG hold them in plain text; the exact-name searches still find the rows."""

from __future__ import annotations

import io
import logging
import os
import subprocess
from urllib.parse import unquote, urlparse

from models.db import db as proxy
from models.people import Person
from models.risk_inputs import CloseContact
from tests.admin.conftest import AdminClient
from tests.admin.test_residents_and_entries import rows_of, switch, JINGBA
from tests.admin.test_risk_lists import HEADERS, TODAY, admin, run_import
from tests.conftest import make_id_number
from tests.fakes import xlsx_files as files

NAME = "欧阳明华"
ADDRESS = "郑州市金水区纬五路十二号"
RESIDENT = "司马青云"


def _stored_bytes(backend) -> bytes:
    """Everything the database holds: the SQLite file and its WAL, or a mysqldump."""
    kind, url, _ = backend
    if kind == "sqlite":
        proxy.execute_sql("PRAGMA wal_checkpoint(FULL)")
        path = url[len("sqlite:///"):]
        return b"".join(open(p, "rb").read() for p in (path, path + "-wal") if os.path.exists(p))
    parsed = urlparse(url)
    dump = subprocess.run(["mysqldump", f"-h{parsed.hostname}", f"-P{parsed.port or 3306}",
                           f"-u{parsed.username or 'root'}", parsed.path.lstrip("/")],
                          capture_output=True, check=True, timeout=60)
    return dump.stdout


def test_names_and_addresses_are_in_no_file_dump_or_debug_log(office, as_admin, backend, tmp_path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    # The test's own HTTP client (urllib3) logs the URLs it asks for: not the platform's log.
    handler.addFilter(lambda record: not record.name.startswith("urllib3"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        office.dev_login()
        office.ok("updateProfile", {"name": NAME, "id_number": make_id_number(41), "phone": "13800000041",
                                    "address": ADDRESS, "building": "7", "room": "702"})
        client = as_admin("compound")
        created = client.post("/admin/r/residents/new", {
            "id_type": "resident_id", "id_number": make_id_number(42), "name": RESIDENT, "phone": "13900000042",
            "address": ADDRESS, "building": "1", "room": "101"}, allow_redirects=False)
        assert created.status_code == 302
        job = run_import(admin("cdc_city", "410100", "13820000041"), tmp_path,
                         files.workbook_bytes(HEADERS, [[make_id_number(41), NAME, "", TODAY, "", ""]]))
        assert (job.status, job.good) == ("done", 1)
        client = as_admin("compound")
        switch(client, JINGBA)
        found = rows_of(client.get("/admin/r/residents/", params={"name": RESIDENT}))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logs = unquote(stream.getvalue())  # a query string's name would be percent-encoded
    assert "SELECT" in logs and "INSERT" in logs  # the queries were logged, at DEBUG...
    assert found == ["司***"]  # ...and the exact-name search found the resident through its index
    citizen = Person.get(Person.name_is(NAME))
    assert citizen.address == ADDRESS and CloseContact.get(CloseContact.subject == citizen.subject).name == NAME
    stored = _stored_bytes(backend)
    assert make_id_number(41).encode() not in stored
    for text in (NAME, ADDRESS, RESIDENT, "纬五路"):
        assert text.encode() not in stored, text
        assert text not in logs, text
    assert "cdc_city账号".encode() in stored  # the dump holds the real data (an official's name is plain)
