"""The OpenAPI document is generated from the route table: it cannot drift."""

import pytest
from openapi_spec_validator import validate

from devcapsules.openapi import build_document
from devcapsules.routes import all_routes
from devcapsules.routing import Route


@pytest.fixture(scope="module")
def document():
    return build_document(all_routes(), "test")


def test_document_validates_as_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_and_method_is_in_the_document(document):
    for route in all_routes():
        path = route.path.replace(":path}", "}")
        assert path in document["paths"], f"{route.path} missing"
        for method in route.methods:
            if method != "HEAD":
                assert method.lower() in document["paths"][path], f"{method} {route.path}"


def test_a_new_route_appears_without_editing_the_generator():
    async def handler(request, ctx):
        raise NotImplementedError

    extra = Route("/api/v1/brand-new/{thing}", handler, ["PUT"], auth="required")
    document = build_document([*all_routes(), extra], "test")
    operation = document["paths"]["/api/v1/brand-new/{thing}"]["put"]
    assert operation["parameters"][0]["name"] == "thing"
    assert {"401", "404", "429"} <= set(operation["responses"])


def test_error_shapes_and_statuses(document):
    register = document["paths"]["/api/v1/auth/register"]["post"]
    assert {"201", "400", "409", "413", "422", "429"} <= set(register["responses"])
    error_ref = register["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref == "#/components/schemas/ErrorResponse"
    patch = document["paths"]["/api/v1/capsules/{id}"]["patch"]
    assert {"401", "403", "404", "412", "422"} <= set(patch["responses"])


def test_security_schemes_and_optional_auth(document):
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}
    execute = document["paths"]["/api/v1/execute"]["post"]
    assert {} in execute["security"]  # anonymous callers are accepted
    assert {"apiKeyAuth": ["execute"]} in execute["security"]
    assert "security" not in document["paths"]["/health"]["get"]


def test_rate_limit_headers_are_declared(document):
    ok = document["paths"]["/api/v1/capsules"]["get"]["responses"]["200"]
    assert "RateLimit-Remaining" in ok["headers"]
    too_many = document["paths"]["/api/v1/capsules"]["get"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]


def test_chart_is_svg(document):
    chart = document["paths"]["/api/v1/analytics/capsules/{id}/chart.svg"]["get"]
    assert "image/svg+xml" in chart["responses"]["200"]["content"]


def test_served_over_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.json()["paths"].keys() == build_document(all_routes(), "x")["paths"].keys()


def test_other_success_statuses_carry_the_success_shape(document):
    events = document["paths"]["/api/v1/analytics/events"]["post"]["responses"]
    assert events["207"]["content"] == events["200"]["content"]
    replay = document["paths"]["/api/v1/generate"]["post"]["responses"]
    assert replay["200"]["content"] == replay["202"]["content"]
    not_modified = document["paths"]["/api/v1/capsules/{id}"]["get"]["responses"]["304"]
    assert "content" not in not_modified


def test_error_statuses_cannot_be_declared_as_successes():
    async def handler(request, ctx):
        raise NotImplementedError

    with pytest.raises(ValueError, match="errors"):
        Route("/x", handler, statuses=(404,))


def test_patch_fields_are_documented_non_nullable(document):
    schemas = document["components"]["schemas"]
    update = schemas["CapsuleUpdate"]
    assert update["properties"]["title"]["type"] == "string"
    assert {"type": "null"} in update["properties"]["functionName"]["anyOf"]
    assert update["minProperties"] == 1
    # Test cases are documented on PATCH as on create, so valid updates can be generated.
    create = schemas["CapsuleCreate"]["properties"]["testCases"]
    assert update["properties"]["testCases"]["items"] == create["items"]
    assert update["properties"]["testCases"]["maxItems"] == create["maxItems"]


def test_request_headers_routes_read_are_documented(document):
    def header_names(path, method):
        params = document["paths"][path][method]["parameters"]
        return {p["name"] for p in params if p["in"] == "header"}

    assert header_names("/api/v1/capsules/{id}", "patch") == {"If-Match"}
    assert header_names("/api/v1/capsules/{id}", "get") == {"If-None-Match"}
    assert header_names("/api/v1/generate", "post") == {"Idempotency-Key"}
    assert header_names("/api/v1/execute/tests", "post") == {"X-Session-Id"}
    validate(document)


def test_every_operation_declares_the_dependency_outage(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            outage = operation["responses"].get("503")
            assert outage is not None, (method, path)
            assert "Retry-After" in outage["headers"], (method, path)


def test_executor_routes_declare_bad_answers_and_deadlines(document):
    run = document["paths"]["/api/v1/execute"]["post"]["responses"]
    assert {"502", "503", "504"} <= set(run)
    assert "executor_bad_response" in run["502"]["description"]


def test_the_static_pages_are_not_operations(document):
    """/docs and the widget are files the edge serves without the Worker, not API
    operations: a client generated from the document must not call them."""
    assert not any(path == "/docs" or path.startswith("/examples") for path in document["paths"])
    security = document["components"]["securitySchemes"]
    assert set(security) == {"bearerAuth", "apiKeyAuth"}  # what /docs offers to Authorize
