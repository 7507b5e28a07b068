"""The document's shape of an inline test case (POST /execute/tests) is the executor's rule:
every item the schema allows, the harness parses, and every item it refuses, the harness
refuses too, so a client (or the fuzzer) reading the document knows what passes."""

import jsonschema
import pytest

from devcapsules.executor.tests_harness import InvalidTestCases, parse_test_cases
from devcapsules.schemas.execution import RunTestsRequest

ITEM = RunTestsRequest.model_json_schema()["properties"]["testCases"]["anyOf"][0]["items"]

ITEMS = [
    {"input": [1, 2], "expected": 3},
    {"input": [], "expected": None, "hidden": True, "description": "empty"},
    {"input": [1], "expected": 1, "stdin": "ignored"},
    {"expectedOutput": "3\n"},
    {"stdin": "1 2", "expectedOutput": "3"},
    {"expectedOutput": "x", "input": "not a list"},
    {"input": [1]},
    {"expected": 1},
    {"input": "1", "expected": 1},
    {"stdin": "1 2"},
    {"expectedOutput": 3},
    {"stdin": 1, "expectedOutput": "3"},
    {"expectedOutput": None, "input": [1], "expected": 1},
    {},
    [1, 2],
    "case",
]


def harness_accepts(item) -> bool:
    try:
        parse_test_cases([item])
    except InvalidTestCases:
        return False
    return True


@pytest.mark.parametrize("item", ITEMS, ids=repr)
def test_document_and_harness_agree(item):
    assert jsonschema.Draft202012Validator(ITEM).is_valid(item) == harness_accepts(item)
