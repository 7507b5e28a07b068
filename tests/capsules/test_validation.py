"""422 with field paths, 400 for malformed JSON, 413 above the body limit."""

from __future__ import annotations

import pytest

from devcapsules.schemas.capsules import CODE_MAX, TEST_CASES_MAX
from tests.capsules.support import BASE, capsule_body, create, url


def error_paths(response) -> list[list]:
    assert response.status == 422, response.body
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return [detail["path"] for detail in error["details"]]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"title": None}, ["title"]),
        ({"title": ""}, ["title"]),
        ({"title": "   "}, ["title"]),
        ({"title": "x" * 201}, ["title"]),
        ({"language": "cobol"}, ["language"]),
        ({"difficulty": "extreme"}, ["difficulty"]),
        ({"visibility": "secret"}, ["visibility"]),
        ({"status": "published"}, ["status"]),  # not writable on create
        ({"source": "generated"}, ["source"]),  # set by the system only
        ({"colour": "red"}, ["colour"]),
        ({"solution": "x" * (CODE_MAX + 1)}, ["solution"]),
        ({"functionName": "not an identifier"}, ["functionName"]),
        ({"hints": [""]}, ["hints", 0]),
        ({"tags": ["has space"]}, ["tags"]),
        ({"tags": [f"t{i}" for i in range(11)]}, ["tags"]),
        ({"testCases": [{"input": 1, "expected": 1}]}, ["testCases", 0, "function", "input"]),
        ({"testCases": [{"input": [], "expected": 1, "hidden": "yes"}]}, None),
        ({"testCases": [{"input": []}]}, ["testCases", 0, "function", "expected"]),
        ({"testCases": [{"stdin": 5, "expectedOutput": "x"}]}, ["testCases", 0, "io", "stdin"]),
        ({"testCases": [{"stdin": "x"}]}, ["testCases", 0, "io", "expectedOutput"]),
        ({"testCases": [{"input": [], "expected": 1}, {"expectedOutput": "1"}]}, ["testCases"]),
        ({"functionName": None}, ["testCases"]),  # function tests need a function name
        ({"testCases": [{"input": [], "expected": 1}] * (TEST_CASES_MAX + 1)}, ["testCases"]),
        ({"testCases": [{"input": ["x" * 70_000], "expected": 1}]}, None),
    ],
)
def test_create_validation_errors_name_the_field(client, owner, overrides, path):
    response = client.post(BASE, json=capsule_body(**overrides), headers=owner.headers)
    paths = error_paths(response)
    if path is not None:
        assert path in paths
    message = response.json()["error"]["message"]
    assert message.startswith("Invalid body: ")


def test_all_test_cases_together_are_bounded(client, owner):
    case = {"stdin": "", "expectedOutput": "y" * 60_000}
    body = capsule_body(functionName=None, testCases=[case] * 10)  # ~600 KB < 1 MiB body
    assert error_paths(client.post(BASE, json=body, headers=owner.headers)) == [["testCases"]]


def test_malformed_json_is_400(client, owner):
    response = client.request(
        "POST",
        BASE,
        body=b'{"title": ',
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_bodies_above_the_limit_are_413(client, owner):
    body = capsule_body(problem="x" * (1024 * 1024))
    response = client.post(BASE, json=body, headers=owner.headers)
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    capsule = create(client, owner)
    patch = client.patch(url(capsule["id"]), json={"problem": "x" * 2**20}, headers=owner.headers)
    assert patch.status == 413


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({}, []),
        ({"title": None}, []),
        ({"title": "x" * 201}, ["title"]),
        ({"status": "published"}, ["status"]),
        ({"version": 7}, ["version"]),
        ({"testCases": [{"input": "1", "expected": 1}]}, ["testCases", 0, "function", "input"]),
        ({"testCases": [{"expectedOutput": "1"}, {"input": [], "expected": 1}]}, ["testCases"]),
        ({"functionName": None}, ["testCases"]),  # the stored function tests need one
        ({"tags": ["UPPER CASE"]}, ["tags"]),
    ],
)
def test_patch_validates_the_merged_capsule(client, owner, patch, path):
    capsule = create(client, owner)
    response = client.patch(url(capsule["id"]), json=patch, headers=owner.headers)
    assert path in error_paths(response)
    unchanged = client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]
    assert unchanged == capsule
