"""`GET /api/v1/openapi.json`: the contract, generated from the route table."""

from __future__ import annotations

import functools
import json

from devcapsules.context import Context
from devcapsules.http import Request, Response
from devcapsules.openapi import build_document
from devcapsules.routing import Route


@functools.cache
def _document_bytes(version: str) -> bytes:
    # Built on first request (not at import) and kept for the isolate's lifetime:
    # the route table cannot change while it runs.
    from devcapsules.routes import all_routes

    document = build_document(all_routes(), version)
    return json.dumps(document, separators=(",", ":")).encode()


async def openapi_document(request: Request, ctx: Context) -> Response:
    response = Response(200, _document_bytes(ctx.settings.version))
    response.headers.set("content-type", "application/json; charset=utf-8")
    response.headers.set("cache-control", "public, max-age=300")
    return response


routes = [
    Route(
        "/api/v1/openapi.json",
        openapi_document,
        ["GET"],
        tags=("meta",),
        summary="This API's OpenAPI 3.1 document",
    )
]
