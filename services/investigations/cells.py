"""One cell's checks, by the template column's kind: the value to keep, or `CellError` with the
reason the error report shows. Cells arrive as the reader gives them: text, int, float, bool,
datetime or None, since lists come from many exporters (a date may be 20200406, "2020/04/06",
an Excel serial number or a real date cell).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from services.common.errors import ApiError
from services.common.text_checks import has_control_characters
from services.common.timefmt import CHINA, china_today
from services.investigations.sources import TRANSPORTS, TemplateColumn
from services.people import identity

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATETIME_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})日?"
                          r"(?:[\sT]+(\d{1,2})[:：](\d{1,2})(?:[:：](\d{1,2})(?:\.\d+)?)?)?\s*")
_TRANSPORT_BY_LABEL = {**{v: k for k, v in TRANSPORTS.items()}, **{k: k for k in TRANSPORTS},
                       "航班": "plane", "飞机/航班": "plane", "动车": "hsr", "高铁/动车": "hsr", "自驾": "car"}


class CellError(Exception):
    """A cell that fails its column's check; `reason` is Chinese, for the error report, and
    `code` the machine code an API answer carries (risk records, services/risk_data/risk_records.py)."""

    def __init__(self, reason: str, code: str = "invalid_field"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


def text_of(value) -> str:
    """A cell as text: whole numbers without ".0" (phones and codes are often number cells)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value).strip()


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = int(value)
        if 19000101 <= number <= 29991231:  # 20200406, as telecom lists write dates
            return _ymd(number // 10000, number // 100 % 100, number % 100)
        if 1 <= value < 200000:  # an Excel serial date
            return (_EXCEL_EPOCH + dt.timedelta(days=float(value))).date()
        raise CellError("日期格式不正确（如 2020-04-06）", "invalid_date")
    text = str(value).strip()
    if text.isdigit() and len(text) == 8:
        return _ymd(int(text[:4]), int(text[4:6]), int(text[6:]))
    match = _DATE_RE.match(text)
    if not match:
        raise CellError("日期格式不正确（如 2020-04-06）", "invalid_date")
    return _ymd(*(int(g) for g in match.groups()))


def _ymd(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError("日期不存在", "invalid_date") from None


def _datetime(value) -> dt.datetime:
    """A China-local moment (naive)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 200000:
            return (_EXCEL_EPOCH + dt.timedelta(days=float(value))).replace(microsecond=0)
        raise CellError("时间格式不正确（如 2020-03-20 21:16）", "invalid_date")
    match = _DATETIME_RE.fullmatch(str(value).strip())
    if not match:
        raise CellError("时间格式不正确（如 2020-03-20 21:16）", "invalid_date")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise CellError("时间不存在", "invalid_date") from None


def to_utc(local: dt.datetime) -> dt.datetime:
    """A China-local naive moment as naive UTC (how times are stored)."""
    return local.replace(tzinfo=CHINA).astimezone(dt.timezone.utc).replace(tzinfo=None)


def _id_number(value, document: bool) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Excel keeps 15 significant digits: an ID typed into a number cell has lost its end.
        raise CellError("证件号码应为文本格式（数字格式会丢失末几位）", "invalid_id_number")
    text = identity.normalize_id_number(value)
    try:
        if document and not (len(text) == 18 and text[:17].isdigit()):
            return identity.validate_document("passport", text, None)
        return identity.validate_id_number(text, None)
    except ApiError as error:
        raise CellError(error.message, error.code) from None


def check(column: TemplateColumn, value, today: dt.date | None = None):
    """The checked value of one cell (None for an empty optional one); `CellError` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.required:
            raise CellError(f"请填写{column.header}", "missing_field")
        return None
    kind = column.kind
    if kind in ("text", "district"):  # a district's name is checked against the regions by the import
        text = text_of(value)
        if len(text) > column.max_len:
            raise CellError(f"{column.header}过长（最多{column.max_len}个字）", "too_long")
        if has_control_characters(text):
            raise CellError(f"{column.header}含有不允许的控制字符", "control_characters")
        return text
    if kind == "phone":
        try:
            return identity.validate_phone(text_of(value), None)
        except ApiError as error:
            raise CellError(error.message, error.code) from None
    if kind in ("id_number", "document"):
        return _id_number(value, kind == "document")
    if kind == "date":
        day = _date(value)
        if day > (today or china_today()):
            raise CellError("日期不能晚于今天", "date_in_future")
        if day.year < 2000:
            raise CellError("日期不正确", "invalid_date")
        return day
    if kind == "datetime":
        return _datetime(value)
    if kind == "choice":
        # A choice is written as its label (确诊) in a sheet and as its code (confirmed) in JSON.
        text = text_of(value)
        for code, label in column.choices:
            if text in (code, label):
                return code
        raise CellError(f"{column.header}应为{'、'.join(label for _, label in column.choices)}之一", "invalid_choice")
    if kind == "transport":
        code = _TRANSPORT_BY_LABEL.get(text_of(value))
        if code is None:
            raise CellError(f"{column.header}应为{'、'.join(TRANSPORTS.values())}之一")
        return code
    if kind == "decimal":
        try:
            return str(Decimal(text_of(value).replace("℃", "")).quantize(Decimal("0.1")))
        except (InvalidOperation, ValueError):
            raise CellError(f"{column.header}应为数字") from None
    raise ValueError(f"unknown column kind {kind!r}")
