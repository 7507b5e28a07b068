"""The layers of the app's chain, in order, and what a Worker that cannot build its
settings serves instead (the decorating layers around its configuration error).

Kept apart from `app.py` so the edge adapter can serve a `configuration_error` through
the same layers without importing the router, the routes and their models (nor, see
`default_middleware`, the auth and rate-limit layers).
"""

from __future__ import annotations

from collections.abc import Mapping

from devcapsules.bindings.env import Env
from devcapsules.context import Context, WaitUntil, run_in_background
from devcapsules.http import Request, Response
from devcapsules.logs import Logger
from devcapsules.middleware import Middleware
from devcapsules.middleware.cors import cors_middleware, preflight_middleware
from devcapsules.middleware.request_log import request_log_middleware
from devcapsules.middleware.security_headers import security_headers_middleware
from devcapsules.settings import Settings, SettingsError


def decorating_middleware(settings: Settings) -> list[Middleware]:
    """The layers that decorate every answer, error or not: security headers → request
    id and access log (request_log) → CORS. They only set headers and log (logging
    cannot raise: `logs.GuardedSink`), so a request whose write happened always gets its answer."""
    return [
        security_headers_middleware(),
        request_log_middleware(),
        cors_middleware(settings.cors.allowed_origins),
    ]


def default_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the decorating layers, then CORS preflights → body limit →
    authenticate → rate limit (whose headers go on every counted answer) → credential
    gate (the deferred 401 of a bad credential). An error raised anywhere is rendered
    where it escapes and reaches every outer layer as a Response (`app.compose`)."""
    # Imported here: a misconfigured Worker serves only the decorating layers and must
    # not need what these do (tokens, D1 counters).
    from devcapsules.middleware.auth import authenticate_middleware, credential_gate_middleware
    from devcapsules.middleware.body_limit import body_limit_middleware
    from devcapsules.middleware.rate_limit import rate_limit_middleware

    return [
        *decorating_middleware(settings),
        preflight_middleware(settings.cors.allowed_origins),
        body_limit_middleware(settings.max_body_bytes),
        authenticate_middleware(),
        # After authenticate: counts by principal and plan, else by client IP.
        rate_limit_middleware(settings.limits),
        credential_gate_middleware(),
    ]


class MisconfiguredApp:
    """What a Worker whose settings cannot be built serves on every route: the decorating
    layers around an endpoint that raises the `SettingsError`, rendered by the one
    renderer as a 500 `configuration_error` (logged with the request id). CORS uses
    `ALLOWED_ORIGINS` when that var itself is readable, so a browser can read the answer;
    nothing is counted (the plan table is part of the settings that failed)."""

    def __init__(self, error: SettingsError, vars: Mapping[str, str], logger: Logger | None = None):
        try:
            origins = {"ALLOWED_ORIGINS": vars.get("ALLOWED_ORIGINS", "")}
            self.settings = Settings.from_vars(origins)
        except SettingsError:
            self.settings = Settings()
        self.logger = logger or Logger()

        async def refuse(request: Request, ctx: Context) -> Response:
            raise error

        # Imported here: `app` imports this module for `default_middleware`.
        from devcapsules.app import compose

        self.chain = compose(decorating_middleware(self.settings), refuse)

    async def handle(
        self, request: Request, env: Env, wait_until: WaitUntil = run_in_background
    ) -> Response:
        ctx = Context(settings=self.settings, env=env, logger=self.logger, wait_until=wait_until)
        return await self.chain(request, ctx)
