"""/openapi.json, generated from the routes and the schemas they declare."""

from __future__ import annotations

import json
import re

from handlers.base import ApiHandler, BaseHandler
from handlers.schema import Schema

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


def _envelope(schema: Schema | None) -> dict:
    data = {"$ref": f"#/components/schemas/{schema.name}"} if schema else {"type": "object"}
    return {"type": "object", "properties": {"data": data}, "required": ["data"]}


def _openapi_path(pattern: str) -> str:
    """A route pattern with named groups, "(?P<code_id>\\d+)", as an OpenAPI path "{code_id}"."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.rstrip("$")).replace("\\.", ".")


def _path_parameters(pattern: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\(\?P<(\w+)>", pattern)]


def build_document(routes: list, version: str = "1") -> dict:
    """The OpenAPI 3 document for every operation in `routes`."""
    paths: dict = {}
    tags: dict = {}  # tag name -> description, from the handlers' `openapi_tag`
    schemes: dict = {"bearer": {"type": "http", "scheme": "bearer"}}
    for pattern, handler, *_ in routes:
        for method in METHODS:
            spec = getattr(getattr(handler, method, None), "operation", None)
            if spec is None:
                continue
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
            parameters = (_path_parameters(pattern) + list(getattr(handler, "header_parameters", ())) +
                          (spec.query.openapi_parameters() if spec.query else []))
            if parameters:
                op["parameters"] = parameters
            if spec.body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{spec.body.name}"}}}}
            errors = set(spec.errors) | {400, 503}
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
            "schemas": {"Error": ERROR_SCHEMA, **{name: s.openapi() for name, s in sorted(Schema.registry.items())}},
            "securitySchemes": schemes,
        },
    }
    if tags:
        document["tags"] = [{"name": name, "description": text} for name, text in sorted(tags.items())]
    return document


class OpenApiHandler(BaseHandler):
    """GET /openapi.json (built at start-up: no database)."""

    uses_database = False

    def get(self):
        self.finish(json.dumps(self.application.settings["openapi"], ensure_ascii=False))
