"""The real-name profile: filled once, answered masked, bad input refused with nothing written."""

import pytest

from models.db import db as proxy
from models.people import Person
from tests.conftest import assert_error, row_counts

ID = "110101199003070011"  # a valid resident ID number (check digit 1)
PROFILE = {"name": "王小明", "gender": "male", "id_type": "resident_id", "id_number": ID, "phone": "13800000000",
           "address": "郑州市金水区经八路5号", "building": "3", "unit": "2", "room": "501",
           "resident_category": "owner", "employer": "郑州某某公司"}


@pytest.fixture
def citizen(api):
    api.dev_login()
    return api


def test_fill_and_read_back_masked(citizen):
    saved = citizen.ok("updateProfile", PROFILE)
    read = citizen.ok("getProfile")
    assert saved == read
    assert read["name"] == "王**"
    assert read["id_number"] == "110101*****0011"
    assert read["phone"] == "138****0000"
    assert read["complete"] is True and read["phone_verified"] is False
    assert read["building"] == "3" and read["resident_category"] == "owner"
    assert read["updated_at"].endswith("+08:00")
    assert ID not in str(read) and "13800000000" not in str(read)


def test_an_empty_profile_reads_as_incomplete(citizen):
    assert citizen.ok("getProfile")["complete"] is False


def test_lower_case_x_is_accepted_and_gender_derived(citizen):
    citizen.ok("updateProfile", {"name": "李四", "id_number": "11010519491231002x"})
    person = Person.get()
    assert person.id_number == "11010519491231002X" and person.gender == "female"


def test_partial_update_keeps_the_rest(citizen):
    citizen.ok("updateProfile", PROFILE)
    result = citizen.ok("updateProfile", {"room": "502", "unit": None})
    assert result["room"] == "502" and result["unit"] is None and result["id_number"] == "110101*****0011"


@pytest.mark.parametrize("changes, code, field", [
    ({"id_number": "110101199003070012"}, "invalid_id_number", "id_number"),   # wrong check digit
    ({"id_number": "110101199002300013"}, "invalid_id_number", "id_number"),   # 30 February
    ({"id_number": "110101209901010010"}, "invalid_id_number", "id_number"),   # born in the future
    ({"id_number": "11010119900307001"}, "invalid_id_number", "id_number"),    # 17 characters
    ({"id_number": "1101011990030700111"}, "invalid_id_number", "id_number"),  # 19 characters
    ({"phone": "1380000000"}, "invalid_phone", "phone"),                       # 10 digits
    ({"phone": "12800000000"}, "invalid_phone", "phone"),
    ({"gender": "female"}, "gender_mismatch", "gender"),
    ({"gender": "robot"}, "invalid_field", "gender"),
    ({"resident_category": "king"}, "invalid_field", "resident_category"),
    ({"id_type": "spaceship"}, "invalid_field", "id_type"),
    ({"name": 42}, "invalid_field", "name"),
    ({"room": ["5"]}, "invalid_field", "room"),
    ({"nickname": "x"}, "unknown_field", "nickname"),
    ({"name": None}, "missing_field", "name"),
    ({"name": ""}, "missing_field", "name"),  # a name may be changed, never wiped
    ({"name": "   "}, "missing_field", "name"),
])
def test_bad_input_is_refused_and_changes_nothing(citizen, changes, code, field):
    citizen.ok("updateProfile", PROFILE)
    before_rows, before_profile = row_counts(), citizen.ok("getProfile")
    before_person = Person.get().__data__.copy()
    assert_error(citizen.call("updateProfile", {**PROFILE, "room": "999", **changes}), 400, code, field)
    assert row_counts() == before_rows
    assert citizen.ok("getProfile") == before_profile
    assert Person.get().__data__ == before_person


def test_first_fill_needs_name_and_id_number(citizen):
    before = row_counts()
    assert_error(citizen.call("updateProfile", {"name": "王小明"}), 400, "missing_field", "id_number")
    assert_error(citizen.call("updateProfile", {"id_number": ID}), 400, "missing_field", "name")
    assert row_counts() == before


def test_other_document_types(citizen):
    result = citizen.ok("updateProfile", {"name": "JOHN SMITH", "id_type": "passport", "id_number": "e12345678"})
    assert result["id_type"] == "passport" and result["id_number"] == "E***8"
    assert_error(citizen.call("updateProfile", {"id_type": "resident_id"}), 400, "missing_field", "id_number")


def test_stored_id_numbers_and_phones_are_not_readable_in_the_database(citizen, backend):
    citizen.ok("updateProfile", PROFILE)
    proxy.close()
    name, url, db_object = backend
    if name == "sqlite":
        path = url[len("sqlite:///"):]
        proxy.connect()
        proxy.execute_sql("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if __import__("os").path.exists(p))
        assert ID.encode() not in raw and b"13800000000" not in raw
        assert "经八路".encode() not in raw and "王小明".encode() not in raw  # names and addresses too (issue 23)
        assert "某某公司".encode() in raw  # the check reads the real data
    else:
        proxy.connect()
        rows = proxy.execute_sql("SELECT * FROM person").fetchall()
        dump = repr(rows)
        assert ID not in dump and "13800000000" not in dump and "经八路" not in dump and "王小明" not in dump
        assert "某某公司" in dump  # the check reads the real data
    assert Person.by_id_number(ID).count() == 1  # the blind index still finds it
