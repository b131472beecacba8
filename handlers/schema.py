"""Request and response bodies declared once: they validate input and describe /openapi.json.

    LOGIN = Schema("DevLoginRequest", {"openid": Str(label="openid", max_len=64)})
    clean = LOGIN.validate(body)        # raises ApiError(field=...) with a Chinese message

Unknown fields are refused, so a misspelt field is an error and never silently ignored.

A field declared `deferred` has its limits stated in /openapi.json (marked `x-checked-by-service`)
but checked by its service, with the service's own error code, where the service's order of checks
matters: a scan signs in before its request id or temperature is looked at, so that a stranger
learns nothing from them. Here such a field is only checked for its JSON type.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from services.errors import ApiError
from services.text_checks import has_control_characters
from services.timefmt import china_today

_MISSING = object()
INT64 = 2 ** 63 - 1


class Field:
    """One field: its JSON type, whether it is required, and how to check a value."""

    json_type = "string"

    def __init__(self, label: str = "", *, required: bool = True, nullable: bool = False,
                 description: str = "", example: Any = None, deferred: bool = False):
        self.label = label
        self.required = required
        self.nullable = nullable
        self.description = description
        self.example = example
        self.deferred = deferred

    def error(self, name: str, message: str, code: str = "invalid_field") -> ApiError:
        """A 400 naming this field."""
        return ApiError(code, message, 400, name)

    def clean(self, value: Any, name: str) -> Any:
        """Return the checked value or raise ApiError."""
        return value

    def from_text(self, text: str, name: str) -> Any:
        """A query-string text as this field's JSON type (then checked by `clean`)."""
        return text

    def openapi(self) -> dict:
        """This field as an OpenAPI / JSON-schema property."""
        spec: dict = {"type": self.json_type}
        if self.nullable:
            spec["nullable"] = True
        text = " ".join(x for x in (self.label, self.description) if x)
        if text:
            spec["description"] = text
        if self.example is not None:
            spec["example"] = self.example
        if self.deferred:
            spec["x-checked-by-service"] = True
        return spec


class Str(Field):
    """A string, stripped of surrounding spaces; optional length bounds, pattern and choices."""

    def __init__(self, label: str = "", *, min_len: int = 0, max_len: int | None = 255, pattern: str | None = None,
                 choices: dict | tuple | None = None, **kwargs):
        super().__init__(label, **kwargs)
        self.min_len, self.max_len = min_len, max_len
        self.pattern = re.compile(pattern) if pattern else None
        self.choices = choices

    def clean(self, value, name):
        if not isinstance(value, str):
            raise self.error(name, f"{self.label or name}应为文本")
        value = value.strip()
        if has_control_characters(value):
            raise self.error(name, f"{self.label or name}含有不允许的控制字符")
        if self.deferred:
            if self.required and not value:
                raise self.error(name, f"{self.label or name}不能为空", "missing_field")
            return value
        if len(value) < max(self.min_len, 1 if self.required else 0):
            raise self.error(name, f"{self.label or name}不能为空", "missing_field")
        if self.max_len is not None and len(value) > self.max_len:
            raise self.error(name, f"{self.label or name}过长（最多 {self.max_len} 个字符）")
        if self.pattern and not self.pattern.fullmatch(value):
            raise self.error(name, f"{self.label or name}格式不正确")
        if self.choices is not None and value not in self.choices:
            raise self.error(name, f"{self.label or name}的取值无效")
        return value

    def openapi(self):
        spec = super().openapi()
        if self.max_len is not None:
            spec["maxLength"] = self.max_len
        if self.min_len:
            spec["minLength"] = self.min_len
        if self.pattern:
            spec["pattern"] = self.pattern.pattern
        if self.choices is not None:
            spec["enum"] = list(self.choices)
        return spec


class Int(Field):
    """A whole number (booleans refused) within optional bounds."""

    json_type = "integer"

    def __init__(self, label: str = "", *, minimum: int | None = None, maximum: int | None = None, **kwargs):
        super().__init__(label, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def clean(self, value, name):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"{self.label or name}应为整数")
        if not -INT64 - 1 <= value <= INT64:  # the database's BIGINT; documented as format int64
            raise self.error(name, f"{self.label or name}超出范围")
        return value if self.deferred else _bounded(self, value, name)

    def from_text(self, text, name):
        try:
            return int(text)
        except ValueError:
            raise self.error(name, f"{self.label or name}应为整数") from None

    def openapi(self):
        return _bounds_spec(self, {**super().openapi(), "format": "int64"})


class Num(Int):
    """A number (integer or decimal) within optional bounds."""

    json_type = "number"

    def clean(self, value, name):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, f"{self.label or name}应为数字")
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            raise self.error(name, f"{self.label or name}超出范围") from None
        return number if self.deferred else _bounded(self, number, name)

    def openapi(self):
        return _bounds_spec(self, Field.openapi(self))

    def from_text(self, text, name):
        try:
            number = float(text)
        except ValueError:
            raise self.error(name, f"{self.label or name}应为数字") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise self.error(name, f"{self.label or name}应为数字")
        return number


class Bool(Field):
    """true or false, nothing else."""

    json_type = "boolean"

    def clean(self, value, name):
        if not isinstance(value, bool):
            raise self.error(name, f"{self.label or name}应为 true 或 false")
        return value

    def from_text(self, text, name):
        if text not in ("true", "false"):
            raise self.error(name, f"{self.label or name}应为 true 或 false")
        return text == "true"


class Date(Str):
    """A calendar date as "YYYY-MM-DD" from 1900 on; with `past`, not after today (China time).
    Cleaned to `datetime.date`."""

    EARLIEST = dt.date(1900, 1, 1)

    def __init__(self, label: str = "", *, past: bool = False, **kwargs):
        super().__init__(label, max_len=10, **kwargs)
        self.past = past

    def clean(self, value, name):
        text = super().clean(value, name)
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise self.error(name, f"{self.label or name}应为 YYYY-MM-DD 格式的日期") from None
        if day < self.EARLIEST:
            raise self.error(name, f"{self.label or name}不能早于 1900-01-01")
        if self.past and day > china_today():
            raise self.error(name, f"{self.label or name}不能晚于今天", "date_in_future")
        return day

    def openapi(self):
        spec = Field.openapi(self)
        spec["format"] = "date"
        return spec


class Obj(Field):
    """A nested object described by another Schema."""

    json_type = "object"

    def __init__(self, schema: "Schema", label: str = "", **kwargs):
        super().__init__(label, **kwargs)
        self.schema = schema

    def clean(self, value, name):
        return self.schema.validate(value, prefix=name + ".")

    def openapi(self):
        ref = {"$ref": f"#/components/schemas/{self.schema.name}"}
        # OpenAPI 3.0 ignores the siblings of a $ref: a nullable object says so around it.
        return {"allOf": [ref], "nullable": True} if self.nullable else ref


class List(Field):
    """A JSON array of one field type, with a length cap: a request's, or the most a response
    holds (None: an answer whose length has no fixed bound, such as the reasons of a colour)."""

    json_type = "array"

    def __init__(self, items: Field, label: str = "", *, max_items: int | None = 100, min_items: int = 0, **kwargs):
        super().__init__(label, **kwargs)
        self.items, self.max_items, self.min_items = items, max_items, min_items

    def clean(self, value, name):
        if not isinstance(value, list):
            raise self.error(name, f"{self.label or name}应为列表")
        if self.max_items is not None and len(value) > self.max_items:
            raise self.error(name, f"{self.label or name}最多 {self.max_items} 项")
        if len(value) < self.min_items:
            raise self.error(name, f"{self.label or name}至少 {self.min_items} 项")
        return [self.items.clean(v, f"{name}[{i}]") for i, v in enumerate(value)]

    def openapi(self):
        spec = super().openapi()
        spec["items"] = self.items.openapi()
        if self.max_items is not None:
            spec["maxItems"] = self.max_items
        if self.min_items:
            spec["minItems"] = self.min_items
        return spec


class Any_(Field):
    """A value passed through as it is (response descriptions only)."""

    json_type = "object"


def _bounded(field, value, name):
    if field.minimum is not None and value < field.minimum:
        raise field.error(name, f"{field.label or name}不能小于 {field.minimum}")
    if field.maximum is not None and value > field.maximum:
        raise field.error(name, f"{field.label or name}不能大于 {field.maximum}")
    return value


def _bounds_spec(field, spec):
    if field.minimum is not None:
        spec["minimum"] = field.minimum
    if field.maximum is not None:
        spec["maximum"] = field.maximum
    return spec


class Schema:
    """A named JSON object shape. Every schema registers itself for /openapi.json."""

    registry: dict[str, "Schema"] = {}

    def __init__(self, name: str, fields: dict[str, Field], description: str = ""):
        self.name = name
        self.fields = fields
        self.description = description
        Schema.registry[name] = self

    def validate(self, data: Any, prefix: str = "") -> dict:
        """The cleaned object, holding only the fields that were sent (and are known)."""
        if not isinstance(data, dict):
            raise ApiError("invalid_body", "请求体应为 JSON 对象", 400, prefix.rstrip(".") or None)
        unknown = data.keys() - self.fields.keys()
        if unknown:
            first = min(unknown)
            raise ApiError("unknown_field", f"不支持的字段：{first}", 400, prefix + first)
        clean = {}
        for name, field in self.fields.items():
            value = data.get(name, _MISSING)
            if value is _MISSING:
                if field.required:
                    raise ApiError("missing_field", f"缺少必填项：{field.label or name}", 400, prefix + name)
                continue
            if value is None:
                if not field.nullable:
                    raise ApiError("missing_field", f"{field.label or name}不能为空", 400, prefix + name)
                clean[name] = None
                continue
            clean[name] = field.clean(value, prefix + name)
        return clean

    def validate_query(self, values: dict) -> dict:
        """Like `validate`, for a query string: texts are first read as the fields' types."""
        typed = {}
        for name, text in values.items():
            field = self.fields.get(name)
            typed[name] = field.from_text(text, name) if field is not None else text
        return self.validate(typed)

    def openapi_parameters(self) -> list[dict]:
        """The fields as OpenAPI query parameters."""
        return [{"name": name, "in": "query", "required": f.required, "schema": f.openapi()}
                for name, f in self.fields.items()]

    def openapi(self) -> dict:
        """The component schema."""
        spec: dict = {
            "type": "object",
            "properties": {name: f.openapi() for name, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [name for name, f in self.fields.items() if f.required]
        if required:
            spec["required"] = required
        if self.description:
            spec["description"] = self.description
        return spec
