"""Events in: the widget's (`ingest`) and our own executions' (`record_execution_event`),
through one row format and one batch. Validate each event, drop duplicates, store events
and rollups in ONE batch.

Round trips per request: one D1 read (which capsules exist and who may report on
them) and one D1 `batch` (a transaction) of three statements whatever the number
of events. Events travel as a single JSON parameter expanded by `json_each`, so
no statement comes near D1's 100-bound-parameter limit.

Exactly-once rollups without a read-modify-write race: inside the batch, the
rollup statements run *before* the event insert and count only events whose
`(capsule_id, event_id)` is not stored yet; the insert then stores those same
events. A batch is one serialised transaction on D1 (and `BEGIN IMMEDIATE`
locally), so two requests carrying the same event cannot both count it.

Server-side events: the execution service calls `record_execution_event` (off the
response path, through `wait_until`) for every `/execute` call on a capsule. The event id
is the execution id, so a widget that also reports the run with `id = executionId` is
deduplicated, not counted twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import Database
from devcapsules.context import Principal
from devcapsules.errors import validation_details
from devcapsules.schemas.analytics import AnalyticsEvent
from devcapsules.services.analytics.options import AnalyticsOptions
from devcapsules.services.analytics.ranges import day_of
from devcapsules.services.capsule_access import audience, can_read
from devcapsules.services.capsules import find_refs
from devcapsules.services.clock import iso


def session_hash(salt: str, capsule_id: str, session_id: str) -> str:
    """The stored session id, salted (`options.session_salt`) and per capsule: the same
    learner cannot be linked across capsules."""
    message = f"{capsule_id}\x00{session_id}".encode()
    return hashlib.sha256(salt.encode() + b"\x00" + message).hexdigest()[:32]


# Clients' clocks drift; further ahead than this is a bug or a forgery.
MAX_FUTURE_SKEW = timedelta(minutes=5)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, event_id: Any, code: str, message: str) -> None:
        event_id = event_id if isinstance(event_id, str) else None
        self.rejected.append({"index": index, "id": event_id, "code": code, "message": message})


async def ingest(
    db: Database, options: AnalyticsOptions, principal: Principal, items: list[Any], now: datetime
) -> IngestResult:
    """Store what can be stored; report every refused event with its index and reason."""
    result = IngestResult()
    events = _valid_events(items, now, options.retention_days, result)
    events = await _readable_events(db, principal, events, result)
    unique = _first_occurrences(events)
    result.duplicates = len(events) - len(unique)
    rows = [_row(event, options.session_salt) for event in unique]
    result.accepted = await _store_rows(db, rows, iso(now))
    result.duplicates += len(rows) - result.accepted
    result.rejected.sort(key=lambda entry: entry["index"])
    return result


def _valid_events(
    items: list[Any], now: datetime, retention_days: int, result: IngestResult
) -> list[tuple[int, AnalyticsEvent]]:
    oldest = now - timedelta(days=retention_days)
    valid = []
    for index, item in enumerate(items):
        event_id = item.get("id") if isinstance(item, dict) else None
        event, problem = _parse(item)
        if event is None:
            result.reject(index, event_id, "invalid_event", problem)
        elif event.timestamp > now + MAX_FUTURE_SKEW:
            result.reject(index, event_id, "timestamp_in_future", "timestamp is in the future")
        elif event.timestamp < oldest:
            message = f"timestamp is older than the {retention_days}-day retention period"
            result.reject(index, event_id, "timestamp_too_old", message)
        else:
            valid.append((index, event))
    return valid


def _parse(item: Any) -> tuple[AnalyticsEvent | None, str]:
    if not isinstance(item, dict):
        return None, "an event must be a JSON object"
    try:
        # Back to JSON so strict JSON-mode rules apply (ISO strings as datetimes).
        return AnalyticsEvent.model_validate_json(json.dumps(item)), ""
    except ValidationError as exc:
        first = validation_details(exc)[0]
        path = ".".join(str(part) for part in first["path"]) or "event"
        return None, f"{path}: {first['message']}"


async def _readable_events(
    db: Database,
    principal: Principal,
    events: list[tuple[int, AnalyticsEvent]],
    result: IngestResult,
) -> list[tuple[int, AnalyticsEvent]]:
    """Events count for capsules the caller can read (the capsules module's rule: own
    capsules, and published public/unlisted ones). Unknown, deleted and unreadable
    capsules are refused alike, so a refusal reveals nothing about existence."""
    if not events:
        return []
    ids = sorted({event.capsuleId for _, event in events})
    refs = {ref.id: ref for ref in await find_refs(db, ids=ids)}
    who = audience(principal)
    readable = []
    for index, event in events:
        ref = refs.get(event.capsuleId)
        if ref is None or not can_read(who, ref):
            result.reject(index, event.id, "capsule_not_found", "No such capsule")
        else:
            readable.append((index, event))
    return readable


def _first_occurrences(events: list[tuple[int, AnalyticsEvent]]) -> list[AnalyticsEvent]:
    """Repeats of an id inside one request are duplicates, like repeats across requests."""
    seen: dict[tuple[str, str], AnalyticsEvent] = {}
    for _, event in events:
        seen.setdefault((event.capsuleId, event.id), event)
    return list(seen.values())


def _row(event: AnalyticsEvent, salt: str) -> dict[str, Any]:
    props = event.properties
    passed = event.type == "test_run" and props["passed"] == props["total"]
    return _event_row(
        capsule_id=event.capsuleId,
        event_id=event.id,
        event_type=event.type,
        session_id=event.sessionId,
        occurred_at=event.timestamp,
        properties=props,
        passed=passed,
        salt=salt,
    )


def _event_row(
    *,
    capsule_id: str,
    event_id: str,
    event_type: str,
    session_id: str,
    occurred_at: datetime,
    properties: dict[str, Any],
    passed: bool,
    salt: str,
) -> dict[str, Any]:
    """The compact JSON object one event travels as into `json_each` (see _NEW_EVENTS)."""
    return {
        "c": capsule_id,
        "i": event_id,
        "t": event_type,
        "s": session_id,
        "h": session_hash(salt, capsule_id, session_id),
        "o": iso(occurred_at),
        "d": day_of(occurred_at),
        "p": json.dumps(properties, separators=(",", ":")),
        "ok": 1 if passed else 0,
    }


# The request's events as a table, minus those already stored (the dedupe).
_NEW_EVENTS = """
WITH incoming AS (
    SELECT json_extract(value, '$.c') AS c, json_extract(value, '$.i') AS i,
           json_extract(value, '$.t') AS t, json_extract(value, '$.s') AS s,
           json_extract(value, '$.h') AS h, json_extract(value, '$.o') AS o,
           json_extract(value, '$.d') AS d, json_extract(value, '$.p') AS p,
           json_extract(value, '$.ok') AS ok
    FROM json_each(?1)
),
new AS (
    SELECT * FROM incoming n WHERE NOT EXISTS (
        SELECT 1 FROM analytics_events e WHERE e.capsule_id = n.c AND e.event_id = n.i)
)
"""

_ROLLUP_DAILY = (
    _NEW_EVENTS
    + """
INSERT INTO analytics_daily (capsule_id, day, views, runs, test_runs, test_runs_passed,
                             completions, hints, unique_sessions)
SELECT c, d, sum(t = 'capsule_view'), sum(t = 'code_run'), sum(t = 'test_run'), sum(ok),
       sum(t = 'capsule_completed'), sum(t = 'hint_revealed'),
       count(DISTINCT CASE WHEN NOT EXISTS (
           SELECT 1 FROM analytics_sessions x
           WHERE x.capsule_id = new.c AND x.day = new.d AND x.session_hash = new.h)
       THEN h END)
FROM new WHERE true GROUP BY c, d
ON CONFLICT (capsule_id, day) DO UPDATE SET
    views = views + excluded.views, runs = runs + excluded.runs,
    test_runs = test_runs + excluded.test_runs,
    test_runs_passed = test_runs_passed + excluded.test_runs_passed,
    completions = completions + excluded.completions, hints = hints + excluded.hints,
    unique_sessions = unique_sessions + excluded.unique_sessions
"""
)

_ROLLUP_SESSIONS = (
    _NEW_EVENTS
    + """
INSERT INTO analytics_sessions (capsule_id, day, session_hash)
SELECT DISTINCT c, d, h FROM new WHERE true ON CONFLICT DO NOTHING
"""
)

_INSERT_EVENTS = (
    _NEW_EVENTS
    + """
INSERT INTO analytics_events (capsule_id, event_id, type, session_id, occurred_at,
                              received_at, properties)
SELECT c, i, t, s, o, ?2, p FROM new WHERE true ON CONFLICT DO NOTHING
RETURNING event_id
"""
)


async def _store_rows(db: Database, rows: list[dict[str, Any]], received_at: str) -> int:
    """One transaction: rollups (daily, sessions) then the events. Returns how many were new."""
    if not rows:
        return 0
    payload = json.dumps(rows, separators=(",", ":"))
    results = await db.batch(
        [
            db.prepare(_ROLLUP_DAILY).bind(payload),
            db.prepare(_ROLLUP_SESSIONS).bind(payload),
            db.prepare(_INSERT_EVENTS).bind(payload, received_at),
        ]
    )
    return len(results[2]["results"])


# ---------------------------------------------------------------- server-side events

KINDS = {"run": "code_run", "tests": "test_run"}


async def record_execution_event(
    env: Env,
    options: AnalyticsOptions,
    *,
    execution_id: str,
    capsule_id: str | None,
    kind: str,
    session_id: str,
    now: datetime,
    occurred_at: datetime | None = None,
    tests_passed: int | None = None,
    tests_total: int | None = None,
) -> bool:
    """Record one `/execute` (`kind="run"`) or `/execute/tests` (`kind="tests"`) call.

    `session_id`: the widget's session id when the request carried one, else the
    caller's user id (it is only ever stored hashed in the rollups). Returns
    False when there is nothing to record (no capsule, unknown capsule, or a
    duplicate), True when the event was counted.
    """
    if capsule_id is None or kind not in KINDS:
        return False
    if not await find_refs(env.db, ids=[capsule_id]):
        return False
    moment = occurred_at or now
    if moment < now - timedelta(days=options.retention_days):
        return False
    properties, passed = _properties(kind, tests_passed, tests_total)
    row = _event_row(
        capsule_id=capsule_id,
        event_id=execution_id[:64],
        event_type=KINDS[kind],
        session_id=session_id[:128],
        occurred_at=moment,
        properties=properties,
        passed=passed,
        salt=options.session_salt,
    )
    return await _store_rows(env.db, [row], iso(now)) == 1


def _properties(kind: str, passed: int | None, total: int | None) -> tuple[dict, bool]:
    if kind != "tests":
        return {}, False
    total = max(total or 0, 0)
    passed = min(max(passed or 0, 0), total)
    return {"passed": passed, "total": total}, total > 0 and passed == total
