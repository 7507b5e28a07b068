from datetime import UTC, datetime, timedelta

from devcapsules.services.accounts import principals
from tests.support.auth import create_api_key, key_headers, register

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
KEYS = "/api/v1/auth/api-keys"
ME = "/api/v1/auth/me"


def test_refresh_rotates_tokens(client):
    account = register(client)
    first = client.post(REFRESH, json={"refreshToken": account.refresh_token})
    assert first.status == 200
    body = first.json()
    assert body["refreshToken"] != account.refresh_token
    assert client.get(ME, headers={"Authorization": f"Bearer {body['accessToken']}"}).status == 200
    second = client.post(REFRESH, json={"refreshToken": body["refreshToken"]})
    assert second.status == 200


def test_reusing_a_rotated_token_revokes_the_family(client):
    account = register(client)
    rotated = client.post(REFRESH, json={"refreshToken": account.refresh_token}).json()
    replay = client.post(REFRESH, json={"refreshToken": account.refresh_token})
    assert replay.status == 401
    assert replay.json()["error"]["code"] == "refresh_token_reused"
    # The legitimate holder's newer token died with the family.
    after = client.post(REFRESH, json={"refreshToken": rotated["refreshToken"]})
    assert after.status == 401
    assert after.json()["error"]["code"] == "refresh_token_revoked"


def test_other_sessions_survive_reuse_detection(client):
    account = register(client)
    other = client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "correct horse battery"}
    ).json()
    client.post(REFRESH, json={"refreshToken": account.refresh_token})
    client.post(REFRESH, json={"refreshToken": account.refresh_token})
    assert client.post(REFRESH, json={"refreshToken": other["refreshToken"]}).status == 200


def test_unknown_and_expired_refresh_tokens(client):
    assert client.post(REFRESH, json={"refreshToken": "rt_" + "x" * 40}).status == 401
    account = register(client)
    client.run(
        client.env.db.prepare("UPDATE refresh_tokens SET expires_at = ?")
        .bind("2000-01-01T00:00:00.000Z")
        .run()
    )
    response = client.post(REFRESH, json={"refreshToken": account.refresh_token})
    assert response.json()["error"]["code"] == "refresh_token_expired"


def test_logout_revokes_the_refresh_token(client):
    account = register(client)
    assert client.post(LOGOUT, json={"refreshToken": account.refresh_token}).status == 200
    response = client.post(REFRESH, json={"refreshToken": account.refresh_token})
    assert response.status == 401
    assert client.post(LOGOUT, json={"refreshToken": "rt_" + "y" * 40}).status == 200


def test_api_key_is_shown_once_and_listed_without_secret(client):
    account = register(client)
    response = client.post(
        KEYS,
        json={"name": "widget", "scopes": ["capsules:read", "execute"]},
        headers=account.headers,
    )
    body = response.json()
    key = body["key"]
    assert response.status == 201
    assert key.startswith("dk_") and len(key) >= 35
    assert body["apiKey"]["prefix"] == key[:12]
    assert body["apiKey"]["scopes"] == ["capsules:read", "execute"]
    listed = client.get(KEYS, headers=account.headers).json()["apiKeys"]
    assert [k["id"] for k in listed] == [body["apiKey"]["id"]]
    assert key not in str(listed)
    stored = client.run(client.env.db.prepare("SELECT key_hash FROM api_keys").first("key_hash"))
    assert stored == principals.hash_key(key) and key not in stored


def test_api_key_validation(client):
    account = register(client)
    bad_scope = client.post(KEYS, json={"name": "w", "scopes": ["root"]}, headers=account.headers)
    assert bad_scope.status == 422
    past = client.post(
        KEYS,
        json={"name": "w", "scopes": ["execute"], "expiresAt": "2001-01-01T00:00:00Z"},
        headers=account.headers,
    )
    assert past.status == 422
    assert past.json()["error"]["details"][0]["path"] == ["expiresAt"]


def test_api_keys_cannot_manage_keys(client):
    account = register(client)
    key = create_api_key(client, account, ["capsules:read", "capsules:write"])
    response = client.post(
        KEYS, json={"name": "x", "scopes": ["execute"]}, headers=key_headers(key)
    )
    assert response.status == 403
    assert client.get(KEYS, headers=key_headers(key)).status == 403


def test_revoked_key_stops_working_immediately_here(client):
    account = register(client)
    key = create_api_key(client, account, ["capsules:read"])
    assert client.get(ME, headers=key_headers(key)).status == 200
    client.settle()  # the principal is now cached in KV
    assert (
        client.run(client.env.kv.get(principals.key_cache_key(principals.hash_key(key))))
        is not None
    )
    key_id = client.get(KEYS, headers=account.headers).json()["apiKeys"][0]["id"]
    revoked = client.delete(f"{KEYS}/{key_id}", headers=account.headers)
    assert revoked.status == 200 and revoked.json()["apiKey"]["revokedAt"]
    response = client.get(ME, headers=key_headers(key))
    assert response.status == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_revoking_someone_elses_key_is_404(client):
    owner, other = register(client), register(client)
    create_api_key(client, owner, ["execute"])
    key_id = client.get(KEYS, headers=owner.headers).json()["apiKeys"][0]["id"]
    assert client.delete(f"{KEYS}/{key_id}", headers=other.headers).status == 404


def test_expired_and_unknown_keys(client):
    account = register(client)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    key = create_api_key(client, account, ["execute"], expiresAt=soon)
    client.run(
        client.env.db.prepare("UPDATE api_keys SET expires_at = '2001-01-01T00:00:00.000Z'").run()
    )
    response = client.get(ME, headers=key_headers(key))
    assert response.json()["error"]["code"] == "api_key_expired"
    unknown = client.get(ME, headers=key_headers("dk_" + "z" * 43))
    assert unknown.json()["error"]["code"] == "api_key_unknown"


def test_last_used_is_written_at_most_once_a_minute(client):
    account = register(client)
    key = create_api_key(client, account, ["capsules:read"])
    writes_before = client.env.db.round_trips
    for _ in range(3):
        client.get(ME, headers=key_headers(key))
    client.settle()
    used = client.get(KEYS, headers=account.headers).json()["apiKeys"][0]["lastUsedAt"]
    assert used is not None
    statements = client.env.db.round_trips - writes_before
    # 3 x (me's user read + its usage read) + 1 key lookup + 1 last_used write + 1 list,
    # plus one rate-limit batch per request (4); never 3 last_used writes.
    assert statements <= 3 * 2 + 1 + 1 + 1 + 4


def test_concurrent_exchanges_of_one_token_leave_no_live_successor(client):
    """A thief replaying a token while its owner refreshes: exactly one exchange wins, the
    other is detected as reuse, and the family (winner's new token included) is burned."""
    import asyncio

    from devcapsules.errors import Unauthenticated
    from devcapsules.services.accounts import sessions

    account = register(client)

    async def exchange():
        try:
            return await sessions.rotate(client.context(), account.refresh_token)
        except Unauthenticated as exc:
            return exc.code

    async def both():
        return await asyncio.gather(exchange(), exchange())

    outcomes = client.run(both())
    assert sorted(o if isinstance(o, str) else "ok" for o in outcomes) == [
        "ok",
        "refresh_token_reused",
    ]
    winner = next(o for o in outcomes if not isinstance(o, str))
    response = client.post(REFRESH, json={"refreshToken": winner[1]})
    assert response.status == 401
    assert response.json()["error"]["code"] == "refresh_token_revoked"
