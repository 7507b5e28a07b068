"""/api/v1/analytics: events in (API key with analytics:write, or a user), reports out.

`POST /events` answers 200 when every event was stored or recognised as a
duplicate, and 207 (Multi-Status) when at least one event was refused; the body
has the same shape either way: `accepted`, `duplicates` and `rejected` (index,
id, code, message per refused event). An invalid envelope (no `events` list, or
more than 100) is a 422 and nothing is stored.

Reports are for the capsule's owner only (404 for anyone else: existence is not
revealed) and are cached in KV (`X-Analytics-Cache: hit|miss`, `generatedAt`).
"""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response
from devcapsules.routing import Reply, Route
from devcapsules.schemas import analytics as schemas
from devcapsules.services.analytics import cache, chart, ingest, overview, reports, usage
from devcapsules.services.analytics.ranges import DayRange, resolve_range
from devcapsules.services.capsules import CapsuleRef, find_refs

PREFIX = "/api/v1/analytics"
TAGS = ("analytics",)
SVG_CONTENT_TYPE = "image/svg+xml; charset=utf-8"


async def post_events(request: Request, ctx: Context) -> Reply:
    body: schemas.EventsRequest = request.data
    result = await ingest.ingest(
        ctx.env.db, ctx.settings.analytics, ctx.principal, body.events, ctx.deps.clock.now()
    )
    ctx.logger.info(
        "analytics_ingested",
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=len(result.rejected),
    )
    payload = schemas.IngestResponse(
        accepted=result.accepted, duplicates=result.duplicates, rejected=result.rejected
    )
    return Reply(payload, status=207 if result.rejected else 200)


def _cache_header(hit: bool) -> dict[str, str]:
    return {"X-Analytics-Cache": "hit" if hit else "miss"}


async def capsule_report(request: Request, ctx: Context) -> Reply:
    capsule = await _owned_capsule(request, ctx)
    report, hit = await _cached_report(ctx, capsule.id, _range(request, ctx))
    return Reply(report, headers=_cache_header(hit))


async def capsule_chart(request: Request, ctx: Context) -> Response:
    capsule = await _owned_capsule(request, ctx)
    report, hit = await _cached_report(ctx, capsule.id, _range(request, ctx))
    svg = chart.render_chart(capsule.title, report["daily"])
    headers = {
        "content-type": SVG_CONTENT_TYPE,
        "cache-control": "private, max-age=60",
        **_cache_header(hit),
    }
    return Response(status=200, body=svg.encode(), headers=headers)


async def get_overview(request: Request, ctx: Context) -> Reply:
    query: schemas.OverviewQuery = request.params
    days = resolve_range(query.from_, query.to, ctx.deps.clock.now().date())
    user_id = ctx.principal.user_id
    key = cache.overview_key(user_id, days.start.isoformat(), days.end.isoformat(), query.limit)

    async def compute() -> dict:
        return await overview.overview(ctx.env.db, user_id, days, query.limit, ctx.deps.clock.now())

    ttl = ctx.settings.analytics.cache_ttl
    body, hit = await cache.cached(ctx, key, ttl, compute)
    return Reply(body, headers=_cache_header(hit))


async def get_usage(request: Request, ctx: Context) -> dict:
    principal = ctx.principal
    days = _range(request, ctx)
    # The plans table (`settings.limits`, services/plans/).
    caps = ctx.settings.limits.for_plan(principal.plan)
    body = await usage.usage_report(ctx.env.db, principal.user_id, principal.plan, caps, days)
    return body


def _range(request: Request, ctx: Context) -> DayRange:
    query: schemas.RangeQuery = request.params
    return resolve_range(query.from_, query.to, ctx.deps.clock.now().date())


async def _owned_capsule(request: Request, ctx: Context) -> CapsuleRef:
    capsule_id = request.path_params["id"]
    found = await find_refs(ctx.env.db, ids=[capsule_id])
    if not found or found[0].owner_id != ctx.principal.user_id:
        raise HTTPError(404, "not_found", "No such capsule")
    return found[0]


async def _cached_report(ctx: Context, capsule_id: str, days: DayRange) -> tuple[dict, bool]:
    key = cache.report_key(capsule_id, days.start.isoformat(), days.end.isoformat())

    async def compute() -> dict:
        return await reports.capsule_report(ctx.env.db, capsule_id, days, ctx.deps.clock.now())

    return await cache.cached(ctx, key, ctx.settings.analytics.cache_ttl, compute)


_read = {"auth": "required", "scopes": ["analytics:read"], "tags": TAGS}

routes = [
    Route(
        f"{PREFIX}/events",
        post_events,
        ["POST"],
        auth="required",
        scopes=["analytics:write"],
        body=schemas.EventsRequest,
        response=schemas.IngestResponse,
        tags=TAGS,
        statuses=(207,),
        errors=(401, 403, 422),
        summary="Record a batch of up to 100 events (partial acceptance: 200 or 207)",
    ),
    Route(
        f"{PREFIX}/capsules/{{id}}",
        capsule_report,
        ["GET"],
        query=schemas.RangeQuery,
        response=schemas.CapsuleReport,
        errors=(401, 403, 404, 422),
        summary="A capsule's report for a day range (owner only; cached)",
        **_read,
    ),
    Route(
        f"{PREFIX}/capsules/{{id}}/chart.svg",
        capsule_chart,
        ["GET"],
        query=schemas.RangeQuery,
        content_type="image/svg+xml",
        errors=(401, 403, 404, 422),
        summary="SVG chart of a capsule's daily views, runs and completions",
        **_read,
    ),
    Route(
        f"{PREFIX}/overview",
        get_overview,
        ["GET"],
        query=schemas.OverviewQuery,
        response=schemas.OverviewResponse,
        errors=(401, 403, 422),
        summary="Totals over the caller's capsules, top capsules, trend vs previous period",
        **_read,
    ),
    Route(
        f"{PREFIX}/usage",
        get_usage,
        ["GET"],
        query=schemas.RangeQuery,
        response=schemas.UsageResponse,
        errors=(401, 403, 422),
        summary="API requests and generations per day against the plan's limits",
        **_read,
    ),
]
