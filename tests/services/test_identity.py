"""Tests of services.people.identity: ID numbers, documents, phones, masking, free-text finders."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.people.identity import (
    ID_NUMBER_RE,
    ID_TYPES,
    PHONE_RE,
    birth_date_of,
    gender_of,
    id_check_digit,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    validate_document,
    validate_id_number,
    validate_phone,
)
from tests.conftest import error_of

TODAY = date(2024, 6, 1)
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
             50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]


def reference_check(first17: str) -> str:
    """Independent formula: check = (12 - S mod 11) mod 11, with 10 written as X (GB 11643)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(first17: str) -> str:
    return first17 + reference_check(first17)


# -- resident ID numbers ------------------------------------------------------------------------

def test_known_valid_examples():
    # The standard's own example, with an X check digit.
    assert validate_id_number("11010519491231002X", today=TODAY) == "11010519491231002X"
    assert validate_id_number("110101199003070011", today=TODAY) == "110101199003070011"


def test_check_digit_matches_reference():
    for first17 in ["11010519491231002", "44052418800101001", "11010119900307001", "65010120000229123"]:
        assert id_check_digit(first17) == reference_check(first17)


def test_id_check_digit_rejects_bad_input():
    with pytest.raises(ValueError):
        id_check_digit("1234")
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100X")


def test_lower_case_x_accepted_and_upper_cased():
    assert validate_id_number("11010519491231002x", today=TODAY) == "11010519491231002X"


def test_spaces_are_stripped():
    assert validate_id_number(" 110105 19491231 002x ", today=TODAY) == "11010519491231002X"
    assert normalize_id_number(" 11010519491231002x ") == "11010519491231002X"
    assert normalize_id_number(None) == ""


def test_wrong_check_digit():
    err = error_of(validate_id_number, "110105194912310021", today=TODAY)
    assert err.code == "invalid_id_number"
    assert err.message == "身份证号码校验位错误"
    assert err.status == 400
    assert err.field == "id_number"


def test_field_is_passed_through():
    assert error_of(validate_id_number, "123", field="guardian_id").field == "guardian_id"


def test_empty():
    for raw in ("", "   ", None):
        err = error_of(validate_id_number, raw)
        assert err.code == "invalid_id_number"
        assert err.message == "请填写身份证号码"


@pytest.mark.parametrize("raw", ["1" * 17, "1" * 19, "11010519491231002XX"])
def test_wrong_length(raw):
    err = error_of(validate_id_number, raw, today=TODAY)
    assert err.message == "身份证号码应为18位"


@pytest.mark.parametrize("raw", ["11010519491231A02X", "X10105194912310021", "11010519491231002Y", "１１0105194912310021"])
def test_bad_characters(raw):
    err = error_of(validate_id_number, raw, today=TODAY)
    assert err.code == "invalid_id_number"
    assert err.message == "身份证号码只能包含数字，最后一位可以是X"


def test_non_string_rejected():
    assert error_of(validate_id_number, 110105194912310021).code == "invalid_id_number"


@pytest.mark.parametrize("prefix", ["99", "00", "10", "16", "47", "72", "83", "90"])
def test_unknown_province(prefix):
    raw = make_id(prefix + "010519491231002")
    err = error_of(validate_id_number, raw, today=TODAY)
    assert err.message == "身份证号码的地区代码不存在"


def test_all_province_codes_accepted():
    for code in PROVINCES:
        raw = make_id(f"{code}0000" + "19900101" + "123")
        assert validate_id_number(raw, today=TODAY) == raw


def test_impossible_birth_dates():
    messages = set()
    for birth in ["19900230", "19901301", "19900000", "20230229", "18991231"]:
        raw = make_id("110101" + birth + "001")
        err = error_of(validate_id_number, raw, today=TODAY)
        messages.add(err.message)
    assert messages == {"身份证号码中的出生日期无效"}


def test_leap_day_is_valid():
    raw = make_id("110101" + "20000229" + "001")
    assert validate_id_number(raw, today=TODAY) == raw


def test_future_birth_date():
    raw = make_id("110101" + "20990101" + "001")
    err = error_of(validate_id_number, raw, today=TODAY)
    assert err.message == "身份证号码中的出生日期不能晚于今天"
    # Also with the default "today".
    assert error_of(validate_id_number, raw).message == "身份证号码中的出生日期不能晚于今天"


def test_born_today_is_valid_tomorrow_is_not():
    today_id = make_id("110101" + TODAY.strftime("%Y%m%d") + "001")
    assert validate_id_number(today_id, today=TODAY) == today_id
    tomorrow = TODAY + timedelta(days=1)
    tomorrow_id = make_id("110101" + tomorrow.strftime("%Y%m%d") + "001")
    assert error_of(validate_id_number, tomorrow_id, today=TODAY).message == "身份证号码中的出生日期不能晚于今天"


def test_earliest_birth_date():
    raw = make_id("110101" + "19000101" + "001")
    assert validate_id_number(raw, today=TODAY) == raw


def test_messages_are_distinct():
    cases = [
        "",
        "1" * 17,
        "11010519491231A02X",
        make_id("990105194912310021"[:17]),
        make_id("110101" + "19900230" + "001"),
        make_id("110101" + "20990101" + "001"),
        "110105194912310021",
    ]
    messages = [error_of(validate_id_number, raw, today=TODAY).message for raw in cases]
    assert len(set(messages)) == len(messages)


def test_birth_date_and_gender():
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert gender_of("11010519491231002X") == "female"  # 17th digit 2
    male = make_id("110101" + "19900307" + "001")
    assert gender_of(male) == "male"
    assert birth_date_of(male.lower()) == date(1990, 3, 7)
    with pytest.raises(ValueError):
        birth_date_of("110101199002300011")
    with pytest.raises(ValueError):
        gender_of("short")


region_prefixes = st.builds(
    lambda code, rest: f"{code:02d}{rest:04d}",
    st.sampled_from(PROVINCES),
    st.integers(min_value=0, max_value=9999),
)


@settings(max_examples=300)
@given(
    region=region_prefixes,
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(min_value=0, max_value=999),
)
def test_property_check_digit(region, born, sequence):
    first17 = region + born.strftime("%Y%m%d") + f"{sequence:03d}"
    check = id_check_digit(first17)
    assert check == reference_check(first17)
    assert validate_id_number(first17 + check, today=TODAY) == first17 + check
    assert validate_id_number(first17 + check.lower(), today=TODAY) == first17 + check
    for other in "0123456789X":
        if other != check:
            err = error_of(validate_id_number, first17 + other, today=TODAY)
            assert err.message == "身份证号码校验位错误"


# -- other documents ----------------------------------------------------------------------------

def test_id_types():
    assert ID_TYPES == {
        "resident_id": "居民身份证",
        "hk_macao_permit": "港澳居民来往内地通行证",
        "taiwan_permit": "台湾居民来往大陆通行证",
        "passport": "护照",
        "foreign_permanent": "外国人永久居留身份证",
        "other": "其他证件",
    }


def test_validate_document_resident_id():
    assert validate_document("resident_id", "11010519491231002x") == "11010519491231002X"
    assert error_of(validate_document, "resident_id", "110105194912310021").message == "身份证号码校验位错误"


def test_validate_document_other_types():
    assert validate_document("passport", " e1234 5678 ") == "E12345678"
    assert validate_document("hk_macao_permit", "h1234567(8)") == "H1234567(8)"
    assert validate_document("other", "a123456（7）") == "A123456(7)"
    assert validate_document("taiwan_permit", "12-345") == "12-345"
    assert validate_document("foreign_permanent", "A" * 20) == "A" * 20


@pytest.mark.parametrize("raw", ["1234", "A" * 21, "E1234#567", "护照12345", ""])
def test_validate_document_rejects(raw):
    err = error_of(validate_document, "passport", raw, field="doc")
    assert err.code == "invalid_id_number"
    assert err.field == "doc"


@pytest.mark.parametrize("id_type", ["driver_license", "", None, "RESIDENT_ID"])
def test_validate_document_unknown_type(id_type):
    err = error_of(validate_document, id_type, "E12345678")
    assert err.code == "invalid_id_type"
    assert err.field == "id_type"
    assert err.status == 400


# -- phones -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw",
    ["13800000000", "138 0000 0000", "138-0000-0000", "+8613800000000", "+86 138 0000 0000", "8613800000000"],
)
def test_valid_phones(raw):
    assert validate_phone(raw) == "13800000000"


@pytest.mark.parametrize(
    "raw",
    ["1380000000", "138000000000", "12800000000", "10800000000", "23800000000", "1380000000a", "", None,
     "+8612800000000", "+1 13800000000", 13800000000],
)
def test_invalid_phones(raw):
    err = error_of(validate_phone, raw, field="mobile")
    assert err.code == "invalid_phone"
    assert err.message == "手机号码应为11位数字，以1开头"
    assert err.status == 400
    assert err.field == "mobile"


# -- masking ------------------------------------------------------------------------------------

def test_mask_id_number():
    assert mask_id_number("110101199003070012") == "110101*****0012"
    assert mask_id_number("11010519491231002X") == "110105*****002X"
    assert mask_id_number("E12345678") == "E***8"
    assert mask_id_number("ABCDEFGHIJ") == "A***J"
    assert mask_id_number("AB") == "***"
    assert mask_id_number("") == ""
    assert mask_id_number(None) == ""
    # The star count does not depend on the length.
    assert mask_id_number("ABCDEFGHIJKLMNOPQRST") == "ABCDEF*****QRST"


def test_mask_name():
    assert mask_name("王五") == "王*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("欧阳锋") == "欧**"
    assert mask_name("王") == "*"
    assert mask_name("") == ""
    assert mask_name(None) == ""


def test_mask_phone():
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("02112345678901") == "02****01"
    assert mask_phone("0211234") == "02****34"
    assert mask_phone("12345") == "****"
    assert mask_phone("") == ""
    assert mask_phone(None) == ""


# -- free-text finders --------------------------------------------------------------------------

def test_id_number_re_finds_ids_in_text():
    text = "用户 11010519491231002x 登记, order 1234567890123456789012"
    assert [m.group(0) for m in ID_NUMBER_RE.finditer(text)] == ["11010519491231002x"]
    assert ID_NUMBER_RE.search("id=110101199003070011&x=1")
    assert not ID_NUMBER_RE.search("1101011990030700111")


def test_phone_re_finds_phones_in_text():
    text = "call 13800000000 or +86 139-1234-5678, not 123800000000 or 12800000000"
    assert [m.group(0) for m in PHONE_RE.finditer(text)] == ["13800000000", "+86 139-1234-5678"]
    assert PHONE_RE.sub("[phone]", "tel:8613800000000.") == "tel:[phone]."
