"""GET /api/v1/capsules: filters, text search and cursor pagination."""

from __future__ import annotations

import pytest

from devcapsules.services.cursors import encode_cursor
from tests.capsules.support import BASE, create, ids, publish_directly


def published(client, account, **fields) -> str:
    capsule = create(client, account, **fields)
    publish_directly(client, capsule["id"])
    return capsule["id"]


def test_list_shape_newest_first(client, owner):
    first = published(client, owner)
    second = published(client, owner)
    response = client.get(BASE)
    body = response.json()
    assert body["success"] is True and body["nextCursor"] is None
    assert [c["id"] for c in body["capsules"]] == [second, first]
    assert "solution" not in body["capsules"][0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("language=javascript", ["js"]),
        ("language=JS", ["js"]),  # aliases resolve as on writes
        ("difficulty=hard", ["hard"]),
        ("tag=graphs", ["tagged"]),
        ("tag=Graphs", ["tagged"]),
        ("q=binary", ["searched"]),
        ("q=BINARY", ["searched"]),  # case-insensitive
        ("q=matrix", ["described"]),  # description too
        ("q=nothing-like-this", []),
    ],
)
def test_filters(client, owner, query, expected):
    made = {
        "plain": published(client, owner),
        "js": published(client, owner, language="js", testCases=[], functionName=None),
        "hard": published(client, owner, difficulty="hard"),
        "tagged": published(client, owner, tags=["graphs"]),
        "searched": published(client, owner, title="Binary search"),
        "described": published(client, owner, description="Rotate a matrix"),
    }
    names = {capsule_id: name for name, capsule_id in made.items()}
    assert [names[i] for i in ids(client.get(f"{BASE}?{query}"))] == expected


def test_status_visibility_and_owner_filters(client, owner, other):
    draft = create(client, owner)["id"]
    unlisted = published(client, owner, visibility="unlisted")
    public = published(client, owner)
    theirs = published(client, other)
    archived = published(client, owner)
    client.patch(f"{BASE}/{archived}", json={"status": "archived"}, headers=owner.headers)

    def listed(query: str) -> set[str]:
        return set(ids(client.get(f"{BASE}?{query}", headers=owner.headers)))

    assert listed("owner=me") == {draft, unlisted, public, archived}
    assert listed("status=draft") == {draft}
    assert listed("status=archived") == {archived}
    assert listed("status=published") == {unlisted, public, theirs}
    assert listed("visibility=unlisted") == {unlisted}
    assert listed("visibility=public&owner=me") == {draft, public, archived}
    assert listed("") == {draft, unlisted, public, theirs, archived}
    # Someone else's list: only public published ones, never unlisted.
    assert set(ids(client.get(BASE, headers=other.headers))) == {public, theirs}
    assert set(ids(client.get(f"{BASE}?owner=me", headers=other.headers))) == {theirs}


def test_owner_me_needs_a_credential(client):
    response = client.get(f"{BASE}?owner=me")
    assert response.status == 401


def test_like_wildcards_in_q_match_literally(client, owner):
    percent = published(client, owner, title="100% coverage")
    underscore = published(client, owner, title="snake_case names")
    published(client, owner, title="1000 coverage")
    published(client, owner, title="snakeXcase names")
    published(client, owner, title="back\\slash")
    assert ids(client.get(f"{BASE}?q=0%25")) == [percent]
    assert ids(client.get(f"{BASE}?q=e_c")) == [underscore]
    assert len(ids(client.get(f"{BASE}?q=%5C"))) == 1  # a backslash


def page_through(client, limit: int, headers=None, between_pages=None) -> list[str]:
    seen, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"{BASE}?{query}", headers=headers or {}).json()
        seen += [c["id"] for c in body["capsules"]]
        assert len(body["capsules"]) <= limit
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
        if between_pages:
            between_pages()


def listing_order(made: list[str], client) -> list[str]:
    """`made` newest first as the list orders it: by created_at, then id. Rows made within
    one millisecond (requests are that fast on the local D1) share a timestamp."""
    created = {
        row["id"]: row["created_at"]
        for row in client.run(client.env.db.prepare("SELECT id, created_at FROM capsules").all())[
            "results"
        ]
    }
    return sorted(made, key=lambda id_: (created[id_], id_), reverse=True)


def test_pagination_visits_every_row_once(client, owner):
    made = [published(client, owner) for _ in range(7)]
    newest_first = listing_order(made, client)
    assert page_through(client, 3) == newest_first
    assert page_through(client, 7) == newest_first
    assert page_through(client, 100) == newest_first


def test_pagination_has_no_duplicates_or_gaps_while_rows_are_inserted(client, owner, other):
    before = [published(client, owner) for _ in range(9)]
    newest_first = listing_order(before, client)
    inserted = []

    def insert_more():
        inserted.append(published(client, other))
        inserted.append(create(client, owner)["id"])  # drafts are in the owner's list too

    seen = page_through(client, 2, headers=owner.headers, between_pages=insert_more)
    assert seen == newest_first  # rows newer than the cursor never appear later
    assert len(inserted) == 8
    everything = page_through(client, 4, headers=owner.headers)
    assert sorted(everything) == sorted(before + inserted)
    assert len(set(everything)) == len(everything)


def test_rows_sharing_a_timestamp_are_ordered_by_id(client, owner):
    made = [published(client, owner) for _ in range(5)]
    client.run(
        client.env.db.prepare("UPDATE capsules SET created_at = '2026-01-01T00:00:00.000Z'").run()
    )
    assert page_through(client, 2) == sorted(made, reverse=True)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_limit_is_bounded(client, limit):
    response = client.get(f"{BASE}?limit={limit}")
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == ["limit"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=not-a-cursor", "cursor"),
        (f"cursor={encode_cursor('x', 'y')[:-3]}", "cursor"),
        ("language=cobol", "language"),
        ("difficulty=extreme", "difficulty"),
        ("status=deleted", "status"),
        ("owner=you", "owner"),
        ("q=", "q"),
    ],
)
def test_invalid_query_values_are_422_with_the_field(client, owner, query, field):
    response = client.get(f"{BASE}?{query}", headers=owner.headers)
    assert response.status == 422, response.body
    assert response.json()["error"]["details"][0]["path"] == [field]


def test_default_page_size_is_20(client, owner):
    for _ in range(21):
        published(client, owner)
    body = client.get(BASE).json()
    assert len(body["capsules"]) == 20 and body["nextCursor"]
