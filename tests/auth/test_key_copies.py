"""The KV copies of API-key principals: a plan change drops them all at once (and only
the ones that can still authenticate), and the per-isolate record of last_used writes
stays bounded however many keys an isolate sees."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from devcapsules.services.accounts import principals, store
from tests.support.auth import create_api_key, register


class GatedKV:
    """A KV whose deletes wait on a gate, to see how many are in flight together."""

    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.in_flight = self.most_in_flight = 0
        self.deleted: list[str] = []
        self.failing = failing

    async def delete(self, key: str) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)  # every other delete gets to start before this one ends
        await asyncio.sleep(0)
        self.in_flight -= 1
        if key in self.failing:
            raise RuntimeError(f"KV refused {key}")
        self.deleted.append(key)


def test_forgetting_keys_deletes_their_copies_concurrently():
    kv = GatedKV()
    hashes = [f"h{i}" for i in range(20)]
    asyncio.run(principals.forget_keys(SimpleNamespace(kv=kv), hashes))
    assert sorted(kv.deleted) == sorted(principals.key_cache_key(h) for h in hashes)
    assert kv.most_in_flight == 20  # one after another, this was 1


def test_one_failed_delete_does_not_stop_the_others_and_is_raised():
    failing = principals.key_cache_key("h3")
    kv = GatedKV(failing={failing})
    hashes = [f"h{i}" for i in range(6)]
    with pytest.raises(RuntimeError, match="KV refused"):
        asyncio.run(principals.forget_keys(SimpleNamespace(kv=kv), hashes))
    assert len(kv.deleted) == 5 and failing not in kv.deleted


def test_a_plan_change_names_only_the_keys_that_can_still_authenticate(client):
    account = register(client)
    active = create_api_key(client, account, ["capsules:read"])
    revoked = create_api_key(client, account, ["capsules:read"])
    listed = client.get("/api/v1/auth/api-keys", headers=account.headers).json()["apiKeys"]
    revoked_id = next(k["id"] for k in listed if revoked.startswith(k["prefix"]))
    gone = client.delete(f"/api/v1/auth/api-keys/{revoked_id}", headers=account.headers)
    assert gone.status in (200, 204)
    now = datetime.now(UTC)
    _, hashes = client.run(store.set_plan(client.env.db, account.email, "creator", now))
    assert hashes == [principals.hash_key(active)]  # the revoked key's copy says revoked


class Touches:
    """Just enough of a request context for `_touch_last_used`: a clock the test moves,
    and the deferred writes it schedules (closed unrun: no D1 here)."""

    def __init__(self) -> None:
        self.t, self.writes = 0.0, 0
        clock = SimpleNamespace(
            monotonic=lambda: self.t, now=lambda: datetime.fromtimestamp(self.t, UTC)
        )
        self.deps, self.env = SimpleNamespace(clock=clock), SimpleNamespace(db=None)

    def wait_until(self, write) -> None:
        self.writes += 1
        write.close()


@pytest.fixture
def touches(monkeypatch) -> Touches:
    monkeypatch.setattr(principals, "_last_used_writes", {})
    monkeypatch.setattr(principals, "LAST_USED_TRACKED", 3)
    return Touches()


def test_a_key_is_written_once_an_interval(touches):
    for _ in range(3):
        principals._touch_last_used(touches, "k1")
    touches.t += principals.LAST_USED_INTERVAL_SECONDS
    principals._touch_last_used(touches, "k1")
    assert touches.writes == 2


def test_the_record_of_writes_drops_what_expired(touches):
    principals._touch_last_used(touches, "old")
    touches.t += principals.LAST_USED_INTERVAL_SECONDS + 1
    principals._touch_last_used(touches, "new")
    assert list(principals._last_used_writes) == ["new"]


def test_the_record_of_writes_is_bounded_oldest_first(touches):
    for n in range(5):
        touches.t += 1
        principals._touch_last_used(touches, f"k{n}")
    assert list(principals._last_used_writes) == ["k2", "k3", "k4"]  # grew to 5 before
    principals._touch_last_used(touches, "k3")  # still fresh: no write, no reordering
    assert touches.writes == 5 and list(principals._last_used_writes) == ["k2", "k3", "k4"]
