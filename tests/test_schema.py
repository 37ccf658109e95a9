"""The OpenAPI schema validates and documents every API route."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver


def api_routes() -> set[str]:
    found: set[str] = set()

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/v1/"):
                    found.add("/" + re.sub(r"<(?:str|int|path):", "{", route).replace(">", "}"))

    walk(get_resolver().url_patterns)
    return found


# Routes that are another spelling of a documented operation: one operation, one entry in the
# schema (a generated client gets one method), both URLs served.
ALIASES = {
    "/api/v1/redemptions/{redemption_id}/fulfil": "/api/v1/redemptions/{redemption_id}/fulfill"
}


@pytest.mark.django_db
def test_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    documented = set(schema["paths"])
    assert api_routes() - set(ALIASES) <= documented, api_routes() - documented
    assert not set(ALIASES) & documented
    assert set(ALIASES.values()) <= documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "200" in operation["responses"] or any(
                code.startswith("2") for code in operation["responses"]
            ), (method, path)


@pytest.mark.django_db
def test_errors_are_documented_as_problem_json():
    # Generated clients (and schemathesis) check the media type: errors are sent as
    # application/problem+json, so the schema must say so.
    out = io.StringIO()
    call_command("spectacular", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    errors = [
        (method, path, code, sorted(response.get("content", {})))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
        if code[0] in "45"
    ]
    assert errors
    wrong = [e for e in errors if e[3] != ["application/problem+json"]]
    assert not wrong, wrong


@pytest.mark.django_db
def test_request_bodies_that_refuse_unknown_fields_say_so(api):
    out = io.StringIO()
    call_command("spectacular", stdout=out)
    components = yaml.safe_load(out.getvalue())["components"]["schemas"]
    for name in ("TeamInputRequest", "ContestInputRequest", "EventBatchRequest"):
        assert components[name]["additionalProperties"] is False, name
    # … and the server does refuse them, naming the field.
    response = api.put("/api/v1/teams/t1", {"name": "T", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"colour": ["Unknown field."]}
    response = api.post("/api/v1/events", {"events": [], "source": "x"}, format="json")
    assert response.status_code == 400
    assert "source" in response.json()["errors"]


# --- what a generated client relies on (issue 14, item 13) --------------------------------
@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("spectacular", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema):
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            yield path, method, operation


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_every_page_declares_limit_and_cursor(schema):
    # A list answered as {"results", "next"} pages; without `limit` and `cursor` in the schema
    # a generated client cannot ask for more than the first 50.
    pages = []
    for _, _, operation in operations(schema):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        body = resolve(schema, ok["schema"]) if ok else {}
        if {"results", "next"} <= set(body.get("properties", {})):
            pages.append(operation["operationId"])
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if operation["operationId"] == "kpis_list":
                continue  # the catalogue is answered whole: `next` is always null
            assert {"limit", "cursor"} <= names, operation["operationId"]
            limit = next(p for p in operation["parameters"] if p["name"] == "limit")
            assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}
    listed = {"agents_list", "teams_list", "activity_list", "contests_list", "badges_list",
              "point_rules_list", "agents_badges", "rewards_list", "redemptions_list"}  # fmt: skip
    assert listed <= set(pages)


@pytest.mark.parametrize(
    ("operation_id", "required"),
    [
        ("point_rules_create", {"name", "kpi", "kind", "points"}),
        ("rewards_create", {"name", "cost"}),
        ("badges_create", {"code", "name", "criteria"}),
        ("contests_create", {"name", "metric", "starts_at", "ends_at"}),
        ("kpis_create", {"code", "name", "unit", "direction", "aggregation"}),
        ("wallet_grants_create", {"amount", "reason"}),
        ("redemptions_create", {"agent", "reward"}),
        ("points_adjustments_create", {"points", "reason"}),
    ],
)
def test_create_bodies_declare_their_required_fields(schema, operation_id, required):
    operation = next(o for _, _, o in operations(schema) if o["operationId"] == operation_id)
    body = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == required
    # … and the PATCH of the same resource requires nothing.
    patched = f"Patched{operation['requestBody']['content']['application/json']['schema']}"
    patched = patched.rsplit("/", 1)[1]
    if patched in schema["components"]["schemas"]:
        assert not schema["components"]["schemas"][patched].get("required")


IDEMPOTENT = {
    "points_adjustments_create", "wallet_grants_create", "redemptions_create",
    "redemptions_approve", "redemptions_reject", "redemptions_fulfill",
}  # fmt: skip


def test_idempotency_key_and_replayed_header_are_documented_where_honoured(schema):
    seen = set()
    for _, _, operation in operations(schema):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        replayed = {
            code
            for code, response in operation["responses"].items()
            if "Idempotent-Replayed" in response.get("headers", {})
        }
        if operation["operationId"] in IDEMPOTENT:
            seen.add(operation["operationId"])
            assert "Idempotency-Key" in headers, operation["operationId"]
            # Every stored answer may come back replayed; 401/403/409/429 never are.
            success = {c for c in operation["responses"] if c.startswith("2")}
            assert success | {"400", "404"} <= replayed, operation["operationId"]
            assert not replayed & {"401", "403", "409", "429"}
        else:
            assert "Idempotency-Key" not in headers, operation["operationId"]
            assert not replayed, operation["operationId"]
    assert seen == IDEMPOTENT


def test_every_authenticated_operation_documents_401_403_and_429(schema):
    missing = [
        (operation["operationId"], code)
        for _, _, operation in operations(schema)
        for code in ("401", "403", "429")
        if code not in operation["responses"]
    ]
    assert not missing


def test_no_enum_of_the_empty_string(schema):
    # An optional choice is omitted or null, never "" (which generators type as BlankEnum).
    assert "BlankEnum" not in schema["components"]["schemas"]
    op = resolve(schema, schema["components"]["schemas"]["PointRuleInputRequest"])["properties"]
    assert {resolve(schema, o).get("type") for o in op["op"]["oneOf"]} >= {"string", "null"}


def test_badge_criteria_are_one_type_per_kind(schema):
    from gamify.game.services import CRITERIA_FIELDS

    components = schema["components"]["schemas"]
    for name in ("BadgeCriteriaRequest", "BadgeCriteria"):
        criteria = components[name]
        assert criteria["discriminator"]["propertyName"] == "kind"
        assert set(criteria["discriminator"]["mapping"]) == set(CRITERIA_FIELDS)
    for kind, target in components["BadgeCriteriaRequest"]["discriminator"]["mapping"].items():
        body = resolve(schema, {"$ref": target})
        # The same fields as the service reads, the same required ones, nothing else.
        assert set(body["properties"]) == {"kind", *CRITERIA_FIELDS[kind]}, kind
        wanted = {"kind"} | {f for f, required in CRITERIA_FIELDS[kind].items() if required}
        assert set(body["required"]) == wanted, kind
        assert body["additionalProperties"] is False
    streak = resolve(schema, {"$ref": "#/components/schemas/StreakCriteriaRequest"})
    assert streak["properties"]["length"] == {"type": "integer", "minimum": 2, "maximum": 366}
    for name in ("BadgeInputRequest", "BadgeOutput"):
        assert "$ref" in components[name]["properties"]["criteria"], name


def test_contest_structures_are_typed_for_input_and_output(schema):
    components = schema["components"]["schemas"]
    body = components["ContestInputRequest"]["properties"]
    assert body["prizes"]["items"] == {"$ref": "#/components/schemas/PrizeRequest"}
    assert body["guardrails"]["items"] == {"$ref": "#/components/schemas/GuardrailRequest"}
    assert body["participants"] == {"$ref": "#/components/schemas/ParticipantsRequest"}
    assert components["PrizeRequest"]["properties"]["rank_to"]["maximum"] == 100_000
    output = components["ContestOutput"]["properties"]
    assert output["prizes"]["items"] == {"$ref": "#/components/schemas/Prize"}
    assert output["participants"] == {"$ref": "#/components/schemas/Participants"}


def test_period_parameters_carry_their_formats(schema):
    formats = {}
    for _, _, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] in ("date", "start", "end"):
                formats.setdefault(parameter["name"], set()).add(parameter["schema"].get("format"))
    assert formats == {"date": {"date"}, "start": {"date-time"}, "end": {"date-time"}}


def test_events_import_takes_an_ndjson_string(schema):
    body = schema["paths"]["/api/v1/events/import"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/x-ndjson"]
    assert body["application/x-ndjson"]["schema"]["type"] == "string"


def test_problem_documents_the_members_409s_add(schema):
    problem = schema["components"]["schemas"]["Problem"]["properties"]
    assert {"balance", "needed", "limit", "remaining", "redemption_status"} <= set(problem)
    status = resolve(schema, problem["redemption_status"]["allOf"][0])
    assert status["enum"] == ["requested", "approved", "rejected", "fulfilled"]


def test_every_number_a_client_sends_has_a_range(schema):
    # Item 7: no integer or number in a request body (or a query) without its bounds — the
    # server refuses what lies outside them with a 400 naming the field.
    unbounded = []

    def walk(node, where, seen):
        node = node or {}
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return
            seen = seen | {name}
            node = schema["components"]["schemas"][name]
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, where, seen)
        types = node.get("type")
        types = set(types) if isinstance(types, list) else {types}
        if types & {"integer", "number"}:
            low = "minimum" in node or "exclusiveMinimum" in node
            high = "maximum" in node or "exclusiveMaximum" in node
            if not (low and high):
                unbounded.append(where)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{name}", seen)
        if "items" in node:
            walk(node["items"], f"{where}[]", seen)

    for path, method, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {})
        for media, body in content.items():
            walk(body.get("schema"), f"{method} {path} {media}", frozenset())
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":  # a too-large id in a path names nothing: 404
                walk(parameter["schema"], f"{method} {path} ?{parameter['name']}", frozenset())
    assert not unbounded, unbounded
