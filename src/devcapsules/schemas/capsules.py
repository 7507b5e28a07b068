"""Request and response models of /api/v1/capsules, with a limit on every string and list.

Test cases come in the two kinds the executor runs (one kind per capsule):
- function tests: `{"input": [positional args], "expected": any JSON, "description"?,
  "hidden"?}`, called as `functionName(*input)`; compared by deep JSON equality with a
  float tolerance (rel/abs 1e-9; `true` never equals `1`), see executor/matching.py;
- I/O tests: `{"stdin": "...", "expectedOutput": "...", "description"?, "hidden"?}`;
  compared after normalising line endings and dropping trailing whitespace per line and
  trailing blank lines.

The per-field limits keep a whole capsule well below D1's 2 MB row limit and below the
1 MiB request body limit (bodies above that are a 413 before any parsing).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from devcapsules.schemas import Body, Cursor, QueryModel, StrictModel
from devcapsules.schemas.patterns import (
    IDENTIFIER,
    SPACE,
    TAG,
    VISIBLE_LINE,
    documented,
    matches,
)
from devcapsules.services.execution.hybrid import canonical_language

# Languages a capsule may be written in (canonical names). Aliases ("py", "js", "c++",
# "golang"...) are resolved by the execution layer's table, so capsules and /execute agree
# on names; whether this host can *run* a language is checked when publishing, because
# the executor backends (local sandbox, executor service, Piston) are chosen at run time.
LANGUAGES = (
    "python",
    "javascript",
    "typescript",
    "c",
    "cpp",
    "java",
    "rust",
    "go",
    "ruby",
    "csharp",
    "kotlin",
)

Difficulty = Literal["easy", "medium", "hard"]
Visibility = Literal["private", "unlisted", "public"]
Status = Literal["draft", "published", "archived"]

TITLE_MAX = 200
DESCRIPTION_MAX = 2_000
PROBLEM_MAX = 50_000
CODE_MAX = 64 * 1024
TEST_CASES_MAX = 100  # the executor's max_test_cases per run
TEST_TEXT_MAX = 64 * 1024  # stdin / expectedOutput, and each JSON input/expected
TEST_CASES_TOTAL_MAX = 512 * 1024  # all test cases together, as JSON
HINTS_MAX, HINT_MAX = 10, 1_000
TAGS_MAX = 10


def normalise_language(value: str) -> str:
    name = canonical_language(value)
    if name not in LANGUAGES:
        raise ValueError(f"unsupported language; choose one of {', '.join(LANGUAGES)}")
    return name


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class FunctionTest(StrictModel):
    input: list[Any] = Field(max_length=20, description="Positional arguments")
    expected: Any = Field(description="Any JSON value; deep equality, floats within 1e-9")
    description: str | None = Field(default=None, max_length=200)
    hidden: bool = False

    @field_validator("input", "expected")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if json_size(value) > TEST_TEXT_MAX:
            raise ValueError(f"must be at most {TEST_TEXT_MAX} bytes as JSON")
        return value


class IOTest(StrictModel):
    stdin: str = Field(default="", max_length=TEST_TEXT_MAX)
    expectedOutput: str = Field(max_length=TEST_TEXT_MAX)
    description: str | None = Field(default=None, max_length=200)
    hidden: bool = False


def _test_kind(value: Any) -> str:
    # No explicit tag in the JSON: a case is an I/O test when it has I/O fields.
    if isinstance(value, dict):
        return "io" if "expectedOutput" in value or "stdin" in value else "function"
    return "io" if isinstance(value, IOTest) else "function"


TestCase = Annotated[
    Annotated[FunctionTest, Tag("function")] | Annotated[IOTest, Tag("io")],
    Discriminator(_test_kind),
]
TEST_CASES = TypeAdapter(list[TestCase])


def dump_test_case(case: FunctionTest | IOTest) -> dict[str, Any]:
    """JSON shape of a case; `expected: null` is a real value, so only `description` drops."""
    data = case.model_dump(mode="json")
    if data.get("description") is None:
        data.pop("description", None)
    return data


class CapsuleContent(StrictModel):
    """Every field a client may write; shared by create and (merged) update validation."""

    title: str = Field(
        min_length=1, max_length=TITLE_MAX, json_schema_extra=documented(VISIBLE_LINE)
    )
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    problem: str = Field(default="", max_length=PROBLEM_MAX, description="Markdown")
    language: str = Field(max_length=20, examples=["python"])
    difficulty: Difficulty = "medium"
    starterCode: str = Field(default="", max_length=CODE_MAX)
    solution: str = Field(default="", max_length=CODE_MAX, description="Private to the owner")
    functionName: str | None = Field(
        default=None, max_length=64, json_schema_extra=documented(IDENTIFIER)
    )
    testCases: list[TestCase] = Field(default_factory=list, max_length=TEST_CASES_MAX)
    hints: list[Annotated[str, Field(min_length=1, max_length=HINT_MAX)]] = Field(
        default_factory=list, max_length=HINTS_MAX
    )
    tags: list[Annotated[str, Field(max_length=32, json_schema_extra=documented(TAG))]] = Field(
        default_factory=list, max_length=TAGS_MAX
    )
    visibility: Visibility = "private"

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalise_language(value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not matches(VISIBLE_LINE, value):
            raise ValueError("must be one line of visible text without control characters")
        return value.strip(SPACE)

    @field_validator("functionName")
    @classmethod
    def _function_name(cls, value: str | None) -> str | None:
        if value is not None and not matches(IDENTIFIER, value):
            raise ValueError("must be an identifier, e.g. two_sum")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not matches(TAG, tag):
                raise ValueError(f"tag {tag!r}: letters, digits and + # . _ - (stored lower-case)")
        return list(dict.fromkeys(tag.strip(SPACE).lower() for tag in value))

    @field_validator("testCases")
    @classmethod
    def _test_cases(cls, value: list, info: ValidationInfo) -> list:
        # A field validator (functionName is declared above, so it is in `info.data`)
        # keeps the error path at ["testCases"] instead of the model's root.
        kinds = {type(case) for case in value}
        if len(kinds) > 1:
            raise ValueError("use one kind (function tests or I/O tests), not both")
        if FunctionTest in kinds and info.data.get("functionName", "?") is None:
            raise ValueError("function tests (input/expected) need functionName")
        if json_size([dump_test_case(case) for case in value]) > TEST_CASES_TOTAL_MAX:
            raise ValueError(f"at most {TEST_CASES_TOTAL_MAX} bytes of test cases in all")
        return value


class CapsuleCreate(CapsuleContent):
    pass


def _document_no_nulls(schema: dict[str, Any]) -> None:
    """`None` only stands for "not sent": `_not_empty_or_null` refuses an explicit null
    everywhere but on functionName, so the document shows those fields as non-nullable."""
    schema["minProperties"] = 1  # "send at least one field to change"
    for name, prop in schema["properties"].items():
        branches = prop.get("anyOf", [])
        if name != "functionName" and {"type": "null"} in branches:
            kept = [branch for branch in branches if branch != {"type": "null"}]
            del prop["anyOf"], prop["default"]
            prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
        prop.update(_content_rules().get(name, {}))


def _content_rules() -> dict[str, dict[str, Any]]:
    # The merged capsule is validated as CapsuleContent: show its per-field limits on PATCH
    # too (fields whose schema refers to other models, testCases, stay as they are).
    properties = CapsuleContent.model_json_schema()["properties"]
    return {
        name: {key: value for key, value in prop.items() if key not in ("default", "title")}
        for name, prop in properties.items()
        if "$ref" not in str(prop)
    }


class CapsuleUpdate(StrictModel):
    """PATCH: any subset of the content fields, plus status (draft/archived; publishing has
    its own route because it runs the tests). `functionName: null` clears it."""

    model_config = ConfigDict(json_schema_extra=_document_no_nulls)

    title: str | None = None
    description: str | None = None
    problem: str | None = None
    language: str | None = None
    difficulty: Difficulty | None = None
    starterCode: str | None = None
    solution: str | None = None
    functionName: str | None = None
    # Typed (unlike hints and tags) so the document shows what an item is; the rules that
    # span the list (one kind, functionName, total size) are checked on the merged capsule.
    testCases: list[TestCase] | None = Field(default=None, max_length=TEST_CASES_MAX)
    hints: list[Any] | None = None
    tags: list[Any] | None = None
    visibility: Visibility | None = None
    status: Literal["draft", "archived"] | None = None

    @model_validator(mode="after")
    def _not_empty_or_null(self) -> CapsuleUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for name in self.model_fields_set - {"functionName"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent (types are checked again on the merged capsule)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CapsuleListQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Cursor = None
    language: str | None = Field(default=None, max_length=20)
    difficulty: Difficulty | None = None
    tag: str | None = Field(default=None, max_length=32)
    status: Status | None = None
    visibility: Visibility | None = None
    owner: Literal["me"] | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else normalise_language(value)

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().lower()


class TestCaseOut(BaseModel):
    input: list[Any] | None = None
    expected: Any = None
    stdin: str | None = None
    expectedOutput: str | None = None
    description: str | None = None
    hidden: bool = False


class CapsuleOut(BaseModel):
    id: str
    ownerId: str
    title: str
    description: str
    problem: str
    language: str
    difficulty: Difficulty
    starterCode: str
    solution: str | None = Field(default=None, description="Only in the owner's view")
    functionName: str | None
    testCases: list[TestCaseOut] = Field(description="Hidden cases only in the owner's view")
    hiddenTestCount: int
    hints: list[str]
    tags: list[str]
    visibility: Visibility
    status: Status
    source: Literal["manual", "generated"]
    generationJobId: str | None
    qualityScore: float | None
    version: int
    createdAt: str
    updatedAt: str

    @staticmethod
    def view(capsule: Any, full: bool) -> dict[str, Any]:
        """A stored capsule's fields by API name, in the full (owner's) or public view
        (services/capsule_access.py decides which): this model's data, as the router
        serialises it (`routing.data_serializer`)."""
        from devcapsules.services.capsule_access import visible_test_cases

        fields = capsule.content()
        if not full:
            del fields["solution"]
        fields["testCases"] = visible_test_cases(capsule, full)
        fields["hiddenTestCount"] = sum(1 for case in capsule.test_cases if case.get("hidden"))
        fields.update(
            id=capsule.id,
            ownerId=capsule.owner_id,
            source=capsule.source,
            generationJobId=capsule.generation_job_id,
            qualityScore=capsule.quality_score,
            version=capsule.version,
            createdAt=capsule.created_at,
            updatedAt=capsule.updated_at,
        )
        return fields


class CapsuleResponse(Body):
    success: Literal[True] = True
    capsule: CapsuleOut


class CapsuleListResponse(Body):
    success: Literal[True] = True
    capsules: list[CapsuleOut]
    nextCursor: str | None
