"""/api/v1/generate: accept a generation job, report its status, list the caller's jobs.

Accepting a job (quota, row, queue, idempotent replay) is `services.generation.intake`;
the work happens in the queue consumer (services/generation/consumer.py). This module
only translates HTTP: the Idempotency-Key header in, the 202/200 answer out.
"""

from __future__ import annotations

import re

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request
from devcapsules.routing import Reply, Route
from devcapsules.schemas import generation as schemas
from devcapsules.services.generation import intake, jobs

PREFIX = "/api/v1/generate"
TAGS = ("generation",)
# Printable ASCII without spaces, like the IETF draft's examples (UUIDs, ULIDs...).
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def status_url(job_id: str) -> str:
    return f"{PREFIX}/{job_id}/status"


def job_view(job: jobs.Job) -> dict:
    """A job's fields by API name: `schemas.generation.GenerationJob`'s data."""
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    return {
        "jobId": job.id,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "attempts": job.attempts,
        "prompt": job.prompt,
        "language": job.language,
        "difficulty": job.difficulty,
        "capsuleId": job.capsule_id,
        "qualityScore": job.quality_score,
        "provider": job.provider,
        # For a failed job: why. For a queued one: the transient error being retried.
        "error": error,
        "generationTime": job.generation_time_ms,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "startedAt": job.started_at,
        "completedAt": job.completed_at,
        "statusUrl": status_url(job.id),
    }


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not _IDEMPOTENCY_KEY.match(key):
        raise HTTPError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 printable ASCII characters without spaces",
        )
    return key


def _accepted(accepted: intake.Accepted) -> Reply:
    job = accepted.job
    body = schemas.GenerateAccepted(jobId=job.id, statusUrl=status_url(job.id))
    headers = {"Location": status_url(job.id)}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Reply(body, status=200 if accepted.replayed else 202, headers=headers)


async def create_job(request: Request, ctx: Context) -> Reply:
    body: schemas.GenerateRequest = request.data
    order = intake.Order(body.prompt, body.language, body.difficulty)
    return _accepted(await intake.accept(ctx, order, idempotency_key(request)))


async def get_status(request: Request, ctx: Context) -> dict:
    job_id = request.path_params["job_id"]
    job = await jobs.get_owned(ctx.env.db, job_id, ctx.principal.user_id)
    if job is None:
        # Someone else's job answers exactly like a missing one.
        raise HTTPError(404, "job_not_found", f"No generation job {job_id}")
    return job_view(job)


async def list_jobs(request: Request, ctx: Context) -> dict:
    query: schemas.JobListQuery = request.params
    found, cursor = await jobs.list_for_user(
        ctx.env.db,
        ctx.principal.user_id,
        limit=query.limit,
        status=query.status,
        cursor=query.cursor,
    )
    return {"jobs": [job_view(job) for job in found], "nextCursor": cursor}


routes = [
    Route(
        PREFIX,
        create_job,
        methods=["POST"],
        auth="required",
        scopes=["generate"],
        body=schemas.GenerateRequest,
        response=schemas.GenerateAccepted,
        status=202,
        statuses=(200,),  # a replay of an Idempotency-Key answers 200 with the same job
        headers=("Idempotency-Key",),
        summary="Start generating a capsule (async); honours Idempotency-Key",
        tags=TAGS,
        errors=(400, 401, 403, 422, 429),
    ),
    Route(
        PREFIX,
        list_jobs,
        methods=["GET"],
        auth="required",
        scopes=["generate"],
        query=schemas.JobListQuery,
        response=schemas.GenerationJobList,
        summary="The caller's generation jobs, newest first",
        tags=TAGS,
        errors=(401, 403),
    ),
    Route(
        f"{PREFIX}/{{job_id}}/status",
        get_status,
        methods=["GET"],
        auth="required",
        scopes=["generate"],
        response=schemas.GenerationStatus,
        summary="Status, stage and progress of a generation job (owner only)",
        tags=TAGS,
        errors=(401, 403, 404),
    ),
]
