"""Routes and the router: path parameters, 404, 405 with `Allow`, HEAD for GET.

Trailing-slash policy: routes are declared without a trailing slash. A request
for `/x/` that would match `/x` is answered with a 308 to `/x` (method and body
preserved by the client; the 308 itself has no body), so every resource has one
canonical URL. 404 and 405 are `HTTPError`s, rendered like every error by the chain's
boundary (`app.compose`).

Success bodies: a handler returns its route's declared `response` model, as an instance
or as its data (a mapping with the model's field names, no validation pass: the fast
path for large bodies), or a `Reply` carrying either with another status or headers, and
`Route.render` serialises it with serializers compiled from that model, the one place
JSON success bodies are made. The same model feeds the
OpenAPI document, so the document and the wire cannot drift. A handler returns a
`Response` itself only for what is not a JSON body (204/304, SVG, HTML, a spec file);
anything else is a developer mistake and fails loudly (TypeError, a 500).

Request bodies come in here too, through the route's declared models
(`schemas.StrictModel`, `schemas.QueryModel`): `parse_body` answers 415 unless the body
says it is JSON, 400 for malformed JSON and 422 with field paths
(`["testCases", 0, "input"]`) for everything the model refuses; `parse_query` reads the
query string in lax mode. The router is where bodies come in and go out, so the parsers,
the serializers and the `validation_error` shape live with it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaSerializer, core_schema

from devcapsules.context import Context
from devcapsules.errors import validation_details
from devcapsules.http import (
    JSON_CONTENT_TYPE,
    Headers,
    HTTPError,
    Request,
    Response,
    empty_response,
)

M = TypeVar("M", bound=BaseModel)


@dataclass
class Reply:
    """A success body with a status or headers other than the route's defaults."""

    body: BaseModel | Mapping[str, Any]
    status: int | None = None
    headers: Mapping[str, str] | None = None


Handler = Callable[[Request, Context], Awaitable[Response | Reply | BaseModel | Mapping]]

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
        if self.response is not None:
            # Compiled with the route table (in the Worker's snapshot, `app.prepare`),
            # not by the first request that answers with it.
            data_serializer(self.response)

    def answers(self, status: int) -> bool:
        return status == self.status or status in self.statuses

    def render(self, result: Any, strict: bool = True) -> Response:
        """The handler's result as the response; a JSON body only from the declared model.

        `strict` (development and tests): a value of the wrong type in a mapping is an
        error; elsewhere it is a logged warning and the value is sent as it is."""
        if isinstance(result, Response):
            if (
                result.body
                and self.response is not None
                and self.content_type in (result.headers.get("content-type") or "")
            ):
                raise TypeError(f"Handler {self.name} built a JSON body itself; return a model")
            return self._checked(result)
        reply = result if isinstance(result, Reply) else Reply(result)
        model, data = self.response, reply.body
        if model is not None and isinstance(data, Mapping):
            body = data_serializer(model).to_json(
                {"success": True, **data}, by_alias=True, warnings="error" if strict else True
            )
        elif model is not None and type(data) is model:
            # Dumped without the optional fields the handler did not set, but `success`
            # is always sent (a default, so never "set" by the handler).
            if "success" in model.model_fields:
                data.__pydantic_fields_set__.add("success")
            body = model.__pydantic_serializer__.to_json(data, by_alias=True, exclude_unset=True)
        else:
            declared = model.__name__ if model else "no response model"
            returned = type(data).__name__
            raise TypeError(f"Handler {self.name} returned {returned}; it declares {declared}")
        response = Response(reply.status or self.status, body, Headers(reply.headers))
        response.headers.set("content-type", JSON_CONTENT_TYPE)
        return self._checked(response)

    def _checked(self, response: Response) -> Response:
        # The document lists the success statuses a route answers; another one is drift.
        if response.status < 400 and not self.answers(response.status):
            raise TypeError(f"Handler {self.name} answered {response.status}, not declared")
        return response

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


def validation_error(exc: ValidationError, where: str = "body") -> HTTPError:
    details = validation_details(exc)
    first = details[0]
    path = ".".join(str(part) for part in first["path"]) or where
    return HTTPError(
        422,
        "validation_error",
        f"Invalid {where}: {path}: {first['message']}",
        details=details,
    )


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or any `+json` type; a charset, if given, must be UTF-8 (the
    only encoding JSON has, RFC 8259)."""
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return False
    charsets = [p.partition("=")[2].strip('"') for p in parameters if p.startswith("charset=")]
    return all(charset in ("utf-8", "utf8") for charset in charsets)


def require_json(request: Request) -> None:
    """A declared body must be sent as JSON. Refusing text/plain and form encodings also
    keeps cross-site "simple requests" (which need no CORS preflight) off JSON routes."""
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise HTTPError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json",
            details={"contentType": content_type or None},
        )


def parse_body(request: Request, model: type[M]) -> M:
    """One parse: JSON mode keeps types strict yet reads ISO strings as datetimes."""
    require_json(request)
    try:
        return model.model_validate_json(request.body)
    except ValidationError as exc:
        malformed = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if malformed:  # not JSON at all: the client's syntax, a 400, not a validation error
            message = f"Malformed JSON body: {malformed[0]['msg']}"
            raise HTTPError(400, "invalid_json", message) from None
        raise validation_error(exc) from None


def parse_query(request: Request, model: type[M]) -> M:
    """Query strings are all text: validated in lax mode so "20" may be an int."""
    try:
        return model.model_validate(request.query, strict=False)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


@functools.cache
def data_serializer(model: type[BaseModel]) -> SchemaSerializer:
    """The serializer of `model` for its data as plain dicts and lists (field names as
    keys): the model's own compiled schema, each model in it read as a dict of the same
    fields, aliases and serializers. Dumping data this way costs no validation pass (a
    page of capsules: about 0.4x json.dumps, where validate + dump is 1.5x, see
    bench/bench_bodies.py); keys the model does not declare are left out."""
    return SchemaSerializer(_models_as_dicts(model.__pydantic_core_schema__))


def _models_as_dicts(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_models_as_dicts(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") != "model":
        return {key: _models_as_dicts(value) for key, value in schema.items()}
    # Data is keyed by the API's names: a field's alias (`from`) where it has one.
    fields = {
        field.get("serialization_alias") or name: core_schema.typed_dict_field(
            _models_as_dicts(field["schema"]),
            required=False,  # absent keys are simply not sent, as `exclude_unset` does
            serialization_exclude=field.get("serialization_exclude"),
        )
        for name, field in schema["schema"]["fields"].items()
    }
    return core_schema.typed_dict_schema(fields, ref=schema.get("ref"), total=False)


def redirect_to_canonical(request: Request) -> Response:
    """308 (method and body kept) to the URL without the trailing slash, query kept.
    A plain response: a redirect is not an error, so it carries no error body."""
    location = request.path.rstrip("/")
    if request.query_string:
        location += "?" + request.query_string
    return empty_response(308, headers={"Location": location})


class Router:
    def __init__(self, routes: Iterable[Route]):
        self.routes = list(routes)
        self._check_unique()
        # Literal paths (most requests: /health, /api/v1/execute/tests...) map to the
        # routes that match them, in declaration order, so matching one is a dict lookup
        # instead of a regex per route; any other path scans every route, as before.
        self._by_path = {
            route.path: [r for r in self.routes if r.pattern.match(route.path)]
            for route in self.routes
            if not _PARAM.search(route.path)
        }
        # And the answer for each (literal path, method) those routes serve, decided once:
        # the first of them that allows the method, with its path parameters (a pattern
        # route declared before a literal one can match its path). No regex per request.
        self._found: dict[tuple[str, str], tuple[Route, dict[str, str]]] = {}
        for path, candidates in self._by_path.items():
            for route in candidates:
                params = route.pattern.match(path).groupdict()  # type: ignore[union-attr]
                for method in route.methods:
                    self._found.setdefault((path, method), (route, params))

    def _check_unique(self) -> None:
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            for method in route.methods:
                key = (route.path, method)
                if key in seen:
                    raise ValueError(f"Duplicate route {method} {route.path}")
                seen.add(key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for this request; None when only the canonical URL (without the
        trailing slash) matches, which the caller answers with a redirect; else an
        HTTPError (404, or 405 with `Allow`)."""
        found = self._found.get((path, method))
        if found is not None:
            return found[0], dict(found[1])  # the caller keeps (and may change) its params
        allowed: list[str] = []
        for route in self._by_path.get(path, self.routes):
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
            return None
        raise HTTPError(404, "not_found", f"No route for {path}")

    def _matches_any(self, path: str) -> bool:
        return any(route.pattern.match(path) for route in self.routes)

    async def __call__(self, request: Request, ctx: Context) -> Response:
        matched = self.match(request.method, request.path)
        if matched is None:
            return redirect_to_canonical(request)
        route, request.path_params = matched
        route.check_access(ctx)
        if route.query is not None:
            request.params = parse_query(request, route.query)
        if route.body is not None:
            request.data = parse_body(request, route.body)
        result = await route.handler(request, ctx)
        response = route.render(result, strict=_strict(ctx))
        if request.method == "HEAD":
            length = str(len(response.body))
            response = empty_response(response.status, headers=response.headers)
            response.headers.set("content-length", length)
        return response


def _strict(ctx: Context) -> bool:
    # Strict in development (and so in tests), or with no settings at all (unit tests).
    # Read as a field, not `Settings.is_development`, so that serving a request runs no
    # settings code (scripts/count_request_modules.py).
    return ctx.settings is None or ctx.settings.environment == "development"
