"""Verification of a generated capsule, and its quality score.

A candidate is *valid* (may become a capsule) only when:
1. the output is JSON matching `GeneratedCapsule`, every `inputJson` is a JSON array and
   every `expectedJson` is JSON;
2. the reference solution passes EVERY generated test in the executor;
3. the starter code loads (parses/compiles, defines the function) and does NOT pass
   all the tests (otherwise the exercise is already solved).

Quality score, 0..1 (rounded to 3 places), a weighted sum:

    0.40 x pass rate of the reference solution over the tests
  + 0.15 x starter check (1 if it loads and fails at least one test, else 0)
  + 0.15 x min(tests, 8) / 8                       test count
  + 0.10 x min(edge cases, 3) / 3                  edge-case coverage
  + 0.10 x statement completeness                  (below)
  + 0.10 x min(hints, 3) / 3                       hints

An edge case is a test whose description names one (edge, empty, zero, negative, single,
boundary, corner, large, duplicate) or whose arguments contain an empty string or
collection, zero or a negative number. Statement completeness is the share of three
checks: the statement has >= 80 characters, names the function, and shows an example.
An output that fails check 1 scores 0. The weights put correctness first (0.55 for the
two executor checks), so a capsule whose solution fails any test can never be valid,
whatever the rest scores.

The solution and the starter are one batch (`TestRunnerLike`): where the backend can
(the local sandbox or the executor service, Python), both run in one sandbox, each in
its own forked process with the limits and verdicts of a run of its own.

Check 1 validates the content once: the `CapsuleContent` it builds is the one the
consumer saves (`Candidate.content`). The executor checks read the backends' own typed
`SuiteResult` (schemas.execution), whichever backend ran the code.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from devcapsules.schemas.capsules import CapsuleContent
from devcapsules.schemas.execution import SuiteResult, TestResult
from devcapsules.schemas.generation import GeneratedCapsule

WEIGHTS = {
    "solution": 0.40,
    "starter": 0.15,
    "tests": 0.15,
    "edgeCases": 0.10,
    "statement": 0.10,
    "hints": 0.10,
}
TARGET_TESTS, TARGET_EDGE_CASES, TARGET_HINTS = 8, 3, 3
MIN_STATEMENT_CHARS = 80
_EDGE_WORDS = re.compile(
    r"\b(edge|empty|zero|negative|single|boundary|corner|large|duplicate)", re.IGNORECASE
)
_EXAMPLE = re.compile(r"\bexamples?\b|e\.g\.|for instance|->|=>", re.IGNORECASE)
# (codes, test_cases, language, function_name) -> the executor backends' typed result for
# each code, in order: the codes run against the same tests as ONE batch
# (`Executor.run_tests_batch`: one sandbox where the backend can, each run isolated).
TestRunnerLike = Callable[[list[str], list[dict], str, str], Awaitable[list[SuiteResult]]]
# Executor statuses meaning "the code did not load" rather than "the tests failed".
_LOAD_FAILURES = {"error", "compile_error"}


@dataclass
class Candidate:
    """One verified attempt: the capsule (executor-ready), its score and what was wrong.
    `content` is the same capsule as the capsules API stores it, validated once here
    and saved as is."""

    capsule: dict[str, Any] | None
    score: float = 0.0
    valid: bool = False
    problems: list[str] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)
    raw: Any = None
    content: CapsuleContent | None = None

    def rank(self) -> tuple[bool, float]:
        return (self.valid, self.score)


# ------------------------------------------------------------ parsing


Parsed = tuple[dict[str, Any], CapsuleContent]


def parse_output(raw: Any, language: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Model output -> capsule dict with decoded test cases, or None and the problems."""
    parsed, problems = parse(raw, language)
    return (parsed[0] if parsed else None), problems


def parse(raw: Any, language: str) -> tuple[Parsed | None, list[str]]:
    """Model output -> (capsule dict with decoded test cases, its `CapsuleContent`), or
    None and the problems."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return None, [f"The output is not valid JSON: {exc}"]
    try:
        model = GeneratedCapsule.model_validate(raw)
    except ValidationError as exc:
        return None, [_schema_problem(error, "Schema") for error in exc.errors()[:10]]
    capsule = model.model_dump()
    cases, problems = _decode_tests(model)
    if problems:
        return None, problems
    capsule["testCases"] = cases
    capsule["tags"] = [re.sub(r"\s+", "-", tag.strip().lower()) for tag in capsule["tags"]]
    content, problems = _capsule_content(capsule, language)
    return ((capsule, content), []) if content else (None, problems)


def _capsule_content(
    capsule: dict[str, Any], language: str
) -> tuple[CapsuleContent | None, list[str]]:
    """The capsule as the capsules API stores it, checked against what that API demands
    of stored content (sizes, tag syntax...). The one validation: it is what is saved."""
    try:
        content = CapsuleContent.model_validate({**capsule, "language": language}, strict=False)
    except ValidationError as exc:
        return None, [_schema_problem(error, "Capsule") for error in exc.errors()[:10]]
    return content, []


def _schema_problem(error: dict[str, Any], where: str) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "(root)"
    return f"{where}: {path}: {error['msg']}"


def _decode_tests(model: GeneratedCapsule) -> tuple[list[dict[str, Any]], list[str]]:
    cases, problems = [], []
    for number, case in enumerate(model.testCases, 1):
        try:
            args = json.loads(case.inputJson)
            expected = json.loads(case.expectedJson)
        except ValueError as exc:
            problems.append(f"Test {number}: inputJson/expectedJson is not JSON ({exc})")
            continue
        if not isinstance(args, list):
            problems.append(f"Test {number}: inputJson must be a JSON array of arguments")
            continue
        cases.append(
            {
                "input": args,
                "expected": expected,
                "description": case.description,
                "hidden": case.hidden,
            }
        )
    return cases, problems


def syntax_problems(code: str, language: str, what: str) -> list[str]:
    """Cheap, local parse check (Python only; JavaScript is checked by the executor run)."""
    if language != "python":
        return []
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return [f"The {what} does not parse: line {exc.lineno}: {exc.msg}"]
    return []


# ------------------------------------------------------------ scoring


def is_edge_case(case: dict[str, Any]) -> bool:
    if _EDGE_WORDS.search(case.get("description") or ""):
        return True
    return any(_edge_value(arg) for arg in case["input"])


def _edge_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value <= 0
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    return False


def statement_completeness(capsule: dict[str, Any]) -> float:
    problem = capsule["problem"]
    checks = (
        len(problem) >= MIN_STATEMENT_CHARS,
        capsule["functionName"] in problem,
        bool(_EXAMPLE.search(problem)),
    )
    return sum(checks) / len(checks)


def quality_score(
    capsule: dict[str, Any], solution_pass_rate: float, starter_ok: bool
) -> tuple[float, dict[str, float]]:
    """The documented formula; returns (score, per-part contributions)."""
    tests = capsule["testCases"]
    parts = {
        "solution": solution_pass_rate,
        "starter": 1.0 if starter_ok else 0.0,
        "tests": min(len(tests), TARGET_TESTS) / TARGET_TESTS,
        "edgeCases": min(sum(map(is_edge_case, tests)), TARGET_EDGE_CASES) / TARGET_EDGE_CASES,
        "statement": statement_completeness(capsule),
        "hints": min(len(capsule["hints"]), TARGET_HINTS) / TARGET_HINTS,
    }
    contributions = {name: round(WEIGHTS[name] * value, 4) for name, value in parts.items()}
    return round(sum(contributions.values()), 3), contributions


def advice(breakdown: dict[str, float]) -> list[str]:
    """What to improve when a valid capsule still scores low (fed back to the model)."""
    tips = {
        "tests": f"Add more test cases (aim for {TARGET_TESTS}).",
        "edgeCases": "Cover edge cases: empty input, a single element, zero/negatives.",
        "statement": "Make the statement complete: name the function and show an example.",
        "hints": f"Give {TARGET_HINTS} progressive hints.",
    }
    return [tip for name, tip in tips.items() if breakdown.get(name, 0) < WEIGHTS[name]]


# ------------------------------------------------------------ the executor checks


def _describe_failure(number: int, case: dict[str, Any], result: TestResult) -> str:
    label = f"Test {number} ({case.get('description') or 'no description'})"
    args = json.dumps(case["input"])[:300]
    if result.error:
        return f"{label}: input {args} raised: {str(result.error).strip()[-300:]}"
    actual = json.dumps(result.actual, default=str)[:300]
    expected = json.dumps(case["expected"])[:300]
    return f"{label}: input {args} expected {expected} but the solution returned {actual}"


def solution_problems(capsule: dict[str, Any], result: SuiteResult) -> list[str]:
    summary = result.summary
    if summary.status in _LOAD_FAILURES:
        detail = (result.error or result.compileOutput or "").strip()[-500:]
        return [f"The reference solution does not load: {detail}"]
    cases = capsule["testCases"]
    return [
        _describe_failure(number, case, outcome)
        for number, (case, outcome) in enumerate(zip(cases, result.results, strict=False), 1)
        if not outcome.passed
    ] or ([] if summary.passed == summary.total else [f"Run status {summary.status}"])


def starter_problems(result: SuiteResult) -> list[str]:
    summary = result.summary
    if summary.status in _LOAD_FAILURES:
        detail = (result.error or result.compileOutput or "").strip()[-300:]
        return [f"The starter code must load and define the function: {detail}"]
    if summary.total and summary.passed == summary.total:
        return ["The starter code already passes every test; it must be an unsolved stub."]
    return []


async def _no_stage(stage: str) -> None:
    return None


async def verify(
    raw: Any,
    language: str,
    runner: TestRunnerLike,
    on_stage: Callable[[str], Awaitable[None]] = _no_stage,
) -> Candidate:
    """Parse, run the solution and the starter (one batch of two runs), score."""
    parsed, problems = parse(raw, language)
    if parsed is None:
        return Candidate(None, problems=problems, raw=raw)
    capsule, content = parsed
    problems = syntax_problems(capsule["solution"], language, "reference solution")
    problems += syntax_problems(capsule["starterCode"], language, "starter code")
    name, cases = capsule["functionName"], capsule["testCases"]
    await on_stage("testing")
    try:
        solution, starter = await runner(
            [capsule["solution"], capsule["starterCode"]], cases, language, name
        )
    except ValueError as exc:
        # The executor refused the input itself (InvalidTestCases, SourceTooLarge): the
        # model can fix that. SandboxUnavailable is a RuntimeError and propagates.
        return Candidate(None, problems=[*problems, f"The executor refused it: {exc}"], raw=raw)
    problems += solution_problems(capsule, solution)
    problems += starter_problems(starter)
    ran = solution.summary
    pass_rate = ran.passed / ran.total if ran.total else 0.0
    starter_ok = not starter_problems(starter)
    score, breakdown = quality_score(capsule, pass_rate, starter_ok)
    valid = pass_rate == 1.0 and starter_ok and not problems
    return Candidate(capsule, score, valid, problems, breakdown, raw, content)
