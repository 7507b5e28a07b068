"""KV holds only copies of D1's truth: when it cannot answer, requests still succeed."""

import pytest

from devcapsules.bindings.protocols import BindingError
from tests.support.auth import create_api_key, key_headers, register


@pytest.mark.parametrize(
    ("operation", "logged"),
    [("get", "kv_cache_read_failed"), ("put", "kv_cache_write_failed")],
)
def test_api_keys_resolve_through_d1_when_kv_fails(client, monkeypatch, logs, operation, logged):
    """A failed read is a miss (D1 answers); a failed write of the copy, made after the
    response (waitUntil), is logged, never left as an unobserved background error."""
    account = register(client)
    key = create_api_key(client, account, ["capsules:read"])

    async def broken(*args, **kwargs):
        raise BindingError(f"KV {operation.upper()} failed: 500 simulated outage")

    monkeypatch.setattr(client.env.kv, operation, broken)
    response = client.get("/api/v1/capsules", headers=key_headers(key))
    assert response.status == 200
    client.settle()
    assert logged in logs.actions()
