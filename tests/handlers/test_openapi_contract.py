"""/openapi.json states what the server enforces and what it answers.

- Requests, field by field: every constraint the document states (type, required, nullable,
  length, pattern, enum, range, list size) is what the validators apply, probed at each bound
  through the schema that validates the operation's body or query; for a field the document
  marks `x-checked-by-service` (request_id's 8-64 characters of [A-Za-z0-9_-], temperatures, the
  nearby search's point and radius) through the service's own check, and on the running server.
- Responses: the answers of the demo's accounts to every operation they can call without a
  path parameter match their declared schemas (types, nullable fields, list sizes, no field left
  undeclared).
"""

from __future__ import annotations

import re

import pytest

from handlers.openapi import build_document, component_schemas
from handlers.schema import Body, model
from server import api_routes
from config import TestConfig
from services.accounts import passwords, phone_auth
from services.common.errors import ApiError
from services.operations import demo
from services.oversight import exports
from services.people import identity
from services.risk_data import nearby, risk_inputs
from services.scanning.scans import REQUEST_ID_RE
from services.venues import screen_codes
from tests.conftest import make_id_number

DOCUMENT = build_document(api_routes(TestConfig()))
SCHEMAS = DOCUMENT["components"]["schemas"]
QUERY_VALUES = {"lat": 34.75, "lng": 113.62}


def _resolve(spec: dict) -> dict:
    """A property's own schema: references followed; `allOf: [$ref]` with `nullable` as one."""
    nullable = spec.get("nullable", False)
    if "allOf" in spec:
        [spec] = spec["allOf"]
    while "$ref" in spec:
        spec = SCHEMAS[spec["$ref"].rsplit("/", 1)[1]]
    return {**spec, "nullable": True} if nullable else spec


def conforms(spec: dict, value, path: str = "data") -> list[str]:
    """Where `value` departs from the JSON schema `spec` (the document's subset of it)."""
    spec = _resolve(spec)
    if value is None:
        return [] if spec.get("nullable") else [f"{path}: null, not declared nullable"]
    kind = spec.get("type")
    ok = {"string": isinstance(value, str), "boolean": isinstance(value, bool),
          "integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "array": isinstance(value, list), "object": isinstance(value, dict)}.get(kind, True)
    if not ok:
        return [f"{path}: {type(value).__name__} {value!r:.60}, declared {kind}"]
    problems = []
    if kind == "string":
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            problems.append(f"{path}: {len(value)} characters, maxLength {spec['maxLength']}")
        if "enum" in spec and value not in spec["enum"]:
            problems.append(f"{path}: {value!r} not in {spec['enum']}")
        if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {spec['pattern']}")
    if kind in ("integer", "number"):
        if "minimum" in spec and value < spec["minimum"]:
            problems.append(f"{path}: {value} below {spec['minimum']}")
        if "maximum" in spec and value > spec["maximum"]:
            problems.append(f"{path}: {value} above {spec['maximum']}")
    if kind == "array":
        if "maxItems" in spec and len(value) > spec["maxItems"]:
            problems.append(f"{path}: {len(value)} items, maxItems {spec['maxItems']}")
        if len(value) < spec.get("minItems", 0):
            problems.append(f"{path}: {len(value)} items, minItems {spec['minItems']}")
        for i, item in enumerate(value):
            problems += conforms(spec.get("items", {}), item, f"{path}[{i}]")
    if kind == "object" and "properties" in spec:
        for name in spec.get("required", []):
            if name not in value:
                problems.append(f"{path}.{name}: required, missing")
        for name, item in value.items():
            if name in spec["properties"]:
                problems += conforms(spec["properties"][name], item, f"{path}.{name}")
            elif spec.get("additionalProperties") is False:
                problems.append(f"{path}.{name}: not declared")
    return problems


def operations():
    for path, methods in DOCUMENT["paths"].items():
        for method, op in methods.items():
            yield path, method, op


# --- requests: the document's constraints are the validators' -----------------------------------------

def request_schemas() -> dict[str, type[Body]]:
    """The schemas that validate a body or a query string."""
    found = {}
    for _, handler, *_ in api_routes(TestConfig()):
        for method in ("get", "post", "put", "patch", "delete"):
            spec = getattr(getattr(handler, method, None), "operation", None)
            for schema in (getattr(spec, "body", None), getattr(spec, "query", None)):
                if schema is not None:
                    found[schema.__name__] = schema
    return found


SERVICE_CHECKS = {  # a deferred field's name -> the service check that enforces it
    "request_id": lambda value: REQUEST_ID_RE.fullmatch(value) is not None,
    "temperature": lambda value: _accepted(risk_inputs.check_temperature, value),
    "lat": lambda value: _accepted(nearby.check_point, value, 0, 1000),
    "lng": lambda value: _accepted(nearby.check_point, 0, value, 1000),
    "radius": lambda value: _accepted(nearby.check_point, 0, 0, value),
    "phone": lambda value: _accepted(identity.validate_phone, value),
    "password": lambda value: _accepted(passwords.check_new, value, "password", phone_auth.PASSWORD_MIN,
                                        phone_auth.PASSWORD_MAX),
    "purpose": lambda value: _accepted(exports.clean_purpose, value),
    "screen_code": lambda value: _accepted(screen_codes.check_format, value),
}


def _accepted(check, *args) -> bool:
    try:
        check(*args)
    except ApiError as error:
        assert error.status == 400 and error.message
        return False
    return True


def probes(name: str, spec: dict) -> list[tuple[object, bool]]:
    """Values at and beyond each bound the document states, with whether it says they pass."""
    spec = _resolve(spec)
    kind, cases = spec.get("type"), []
    if kind == "string" and "enum" in spec:
        cases += [(value, True) for value in spec["enum"]] + [("not-a-choice", False)]
    elif kind == "string" and spec.get("format") != "date":
        pattern = spec.get("pattern")
        low, high = spec.get("minLength", 1), spec.get("maxLength")
        filler = "A" if pattern is None or re.fullmatch(pattern, "A" * max(low, 1)) else "1"
        if pattern is None or re.fullmatch(pattern, filler * low):
            cases.append((filler * low, True))
        if high is not None and (pattern is None or re.fullmatch(pattern, filler * high)):
            cases.append((filler * high, True))
        if high is not None:
            cases.append((filler * (high + 1), False))
        if low > 1:
            cases.append((filler * (low - 1), False))
        if pattern is not None:
            cases.append(("#" * max(low, 1), False))
    elif kind in ("integer", "number"):
        for bound, step in (("minimum", -1), ("maximum", 1)):
            if bound in spec:
                cases += [(spec[bound], True), (spec[bound] + step, False)]
        cases.append(("1", False))  # a text is not a number
    elif kind == "boolean":
        cases += [(True, True), (False, True), ("true", False)]
    elif kind == "array":
        if "maxItems" in spec:
            cases.append(([], spec.get("minItems", 0) == 0))
            cases.append(([None] * (spec["maxItems"] + 1), False))
    if not spec.get("nullable"):
        cases.append((None, False))
    return cases


def alone(schema: type[Body], name: str) -> type[Body]:
    """The model's validation of one of its fields, without the others."""
    return model(schema.__name__, {name: schema.__specs__[name]})


@pytest.mark.parametrize("schema_name", sorted(request_schemas()))
def test_every_request_field_is_checked_as_the_document_states(schema_name):
    schema = request_schemas()[schema_name]
    spec = SCHEMAS[schema_name]
    assert spec == component_schemas([schema])[schema_name]
    for name, field_spec in spec["properties"].items():
        deferred = field_spec.get("x-checked-by-service", False)
        assert not deferred or name in SERVICE_CHECKS, f"{schema_name}.{name}: which service checks it?"
        for value, passes in probes(name, field_spec):
            try:
                cleaned = alone(schema, name).clean({name: value})
                outcome = True
                if deferred and value is not None:
                    outcome = SERVICE_CHECKS[name](cleaned[name])
            except ApiError as error:
                # 413: a partner batch over its size is "too large", as the issue asks, not a 400.
                assert error.status in (400, 413) and error.message and (error.field or "").startswith(name), \
                    (name, value)
                outcome = False
            assert outcome == passes, f"{schema_name}.{name} = {value!r:.40}: the document says " \
                                      f"{'accepted' if passes else 'refused'}, the validator disagrees"
        if name in spec.get("required", []):
            with pytest.raises(ApiError) as missing:
                schema.clean({})
            assert missing.value.code == "missing_field"


PHONES = ["13800000000", "+86 138 0000 0000", "86-138-0000-0000", "8613800000000", " 1 3 8 0000 0000 ",
          "12800000000", "1380000000", "138000000000", "+8513800000000", "86 1380000000", "138-0000-000a", ""]


def test_the_phone_pattern_is_what_the_service_accepts():
    pattern = SCHEMAS["SmsSendRequest"]["properties"]["phone"]["pattern"]
    for text in PHONES:
        assert bool(re.fullmatch(pattern, text)) == _accepted(identity.validate_phone, text), text


def test_the_services_checks_are_stated_in_the_document(api):
    """Constraints the services apply beyond the schemas, probed at their bounds on the server."""
    scan = _resolve(DOCUMENT["paths"]["/api/v1/scans"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert scan["properties"]["request_id"] == {**scan["properties"]["request_id"], "minLength": 8, "maxLength": 64,
                                                "pattern": "[A-Za-z0-9_-]{8,64}"}
    temperature = scan["properties"]["temperature"]
    assert (temperature["minimum"], temperature["maximum"]) == (34.0, 43.0)
    nearby = {p["name"]: p["schema"] for p in
              next(op for _, _, op in operations() if op["operationId"] == "nearbyRisk")["parameters"]}
    assert (nearby["lat"]["minimum"], nearby["lat"]["maximum"]) == (-90, 90)
    assert (nearby["lng"]["minimum"], nearby["lng"]["maximum"]) == (-180, 180)
    assert (nearby["radius"]["minimum"], nearby["radius"]["maximum"]) == (1, 50000)
    api.dev_login("contract")
    for name, value, field in (("lat", 90.5, "lat"), ("lng", -180.5, "lng")):
        query = {**QUERY_VALUES, name: value}
        refused = api.call("nearbyRisk", query=query)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == field
    for radius, status in ((0.5, 400), (1, 200), (50000, 200), (50001, 400)):
        assert api.call("nearbyRisk", query={**QUERY_VALUES, "radius": radius}).status_code == status, radius
    for request_id in ("a" * 7, "a" * 65, "bad id!!"):
        refused = api.call("scanPlace", {"code": "x" * 20, "flow": "customer", "request_id": request_id})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "request_id", request_id


# --- responses: what the server answers is what the document declares ----------------------------------

@pytest.fixture
def demo_api(api):
    api.scan_token = demo.load()["scan_token"]
    return api


def test_the_demo_accounts_answers_match_their_schemas(demo_api):
    tokens = {openid: demo_api.dev_login(openid) for openid in demo.DEMO_ACCOUNTS}
    problems, called = [], 0
    for openid, login in tokens.items():
        problems += conforms(SCHEMAS["LoginResult"], login, f"authDevLogin({openid})")
    for path, method, op in operations():
        if method != "get" or "{" in path or op.get("responses", {}).get("200", {}).get("content", {}).get(
                "application/json") is None:
            continue
        roles = op.get("x-roles") or []
        users = [o for o, login in tokens.items() if not roles or set(roles) & set(login["account"]["roles"])]
        for openid in users[:2]:
            query = {p["name"]: QUERY_VALUES[p["name"]] for p in op.get("parameters", [])
                     if p["in"] == "query" and p["required"]}
            response = demo_api.call(op["operationId"], token=tokens[openid]["token"], query=query or None)
            schema = op["responses"].get(str(response.status_code), {}).get("content", {}).get("application/json")
            if schema is None:
                problems.append(f"{op['operationId']}({openid}): status {response.status_code} not declared")
                continue
            body = response.json()
            problems += conforms(schema["schema"], body, f"{op['operationId']}({openid})")
            called += response.status_code == 200
    # A citizen's first steps, whose answers carry the most optional and nullable fields.
    citizen = tokens["demo-citizen"]["token"]
    steps = [("updateProfile", {"name": "王小明", "id_number": make_id_number(7), "phone": "13800000007"}),
             ("scanPlace", {"code": demo_api.scan_token, "flow": "resident", "request_id": "contract-0001",
                            "temperature": 36.5}),
             ("getMyHealthCode", None), ("listMyEntries", None), ("listMyColourHistory", None),
             ("addFamilyMember", {"name": "王奶奶", "relationship": "grandparent", "id_number": "11010519491231002X"}),
             ("listFamilyMembers", None), ("listProxyIdentities", None),
             ("submitDeclaration", {"kind": "personal", "residence": "郑州市金水区经八路5号", "health_status": "healthy",
                                    "contact_with_patient": False, "temperature": 36.6}),
             ("listDeclarations", None), ("createPaperHealthCode", None), ("listPaperHealthCodes", None)]
    for operation_id, body in steps:
        response = demo_api.call(operation_id, body, token=citizen)
        assert response.status_code < 300, (operation_id, response.text)
        op = next(op for _, _, op in operations() if op["operationId"] == operation_id)
        schema = op["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        problems += conforms(schema, response.json(), operation_id)
    assert called >= 20
    assert not problems, "\n".join(problems)


# --- responses are typed ------------------------------------------------------------------------------

# Response fields whose data is open: keys that are data, not a fixed shape (handlers.schema.Open).
OPEN_RESPONSE_FIELDS = {
    "OfflineVerificationList.keys",  # key id -> public key: the ids are the data
    "Declaration.answers",  # the declaration form's other answers, whose questions differ by kind
}


def _untyped(spec: dict, where: str, seen: set) -> list[str]:
    """The places under `spec` that are a bare object (no properties), outside OPEN_RESPONSE_FIELDS."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(SCHEMAS[name], name, seen)
    found = []
    for key in ("allOf", "anyOf", "oneOf"):
        for i, part in enumerate(spec.get(key, ())):
            found += _untyped(part, where, seen)
    if spec.get("type") == "object" and "properties" not in spec and where not in OPEN_RESPONSE_FIELDS:
        found.append(where)
    if "items" in spec:
        found += _untyped(spec["items"], where + "[]", seen)
    for name, prop in spec.get("properties", {}).items():
        found += _untyped(prop, f"{where}.{name}", seen)
    return found


def test_every_response_is_typed():
    untyped, seen = [], set()
    for _, _, op in operations():
        for status, answer in op["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None and status.startswith("2"):
                untyped += _untyped(schema["properties"]["data"], op["operationId"], seen)
    assert not untyped, "responses with an untyped object:\n" + "\n".join(sorted(set(untyped)))
