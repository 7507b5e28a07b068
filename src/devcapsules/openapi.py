"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Nothing here is written by hand per endpoint: each `Route` declares its auth, scopes,
body, query and response models, status and expected errors, and this module turns
those declarations into the document. A route added to the table is in the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from devcapsules.middleware.rate_limit import RATE_LIMIT_HEADERS
from devcapsules.routing import Route

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::path)?}")

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON body",
    401: "Missing or invalid credential",
    403: "Credential lacks a required scope, or the resource is not yours",
    404: "Not found (or not visible to the caller)",
    409: "Conflict with existing state",
    412: "Precondition failed (If-Match does not match the current version)",
    408: "The request body did not arrive in time (local hosts; the connection is closed)",
    413: "Request body too large",
    415: "The body is not sent as JSON (Content-Type: application/json or +json)",
    422: "Validation failed; details list field paths",
    429: "Rate limit or quota exceeded",
    500: "Unexpected error (no details are leaked)",
    502: "The code executor answered with something unusable (executor_bad_response)",
    503: "A dependency (D1, KV, queue, executor) is unavailable; retry after Retry-After",
    504: "The code executor did not answer within the run's deadline",
}
SUCCESS_DESCRIPTIONS = {
    207: "Partial success: the body says what was accepted and what was refused",
    304: "Not modified (If-None-Match matched the current ETag)",
}
# Request headers routes may declare, with the same rules the handlers apply.
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "description": "Update only if the capsule is still at this version (ETag, bare "
        "version, a list, or *); otherwise 412",
        "schema": {"type": "string"},
    },
    "If-None-Match": {
        "description": "Answer 304 without a body if the ETag still matches",
        "schema": {"type": "string"},
    },
    "Idempotency-Key": {
        "description": "Same key and body return the same job; another body is a 422",
        "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
    },
    "X-Session-Id": {
        "description": "The embed widget's anonymous learner session (for analytics)",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
}


def error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error", "requestId"],
        "properties": {
            "success": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {},
                },
            },
            "requestId": {"type": "string"},
        },
    }


def build_document(routes: Iterable[Route], version: str, server_url: str | None = None) -> dict:
    routes = list(routes)
    schemas, refs = _component_schemas(routes)
    schemas["ErrorResponse"] = error_schema()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        item = paths.setdefault(_openapi_path(route.path), {})
        for method in route.methods:
            if method != "HEAD":
                item[method.lower()] = operation(route, method, refs)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "DevCapsules API",
            "version": version,
            "description": "Interactive coding exercises at the edge (Cloudflare Python Worker).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": _security_schemes(),
            "headers": {name: _header(name) for name in (*RATE_LIMIT_HEADERS, "Retry-After")},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


Refs = dict[type[BaseModel], dict[str, Any]]


def _component_schemas(routes: list[Route]) -> tuple[dict[str, Any], Refs]:
    """Every model's schema under components, and the `$ref` to use for each model
    (pydantic disambiguates models that share a class name)."""
    models: list[type[BaseModel]] = []
    for route in routes:
        for model in (route.body, route.response):
            if model is not None and model not in models:
                models.append(model)
    if not models:
        return {}, {}
    keyed = [(model, _mode(model, routes)) for model in models]
    by_key, top = models_json_schema(keyed, ref_template=REF)
    refs = {model: by_key[(model, mode)] for model, mode in keyed}
    return dict(top.get("$defs", {})), refs


def _mode(model: type[BaseModel], routes: list[Route]) -> str:
    # Request models are documented as the client must send them ("validation" mode).
    return "validation" if any(model is r.body for r in routes) else "serialization"


def operation(route: Route, method: str, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{route.name}_{method.lower()}",
        "summary": route.summary or route.name.replace("_", " "),
        "tags": list(route.tags) or [_tag_from_path(route.path)],
        "parameters": _path_parameters(route)
        + _query_parameters(route)
        + _header_parameters(route),
        "responses": _responses(route, refs),
    }
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[route.body]}},
        }
    security = _security(route)
    if security is not None:
        op["security"] = security
    return op


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    if route.content_type != "application/json":
        success_schema: dict[str, Any] = {"type": "string"}
    elif route.response is not None:
        success_schema = refs[route.response]
    else:
        success_schema = {"type": "object"}
    responses: dict[str, Any] = {}
    for status in sorted({route.status, *route.statuses}):
        responses[str(status)] = _success_response(route, status, success_schema)
    for status in sorted(_error_statuses(route)):
        responses[str(status)] = _error_response(status)
    return responses


def _success_response(route: Route, status: int, schema: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": SUCCESS_DESCRIPTIONS.get(status, "Success"),
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS},
    }
    # 204 and 304 have no body by definition (RFC 9110).
    if status not in (204, 304):
        response["content"] = {route.content_type: {"schema": schema}}
    return response


def _error_statuses(route: Route) -> set[int]:
    # Every route reads D1, so any may meet an outage (503, with Retry-After).
    statuses = {429, 500, 503, *route.errors}
    if route.body is not None:
        statuses |= {400, 408, 413, 415, 422}
    if route.query is not None:
        statuses.add(422)
    statuses.add(401)  # a credential that is present but invalid is refused on any route
    if route.scopes:
        statuses.add(403)
    if "{" in route.path:
        statuses.add(404)
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return response


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]


def _query_parameters(route: Route) -> list[dict[str, Any]]:
    """Query models are flat: each field is one parameter, its schema inlined."""
    if route.query is None:
        return []
    schema = route.query.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": field.alias or name,
            "in": "query",
            "required": name in required,
            "schema": schema["properties"][field.alias or name],
        }
        for name, field in route.query.model_fields.items()
    ]


def _header_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "header", "required": False, **REQUEST_HEADERS[name]}
        for name in route.headers
    ]


def _security(route: Route) -> list[dict[str, list[str]]] | None:
    if route.auth == "none":
        return None
    schemes = [{"bearerAuth": []}, {"apiKeyAuth": list(route.scopes)}]
    # Optional auth: an empty requirement object means "anonymous is accepted too".
    return [*schemes, {}] if route.auth == "optional" else schemes


def _security_schemes() -> dict[str, Any]:
    return {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from /api/v1/auth/login (15 minutes, HS256).",
        },
        "apiKeyAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "dk_...",
            "description": "API key (`Authorization: Bearer dk_...`) with scopes.",
        },
    }


def _header(name: str) -> dict[str, Any]:
    return {"description": f"{name} (see README: rate limits)", "schema": {"type": "integer"}}


def _openapi_path(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _tag_from_path(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[2] if len(parts) > 2 else parts[-1]
