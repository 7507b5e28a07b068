"""Who sees what: owner, another user, a widget API key, a management key, anonymous."""

from __future__ import annotations

import pytest

from tests.capsules.support import BASE, create, ids, publish_directly, url
from tests.support.auth import create_api_key, key_headers

# (status, visibility) of each capsule the owner makes
KINDS = {
    "draft_private": ("draft", "private"),
    "draft_public": ("draft", "public"),
    "published_private": ("published", "private"),
    "published_unlisted": ("published", "unlisted"),
    "published_public": ("published", "public"),
    "archived_public": ("archived", "public"),
}
# viewer -> (kinds readable by id, kinds listed, full view of own)
MATRIX = {
    "owner": (set(KINDS), set(KINDS), True),
    "management_key": (set(KINDS), set(KINDS), True),
    "widget_key": (
        {"published_private", "published_unlisted", "published_public"},
        {"published_private", "published_unlisted", "published_public"},
        False,
    ),
    "other_user": ({"published_unlisted", "published_public"}, {"published_public"}, False),
    "anonymous": ({"published_unlisted", "published_public"}, {"published_public"}, False),
}


@pytest.fixture
def capsules(client, owner) -> dict[str, str]:
    made = {}
    for kind, (status, visibility) in KINDS.items():
        capsule_id = create(client, owner, visibility=visibility)["id"]
        if status != "draft":
            publish_directly(client, capsule_id)
        if status == "archived":
            client.patch(url(capsule_id), json={"status": "archived"}, headers=owner.headers)
        made[kind] = capsule_id
    return made


@pytest.fixture
def viewers(client, owner, other) -> dict[str, dict[str, str]]:
    widget = create_api_key(client, owner, ["capsules:read"])
    management = create_api_key(client, owner, ["capsules:read", "capsules:write"])
    return {
        "owner": owner.headers,
        "management_key": key_headers(management),
        "widget_key": key_headers(widget),
        "other_user": other.headers,
        "anonymous": {},
    }


@pytest.mark.parametrize("viewer", list(MATRIX))
def test_visibility_matrix(client, capsules, viewers, viewer):
    readable, listed, full = MATRIX[viewer]
    headers = viewers[viewer]
    for kind, capsule_id in capsules.items():
        response = client.get(url(capsule_id), headers=headers)
        if kind not in readable:
            assert response.status == 404, (viewer, kind)
            assert response.json()["error"]["code"] == "not_found"
            continue
        assert response.status == 200, (viewer, kind)
        capsule = response.json()["capsule"]
        assert capsule["hiddenTestCount"] == 1
        if full:
            assert capsule["solution"] and len(capsule["testCases"]) == 2
            assert response.headers["etag"] == f'W/"{capsule["version"]}"'
        else:
            assert "solution" not in capsule
            assert [t["hidden"] for t in capsule["testCases"]] == [False]
            assert response.headers["etag"].endswith('-p"')
    by_id = {capsule_id: kind for kind, capsule_id in capsules.items()}
    assert {by_id[i] for i in ids(client.get(BASE, headers=headers))} == listed


def test_hidden_test_contents_never_reach_non_owners(client, owner, other):
    secret = {"input": [40, 2], "expected": 424242, "hidden": True, "description": "secret"}
    capsule = create(client, owner, testCases=[{"input": [1, 2], "expected": 3}, secret])
    publish_directly(client, capsule["id"])
    for headers in (other.headers, {}):
        for response in (client.get(url(capsule["id"]), headers=headers), client.get(BASE)):
            assert b"424242" not in response.body and b"secret" not in response.body
            assert b"return a + b" not in response.body


def test_read_scope_is_required_for_keys(client, owner):
    capsule = create(client, owner)
    key = create_api_key(client, owner, ["execute"])
    for path in (BASE, url(capsule["id"])):
        response = client.get(path, headers=key_headers(key))
        assert response.status == 403
        assert response.json()["error"]["details"]["missing"] == ["capsules:read"]


def test_a_widget_key_sees_others_public_capsules_in_the_public_view(client, owner, other):
    theirs = create(client, other)
    publish_directly(client, theirs["id"])
    widget = key_headers(create_api_key(client, owner, ["capsules:read"]))
    response = client.get(url(theirs["id"]), headers=widget)
    assert response.status == 200 and "solution" not in response.json()["capsule"]
    assert ids(client.get(f"{BASE}?owner=me", headers=widget)) == []
