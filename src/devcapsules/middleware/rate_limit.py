"""Rate limit: per caller and plan, per minute and per UTC day, counted exactly in D1.

Who is counted (the "subject"):
- a signed-in caller by **user id**. API keys SHARE their owner's budget: a plan is sold
  per account, and keys are that account's widgets; per-key budgets would let an account
  multiply its plan by minting keys (up to 50).
- an anonymous caller by client IP (`request.client_ip`: CF-Connecting-IP on the edge,
  the socket peer locally) with the plans table's anonymous row (the free plan's
  windows unless PLAN_ANONYMOUS_REQUESTS_* says otherwise). IPv6 is counted per /64, the
  block one subscriber typically controls; otherwise each address would be a new budget.

Not counted: plain `/health` (probes and load balancers; `?deep=true` touches D1 and
KV, so it is counted) and CORS preflights, which the CORS layer answers before this one
is reached. A request whose credential is invalid is counted against its client IP
before its 401 is sent (see `middleware/auth.py`), so guessing keys is rate limited.

Every limited response, success or error, carries the tighter window (fewest requests
remaining; on a tie the one that resets later) as
`RateLimit-Limit/Remaining/Reset` (IETF draft: Reset = seconds until the window resets)
and `X-RateLimit-Limit/Remaining/Reset` (the common de-facto form: Reset = epoch seconds).
Over the limit: 429 `rate_limited` with `Retry-After` and the window, plan and limit.

If D1 is unavailable the request goes through uncounted and an error is logged: the
limiter must not turn a counter hiccup into an outage of every route (fail open).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from devcapsules.bindings.protocols import BindingError
from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.services import plans
from devcapsules.services.plans import (
    ANONYMOUS,
    PlanLimits,
    PlanTable,
    Window,
    epoch_iso,
    window_reset,
)
from devcapsules.services.plans import window_start as start_of

EXEMPT_PATHS = ("/health",)
# Every counted response carries these (CORS exposes them; OpenAPI declares them).
RATE_LIMIT_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


@dataclass(frozen=True)
class WindowState:
    window: str
    limit: int
    used: int
    reset_at: int  # epoch seconds

    @property
    def remaining(self) -> int:
        # Clamped: a limit lowered by a var change can leave a counter above it.
        return max(0, self.limit - self.used)


def subject_for(request: Request, ctx: Context, limits: PlanTable) -> tuple[str, str, PlanLimits]:
    """(counter subject, plan label, limits) for this caller."""
    principal, row = ctx.principal, limits.for_principal(ctx.principal)
    if principal is not None:
        return principal.user_id, principal.plan, row
    return ip_subject(request.client_ip), ANONYMOUS, row


def ip_subject(client_ip: str | None) -> str:
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        # No usable peer address (should not happen behind Cloudflare): one shared bucket.
        return "ip:unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is an IPv4 client
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"


def request_windows(plan: PlanLimits, now: int) -> list[Window]:
    """Windows to count; an unlimited one (enterprise's day) is not kept at all."""
    caps = (("minute", plan.requests_per_minute), ("day", plan.requests_per_day))
    return [Window(name, start_of(name, now), cap) for name, cap in caps if cap is not None]


def tightest(states: Sequence[WindowState]) -> WindowState:
    return min(states, key=lambda state: (state.remaining, -state.reset_at))


def headers_for(state: WindowState, now: int) -> dict[str, str]:
    reset_in = str(max(1, state.reset_at - now))
    return {
        "RateLimit-Limit": str(state.limit),
        "RateLimit-Remaining": str(state.remaining),
        "RateLimit-Reset": reset_in,
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(state.reset_at),
    }


def rate_limited(state: WindowState, plan: str, headers: dict[str, str]) -> HTTPError:
    per = "minute" if state.window == "minute" else "day"
    retry_after = headers["RateLimit-Reset"]
    return HTTPError(
        429,
        "rate_limited",
        f"Rate limit of {state.limit} requests per {per} exceeded for the {plan} plan; "
        f"retry in {retry_after} s",
        details={
            "window": state.window,
            "plan": plan,
            "limit": state.limit,
            "resetAt": epoch_iso(state.reset_at),
        },
        headers={**headers, "Retry-After": retry_after},
    )


def rate_limit_middleware(
    limits: PlanTable, exempt_paths: Sequence[str] = EXEMPT_PATHS
) -> Middleware:
    exempt = frozenset(exempt_paths)
    if any(not path.startswith("/") for path in exempt):
        raise ValueError("exempt paths must start with '/'")

    async def count(request: Request, ctx: Context) -> dict[str, str] | None:
        subject, plan, caps = subject_for(request, ctx, limits)
        now = plans.epoch_now(ctx.deps.clock)
        windows = request_windows(caps, now)
        if not windows:
            return None
        try:
            hit = await plans.hit(ctx.env.db, subject, windows)
        except BindingError as exc:
            ctx.logger.error("rate_limit_unavailable", error=str(exc)[:300])
            return None
        states = [
            WindowState(w.name, w.limit, hit.counts[w.name], window_reset(w.name, now))
            for w in windows
        ]
        state = tightest(states)
        headers = headers_for(state, now)
        if not hit.allowed:
            ctx.logger.info("rate_limited", window=state.window, plan=plan, limit=state.limit)
            raise rate_limited(state, plan, headers)
        return headers

    async def rate_limit(request: Request, ctx: Context, call_next: CallNext) -> Response:
        if request.path in exempt and "deep" not in request.query:
            return await call_next(request, ctx)
        headers = await count(request, ctx)
        if headers is None:
            return await call_next(request, ctx)
        # An error from further in is a Response here too (`app.compose`): it
        # carries the headers like a success.
        response = await call_next(request, ctx)
        for name, value in headers.items():
            response.headers.set(name, value)
        return response

    return rate_limit
