"""Forms as data: fields with a Chinese label, a kind and whether they must be answered, checked
in one place. Place types (activation, visitor, checkpoint forms) and back-office resources
declare their forms with these."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from services.common import regions
from services.common.errors import ApiError
from services.common.text_checks import has_control_characters
from services.common.timefmt import china_today
from services.people import identity
from services.risk_data.risk_inputs import any_date, check_region_code, past_date

PLATE_RE = re.compile(r"[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}")
CREDIT_CODE_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
MASKED_PHONE_RE = re.compile(r"\d{3}\*{4}\d{4}")  # identity.mask_phone of an 11-digit number


@dataclass(frozen=True)
class FormField:
    """One question of a form: its name, Chinese label, kind and whether it must be answered."""

    name: str
    label: str
    # text | phone | masked_phone | plate | credit_code | date | day | bool | choice | region_code | region;
    # a masked_phone is shown masked: its mask as shown (kept, for the service to compare) or a new
    # number; date: a past day (YYYY-MM-DD); day: any day, past or future (when a listing starts)
    kind: str = "text"
    required: bool = True
    choices: dict = field(default_factory=dict)
    max_len: int = 64
    today: bool = False  # a date that must be the day of the answer, in China (a checkpoint's arrival)
    # kind "region": a cascade of names, one per level from the top (e.g. district > street >
    # community > compound); the answer is the names as sent, the cleaned value the region's code.
    # `scoped`: only the admin's own region, its ancestors and what lies below it may be named.
    levels: tuple[str, ...] = ()
    scoped: bool = True

    def describe(self) -> dict:
        """The field as clients render it."""
        spec = {"name": self.name, "label": self.label, "kind": self.kind, "required": self.required}
        if self.today:
            spec["today"] = True
        if self.choices:
            spec["choices"] = [{"value": k, "label": v} for k, v in self.choices.items()]
        return spec

    def clean(self, value, path: str, within=None):
        """The checked answer (ApiError naming `path` when it is wrong). `within`: the admin's
        region, which a scoped region cascade stays in."""
        if self.kind == "region":
            return self._region(value, path, within)
        if value is None or value == "":
            if self.required:
                raise ApiError("missing_field", f"请填写{self.label}", 400, path)
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ApiError("invalid_field", f"{self.label}应为是或否", 400, path)
            return value
        if not isinstance(value, str):
            raise ApiError("invalid_field", f"{self.label}应为文本", 400, path)
        value = value.strip()
        if len(value) > self.max_len:
            raise ApiError("invalid_field", f"{self.label}过长", 400, path)
        if has_control_characters(value):
            raise ApiError("invalid_field", f"{self.label}含有不允许的控制字符", 400, path)
        if self.kind == "phone" or (self.kind == "masked_phone" and not MASKED_PHONE_RE.fullmatch(value)):
            return identity.validate_phone(value, path)
        if self.kind == "plate" and not PLATE_RE.fullmatch(value.upper()):
            raise ApiError("invalid_field", f"{self.label}格式不正确（如 豫A12345）", 400, path)
        if self.kind == "credit_code" and not CREDIT_CODE_RE.fullmatch(value.upper()):
            raise ApiError("invalid_field", f"{self.label}应为18位统一社会信用代码", 400, path)
        if self.kind == "date" and self.today:
            today = china_today()
            if past_date(value, path, today=dt.date.max) != today:  # any other day, earlier or later
                raise ApiError("not_today", f"{self.label}应为当天（{today.isoformat()}）", 400, path)
            return today.isoformat()
        if self.kind == "date":
            return past_date(value, path).isoformat()
        if self.kind == "day":
            return any_date(value, path).isoformat()
        if self.kind == "region_code":
            return check_region_code(value, path)
        if self.kind == "choice" and value not in self.choices:
            raise ApiError("invalid_field", f"{self.label}的取值无效", 400, path)
        return value.upper() if self.kind in ("plate", "credit_code") else value


    def _region(self, names, path: str, within) -> str | None:
        if not isinstance(names, (list, tuple)) or len(names) > len(self.levels) or \
                not all(isinstance(n, str) and len(n) <= self.max_len for n in names):
            raise ApiError("invalid_field", f"{self.label}应按级别逐级选择", 400, path)
        region = regions.region_by_names(self.levels, list(names), within if self.scoped else None, path,
                                         self.label)
        if region is None and self.required:
            raise ApiError("missing_field", f"请选择{self.label}", 400, path)
        return region.code if region is not None else None


def clean_form(fields: tuple[FormField, ...], answers, prefix: str = "form.", within=None) -> dict:
    """Check a whole form; unknown answers are refused so that nothing is silently dropped.
    `within`: the admin's region, for the region cascades (see FormField.clean)."""
    answers = answers or {}
    if not isinstance(answers, dict):
        raise ApiError("invalid_field", "表单应为对象", 400, prefix.rstrip("."))
    known = {f.name for f in fields}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ApiError("unknown_field", f"不支持的字段：{unknown[0]}", 400, prefix + unknown[0])
    return {f.name: f.clean(answers.get(f.name), prefix + f.name, within) for f in fields}
