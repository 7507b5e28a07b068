"""What every response carries, and what JSON routes refuse: non-JSON bodies (415) and
control characters in identifiers (422), with the rule published in the OpenAPI document."""

from __future__ import annotations

import pytest

from devcapsules.http import Request
from tests.support.auth import register

REGISTER = "/api/v1/auth/register"
SIGNUP = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


def assert_api_headers(response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "cache-control" in headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),  # 200
        ("GET", "/nope"),  # 404
        ("DELETE", "/health"),  # 405
        ("GET", "/api/v1/capsules/cap_missing"),  # 404 via a route
        ("GET", "/api/v1/auth/me"),  # 401
        ("GET", "/api/v1/openapi.json"),
    ],
)
def test_every_response_carries_the_api_headers(client, method, path):
    assert_api_headers(client.request(method, path))


def test_preflights_and_oversized_bodies_carry_them_too(client):
    preflight = client.request(
        "OPTIONS",
        REGISTER,
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert_api_headers(preflight)
    too_big = client.request("POST", REGISTER, body=b"x" * (2 * 1024 * 1024))
    assert too_big.status == 413
    assert_api_headers(too_big)


def test_a_route_keeps_its_own_cache_policy_and_others_are_not_stored(client):
    assert client.get("/api/v1/execute/languages").headers["cache-control"].startswith("public")
    assert client.get("/nope").headers["cache-control"] == "no-store"


def test_hsts_only_over_https(client):
    https = Request("GET", "https://api.example.com/health", client_ip="203.0.113.9")
    response = client.run(client.app.handle(https, client.env))
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in client.get("/health").headers


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"],
)
def test_a_json_route_refuses_a_body_not_sent_as_json(client, content_type):
    # The cross-site "simple request" content types need no CORS preflight.
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}'
    response = client.request("POST", REGISTER, body=body, headers=headers)
    assert response.status == 415
    error = response.json()
    assert error["success"] is False and error["error"]["code"] == "unsupported_media_type"
    assert error["requestId"] == response.headers["x-request-id"]
    login = {"email": SIGNUP["email"], "password": SIGNUP["password"]}
    assert client.post("/api/v1/auth/login", json=login).status == 401  # nobody was created


def test_a_json_route_accepts_json_with_a_charset(client):
    body = b'{"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}'
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.request("POST", REGISTER, body=body, headers=headers).status == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a\u0000b@example.com"),
        ("email", "a\u007fb@example.com"),
        ("email", "ada@exa\u0085mple.com"),
        ("name", "Ada\u0000"),
        ("name", "Ada\nLovelace"),
        ("name", "Ada\u001b[31m"),
    ],
)
def test_register_refuses_control_characters(client, field, value):
    response = client.post(REGISTER, json={**SIGNUP, field: value})
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == [field]


def test_surrounding_whitespace_is_still_trimmed(client):
    response = client.post(REGISTER, json={**SIGNUP, "email": " Ada@Example.com\n"})
    assert response.status == 201
    assert response.json()["user"]["email"] == "ada@example.com"


@pytest.mark.parametrize("title", ["Two\u0000Sum", "Two\nSum", "\u0007"])
def test_capsule_titles_refuse_control_characters(client, title):
    account = register(client)
    body = {"title": title, "language": "python"}
    response = client.post("/api/v1/capsules", json=body, headers=account.headers)
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == ["title"]


def test_api_key_names_refuse_control_characters(client):
    account = register(client)
    body = {"name": "widget\u0000", "scopes": ["capsules:read"]}
    response = client.post("/api/v1/auth/api-keys", json=body, headers=account.headers)
    assert response.status == 422


def test_the_openapi_document_publishes_the_rules(client):
    document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    email = schemas["RegisterRequest"]["properties"]["email"]["pattern"]
    assert r"\x00-\x1f" in email
    assert r"\x00-\x1f" in schemas["CapsuleCreate"]["properties"]["title"]["pattern"]
    register_op = document["paths"][REGISTER]["post"]
    assert {"408", "415"} <= set(register_op["responses"])
