"""The quality score formula and the parsing rules, without an executor."""

from __future__ import annotations

import asyncio
import json

import pytest

from devcapsules.schemas.capsules import CapsuleContent
from devcapsules.schemas.execution import SuiteResult
from devcapsules.schemas.generation import capsule_json_schema
from devcapsules.services.generation import verify
from devcapsules.services.generation.providers.catalog import match
from tests.generation.conftest import good_capsule


def capsule(**overrides):
    base = {
        "problem": "Write `f(xs)` returning the sum of xs. For example f([1, 2]) is 3." + "." * 20,
        "functionName": "f",
        "testCases": [{"input": [[1, 2]], "expected": 3, "description": "sum"}],
        "hints": ["loop"],
    }
    return {**base, **overrides}


def test_perfect_capsule_scores_one():
    cases = [{"input": [[i]], "expected": i, "description": "edge: empty"} for i in range(8)]
    score, parts = verify.quality_score(capsule(testCases=cases, hints=["a", "b", "c"]), 1.0, True)
    assert score == 1.0 and parts["solution"] == 0.4 and parts["starter"] == 0.15


def test_score_parts_follow_the_documented_weights():
    # 1 of 8 tests, no edge case, statement 3/3, 1 of 3 hints, solution 50 %, starter bad.
    score, parts = verify.quality_score(capsule(), 0.5, False)
    assert parts == {
        "solution": 0.2,
        "starter": 0.0,
        "tests": round(0.15 / 8, 4),
        "edgeCases": 0.0,
        "statement": 0.1,
        "hints": round(0.1 / 3, 4),
    }
    assert score == round(sum(parts.values()), 3)


@pytest.mark.parametrize(
    "case, edge",
    [
        ({"input": [""], "description": "x"}, True),
        ({"input": [[]], "description": "x"}, True),
        ({"input": [-3], "description": "x"}, True),
        ({"input": [0], "description": "x"}, True),
        ({"input": [5], "description": "Edge: big"}, True),
        ({"input": [5, "ab"], "description": "normal"}, False),
        ({"input": [True], "description": "normal"}, False),
    ],
)
def test_edge_case_detection(case, edge):
    assert verify.is_edge_case(case) is edge


def test_statement_completeness_counts_three_checks():
    assert verify.statement_completeness(capsule(problem="Sum them.")) == 0.0
    assert verify.statement_completeness(capsule(problem="Use f. Example: f([1]) is 1")) == 2 / 3


def test_parse_rejects_bad_json_and_bad_tests():
    assert "not valid JSON" in verify.parse_output("{oops", "python")[1][0]
    raw = good_capsule()
    raw["testCases"][0]["inputJson"] = '"not a list"'
    assert "JSON array" in verify.parse_output(raw, "python")[1][0]
    raw = good_capsule()
    raw["functionName"] = "not valid!"
    assert "functionName" in verify.parse_output(json.dumps(raw), "python")[1][0]
    raw = good_capsule()
    raw["tags"] = ["Dynamic Programming"]
    parsed, problems = verify.parse_output(raw, "python")
    assert problems == [] and parsed["tags"] == ["dynamic-programming"]


def suite(passed: int, total: int, status: str | None = None, **fields) -> SuiteResult:
    """The executor backends' typed result, as any of them returns it."""
    results = [{"passed": i < passed, "actual": "x", "error": None} for i in range(total)]
    return SuiteResult.model_validate(
        {
            "summary": {"passed": passed, "total": total, "status": status or "failed"},
            "results": results,
            "compileOutput": "",
            "error": None,
            "timeMs": 3,
            "memoryKb": 0,
            "language": "python",
            "version": "3",
        }
        | fields
    )


def each(run):
    """A runner of one code as the verifier's batch runner (one result per code)."""

    async def run_batch(codes, cases, language, name):
        return [await run(code, cases, language, name) for code in codes]

    return run_batch


def fake_runner(solution_passed: int, starter_passed: int, total: int):
    async def run(code, cases, language, name):
        passed = solution_passed if "TODO" not in code else starter_passed
        return suite(passed, total, "passed" if passed == total else "failed")

    return each(run)


def test_verify_requires_all_tests_and_a_failing_starter():
    raw = good_capsule()
    total = len(raw["testCases"])
    ok = asyncio.run(verify.verify(raw, "python", fake_runner(total, 0, total)))
    assert ok.valid and ok.score >= 0.7 and ok.problems == []
    one_fails = asyncio.run(verify.verify(raw, "python", fake_runner(total - 1, 0, total)))
    assert not one_fails.valid and "Test 5" in one_fails.problems[0]
    solved = asyncio.run(verify.verify(raw, "python", fake_runner(total, total, total)))
    assert not solved.valid and "already passes" in solved.problems[0]


def test_verify_reads_the_typed_result_a_backend_returns():
    raw = good_capsule()
    total = len(raw["testCases"])

    async def unloadable(code, cases, language, name):
        if "TODO" in code:
            return suite(0, total)
        return suite(0, total, "compile_error", compileOutput="SyntaxError: bad token")

    broken = asyncio.run(verify.verify(raw, "python", each(unloadable)))
    assert not broken.valid
    assert broken.problems[0] == "The reference solution does not load: SyntaxError: bad token"

    async def one_wrong(code, cases, language, name):
        if "TODO" in code:
            return suite(0, total)
        result = suite(total, total, "passed")
        result.results[1] = result.results[1].model_copy(update={"passed": False, "actual": 7})
        result.summary.passed = total - 1
        return result

    wrong = asyncio.run(verify.verify(raw, "python", each(one_wrong)))
    assert not wrong.valid and wrong.problems[0].startswith("Test 2 (")
    assert wrong.problems[0].endswith("but the solution returned 7")


def test_content_is_validated_once_and_is_what_a_valid_candidate_carries(monkeypatch):
    raw = good_capsule()
    total = len(raw["testCases"])
    validations = []
    real = CapsuleContent.model_validate.__func__

    def counted(cls, *args, **kwargs):
        validations.append(cls)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(CapsuleContent, "model_validate", classmethod(counted))
    ok = asyncio.run(verify.verify(raw, "python", fake_runner(total, 0, total)))
    assert ok.valid and isinstance(ok.content, CapsuleContent) and len(validations) == 1
    assert ok.content.language == "python" and ok.content.title == raw["title"]
    assert [case.model_dump(exclude_none=True)["input"] for case in ok.content.testCases] == [
        case["input"] for case in ok.capsule["testCases"]
    ]


def test_json_schema_is_strict_compatible():
    schema = capsule_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert "title" in schema["properties"]
    case = schema["$defs"]["GeneratedTestCase"]
    assert case["additionalProperties"] is False and "maxLength" not in json.dumps(schema)


def test_catalog_matching():
    assert match("Create a function to reverse a string")["key"] == "reverse-string"
    assert match("is this phrase a palindrome?")["key"] == "palindrome"
    assert match("Balanced brackets checker")["key"] == "valid-parentheses"
    assert match("nth Fibonacci number")["key"] == "fibonacci"
    assert match("Implement a red-black tree") is None


def test_openai_compatible_request_shape():
    import httpx

    from devcapsules.services.generation.providers.base import GenerationRequest
    from devcapsules.services.generation.providers.openai_compatible import (
        OpenAICompatibleProvider,
    )

    seen = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["url"], seen["auth"] = str(request.url), request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        content = json.dumps(good_capsule())
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    async def call():
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            provider = OpenAICompatibleProvider(client, "http://llm.local/v1/", "qwen", "sk-1")
            return await provider.generate(GenerationRequest("Reverse a string", "python", "easy"))

    content = asyncio.run(call())
    assert json.loads(content)["functionName"] == "reverse_string"
    assert seen["url"] == "http://llm.local/v1/chat/completions" and seen["auth"] == "Bearer sk-1"
    assert seen["body"]["model"] == "qwen"
    assert seen["body"]["response_format"]["json_schema"]["strict"] is True
