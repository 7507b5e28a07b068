"""KV holds only copies of D1's truth: when it cannot answer, requests still succeed."""

from devcapsules.bindings.protocols import BindingError
from tests.support.auth import create_api_key, key_headers, register


def test_api_keys_resolve_through_d1_when_kv_reads_fail(client, monkeypatch, logs):
    account = register(client)
    key = create_api_key(client, account, ["capsules:read"])

    async def broken_get(*args, **kwargs):
        raise BindingError("KV GET failed: 500 simulated outage")

    monkeypatch.setattr(client.env.kv, "get", broken_get)
    response = client.get("/api/v1/capsules", headers=key_headers(key))
    assert response.status == 200
    assert "kv_cache_read_failed" in logs.actions()
