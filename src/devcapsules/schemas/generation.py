"""Models of /api/v1/generate, and the capsule a model must produce.

`GeneratedCapsule` is both the validator of model output and the source of the
JSON schema sent as `response_format` (structured outputs). Strict structured
outputs cannot express "any JSON value", so test inputs and expected values
travel as JSON text (`inputJson`, `expectedJson`) and are decoded in verify.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from devcapsules.schemas import Body, Cursor, QueryModel, StrictModel
from devcapsules.schemas.patterns import IDENTIFIER, SPACE, at_least_visible, documented, matches

# Languages whose function-test harness the executor provides (see executor/tests_harness).
GENERATION_LANGUAGES = ("python", "javascript")
PROMPT_MIN = 10
PROMPT_MAX = 2000
MIN_TESTS = 3
MAX_TESTS = 20

Language = Literal["python", "javascript"]
Difficulty = Literal["easy", "medium", "hard"]
JobStatus = Literal["queued", "processing", "completed", "failed"]


class GenerateRequest(StrictModel):
    prompt: str = Field(
        min_length=PROMPT_MIN,
        max_length=PROMPT_MAX,
        examples=["Create a function to reverse a string"],
        json_schema_extra=documented(at_least_visible(PROMPT_MIN)),
    )
    language: Language = Field(description="A language the executor can run function tests in")
    difficulty: Difficulty = "medium"

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not matches(at_least_visible(PROMPT_MIN), value):
            raise ValueError(f"must have at least {PROMPT_MIN} non-blank characters")
        return value.strip(SPACE)


class JobListQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)
    status: JobStatus | None = None
    cursor: Cursor = None


# ------------------------------------------------------------ model output


class _Output(BaseModel):
    # Forbid extra keys so the generated JSON schema says additionalProperties: false,
    # which strict structured outputs require.
    model_config = ConfigDict(extra="forbid")


class GeneratedTestCase(_Output):
    description: str = Field(max_length=200, description="What this case checks")
    inputJson: str = Field(
        max_length=4000, description="JSON array of the positional arguments, e.g. [[1, 2], 3]"
    )
    expectedJson: str = Field(max_length=4000, description="JSON of the expected return value")
    hidden: bool = Field(description="True for cases learners should not see")


class GeneratedCapsule(_Output):
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(max_length=500, description="One-paragraph summary")
    problem: str = Field(
        min_length=20, max_length=6000, description="Full statement with an example"
    )
    difficulty: Difficulty
    functionName: str = Field(max_length=64, description="The function learners implement")
    starterCode: str = Field(max_length=8000, description="A stub that compiles but fails tests")
    solution: str = Field(min_length=1, max_length=16000, description="Reference solution")
    testCases: list[GeneratedTestCase] = Field(min_length=MIN_TESTS, max_length=MAX_TESTS)
    hints: list[str] = Field(max_length=5)
    tags: list[str] = Field(max_length=8)

    @field_validator("functionName")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not matches(IDENTIFIER, value):
            raise ValueError("must be a plain identifier")
        return value


def _strict(node: Any) -> Any:
    """Pydantic's schema, adjusted to what strict structured outputs accept: every
    property required, no length/size keywords the service refuses."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in _UNSUPPORTED | {"properties"}}
    if "properties" in node:
        # Property names are data, not keywords: a field called "title" stays.
        out["properties"] = {name: _strict(sub) for name, sub in node["properties"].items()}
        out["required"] = list(node["properties"])
        out["additionalProperties"] = False
    if "$defs" in node:
        out["$defs"] = {name: _strict(sub) for name, sub in node["$defs"].items()}
    return out


_UNSUPPORTED = {"minLength", "maxLength", "minItems", "maxItems", "title", "default"}


def capsule_json_schema() -> dict[str, Any]:
    return _strict(GeneratedCapsule.model_json_schema())


# ------------------------------------------------------------ responses


class GenerateAccepted(Body):
    success: bool = True
    jobId: str = Field(examples=["gen_1760000000000_abcd1234"])
    statusUrl: str


class JobError(BaseModel):
    code: str
    message: str


class GenerationJob(BaseModel):
    jobId: str
    status: JobStatus
    stage: str
    progress: int
    attempts: int
    prompt: str
    language: str
    difficulty: str
    capsuleId: str | None = None
    qualityScore: float | None = None
    provider: str | None = None
    error: JobError | None = None
    generationTime: int | None = Field(default=None, description="Milliseconds")
    createdAt: str
    updatedAt: str
    startedAt: str | None = None
    completedAt: str | None = None
    statusUrl: str


class GenerationStatus(GenerationJob, Body):
    success: bool = True


class GenerationJobList(Body):
    success: bool = True
    jobs: list[GenerationJob]
    nextCursor: str | None = None
