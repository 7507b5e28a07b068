"""/api/v1/capsules: create, list, read, update, delete, publish, duplicate.

Access rules are in services/capsule_access.py, SQL in services/capsules.py. D1 round
trips per request: create 1 batch; list and read 1 query; update, delete, publish and
duplicate 1 read + 1 batch (the read checks ownership, the version and the merged
capsule; the batch is conditional on the version read, so lost updates cannot happen).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from devcapsules import etags
from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response, empty_response
from devcapsules.routing import Reply, Route, validation_error
from devcapsules.schemas import capsules as schemas
from devcapsules.services import capsules as repository
from devcapsules.services.capsule_access import audience, can_read, public_copy_content, sees_full
from devcapsules.services.solution_check import verify_solution

PREFIX = "/api/v1/capsules"
TAGS = ("capsules",)
# Changing these on a published capsule re-runs the publish check.
_TESTED_FIELDS = {"solution", "testCases", "language", "functionName"}
_UPDATE_ATTEMPTS = 3


def _not_found() -> HTTPError:
    return HTTPError(404, "not_found", "No such capsule")


def _capsule_response(
    capsule: repository.Capsule, full: bool, status: int = 200, headers: dict | None = None
) -> Reply:
    body = {"capsule": schemas.CapsuleOut.view(capsule, full)}
    return Reply(body, status, {**(headers or {}), **_validators(capsule, full)})


def _validators(capsule: repository.Capsule, full: bool) -> dict[str, str]:
    return {
        "ETag": etags.etag(capsule.version, full),
        # The body depends on who asks: caches must revalidate and key on the credential.
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization",
    }


async def _load_visible(ctx: Context, capsule_id: str) -> repository.Capsule:
    capsule = await repository.get(ctx.env.db, capsule_id)
    if capsule is None or not can_read(audience(ctx.principal), capsule):
        raise _not_found()
    return capsule


async def _load_owned(ctx: Context, capsule_id: str) -> repository.Capsule:
    capsule = await _load_visible(ctx, capsule_id)
    if not sees_full(audience(ctx.principal), capsule):
        raise HTTPError(403, "not_owner", "Only the capsule's owner can change it")
    return capsule


def _validate_content(fields: dict[str, Any]) -> schemas.CapsuleContent:
    try:
        return schemas.CapsuleContent.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _new(ctx: Context) -> dict[str, Any]:
    """A new capsule's id and time, from the app's id source and clock."""
    return {"capsule_id": ctx.deps.ids.new("cap"), "now": ctx.deps.clock.now()}


async def create_capsule(request: Request, ctx: Context) -> Reply:
    body: schemas.CapsuleCreate = request.data
    capsule = await repository.create(ctx.env.db, ctx.principal.user_id, body, **_new(ctx))
    ctx.logger.info("capsule_created", capsuleId=capsule.id)
    location = {"Location": f"{PREFIX}/{capsule.id}"}
    return _capsule_response(capsule, full=True, status=201, headers=location)


async def list_capsules(request: Request, ctx: Context) -> Reply:
    params: schemas.CapsuleListQuery = request.params
    if params.owner == "me" and ctx.principal is None:
        raise HTTPError(401, "unauthorized", "owner=me needs a credential")
    who = audience(ctx.principal)
    filters = {
        column: getattr(params, column)
        for column in ("language", "difficulty", "status", "visibility")
        if getattr(params, column) is not None
    }
    query = repository.ListQuery(
        audience=who,
        own_only=params.owner == "me",
        limit=params.limit,
        cursor=params.cursor,
        filters=filters,
        tag=params.tag,
        text=params.q,
    )
    capsules, next_cursor = await repository.list_visible(ctx.env.db, query)
    items = [schemas.CapsuleOut.view(capsule, sees_full(who, capsule)) for capsule in capsules]
    body = {"capsules": items, "nextCursor": next_cursor}
    return Reply(body, headers={"Vary": "Authorization"})


async def get_capsule(request: Request, ctx: Context) -> Response | Reply:
    capsule = await _load_visible(ctx, request.path_params["id"])
    full = sees_full(audience(ctx.principal), capsule)
    if etags.not_modified(request, etags.etag(capsule.version, full)):
        return empty_response(304, headers=_validators(capsule, full))
    return _capsule_response(capsule, full)


async def update_capsule(request: Request, ctx: Context) -> Reply:
    body: schemas.CapsuleUpdate = request.data
    changes = body.changes()
    for _ in range(_UPDATE_ATTEMPTS):
        capsule = await _load_owned(ctx, request.path_params["id"])
        # Content errors first: a request that could never succeed says why (422), rather
        # than only that its version is stale (412).
        columns = _merged_columns(capsule, changes)
        etags.check_if_match(request, capsule.version)
        updated = await _apply_update(ctx, capsule, changes, columns)
        if updated is not None:
            ctx.logger.info("capsule_updated", capsuleId=capsule.id, version=updated.version)
            return _capsule_response(updated, full=True)
        if etags.expected_versions(request) is not None:
            break  # the client named a version and another write got there first
        # Without If-Match the client asked for last-writer-wins: read again and retry.
    raise etags.precondition_failed()


def _merged_columns(capsule: repository.Capsule, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate the capsule as it would be after the change; the columns to write."""
    content_changes = {name: value for name, value in changes.items() if name != "status"}
    merged = {**capsule.content(), **content_changes}
    merged.pop("status")
    content = repository.content_columns(_validate_content(merged))
    columns = {
        repository.FIELD_COLUMNS[name]: content[repository.FIELD_COLUMNS[name]]
        for name in content_changes
    }
    if "status" in changes:
        columns["status"] = changes["status"]
    return columns


async def _apply_update(
    ctx: Context, capsule: repository.Capsule, changes: dict[str, Any], columns: dict[str, Any]
) -> repository.Capsule | None:
    """Re-check a published capsule whose tested fields change; write if still current."""
    stays_published = capsule.status == "published" and "status" not in changes
    if stays_published and _TESTED_FIELDS & changes.keys():
        await verify_solution(ctx, dataclasses.replace(capsule, **columns))
    now = ctx.deps.clock.now()
    return await repository.update(ctx.env.db, capsule.id, capsule.version, columns, now=now)


async def delete_capsule(request: Request, ctx: Context) -> Response:
    capsule = await _load_owned(ctx, request.path_params["id"])
    etags.check_if_match(request, capsule.version)
    now = ctx.deps.clock.now()
    if not await repository.soft_delete(ctx.env.db, capsule.id, capsule.version, now=now):
        raise etags.precondition_failed()
    ctx.logger.info("capsule_deleted", capsuleId=capsule.id)
    return empty_response(204)


async def publish_capsule(request: Request, ctx: Context) -> Reply:
    capsule = await _load_owned(ctx, request.path_params["id"])
    etags.check_if_match(request, capsule.version)
    if capsule.status == "published":
        return _capsule_response(capsule, full=True)  # idempotent: nothing to write
    await verify_solution(ctx, capsule)
    published = await repository.update(
        ctx.env.db, capsule.id, capsule.version, {"status": "published"}, now=ctx.deps.clock.now()
    )
    if published is None:
        raise etags.precondition_failed()
    ctx.logger.info("capsule_published", capsuleId=capsule.id)
    return _capsule_response(published, full=True)


async def duplicate_capsule(request: Request, ctx: Context) -> Reply:
    original = await _load_visible(ctx, request.path_params["id"])
    full = sees_full(audience(ctx.principal), original)
    source = original.content() if full else public_copy_content(original)
    fields = {name: source[name] for name in repository.FIELD_COLUMNS if name != "status"}
    fields["title"] = f"{original.title} (copy)"[: schemas.TITLE_MAX]
    fields["visibility"] = "private"
    copy = await repository.create(
        ctx.env.db,
        ctx.principal.user_id,
        _validate_content(fields),
        source=original.source,
        quality_score=original.quality_score,
        **_new(ctx),
    )
    ctx.logger.info("capsule_duplicated", capsuleId=copy.id, originalId=original.id)
    location = {"Location": f"{PREFIX}/{copy.id}"}
    return _capsule_response(copy, full=True, status=201, headers=location)


_read = {"auth": "optional", "scopes": ["capsules:read"], "tags": TAGS}
_write = {"auth": "required", "scopes": ["capsules:write"], "tags": TAGS}
_one = f"{PREFIX}/{{id}}"

routes = [
    Route(
        PREFIX,
        create_capsule,
        ["POST"],
        body=schemas.CapsuleCreate,
        response=schemas.CapsuleResponse,
        status=201,
        errors=(401, 403, 413, 422),
        summary="Create a capsule (a private draft)",
        **_write,
    ),
    Route(
        PREFIX,
        list_capsules,
        ["GET"],
        query=schemas.CapsuleListQuery,
        response=schemas.CapsuleListResponse,
        errors=(401, 403, 422),
        summary="List visible capsules, newest first (cursor pagination, filters)",
        **_read,
    ),
    Route(
        _one,
        get_capsule,
        ["GET"],
        response=schemas.CapsuleResponse,
        statuses=(304,),
        errors=(403, 404),
        headers=("If-None-Match",),
        summary="Read a capsule (ETag; If-None-Match answers 304)",
        **_read,
    ),
    Route(
        _one,
        update_capsule,
        ["PATCH"],
        body=schemas.CapsuleUpdate,
        response=schemas.CapsuleResponse,
        errors=(401, 403, 404, 412, 413, 422, 503),
        headers=("If-Match",),
        summary="Change some fields (If-Match: version or ETag; 412 if it changed)",
        **_write,
    ),
    Route(
        _one,
        delete_capsule,
        ["DELETE"],
        status=204,
        errors=(401, 403, 404, 412),
        headers=("If-Match",),
        summary="Delete a capsule (soft delete: gone from lists and reads)",
        **_write,
    ),
    Route(
        f"{_one}/publish",
        publish_capsule,
        ["POST"],
        response=schemas.CapsuleResponse,
        errors=(401, 403, 404, 412, 422, 503),
        summary="Publish: the reference solution must pass every test case",
        **_write,
    ),
    Route(
        f"{_one}/duplicate",
        duplicate_capsule,
        ["POST"],
        response=schemas.CapsuleResponse,
        status=201,
        errors=(401, 403, 404),
        summary="Copy a capsule into a private draft owned by the caller",
        **_write,
    ),
]
