"""Routes and the router: path parameters, 404, 405 with `Allow`, HEAD for GET.

Trailing-slash policy: routes are declared without a trailing slash. A request
for `/x/` that would match `/x` is answered with a 308 to `/x` (method and body
preserved), so every resource has one canonical URL.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response, empty_response
from devcapsules.schemas import parse_body, parse_query

Handler = Callable[[Request, Context], Awaitable[Response]]

# `{name}` matches one segment; `{name:path}` matches the rest of the path.
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::(path))?}")


def compile_path(path: str) -> re.Pattern[str]:
    if not path.startswith("/"):
        raise ValueError(f"Route path must start with '/': {path!r}")
    pattern, last = "", 0
    for match in _PARAM.finditer(path):
        pattern += re.escape(path[last : match.start()])
        name, kind = match.group(1), match.group(2)
        pattern += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        last = match.end()
    pattern += re.escape(path[last:])
    return re.compile(f"^{pattern}$")


AUTH_MODES = ("none", "optional", "required")


@dataclass
class Route:
    """One endpoint. `auth="required"` and `scopes` are enforced by the router.

    `auth="optional"` marks routes that serve anonymous callers too but behave
    differently for a principal (documented in OpenAPI as optional security).
    """

    path: str
    handler: Handler
    methods: Sequence[str] = ("GET",)
    name: str = ""
    auth: str = "none"
    scopes: Sequence[str] = ()
    # Declared input/output models: the router validates `body` and `query` before the
    # handler runs (as `request.data` / `request.params`); OpenAPI is generated from them.
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # Other non-error statuses this route answers: a 2xx carries the `response` body too
    # (e.g. 207 partial acceptance, 200 for an idempotent replay), a 304 carries none.
    statuses: Sequence[int] = ()
    content_type: str = "application/json"
    # Optional request headers the route reads (If-Match, Idempotency-Key...), documented
    # as header parameters; see `openapi.REQUEST_HEADERS` for their schemas.
    headers: Sequence[str] = ()
    summary: str = ""
    tags: Sequence[str] = ()
    errors: Sequence[int] = ()

    def __post_init__(self) -> None:
        self.methods = tuple(m.upper() for m in self.methods)
        if "GET" in self.methods and "HEAD" not in self.methods:
            self.methods = (*self.methods, "HEAD")
        self.pattern = compile_path(self.path)
        self.name = self.name or self.handler.__name__
        if self.auth not in AUTH_MODES:
            raise ValueError(f"Route {self.path}: auth must be one of {AUTH_MODES}")
        if self.scopes and self.auth == "none":
            raise ValueError(f"Route {self.path}: scopes need auth='required' or 'optional'")
        if any(status >= 400 for status in self.statuses):
            raise ValueError(f"Route {self.path}: error statuses belong in `errors`")

    def check_access(self, ctx: Context) -> None:
        """401 without a principal where one is required; 403 for a missing scope."""
        principal = ctx.principal
        if principal is None:
            if self.auth == "required":
                raise HTTPError(
                    401,
                    "unauthorized",
                    "Authentication required: send Authorization: Bearer <token or API key>",
                    headers={"WWW-Authenticate": 'Bearer realm="devcapsules"'},
                )
            return
        missing = [scope for scope in self.scopes if not principal.allows(scope)]
        if missing:
            challenge = f'Bearer error="insufficient_scope" scope="{" ".join(missing)}"'
            raise HTTPError(
                403,
                "insufficient_scope",
                f"This API key lacks the scope(s): {', '.join(missing)}",
                details={"required": list(self.scopes), "missing": missing},
                headers={"WWW-Authenticate": challenge},
            )


class Router:
    def __init__(self, routes: Iterable[Route]):
        self.routes = list(routes)
        self._check_unique()

    def _check_unique(self) -> None:
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            for method in route.methods:
                key = (route.path, method)
                if key in seen:
                    raise ValueError(f"Duplicate route {method} {route.path}")
                seen.add(key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for this request, or an HTTPError (404, 405, or a 308 redirect)."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            if method in route.methods:
                return route, found.groupdict()
            allowed.extend(m for m in route.methods if m not in allowed)
        if allowed:
            raise HTTPError(
                405,
                "method_not_allowed",
                f"Method {method} is not allowed on {path}",
                details={"allowed": sorted(allowed)},
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        if path != "/" and path.endswith("/") and self._matches_any(path.rstrip("/")):
            raise HTTPError(
                308,
                "redirect",
                "Use the canonical URL without a trailing slash",
                headers={"Location": path.rstrip("/")},
            )
        raise HTTPError(404, "not_found", f"No route for {path}")

    def _matches_any(self, path: str) -> bool:
        return any(route.pattern.match(path) for route in self.routes)

    async def __call__(self, request: Request, ctx: Context) -> Response:
        try:
            route, params = self.match(request.method, request.path)
        except HTTPError as exc:
            if exc.status == 308 and request.query_string:
                exc.headers["Location"] += "?" + request.query_string
            raise
        request.path_params = params
        route.check_access(ctx)
        if route.query is not None:
            request.params = parse_query(request, route.query)
        if route.body is not None:
            request.data = parse_body(request, route.body)
        response = await route.handler(request, ctx)
        if not isinstance(response, Response):
            # A developer mistake, not a client one: say which handler did it.
            raise TypeError(f"Handler {route.name} returned {type(response).__name__}")
        if request.method == "HEAD":
            length = str(len(response.body))
            response = empty_response(response.status, headers=response.headers)
            response.headers.set("content-length", length)
        return response
