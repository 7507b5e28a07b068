"""Create, read, update, delete and duplicate, as the owner sees them."""

from __future__ import annotations

from tests.capsules.support import BASE, capsule_body, create, ids, publish_directly, url
from tests.support.auth import create_api_key, key_headers

FIELDS = {
    "id", "ownerId", "title", "description", "problem", "language", "difficulty",
    "starterCode", "solution", "functionName", "testCases", "hiddenTestCount", "hints",
    "tags", "visibility", "status", "source", "generationJobId", "qualityScore", "version",
    "createdAt", "updatedAt",
}  # fmt: skip


def test_create_answers_201_with_location_and_the_full_capsule(client, owner):
    response = client.post(BASE, json=capsule_body(), headers=owner.headers)
    assert response.status == 201
    body = response.json()
    capsule = body["capsule"]
    assert body["success"] is True
    assert set(capsule) == FIELDS
    assert capsule["id"].startswith("cap_")
    assert response.headers["location"] == f"{BASE}/{capsule['id']}"
    assert response.headers["etag"] == 'W/"1"'
    assert capsule["ownerId"] == owner.id
    assert (capsule["status"], capsule["source"], capsule["version"]) == ("draft", "manual", 1)
    assert capsule["solution"].startswith("def add")
    assert capsule["hiddenTestCount"] == 1 and len(capsule["testCases"]) == 2
    assert capsule["createdAt"] == capsule["updatedAt"]


def test_create_applies_defaults_and_normalises(client, owner):
    response = client.post(
        BASE,
        json={"title": "  Hello  ", "language": "JS", "tags": ["Arrays", "arrays", "dp"]},
        headers=owner.headers,
    )
    capsule = response.json()["capsule"]
    assert capsule["title"] == "Hello"
    assert capsule["language"] == "javascript"
    assert capsule["tags"] == ["arrays", "dp"]
    assert (capsule["difficulty"], capsule["visibility"]) == ("medium", "private")
    assert capsule["testCases"] == [] and capsule["functionName"] is None


def test_io_test_cases_are_accepted(client, owner):
    cases = [{"stdin": "1 2\n", "expectedOutput": "3\n"}, {"expectedOutput": "0", "hidden": True}]
    capsule = create(client, owner, language="c", functionName=None, testCases=cases)
    assert capsule["testCases"] == [
        {"stdin": "1 2\n", "expectedOutput": "3\n", "hidden": False},
        {"stdin": "", "expectedOutput": "0", "hidden": True},
    ]


def test_null_is_a_valid_expected_value(client, owner):
    capsule = create(client, owner, testCases=[{"input": [], "expected": None}])
    assert capsule["testCases"] == [{"input": [], "expected": None, "hidden": False}]


def test_writes_need_a_credential_and_the_write_scope(client, owner):
    assert client.post(BASE, json=capsule_body()).status == 401
    read_key = create_api_key(client, owner, ["capsules:read"])
    refused = client.post(BASE, json=capsule_body(), headers=key_headers(read_key))
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    write_key = create_api_key(client, owner, ["capsules:read", "capsules:write"])
    created = client.post(BASE, json=capsule_body(), headers=key_headers(write_key))
    assert created.status == 201
    assert created.json()["capsule"]["ownerId"] == owner.id


def test_get_returns_the_capsule_with_an_etag(client, owner):
    capsule = create(client, owner)
    response = client.get(url(capsule["id"]), headers=owner.headers)
    assert response.status == 200
    assert response.json() == {"success": True, "capsule": capsule}
    assert response.headers["etag"] == 'W/"1"'
    assert "Authorization" in response.headers.get_all("vary")


def test_head_answers_like_get_without_a_body(client, owner):
    capsule = create(client, owner)
    response = client.request("HEAD", url(capsule["id"]), headers=owner.headers)
    assert response.status == 200 and response.body == b""
    assert response.headers["etag"] == 'W/"1"'


def test_unknown_id_is_404(client, owner):
    response = client.get(url("cap_doesnotexist"), headers=owner.headers)
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


def test_trailing_slash_redirects_to_the_canonical_url(client):
    response = client.get(f"{BASE}/?limit=5")
    assert response.status == 308
    assert response.headers["location"] == f"{BASE}?limit=5"


def test_patch_changes_only_the_fields_sent(client, owner):
    capsule = create(client, owner)
    response = client.patch(
        url(capsule["id"]),
        json={"title": "Sum", "tags": ["Sums"], "difficulty": "hard"},
        headers=owner.headers,
    )
    assert response.status == 200
    updated = response.json()["capsule"]
    assert (updated["title"], updated["tags"], updated["difficulty"]) == ("Sum", ["sums"], "hard")
    assert updated["version"] == 2 and response.headers["etag"] == 'W/"2"'
    assert updated["updatedAt"] >= capsule["updatedAt"]
    unchanged = {k: v for k, v in updated.items() if k not in ("title", "tags", "difficulty")}
    for name in ("version", "updatedAt"):
        unchanged.pop(name)
    assert all(capsule[name] == value for name, value in unchanged.items())
    # The tag index follows the tags column.
    assert ids(client.get(f"{BASE}?tag=sums", headers=owner.headers)) == [capsule["id"]]
    assert ids(client.get(f"{BASE}?tag=math", headers=owner.headers)) == []


def test_patch_can_clear_function_name_with_io_tests(client, owner):
    capsule = create(client, owner)
    response = client.patch(
        url(capsule["id"]),
        json={"functionName": None, "testCases": [{"stdin": "", "expectedOutput": "hi"}]},
        headers=owner.headers,
    )
    assert response.status == 200, response.body
    assert response.json()["capsule"]["functionName"] is None


def test_patch_status_archives_and_unpublishes(client, owner):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    archived = client.patch(url(capsule["id"]), json={"status": "archived"}, headers=owner.headers)
    assert archived.json()["capsule"]["status"] == "archived"
    refused = client.patch(url(capsule["id"]), json={"status": "published"}, headers=owner.headers)
    assert refused.status == 422  # publishing runs the tests: POST /publish


def test_delete_is_soft_and_hides_the_capsule_everywhere(client, owner, other):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    response = client.delete(url(capsule["id"]), headers=owner.headers)
    assert response.status == 204 and response.body == b""
    for headers in (owner.headers, other.headers, {}):
        assert client.get(url(capsule["id"]), headers=headers).status == 404
        assert capsule["id"] not in ids(client.get(BASE, headers=headers))
    assert (
        client.patch(url(capsule["id"]), json={"title": "x"}, headers=owner.headers).status == 404
    )
    assert client.delete(url(capsule["id"]), headers=owner.headers).status == 404
    row = client.run(
        client.env.db.prepare("SELECT deleted_at FROM capsules WHERE id = ?")
        .bind(capsule["id"])
        .first()
    )
    assert row["deleted_at"] is not None  # kept, only marked


def test_only_the_owner_may_change_or_delete(client, owner, other):
    private = create(client, owner, visibility="private")
    public = create(client, owner)
    publish_directly(client, public["id"])
    # A capsule the caller cannot see: 404, existence not revealed.
    assert (
        client.patch(url(private["id"]), json={"title": "x"}, headers=other.headers).status == 404
    )
    assert client.delete(url(private["id"]), headers=other.headers).status == 404
    # One they can see: 403.
    response = client.patch(url(public["id"]), json={"title": "x"}, headers=other.headers)
    assert response.status == 403 and response.json()["error"]["code"] == "not_owner"
    assert client.delete(url(public["id"]), headers=other.headers).status == 403
    assert client.post(url(public["id"], "/publish"), headers=other.headers).status == 403


def test_duplicate_of_own_capsule_is_a_full_private_draft(client, owner):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    response = client.post(url(capsule["id"], "/duplicate"), headers=owner.headers)
    assert response.status == 201
    copy = response.json()["capsule"]
    assert response.headers["location"] == url(copy["id"])
    assert copy["id"] != capsule["id"]
    assert (copy["status"], copy["visibility"], copy["version"]) == ("draft", "private", 1)
    assert copy["title"] == "Add two numbers (copy)"
    assert copy["solution"] == capsule["solution"]
    assert copy["testCases"] == capsule["testCases"]  # hidden ones included
    assert copy["tags"] == capsule["tags"]
    assert ids(client.get(f"{BASE}?tag=math&owner=me", headers=owner.headers))[0] == copy["id"]


def test_duplicate_of_someone_elses_capsule_copies_only_the_public_view(client, owner, other):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    response = client.post(url(capsule["id"], "/duplicate"), headers=other.headers)
    assert response.status == 201
    copy = response.json()["capsule"]
    assert copy["ownerId"] == other.id
    assert copy["solution"] == ""
    assert copy["testCases"] == [t for t in capsule["testCases"] if not t["hidden"]]
    assert copy["hiddenTestCount"] == 0


def test_duplicate_of_an_invisible_capsule_is_404(client, owner, other):
    draft = create(client, owner)  # public but not published
    assert client.post(url(draft["id"], "/duplicate"), headers=other.headers).status == 404
    assert client.post(url(draft["id"], "/duplicate")).status == 401
