"""Checks and masking of personal data: resident ID numbers, other documents, mobile numbers.

Everything here is a pure function: no database, no network, no logging. Validators return the
normalized value or raise `ApiError` with a Chinese message that tells the user what to fix.
Masking functions (A6) produce the only form of these values that may appear in API responses for
other people, in the admin console lists and in logs.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from services.common.errors import ApiError

# Mainland China has had no daylight saving time since 1991, so a fixed offset gives the same
# "today" as Asia/Shanghai without depending on the tz database being installed.
_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# Province-level codes of GB/T 2260 (first two digits). 71 Taiwan, 81 Hong Kong and 82 Macao
# appear on the residence permits issued to their residents, which use the same number format.
PROVINCE_CODES = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46]
    + [50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

# ASCII only on purpose: str.isdigit() would also accept full-width and superscript digits.
_ID_SHAPE_RE = re.compile(r"[0-9]{17}[0-9X]")
_DOCUMENT_RE = re.compile(r"[A-Z0-9()\-]{5,20}")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
# What `validate_phone` accepts, as one pattern on the text typed (stated in /openapi.json):
# separators anywhere, "+86", or "86" when 11 digits follow it.
PHONE_INPUT_PATTERN = (r"[\s-]*(?:\+[\s-]*8[\s-]*6|8[\s-]*6(?=(?:[\s-]*[0-9]){11}[\s-]*$))?"
                       r"[\s-]*1[\s-]*[3-9](?:[\s-]*[0-9]){9}[\s-]*")

# Free-text finders for log redaction. The look-arounds keep them from matching inside longer
# runs of digits (order numbers, timestamps), and both err on the side of redacting too much.
ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
PHONE_RE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9])")

ID_TYPES = {
    "resident_id": "居民身份证",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "passport": "护照",
    "foreign_permanent": "外国人永久居留身份证",
    "other": "其他证件",
}

_ERR_ID = "invalid_id_number"


def _id_error(message: str, field: str | None) -> ApiError:
    return ApiError(_ERR_ID, message, 400, field)


def _china_today() -> date:
    return datetime.now(_CHINA_TZ).date()


def normalize_id_number(raw: str | None) -> str:
    """Remove all whitespace and upper-case a trailing `x`; None becomes ""."""
    if raw is None:
        return ""
    value = "".join(str(raw).split())
    if value.endswith("x"):
        value = value[:-1] + "X"
    return value


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for the first 17 digits."""
    if not isinstance(first17, str) or not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("id_check_digit expects exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS))
    return _CHECK_MAP[total % 11]


def _parse_birth(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def birth_date_of(id_number: str) -> date:
    """The birth date encoded in an 18-character ID number (characters 7-14, YYYYMMDD).

    Meant for numbers that already passed `validate_id_number`; raises ValueError otherwise.
    """
    value = normalize_id_number(id_number)
    born = _parse_birth(value) if _ID_SHAPE_RE.fullmatch(value) else None
    if born is None:
        raise ValueError("not an ID number with a valid birth date")
    return born


def age_of(id_number: str, today: date | None = None) -> int:
    """Whole years of age, on `today` (China's today by default), of the holder of a valid
    18-character ID number; raises ValueError as `birth_date_of` does."""
    born, today = birth_date_of(id_number), today or _china_today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def gender_of(id_number: str) -> str:
    """"male" when the 17th digit (the sequence code's last digit) is odd, else "female"."""
    value = normalize_id_number(id_number)
    if not _ID_SHAPE_RE.fullmatch(value):
        raise ValueError("not an 18-character ID number")
    return "male" if int(value[16]) % 2 == 1 else "female"


def validate_id_number(raw: str | None, field: str | None = "id_number", today: date | None = None) -> str:
    """Check a mainland resident ID number (居民身份证号码) and return it normalized.

    Checked in order: present, 18 characters, 17 digits + digit/X, a province-level region code,
    a real birth date between 1900-01-01 and `today` (default: today in Asia/Shanghai), and the
    check digit. Each failure raises `ApiError("invalid_id_number", ...)` with its own message.
    """
    if raw is not None and not isinstance(raw, str):
        # A JSON number would silently lose a trailing X or be rounded by some clients.
        raise _id_error("身份证号码应为文本格式", field)
    value = normalize_id_number(raw)
    if not value:
        raise _id_error("请填写身份证号码", field)
    if len(value) != 18:
        raise _id_error("身份证号码应为18位", field)
    if not _ID_SHAPE_RE.fullmatch(value):
        raise _id_error("身份证号码只能包含数字，最后一位可以是X", field)
    if int(value[:2]) not in PROVINCE_CODES:
        raise _id_error("身份证号码的地区代码不存在", field)
    born = _parse_birth(value)
    if born is None or born < _EARLIEST_BIRTH:
        raise _id_error("身份证号码中的出生日期无效", field)
    if born > (today or _china_today()):
        raise _id_error("身份证号码中的出生日期不能晚于今天", field)
    if id_check_digit(value[:17]) != value[17]:
        raise _id_error("身份证号码校验位错误", field)
    return value


def validate_document(id_type: str | None, raw: str | None, field: str | None = "id_number") -> str:
    """Check a document number of the given `ID_TYPES` code and return it normalized.

    Resident IDs get the full check; other documents (permits, passports...) only a shape check:
    5-20 letters, digits, `-`, `(` or `)`, upper-cased.
    """
    if id_type not in ID_TYPES:
        raise ApiError("invalid_id_type", "不支持的证件类型", 400, "id_type")
    if id_type == "resident_id":
        return validate_id_number(raw, field)
    if raw is not None and not isinstance(raw, str):
        raise _id_error("证件号码应为文本格式", field)
    # Hong Kong numbers are often typed with full-width brackets on Chinese keyboards.
    value = "".join((raw or "").split()).replace("（", "(").replace("）", ")").upper()
    if not value:
        raise _id_error("请填写证件号码", field)
    if not _DOCUMENT_RE.fullmatch(value):
        raise _id_error("证件号码应为5到20位字母或数字", field)
    return value


def validate_phone(raw: str | None, field: str | None = "phone") -> str:
    """Check a mainland mobile number and return its 11 digits.

    Spaces and hyphens are ignored, and a leading `+86` or `86` country code is removed.
    """
    value = raw if isinstance(raw, str) else ""
    value = re.sub(r"[\s\-]", "", value)
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("86") and len(value) == 13:
        # Only strip a bare 86 when what remains could be a number; 11 digits never start with 86.
        value = value[2:]
    if not _MOBILE_RE.fullmatch(value):
        raise ApiError("invalid_phone", "手机号码应为11位数字，以1开头", 400, field)
    return value


def mask_id_number(value: str | None) -> str:
    """18-character ID numbers: first 6 + "*****" + last 4 ("110101*****0012").

    Shorter documents (passports, permits) keep less, so that at least half stays hidden:
    first 2 + "*****" + last 2 from 11 characters, first 1 + "***" + last 1 below that. The
    number of stars is fixed so the mask does not reveal the length.
    """
    if not value:
        return ""
    value = str(value).strip()
    if len(value) <= 2:
        # first 1 + last 1 would be the whole value.
        return "***"
    if len(value) <= 10:
        return value[0] + "***" + value[-1]
    if len(value) < 18:
        return value[:2] + "*****" + value[-2:]
    return value[:6] + "*****" + value[-4:]


def mask_name(value: str | None) -> str:
    """Keep the first character and star the rest ("王五" -> "王*"); a one-character name -> "*"."""
    if not value:
        return ""
    value = str(value).strip()
    if len(value) <= 1:
        return "*" if value else ""
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str | None) -> str:
    """11 characters -> first 3 + "****" + last 4; other lengths keep first 2 and last 2.

    Values shorter than 7 characters become "****": keeping 4 of them would reveal most of it.
    """
    if not value:
        return ""
    value = str(value).strip()
    if len(value) == 11:
        return value[:3] + "****" + value[-4:]
    if len(value) < 7:
        return "****"
    return value[:2] + "****" + value[-2:]
