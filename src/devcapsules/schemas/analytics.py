"""Request and response models of /api/v1/analytics.

Ingestion validates in two layers: the envelope (`EventsRequest`, a 422 for the
whole request) and each event (`AnalyticsEvent` + the properties model of its
type), whose failures are reported per event so that one bad event does not
cost the others (partial acceptance).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from devcapsules.schemas import Body, QueryModel, StrictModel
from devcapsules.schemas.patterns import ID
from devcapsules.services.clock import iso

MAX_EVENTS_PER_REQUEST = 100
MAX_RANGE_DAYS = 366
EVENT_TYPES = ("capsule_view", "code_run", "test_run", "capsule_completed", "hint_revealed")
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
# Client ids: printable, no spaces; UUIDs, ULIDs and `exe_...` execution ids all fit.
ID_PATTERN = ID


class ViewProperties(StrictModel):
    source: str | None = Field(None, max_length=32, examples=["embed"])


class CodeRunProperties(StrictModel):
    language: str | None = Field(None, max_length=32)
    status: str | None = Field(None, max_length=32)
    durationMs: int | None = Field(None, ge=0, le=3_600_000)


class TestRunProperties(StrictModel):
    passed: int = Field(ge=0, le=10_000)
    total: int = Field(ge=1, le=10_000)

    @model_validator(mode="after")
    def _passed_within_total(self) -> TestRunProperties:
        if self.passed > self.total:
            raise ValueError("passed must not exceed total")
        return self


class CompletedProperties(StrictModel):
    attempts: int | None = Field(None, ge=0, le=10_000)
    durationMs: int | None = Field(None, ge=0, le=30 * 24 * 3_600_000)


class HintProperties(StrictModel):
    hintIndex: int = Field(ge=0, le=99)


PROPERTIES_BY_TYPE: dict[str, type[StrictModel]] = {
    "capsule_view": ViewProperties,
    "code_run": CodeRunProperties,
    "test_run": TestRunProperties,
    "capsule_completed": CompletedProperties,
    "hint_revealed": HintProperties,
}


class AnalyticsEvent(StrictModel):
    """One event as a client sends it; `properties` is checked against its type's model."""

    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    type: EventType
    capsuleId: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    sessionId: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    timestamp: AwareDatetime = Field(examples=["2026-02-13T12:00:00.000Z"])
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_properties(self) -> AnalyticsEvent:
        model = PROPERTIES_BY_TYPE[self.type]
        # Normalised: validated, defaults dropped, so stored JSON stays small.
        self.properties = model.model_validate(self.properties).model_dump(exclude_none=True)
        return self


def _event_items(schema: dict[str, Any]) -> None:
    # Documented as AnalyticsEvent; built only when a schema is asked for (not at import).
    schema["items"] = AnalyticsEvent.model_json_schema()


class EventsRequest(StrictModel):
    # Items are validated one by one by the ingestion service (partial acceptance),
    # so the envelope accepts any item and the document shows `AnalyticsEvent`.
    events: list[Any] = Field(
        min_length=1, max_length=MAX_EVENTS_PER_REQUEST, json_schema_extra=_event_items
    )


class RejectedEvent(BaseModel):
    index: int
    id: str | None
    code: str
    message: str


class IngestResponse(Body):
    success: Literal[True] = True
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


def _iso_day(value: Any) -> Any:
    # Lax query parsing would read "0" as a Unix timestamp (1970-01-01): a day is only
    # ever written YYYY-MM-DD, as the document's `format: date` says.
    if isinstance(value, str) and not _ISO_DAY.match(value):
        raise ValueError("must be a day as YYYY-MM-DD")
    return value


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
Day = Annotated[date, BeforeValidator(_iso_day)]


class RangeQuery(QueryModel):
    """`from`/`to`: inclusive UTC days (YYYY-MM-DD); default the last 30 days to today."""

    from_: Day | None = Field(None, alias="from")
    to: Day | None = None


class OverviewQuery(RangeQuery):
    limit: int = Field(5, ge=1, le=50)


class Counts(BaseModel):
    """The per-capsule counters a report carries, for a day or for the whole range."""

    views: int
    uniqueSessions: int
    runs: int
    testRuns: int
    testRunsPassed: int
    completions: int
    hints: int


class DailyPoint(Counts):
    date: str


def _iso_text(value: datetime | str) -> str:
    # Reports carry the text services/clock.iso wrote (and the KV cache kept).
    return value if isinstance(value, str) else iso(value)


# Sent the way every timestamp of this API is written (services/clock.iso: milliseconds, Z).
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso_text, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class DateRange(BaseModel):
    from_: str = Field(alias="from")
    to: str
    days: int


class CapsuleReport(Counts, Body):
    success: Literal[True] = True
    capsuleId: str
    range: DateRange
    passRate: float | None
    completionRate: float | None
    medianAttemptsToPass: float | None
    daily: list[DailyPoint]
    generatedAt: Timestamp


class Totals(BaseModel):
    views: int
    uniqueSessions: int
    runs: int
    testRuns: int
    completions: int
    hints: int


class TopCapsule(Totals):
    capsuleId: str
    title: str


class OverviewResponse(Body):
    success: Literal[True] = True
    range: DateRange
    previousRange: DateRange
    totals: Totals
    previousTotals: Totals
    trend: dict[str, float | None]
    topCapsules: list[TopCapsule]
    generatedAt: Timestamp


class UsageDay(BaseModel):
    date: str
    apiRequests: int | None  # null when the plan keeps no daily request counter
    generations: int


class UsageResponse(Body):
    success: Literal[True] = True
    plan: str
    limits: dict[str, int | None]
    range: DateRange
    totals: dict[str, int | None]
    daily: list[UsageDay]
