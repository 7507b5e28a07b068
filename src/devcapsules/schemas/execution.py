"""Request and response models of /api/v1/execute (shared with the executor service).

Field names follow the seed (`source_code`, `time_limit`, `userCode`, `testCases`,
`functionName`); new fields are camelCase. `time_limit` is seconds and `memory_limit`
megabytes, both capped by the caller's plan. Sizes are not limited here: an oversized
source or stdin is a 413 with the plan's limit, not a validation error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from devcapsules.schemas import Body, StrictModel
from devcapsules.schemas.patterns import ID, IDENTIFIER

Language = Field(min_length=1, max_length=32, examples=["python"])
TimeLimit = Field(default=None, gt=0, le=3600, description="seconds; capped by plan")
MemoryLimit = Field(default=None, gt=0, le=65536, description="MB; capped by plan")


class ExecuteRequest(StrictModel):
    source_code: str = Field(examples=["print('Hello World')"])
    language: str = Language
    time_limit: float | None = TimeLimit
    memory_limit: int | None = MemoryLimit
    stdin: str = ""


# The two modes `_one_mode` enforces, stated in the document too (null counts as absent).
_MODES = {
    "oneOf": [
        {
            "required": ["testCases", "language"],
            "properties": {"testCases": {"type": "array"}, "language": {"type": "string"}},
            "not": {"required": ["capsuleId"], "properties": {"capsuleId": {"type": "string"}}},
        },
        {
            "required": ["capsuleId"],
            "properties": {
                "capsuleId": {"type": "string"},
                "testCases": {"type": "null"},
                "language": {"type": "null"},
            },
        },
    ]
}


# What the executor's harness accepts as one inline test case (executor/tests_harness.py
# parses them; the document states the same rule so a client knows what passes): an I/O
# test when `expectedOutput` is present, else a function test with `input` + `expected`.
_INLINE_TEST_CASE = {
    "type": "object",
    "description": "An I/O test (expectedOutput, optional stdin) or a function test "
    "(input: positional arguments, expected: any JSON; needs a language with a function "
    "harness). One kind per run.",
    "anyOf": [
        {
            "required": ["expectedOutput"],
            "properties": {"expectedOutput": {"type": "string"}, "stdin": {"type": "string"}},
        },
        {
            "required": ["input", "expected"],
            "properties": {"input": {"type": "array"}},
            "not": {"required": ["expectedOutput"]},
        },
    ],
}
InlineTestCase = Annotated[dict[str, Any], WithJsonSchema(_INLINE_TEST_CASE)]


class RunTestsRequest(StrictModel):
    """Either `testCases` + `language` (+ `functionName` for function tests), or a
    `capsuleId` whose stored tests (hidden ones included) are used."""

    model_config = ConfigDict(json_schema_extra=_MODES)

    userCode: str = Field(examples=["def add(a, b):\n    return a + b\n"])
    testCases: list[InlineTestCase] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        examples=[[{"input": [1, 2], "expected": 3}]],
    )
    language: str | None = Field(default=None, min_length=1, max_length=32, examples=["python"])
    # The same identifier rule as capsules (a capsule's functionName is run here).
    functionName: str | None = Field(
        default=None, max_length=64, pattern=IDENTIFIER, examples=["add"]
    )
    capsuleId: str | None = Field(default=None, min_length=1, max_length=64, pattern=ID)
    time_limit: float | None = TimeLimit
    memory_limit: int | None = MemoryLimit

    @model_validator(mode="after")
    def _one_mode(self) -> RunTestsRequest:
        if self.capsuleId is not None:
            if self.testCases is not None or self.language is not None:
                raise ValueError("with capsuleId, the capsule's own tests and language are used")
        elif self.testCases is None or self.language is None:
            raise ValueError("send testCases and language, or a capsuleId")
        return self


class Limits(BaseModel):
    timeLimit: float
    memoryLimit: int


class ExecutionResult(BaseModel):
    """What a backend answers for one run (the remote executor's answer is checked
    against this before it is used)."""

    status: str
    stdout: str
    stderr: str
    exitCode: int | None
    signal: int | None
    compileOutput: str
    timeMs: int
    memoryKb: int
    stdoutTruncated: bool
    stderrTruncated: bool
    language: str
    version: str


class ExecuteResponse(ExecutionResult, Body):
    success: Literal[True] = True
    backend: str
    limits: Limits
    executionId: str


class Summary(BaseModel):
    passed: int
    total: int
    status: str


class TestResult(BaseModel):
    passed: bool
    hidden: bool = False
    actual: Any = None
    expected: Any = None
    error: str | None = None
    timeMs: int = 0
    stdout: str | None = None
    stderr: str | None = None
    description: str | None = None


class SuiteResult(BaseModel):
    """What a backend answers for a test run (checked like `ExecutionResult`)."""

    summary: Summary
    results: list[TestResult]
    compileOutput: str
    error: str | None
    timeMs: int
    memoryKb: int
    language: str
    version: str


class RunTestsResponse(SuiteResult, Body):
    success: Literal[True] = True
    backend: str
    limits: Limits
    executionId: str
    capsuleId: str | None = None


class LanguageInfo(BaseModel):
    language: str
    version: str
    aliases: list[str]


class LanguageOut(LanguageInfo):
    backend: str


class UnavailableLanguage(BaseModel):
    """A toolchain the host has that the sandbox cannot run, and why not."""

    language: str
    reason: str


class LanguagesResponse(Body):
    success: Literal[True] = True
    languages: list[LanguageOut]
    unavailable: list[UnavailableLanguage] = []


# ------------------------------------------------------------ test batches


class BatchRun(StrictModel):
    """One run of a test batch: a program and its function tests."""

    userCode: str
    testCases: list[InlineTestCase] = Field(min_length=1, max_length=100)
    functionName: str | None = Field(default=None, max_length=64, pattern=IDENTIFIER)


class RunTestsBatchRequest(StrictModel):
    """Several test runs of one caller in one language, each isolated from the others,
    each with the same limits (the executor service's `POST /api/v1/execute/tests/batch`)."""

    language: str = Language
    runs: list[BatchRun] = Field(min_length=1, max_length=100)
    time_limit: float | None = TimeLimit
    memory_limit: int | None = MemoryLimit


class SuiteBatchResult(BaseModel):
    """One `SuiteResult` per run, in the order sent."""

    results: list[SuiteResult]


# ------------------------------------------------------------ the executor service's bodies
# The service speaks the API's shapes without the API's own additions (backend,
# executionId): these are what `devcapsules executor serve` answers, declared as its
# routes' `response` models like the API's.


class ServiceExecuteResponse(ExecutionResult, Body):
    success: Literal[True] = True
    limits: Limits


class ServiceRunTestsResponse(SuiteResult, Body):
    success: Literal[True] = True
    limits: Limits


class ServiceRunTestsBatchResponse(SuiteBatchResult, Body):
    success: Literal[True] = True
    limits: Limits


class ServiceLanguagesResponse(Body):
    success: Literal[True] = True
    languages: list[LanguageInfo]


class WarmPoolState(BaseModel):
    """One language's warm pool: its size, its idle sandboxes, and those of them whose
    start is over (ready: a run now gets one without waiting)."""

    size: int
    idle: int
    ready: int


class ServiceHealthResponse(Body):
    success: Literal[True] = True
    status: Literal["ok"]
    running: int
    queued: int
    warm: dict[str, WarmPoolState]  # per language; {} without a pool
