"""Errors: the domain's refusals, their one HTTP table, and the one renderer.

Services raise `DomainError`s (`NotFound`, `Conflict`, `QuotaExceeded`, `Unavailable`…):
what went wrong, in the domain's words (a code, a message, details), never an HTTP
status. `STATUS` maps each class to the status it answers with; nothing else does.
Pure HTTP-level refusals (no route, 405, a malformed header or body, a CORS refusal)
are `http.HTTPError`, which carries its status itself.

`error_response(exc, ctx)` is the only place an exception becomes a response:
`{"success": false, "error": {"code", "message", "details"}, "requestId"}`. The chain
(`app.compose`) calls it at every layer's boundary, so a middleware's
`call_next` always returns a Response and the outer layers (security headers, request
id, access log, CORS, rate-limit headers) decorate an error like any other answer.

Unknown exceptions are logged with the request id and answered with a generic 500 that
leaks nothing. A binding outage (D1, KV, the queue) is a 503 naming the dependency; a
refusal of a call we got wrong is our bug, a 500. Every 503 carries `Retry-After`: the
status that tells a client "not your fault, try again".
"""

from __future__ import annotations

import re
import traceback
from typing import Any

from devcapsules.bindings.protocols import BindingError, D1Error, KVError, QueueError
from devcapsules.http import HTTPError, Response, json_response

RETRY_AFTER_S = 5  # a dependency's hiccup: soon, but not in a tight loop


class DomainError(Exception):
    """A refusal or failure the domain can name. `retry_after_s`: when trying again may
    help (a quota window, a busy executor); the renderer sends it as `Retry-After`."""

    def __init__(
        self, code: str, message: str, details: Any = None, *, retry_after_s: int | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        """The status it answers with, looked up in `STATUS` (for logs and tests)."""
        return status_of(self)

    @property
    def headers(self) -> dict[str, str]:
        """The headers it answers with: `Retry-After`, a bearer challenge."""
        return _domain_headers(self)


class Malformed(DomainError):
    """Input that cannot be read at all (as another service judged it)."""


class Unauthenticated(DomainError):
    """The credentials do not check out (wrong password, a revoked refresh token)."""


class InvalidToken(Unauthenticated):
    """A bearer token or API key that does not check out: answered with its challenge."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """No such thing, or not one this caller may see (both look the same)."""


class Conflict(DomainError):
    """The request contradicts the current state (a taken email, too many keys)."""


class TooLarge(DomainError):
    """An input over its size limit."""


class InvalidInput(DomainError):
    """Well-formed input the domain refuses (a bad range, an unknown language)."""


class QuotaExceeded(DomainError):
    """A plan's allowance is used up until `retry_after_s`."""


class Misconfigured(DomainError):
    """The deployment's configuration cannot serve this: the operator's to fix."""


class DependencyFailed(DomainError):
    """A dependency (the executor, Piston) answered, but not usably."""


class Unavailable(DomainError):
    """A dependency or capacity we need is not available now; retrying later may work."""


class DependencyTimeout(DomainError):
    """A dependency did not answer in time."""


# The one table: domain error → HTTP status (most specific class first).
STATUS: dict[type[DomainError], int] = {
    Malformed: 400,
    InvalidToken: 401,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    InvalidInput: 422,
    QuotaExceeded: 429,
    Misconfigured: 500,
    DependencyFailed: 502,
    Unavailable: 503,
    DependencyTimeout: 504,
}
_BY_STATUS = {status: kind for kind, status in reversed(STATUS.items())}


def status_of(exc: BaseException) -> int:
    """The status an exception answers with (500 for anything unknown)."""
    if isinstance(exc, HTTPError):
        return exc.status
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def error_for_status(status: int, code: str, message: str, details: Any = None) -> DomainError:
    """Another service's refusal, passed through as the domain error of its status."""
    return _BY_STATUS.get(status, DependencyFailed)(code, message, details)


# ---------------------------------------------------------------- binding outages

# (error class, code, what the client is told, the name in details)
DEPENDENCIES: tuple[tuple[type[BindingError], str, str, str], ...] = (
    (D1Error, "database_unavailable", "The database is unavailable", "d1"),
    (KVError, "kv_unavailable", "The key-value store is unavailable", "kv"),
    (QueueError, "queue_unavailable", "The job queue is unavailable", "queue"),
)
# Messages of refusals (the platform's and our local bindings' wording, which mirrors
# it): retrying the same call gets the same answer.
_REFUSAL = re.compile(
    r"constraint failed|syntax error|no such (table|column)|D1_TYPE_ERROR|D1_COLUMN_NOTFOUND"
    r"|too many SQL variables|To execute a transaction|\b(400|413|414)\b|must |not serialisable"
    r"|exceeds",
    re.IGNORECASE,
)


def is_outage(exc: BindingError) -> bool:
    """An outage (overloaded, unreachable, a full disk) rather than a call we got wrong."""
    return not _REFUSAL.search(str(exc))


def outage(exc: BindingError) -> Unavailable | None:
    """The 503 for an outage of a known dependency, else None (a bug: a 500)."""
    if not is_outage(exc):
        return None
    for kind, code, message, name in DEPENDENCIES:
        if isinstance(exc, kind):
            return Unavailable(
                code,
                f"{message}; retry in {RETRY_AFTER_S} s",
                details={"dependency": name},
                retry_after_s=RETRY_AFTER_S,
            )
    return None


# ---------------------------------------------------------------- the renderer

INTERNAL = HTTPError(500, "internal_error", "An unexpected error occurred")


def validation_details(exc: Any) -> list[dict[str, Any]]:
    """A pydantic `ValidationError` as the `details` of a 422: one entry per problem, with
    its field path (`["testCases", 0, "input"]`), the same for request bodies and for
    analytics events validated one by one."""
    return [
        {"path": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def error_body(code: str, message: str, details: Any, request_id: str) -> dict[str, Any]:
    error = {"code": code, "message": message, "details": details}
    return {"success": False, "error": error, "requestId": request_id}


def error_response(exc: BaseException, ctx: Any) -> Response:
    """The one way an exception becomes a response (logged as what it is)."""
    known = _known(exc, ctx)
    body = error_body(known.code, known.message, known.details, ctx.request_id)
    response = json_response(body, status=known.status, headers=known.headers)
    if known.status == 503 and "retry-after" not in response.headers:
        response.headers.set("Retry-After", str(RETRY_AFTER_S))
    return response


def _known(exc: BaseException, ctx: Any) -> HTTPError | DomainError:
    """The exception as one the renderer answers: ours as they are, the rest mapped."""
    # Imported here: the settings import the execution configuration, whose modules raise
    # the domain errors defined above.
    from devcapsules.settings import SettingsError

    if isinstance(exc, (HTTPError, DomainError)):
        if exc.status >= 500:
            ctx.logger.error("http_error", code=exc.code, message=exc.message)
        return exc
    if isinstance(exc, BindingError):
        unavailable = outage(exc)
        if unavailable is not None:
            ctx.logger.error("dependency_unavailable", code=unavailable.code, error=str(exc)[:500])
            return unavailable
    elif isinstance(exc, SettingsError):
        # A var that cannot be read (at build on the Worker, or lazily by a feature such
        # as ANALYTICS_*): the operator must learn which one.
        ctx.logger.error("configuration_error", message=str(exc))
        return Misconfigured("configuration_error", f"Worker misconfigured: {exc}")
    ctx.logger.error(
        "unhandled_exception",
        exception=type(exc).__name__,
        message=str(exc),
        traceback="".join(traceback.format_exception(exc, limit=20)),
    )
    return INTERNAL


def _domain_headers(exc: DomainError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if exc.retry_after_s:
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, InvalidToken):
        description = exc.message.replace('"', "'")
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{description}"'
        )
    return headers
