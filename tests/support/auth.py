"""Helpers to create users and credentials through the real API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from devcapsules.services.accounts import principals

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    email: str
    access_token: str
    refresh_token: str
    plan: str = "free"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register(client: Any, email: str | None = None, plan: str | None = None) -> Account:
    email = email or f"user{next(_counter)}@example.com"
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Test"}
    )
    assert response.status == 201, response.body
    body = response.json()
    account = Account(body["user"]["id"], email, body["accessToken"], body["refreshToken"])
    if plan and plan != "free":
        client.run(principals.change_plan(client.context(), email, plan))
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        account.access_token = login.json()["accessToken"]
        account.plan = plan
    return account


def create_api_key(client: Any, account: Account, scopes: list[str], **extra: Any) -> str:
    response = client.post(
        "/api/v1/auth/api-keys",
        json={"name": "widget", "scopes": scopes, **extra},
        headers=account.headers,
    )
    assert response.status == 201, response.body
    return response.json()["key"]


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
