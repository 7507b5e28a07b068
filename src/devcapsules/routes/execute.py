"""/api/v1/execute: run a program, run a test suite, list languages.

Anonymous callers may run code (the seed's examples send no credentials) with the
smallest limits; users and API keys with the `execute` scope get their plan's.
"""

from __future__ import annotations

import re

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request
from devcapsules.routing import Reply, Route
from devcapsules.schemas import execution as schemas
from devcapsules.services.execution import executor_for
from devcapsules.services.execution.runs import run_program, run_suite

PREFIX = "/api/v1/execute"
TAGS = ("execute",)
SESSION_HEADER = "X-Session-Id"
_SAFE_SESSION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def widget_session(request: Request) -> str | None:
    """The embed widget's anonymous learner session, for analytics (never an identity)."""
    value = request.headers.get(SESSION_HEADER)
    if value is None:
        return None
    if not _SAFE_SESSION.match(value):
        raise HTTPError(
            422,
            "validation_error",
            f"{SESSION_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ : -",
            details=[{"path": ["header", SESSION_HEADER], "message": "invalid session id"}],
        )
    return value


async def execute(request: Request, ctx: Context) -> dict:
    """`schemas.ExecuteResponse`'s data (the router serialises it)."""
    return await run_program(ctx, executor_for(ctx), request.data, widget_session(request))


async def execute_tests(request: Request, ctx: Context) -> dict:
    """`schemas.RunTestsResponse`'s data."""
    return await run_suite(ctx, executor_for(ctx), request.data, widget_session(request))


async def languages(request: Request, ctx: Context) -> Reply:
    executor = executor_for(ctx)
    listed, unavailable = await executor.languages(), await executor.unavailable_languages()
    body = schemas.LanguagesResponse(languages=listed, unavailable=unavailable)
    return Reply(body, headers={"Cache-Control": "public, max-age=300"})


_anyone = {"auth": "optional", "scopes": ["execute"], "tags": TAGS}

routes = [
    Route(
        PREFIX,
        execute,
        ["POST"],
        body=schemas.ExecuteRequest,
        response=schemas.ExecuteResponse,
        errors=(413, 422, 502, 503, 504),
        headers=(SESSION_HEADER,),
        summary="Run a program in a sandbox (limits capped by plan)",
        **_anyone,
    ),
    Route(
        f"{PREFIX}/tests",
        execute_tests,
        ["POST"],
        body=schemas.RunTestsRequest,
        response=schemas.RunTestsResponse,
        errors=(404, 413, 422, 502, 503, 504),
        headers=(SESSION_HEADER,),
        summary="Run test cases (or a capsule's tests) against user code in one sandbox run",
        **_anyone,
    ),
    Route(
        f"{PREFIX}/languages",
        languages,
        ["GET"],
        response=schemas.LanguagesResponse,
        tags=TAGS,
        summary="Languages, versions and aliases this deployment can run",
    ),
]
