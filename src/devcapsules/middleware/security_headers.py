"""Headers every response carries, error or not, so no browser treats our bytes as
something else: the API answers JSON (and one SVG chart), never pages to frame, sniff
or run scripts in.

Outermost layer: nothing after it can add a response without them. A route that sets
one of these itself (its own `Cache-Control`) keeps its value.
"""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.http import Request, Response
from devcapsules.middleware import CallNext, Middleware

SECURITY_HEADERS = {
    # Never guess a type: a JSON error echoing input must not become HTML or script.
    "X-Content-Type-Options": "nosniff",
    # No scripts, styles or frames from our responses (an SVG opened directly stays an
    # image), and nobody may frame them: CSP for current browsers, XFO for older ones.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    # Our URLs carry ids; do not hand them to whatever a client links to.
    "Referrer-Policy": "no-referrer",
    # Responses are per caller unless a route says otherwise (capsules, languages, docs).
    "Cache-Control": "no-store",
}
# Lower-cased once: set on every response (`Headers.set_defaults`).
_DEFAULTS = tuple((name.lower(), value) for name, value in SECURITY_HEADERS.items())
# Over HTTPS only (the edge): browsers ignore it over plain HTTP, and the local host is HTTP.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def security_headers_middleware() -> Middleware:
    async def security_headers(request: Request, ctx: Context, call_next: CallNext) -> Response:
        response = await call_next(request, ctx)
        response.headers.set_defaults(_DEFAULTS)
        if request.url.startswith("https://"):
            response.headers.set(*HSTS)
        return response

    return security_headers
