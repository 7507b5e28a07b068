"""Optimistic concurrency: ETags, If-None-Match (304), If-Match (412) and real races."""

from __future__ import annotations

import asyncio
import json

import pytest

from devcapsules.http import Headers, Request
from devcapsules.schemas.capsules import CapsuleCreate
from devcapsules.services import capsules as repository
from tests.capsules.support import capsule_body, create, ids, publish_directly, url


def test_if_none_match_answers_304_without_a_body(client, owner):
    capsule = create(client, owner)
    etag = client.get(url(capsule["id"]), headers=owner.headers).headers["etag"]
    response = client.get(url(capsule["id"]), headers={**owner.headers, "If-None-Match": etag})
    assert response.status == 304 and response.body == b""
    assert response.headers["etag"] == etag
    client.patch(url(capsule["id"]), json={"title": "New"}, headers=owner.headers)
    changed = client.get(url(capsule["id"]), headers={**owner.headers, "If-None-Match": etag})
    assert changed.status == 200 and changed.headers["etag"] == 'W/"2"'


def test_if_none_match_distinguishes_views(client, owner, other):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    owner_etag = client.get(url(capsule["id"]), headers=owner.headers).headers["etag"]
    public = client.get(url(capsule["id"]), headers={"If-None-Match": owner_etag})
    assert public.status == 200  # a different body: the owner's validator must not match
    again = client.get(url(capsule["id"]), headers={"If-None-Match": public.headers["etag"]})
    assert again.status == 304


@pytest.mark.parametrize("if_match", ['W/"1"', '"1"', "1", '"7", W/"1"', "*"])
def test_if_match_accepts_the_etag_the_version_or_a_star(client, owner, if_match):
    capsule = create(client, owner)
    response = client.patch(
        url(capsule["id"]), json={"title": "New"}, headers={**owner.headers, "If-Match": if_match}
    )
    assert response.status == 200, response.body


@pytest.mark.parametrize("if_match", ['W/"2"', "2", 'W/"1-p"', "garbage"])
def test_stale_if_match_is_412(client, owner, if_match):
    capsule = create(client, owner)
    response = client.patch(
        url(capsule["id"]), json={"title": "New"}, headers={**owner.headers, "If-Match": if_match}
    )
    assert response.status == 412
    error = response.json()["error"]
    assert error["code"] == "precondition_failed"
    assert error["details"] == {"currentVersion": 1}
    assert client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]["title"] == (
        "Add two numbers"
    )


def test_an_invalid_change_is_422_even_with_a_stale_if_match(client, owner):
    """A request that could never succeed says why, not only that it is stale."""
    capsule = create(client, owner)
    response = client.patch(
        url(capsule["id"]),
        json={"tags": ["t"] * 11},
        headers={**owner.headers, "If-Match": 'W/"9"'},
    )
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"][0] == "tags"


def test_the_second_of_two_patches_with_the_same_if_match_loses(client, owner):
    capsule = create(client, owner)
    headers = {**owner.headers, "If-Match": 'W/"1"'}
    assert client.patch(url(capsule["id"]), json={"title": "A"}, headers=headers).status == 200
    assert client.patch(url(capsule["id"]), json={"title": "B"}, headers=headers).status == 412
    assert client.delete(url(capsule["id"]), headers=headers).status == 412
    assert client.post(url(capsule["id"], "/publish"), headers=headers).status == 412


def slow_writes(client, monkeypatch):
    """Make every batch wait a moment, so concurrent requests all read before any writes."""
    db = client.env.db
    original = db.batch

    async def batch(statements):
        await asyncio.sleep(0.01)
        return await original(statements)

    monkeypatch.setattr(db, "batch", batch)


def concurrently(client, *requests):
    async def run_all():
        return await asyncio.gather(*(client.app.handle(r, client.env) for r in requests))

    return client.run(run_all())


def patch_request(capsule_id, body, headers):
    headers = Headers({**headers, "content-type": "application/json"})
    return Request(
        "PATCH", f"http://testserver{url(capsule_id)}", headers, json.dumps(body).encode()
    )


def test_concurrent_patches_with_the_same_if_match_cannot_both_win(client, owner, monkeypatch):
    capsule = create(client, owner)
    slow_writes(client, monkeypatch)
    headers = {**owner.headers, "If-Match": 'W/"1"'}
    responses = concurrently(
        client,
        patch_request(capsule["id"], {"title": "A", "tags": ["from-a"]}, headers),
        patch_request(capsule["id"], {"title": "B", "tags": ["from-b"]}, headers),
    )
    assert sorted(r.status for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status == 200).json()["capsule"]
    final = client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]
    assert final["version"] == 2 and final["title"] == winner["title"]
    # The loser's tag rows were not written either: the tag index matches the winner.
    loser_tag = "from-b" if winner["title"] == "A" else "from-a"
    assert ids(client.get(f"/api/v1/capsules?tag={loser_tag}", headers=owner.headers)) == []
    assert ids(client.get(f"/api/v1/capsules?tag={winner['tags'][0]}", headers=owner.headers))


def test_concurrent_patches_without_if_match_both_apply_in_turn(client, owner, monkeypatch):
    capsule = create(client, owner)
    slow_writes(client, monkeypatch)
    responses = concurrently(
        client,
        patch_request(capsule["id"], {"title": "A"}, owner.headers),
        patch_request(capsule["id"], {"hints": ["B"]}, owner.headers),
    )
    assert [r.status for r in responses] == [200, 200]
    final = client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]
    # The loser re-read the winner's version and applied on top: nothing was lost.
    assert (final["title"], final["hints"], final["version"]) == ("A", ["B"], 3)


def test_repository_update_is_conditional_on_the_version(client, owner):
    db = client.env.db
    capsule = client.run(
        repository.create(
            db,
            owner.id,
            CapsuleCreate.model_validate(capsule_body()),
            capsule_id=client.app.deps.ids.new("cap"),
            now=client.app.deps.clock.now(),
        )
    )
    first = client.run(
        repository.update(
            db, capsule.id, 1, {"title": "A", "tags": ["a"]}, now=client.app.deps.clock.now()
        )
    )
    second = client.run(
        repository.update(
            db, capsule.id, 1, {"title": "B", "tags": ["b"]}, now=client.app.deps.clock.now()
        )
    )
    assert first is not None and first.version == 2
    assert second is None
    tags = client.run(
        db.prepare("SELECT tag FROM capsule_tags WHERE capsule_id = ?").bind(capsule.id).all()
    )
    assert [row["tag"] for row in tags["results"]] == ["a"]
    assert (
        client.run(repository.soft_delete(db, capsule.id, 1, now=client.app.deps.clock.now()))
        is False
    )
    assert (
        client.run(repository.soft_delete(db, capsule.id, 2, now=client.app.deps.clock.now()))
        is True
    )
