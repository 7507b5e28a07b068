"""Every execution leaves a row in `executions` (who, key, capsule, language, kind,
status, duration, tests passed/total), and a run against a capsule also counts as a
`code_run`/`test_run` analytics event (event id = execution id, so a widget reporting
the same run is deduplicated). Both are handed to `ctx.wait_until`: the caller gets
the answer without waiting on D1."""

from __future__ import annotations

from dataclasses import dataclass

from devcapsules.context import Context
from devcapsules.services.analytics.recording import record_execution_event
from devcapsules.services.clock import iso


@dataclass(frozen=True)
class ExecutionRecord:
    kind: str  # "run" or "tests"
    language: str
    status: str
    duration_ms: int
    capsule_id: str | None = None
    tests_passed: int | None = None
    tests_total: int | None = None
    # The widget's anonymous learner session (X-Session-Id); else the caller is the session.
    session_id: str | None = None


def record_later(ctx: Context, record: ExecutionRecord) -> str:
    """Schedule the insert; returns the execution id (it goes into the response)."""
    execution_id = ctx.deps.ids.new("exe")
    principal = ctx.principal
    user_id = principal.user_id if principal else None
    api_key_id = principal.api_key_id if principal else None
    ctx.logger.info(
        "execution",
        executionId=execution_id,
        kind=record.kind,
        language=record.language,
        status=record.status,
        durationMs=record.duration_ms,
        capsuleId=record.capsule_id,
    )
    if ctx.env.db is not None:
        ctx.wait_until(_insert(ctx, execution_id, user_id, api_key_id, record))
    return execution_id


async def _insert(
    ctx: Context, execution_id: str, user_id: str | None, api_key_id: str | None, r: ExecutionRecord
) -> None:
    try:
        await (
            ctx.env.db.prepare(
                "INSERT INTO executions (id, user_id, api_key_id, capsule_id, language, kind,"
                " status, duration_ms, tests_passed, tests_total, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            .bind(
                execution_id,
                user_id,
                api_key_id,
                r.capsule_id,
                r.language,
                r.kind,
                r.status,
                r.duration_ms,
                r.tests_passed,
                r.tests_total,
                iso(ctx.deps.clock.now()),
            )
            .run()
        )
        if r.capsule_id is not None:
            await record_execution_event(
                ctx.env,
                ctx.settings.analytics,
                execution_id=execution_id,
                capsule_id=r.capsule_id,
                kind=r.kind,
                session_id=r.session_id or user_id or execution_id,
                tests_passed=r.tests_passed,
                tests_total=r.tests_total,
            )
    except Exception as exc:  # background work: log it, never surface it
        ctx.logger.error("execution_record_failed", executionId=execution_id, error=str(exc))
