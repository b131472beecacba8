"""/openapi.json (OpenAPI 3.0), generated from the routes and the pydantic models they declare:
each model's JSON Schema (`models_json_schema`, written as OpenAPI 3.0: `nullable`, no `null` type)
is a component that operations refer to."""

from __future__ import annotations

import json
import re

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from handlers.base import MAX_ID, ApiHandler, BaseHandler
from handlers.schema import Body

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "description": "机器可读的错误码"},
        "message": {"type": "string", "description": "中文错误说明"},
        "field": {"type": "string", "nullable": True, "description": "出错的字段"},
    }, "required": ["code", "message", "field"]}},
}
STATUS_TEXT = {400: "请求有误", 401: "未登录或登录失效", 403: "无权访问", 404: "不存在", 413: "请求体过大",
               429: "请求过于频繁", 502: "上游平台返回错误",
               503: "暂不可用，未做任何修改，按 Retry-After 秒后重试：服务繁忙（overloaded）、数据库不可用"
                    "（service_unavailable）或上游平台不可用"}
# Every operation may answer 503 (the process past its capacity, the database out of reach), and
# every 503 says when to try again.
RETRY_AFTER = {"Retry-After": {"description": "多少秒后重试", "schema": {"type": "integer"}}}


REF = "#/components/schemas/{model}"


class OpenApi30Schema(GenerateJsonSchema):
    """JSON Schema as OpenAPI 3.0 reads it: `nullable: true` for "or null", no titles on fields
    (the description carries the Chinese label), no defaults (an optional field is left out)."""

    def nullable_schema(self, schema):
        inner = self.generate_inner(schema["schema"])
        # OpenAPI 3.0 ignores the siblings of a $ref: a nullable object says so around it.
        return {"allOf": [inner], "nullable": True} if "$ref" in inner else {**inner, "nullable": True}

    def default_schema(self, schema):
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema) -> bool:
        return False


def _ref(model: type[Body]) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def _envelope(model: type[Body] | None) -> dict:
    data = _ref(model) if model else {"type": "object"}
    return {"type": "object", "properties": {"data": data}, "required": ["data"]}


def component_schemas(models: list[type[Body]]) -> dict:
    """The JSON Schema of each model and of the models it holds, by name."""
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF,
                                schema_generator=OpenApi30Schema)
    schemas = top.get("$defs", {})
    for spec in schemas.values():
        spec.pop("title", None)
    named = {m.__name__ for m in models}
    assert named <= schemas.keys(), f"two models share a name: {sorted(named - schemas.keys())}"
    return schemas


def query_parameters(model: type[Body], schemas: dict) -> list[dict]:
    """A query model's fields as OpenAPI query parameters."""
    spec = schemas[model.__name__]
    return [{"name": name, "in": "query", "required": name in spec.get("required", ()), "schema": prop}
            for name, prop in spec["properties"].items()]


def _openapi_path(pattern: str) -> str:
    """A route pattern with named groups, "(?P<code_id>\\d+)", as an OpenAPI path "{code_id}"."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.rstrip("$")).replace("\\.", ".")


def _path_parameters(pattern: str) -> list[dict]:
    """The route's named groups as path parameters, typed as they are routed: a record's id
    (digits) as an integer, anything else as a text matching its group."""
    return [{"name": name, "in": "path", "required": True,
             "schema": ({"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID} if body == r"\d+"
                        else {"type": "string", "pattern": f"^{body}$"})}
            for name, body in re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern)]


def build_document(routes: list, version: str = "1") -> dict:
    """The OpenAPI 3 document for every operation in `routes`."""
    paths: dict = {}
    tags: dict = {}  # tag name -> description, from the handlers' `openapi_tag`
    schemes: dict = {"bearer": {"type": "http", "scheme": "bearer"}}
    models = {m.__name__: m for _, handler, *_ in routes for spec in _operations(handler)
              for m in (spec.body, spec.query, spec.response) if m is not None}
    schemas = component_schemas(sorted(models.values(), key=lambda m: m.__name__))
    for pattern, handler, *_ in routes:
        for method in METHODS:
            spec = getattr(getattr(handler, method, None), "operation", None)
            if spec is None:
                continue
            path_parameters = _path_parameters(pattern)
            success = ({"application/json": {"schema": _envelope(spec.response)}}
                       if spec.produces == "application/json" else
                       {mime.strip(): {"schema": {"type": "string", "format": "binary"}}
                        for mime in spec.produces.split(",")})
            op = {
                "operationId": spec.operation_id,
                "summary": spec.summary,
                "responses": {str(spec.status): {"description": "成功", "content": success}},
            }
            if spec.description:
                op["description"] = spec.description
            tag = getattr(handler, "openapi_tag", None)
            if tag:
                op["tags"] = [tag[0]]
                tags[tag[0]] = tag[1]
            parameters = (path_parameters + list(getattr(handler, "header_parameters", ())) +
                          (query_parameters(spec.query, schemas) if spec.query else []))
            if parameters:
                op["parameters"] = parameters
            if spec.body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": _ref(spec.body)}}}
            errors = set(spec.errors) | {400, 503} | ({404} if path_parameters else set())  # no such record
            secured = issubclass(handler, ApiHandler) and not handler.public
            scheme = getattr(handler, "security_scheme", None)
            if scheme:  # a handler that signs in its own way (a partner's signed request)
                op["security"] = [{scheme[0]: []}]
                schemes[scheme[0]] = scheme[1]
                errors |= {401}
            if secured:
                op["security"] = [{"bearer": []}]
                errors |= {401}
                if handler.roles:
                    errors |= {403}
                    op["x-roles"] = list(handler.roles)
            for status in sorted(errors):
                op["responses"][str(status)] = {"description": STATUS_TEXT.get(status, "错误"), "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                if status == 503:
                    op["responses"]["503"]["headers"] = RETRY_AFTER
            paths.setdefault(_openapi_path(pattern), {})[method] = op
    document = {
        "openapi": "3.0.3",
        "info": {"title": "健康码与场所码平台 API", "version": version,
                 "description": "小程序接口。成功返回 {\"data\": ...}，失败返回 {\"error\": {code, message, field}}。"},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **dict(sorted(schemas.items()))},
            "securitySchemes": schemes,
        },
    }
    if tags:
        document["tags"] = [{"name": name, "description": text} for name, text in sorted(tags.items())]
    return document


def _operations(handler) -> list:
    return [spec for spec in (getattr(getattr(handler, m, None), "operation", None) for m in METHODS) if spec]


class OpenApiHandler(BaseHandler):
    """GET /openapi.json (built at start-up: no database)."""

    def get(self):
        self.finish(json.dumps(self.application.settings["openapi"], ensure_ascii=False))
