"""Request and response bodies as pydantic models: one declaration validates a body and yields
its JSON Schema for /openapi.json (handlers/openapi.py).

    LOGIN = model("DevLoginRequest", {"openid": Str("openid", max_len=64)})
    clean = LOGIN.clean(body)           # raises ApiError(field=...) with a Chinese message

A field is declared with its Chinese label and limits (`Str`, `Int`, `Num`, `Bool`, `Date`, `Obj`,
`List`, `Open`); `model` makes the pydantic model, whose own validators (pydantic-core) check every
limit. A refused body becomes one ApiError: the first fault in the order the fields are declared
(an unknown field first), with its machine code, a Chinese message naming the field's label and the
field's path ("profile.name", "track[0].place").

Unknown fields are refused, so a misspelt field is an error and never silently ignored. Scalars are
strict (no "1" for 1, no true for 1); texts of a request are stripped and may not hold control
characters; a required text may not be empty.

A field declared `deferred` has its limits stated in /openapi.json (marked `x-checked-by-service`)
but checked by its service, with the service's own error code, where the service's order of checks
matters: a scan signs in before its request id or temperature is looked at, so that a stranger
learns nothing from them. Here such a field is only checked for its JSON type.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field as PydanticField,
                      ValidationError, WithJsonSchema, create_model)
from pydantic_core import PydanticCustomError, PydanticUndefined

from services.common.errors import ApiError
from services.common.text_checks import has_control_characters
from services.common.timefmt import DATE_TEXT, china_today

INT64 = 2 ** 63 - 1
# Where a label's name ends and its explanation begins (a bracket, a comma or a colon).
_LABEL_END = re.compile(r"[（(，,：:]")
# A nested value that is not an object: the same answer as a body that is not one.
_NOT_AN_OBJECT = ("model_type", "model_attributes_type", "dict_type")
_SCALAR_TYPES = ("string_type", "int_type", "float_type", "bool_type", "list_type", "null_value") + _NOT_AN_OBJECT


class Body(BaseModel):
    """The base of every declared body: unknown fields refused, patterns as Python's `re`."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")
    # The declarations each field was made from (their labels name the field in errors).
    __specs__: dict = {}

    @classmethod
    def clean(cls, data: Any) -> dict:
        """The checked object as a dict holding only the fields that were sent; or ApiError."""
        try:
            # A plain dict for the services; a date field holds its `datetime.date` (its declared
            # JSON type is a text, which the serializer would warn about).
            return cls.model_validate(data).model_dump(exclude_unset=True, warnings=False)
        except ValidationError as error:
            raise api_error(cls, error.errors(include_url=False, include_context=True)) from None

    @classmethod
    def clean_query(cls, values: dict) -> dict:
        """Like `clean`, for a query string: texts are first read as the fields' types."""
        typed = {}
        for name, text in values.items():
            spec = cls.__specs__.get(name)
            typed[name] = spec.from_text(text, name) if spec is not None else text
        return cls.clean(typed)


def model(name: str, fields: dict[str, "Spec"], description: str = "", *, response: bool = False) -> type[Body]:
    """The pydantic model `name` with these fields. A request's texts are stripped and must not be
    empty when required; a response's are taken as they are."""
    made = create_model(name, __base__=Body, __doc__=description or None, __module__=__name__,
                        **{key: spec.field(request=not response) for key, spec in fields.items()})
    made.__specs__ = dict(fields)
    return made


def response_model(name: str, fields: dict[str, "Spec"], description: str = "") -> type[Body]:
    """A model describing an answer (see `model`)."""
    return model(name, fields, description, response=True)


class Spec:
    """One field: its label, whether it is required or nullable, and its JSON-schema extras."""

    def __init__(self, label: str = "", *, required: bool = True, nullable: bool = False,
                 description: str = "", example: Any = None, deferred: bool = False):
        self.label = label
        self.required = required
        self.nullable = nullable
        self.description = description
        self.example = example
        self.deferred = deferred

    def annotation(self, request: bool) -> Any:
        """The value's type with its pydantic constraints."""
        raise NotImplementedError

    def name_or(self, fallback: str) -> str:
        """What an error message calls the field: its label up to any explanation that follows
        it ("半径（米），默认 3000" -> "半径"), else `fallback` (its name or path)."""
        return _LABEL_END.split(self.label, 1)[0].strip() or fallback

    def stated(self) -> dict:
        """Limits the document states that pydantic does not derive (a deferred field's)."""
        return {}

    def field(self, request: bool = True) -> tuple:
        """(annotation, FieldInfo) for `create_model`."""
        kind = self.annotation(request)
        extra = self.stated()
        if self.example is not None:
            extra["example"] = self.example
        if self.deferred:
            extra["x-checked-by-service"] = True
        text = " ".join(x for x in (self.label, self.description) if x)
        info = PydanticField(PydanticUndefined if self.required else None, description=text or None,
                             json_schema_extra=extra or None)
        return (Optional[kind] if self.nullable else kind), info

    def from_text(self, text: str, name: str) -> Any:
        """A query-string text as this field's JSON type."""
        return text

    def explain(self, kind: str, who: str, value: Any) -> tuple:
        """(code, Chinese message) for pydantic's error `kind` on this field; a third item is
        an HTTP status other than 400."""
        return "invalid_field", f"{who}的取值无效"


def _request_text(value):
    if isinstance(value, str):
        value = value.strip()
        if has_control_characters(value):
            raise PydanticCustomError("control_characters", "control characters")
    return value


class Str(Spec):
    """A string, stripped of surrounding spaces; optional length bounds, pattern and choices."""

    # True: taken exactly as typed (a password): neither stripped nor checked for control characters.
    as_typed = False

    def __init__(self, label: str = "", *, min_len: int = 0, max_len: int | None = 255, pattern: str | None = None,
                 choices: dict | tuple | None = None, **kwargs):
        super().__init__(label, **kwargs)
        self.min_len, self.max_len, self.pattern = min_len, max_len, pattern
        self.choices = tuple(choices) if choices is not None else None

    def annotation(self, request):
        checks = {"strict": True}
        if self.deferred:
            checks["min_length"] = 1 if self.required and request else None
        else:
            low = max(self.min_len, 1 if self.required and request else 0)
            checks.update(min_length=low or None, max_length=self.max_len,
                          pattern=rf"\A(?:{self.pattern})\Z" if self.pattern else None)
        parts: list = [str, PydanticField(**checks)]
        if request and not self.as_typed:
            parts.append(BeforeValidator(_request_text))
        if self.choices is not None and not self.deferred:
            parts.append(AfterValidator(self._choose))
        return Annotated[tuple(parts)]

    def _choose(self, value):
        if value not in self.choices:
            raise PydanticCustomError("not_a_choice", "not a choice")
        return value

    def stated(self):
        spec: dict = {}
        if self.deferred:
            spec["maxLength"] = self.max_len
            spec["minLength"] = self.min_len or None
        if self.pattern:
            spec["pattern"] = self.pattern  # as declared; the validator anchors it
        if self.choices is not None:
            spec["enum"] = list(self.choices)
        return {k: v for k, v in spec.items() if v is not None}

    def explain(self, kind, who, value):
        messages = {
            "string_type": "应为文本", "control_characters": "含有不允许的控制字符",
            "string_too_long": f"过长（最多 {self.max_len} 个字符）", "string_pattern_mismatch": "格式不正确",
        }
        if kind == "string_too_short":
            if isinstance(value, str) and value.strip():  # typed, but shorter than its minimum
                return "invalid_field", f"{who}过短（至少 {self.min_len} 个字符）"
            return "missing_field", f"{who}不能为空"
        return "invalid_field", who + messages.get(kind, "的取值无效")


def _int64(value):
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 - 1 <= value <= INT64:
        raise PydanticCustomError("out_of_range", "out of range")  # the database's BIGINT
    return value


class Int(Spec):
    """A whole number (booleans refused) within optional bounds, and within a signed 64-bit integer."""

    python_type: type = int

    def __init__(self, label: str = "", *, minimum: int | None = None, maximum: int | None = None, **kwargs):
        super().__init__(label, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def annotation(self, request):
        bounds = {} if self.deferred else {"ge": self.minimum, "le": self.maximum}
        return Annotated[self.python_type, PydanticField(strict=True, **bounds), BeforeValidator(_int64)]

    def stated(self):
        spec = {"format": "int64"}
        if self.deferred:
            spec.update(minimum=self.minimum, maximum=self.maximum)
        return {k: v for k, v in spec.items() if v is not None}

    def from_text(self, text, name):
        try:
            return int(text)
        except ValueError:
            raise ApiError("invalid_field", f"{self.name_or(name)}应为整数", 400, name) from None

    def explain(self, kind, who, value):
        if kind == "greater_than_equal":
            return "invalid_field", f"{who}不能小于 {self.minimum}"
        if kind == "less_than_equal":
            return "invalid_field", f"{who}不能大于 {self.maximum}"
        if kind == "out_of_range":
            return "invalid_field", f"{who}超出范围"
        return "invalid_field", f"{who}应为整数"


class Num(Int):
    """A number (integer or decimal) within optional bounds."""

    python_type = float

    def annotation(self, request):
        bounds = {} if self.deferred else {"ge": self.minimum, "le": self.maximum}
        return Annotated[float, PydanticField(strict=True, **bounds)]

    def stated(self):
        spec = {"minimum": self.minimum, "maximum": self.maximum} if self.deferred else {}
        return {k: v for k, v in spec.items() if v is not None}

    def from_text(self, text, name):
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            raise ApiError("invalid_field", f"{self.name_or(name)}应为数字", 400, name)
        return number

    def explain(self, kind, who, value):
        if kind == "float_type":
            # An integer too large for a float is a number, out of range.
            too_large = isinstance(value, int) and not isinstance(value, bool)
            return "invalid_field", f"{who}{'超出范围' if too_large else '应为数字'}"
        return super().explain(kind, who, value)


class Bool(Spec):
    """true or false, nothing else."""

    def annotation(self, request):
        return Annotated[bool, PydanticField(strict=True)]

    def from_text(self, text, name):
        if text not in ("true", "false"):
            raise ApiError("invalid_field", f"{self.name_or(name)}应为 true 或 false", 400, name)
        return text == "true"

    def explain(self, kind, who, value):
        return "invalid_field", f"{who}应为 true 或 false"


class Date(Str):
    """A calendar date as "YYYY-MM-DD" from 1900 on; with `past`, not after today (China time).
    Cleaned to `datetime.date`."""

    EARLIEST = dt.date(1900, 1, 1)

    def __init__(self, label: str = "", *, past: bool = False, **kwargs):
        super().__init__(label, max_len=10, **kwargs)
        self.past = past

    def annotation(self, request):
        return Annotated[super().annotation(request), AfterValidator(self._day)]

    def _day(self, text):
        try:
            if not DATE_TEXT.fullmatch(text):
                raise ValueError(text)
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise PydanticCustomError("date_format", "not a date") from None
        if day < self.EARLIEST:
            raise PydanticCustomError("date_too_early", "too early")
        if self.past and day > china_today():
            raise PydanticCustomError("date_in_future", "in the future")
        return day

    def stated(self):
        return {"format": "date"}

    def explain(self, kind, who, value):
        if kind == "date_format":
            return "invalid_field", f"{who}应为 YYYY-MM-DD 格式的日期"
        if kind == "date_too_early":
            return "invalid_field", f"{who}不能早于 1900-01-01"
        if kind == "date_in_future":
            return "date_in_future", f"{who}不能晚于今天"
        return super().explain(kind, who, value)


class Obj(Spec):
    """A nested object described by another model."""

    def __init__(self, schema: type[Body], label: str = "", **kwargs):
        super().__init__(label, **kwargs)
        self.schema = schema

    def annotation(self, request):
        return self.schema


class List(Spec):
    """A JSON array of one field type, with a length cap: a request's, or the most a response
    holds (None: an answer whose length has no fixed bound, such as the reasons of a colour)."""

    def __init__(self, items: Spec, label: str = "", *, max_items: int | None = 100, min_items: int = 0, **kwargs):
        super().__init__(label, **kwargs)
        self.items, self.max_items, self.min_items = items, max_items, min_items

    def annotation(self, request):
        return Annotated[list[self.items.annotation(request)],
                         PydanticField(max_length=self.max_items, min_length=self.min_items or None)]

    def explain(self, kind, who, value):
        if kind == "too_long":
            return "invalid_field", f"{who}最多 {self.max_items} 项"
        if kind == "too_short":
            return "invalid_field", f"{who}至少 {self.min_items} 项"
        return "invalid_field", f"{who}应为列表"


class Either(Spec):
    """One of several shapes (responses only): an answer whose field differs by case."""

    def __init__(self, *choices: Spec, label: str = "", **kwargs):
        super().__init__(label, **kwargs)
        self.choices = choices

    def annotation(self, request):
        return Union[tuple(choice.annotation(request) for choice in self.choices)]


class Open(Spec):
    """A JSON object whose keys are data, not a fixed shape (a form's answers, keyed by the form's
    own field names): a named exception to typed responses (tests/handlers/test_openapi_contract.py).
    In a request, any JSON value, which its service checks."""

    def annotation(self, request):
        if request:
            return Annotated[Any, WithJsonSchema({"type": "object"}), BeforeValidator(_not_null)]
        return dict[str, Any]


def _not_null(value):
    if value is None:
        raise PydanticCustomError("null_value", "null")
    return value

    def explain(self, kind, who, value):
        return "invalid_field", f"{who}应为对象"


def _pick(errors: list[dict], depth: int = 0) -> dict:
    """The error the old one-field-at-a-time order meets first: an unknown field of an object
    (the first by name) before its fields, and the fields in their declared order."""
    extras = [e for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == depth + 1]
    if extras:
        return min(extras, key=lambda e: str(e["loc"][depth]))
    first = errors[0]
    if len(first["loc"]) <= depth + 1:
        return first
    head = first["loc"][depth]
    return _pick([e for e in errors if len(e["loc"]) > depth and e["loc"][depth] == head], depth + 1)


def api_error(root: type[Body], errors: list[dict]) -> ApiError:
    """The one ApiError (400) for pydantic's errors on a body of `root`."""
    error = _pick(errors)
    kind, loc = error["type"], error["loc"]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if kind == "extra_forbidden":
        return ApiError("unknown_field", f"不支持的字段：{loc[-1]}", 400, path)
    if kind in _NOT_AN_OBJECT and (not loc or isinstance(loc[-1], int) or error.get("input") is not None):
        return ApiError("invalid_body", "请求体应为 JSON 对象", 400, path or None)
    spec, schema = None, root
    for part in loc:
        if isinstance(part, int):
            spec = spec.items
        else:
            spec = schema.__specs__[part]
        if isinstance(spec, Obj):
            schema = spec.schema
    name = loc[-1]
    if isinstance(name, str):
        if kind == "missing":
            return ApiError("missing_field", f"缺少必填项：{spec.name_or(name)}", 400, path)
        if error.get("input", 0) is None and kind in _SCALAR_TYPES:
            return ApiError("missing_field", f"{spec.name_or(name)}不能为空", 400, path)
    code, message, *status = spec.explain(kind, spec.name_or(path), error.get("input"))
    return ApiError(code, message, status[0] if status else 400, path)
