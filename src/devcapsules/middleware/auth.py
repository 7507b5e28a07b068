"""Authenticate: identify the principal when a credential is present.

No credential: the request goes on anonymously (routes decide whether that is
enough). A credential that does not check out is a 401 with a precise code,
never silently ignored: a client with a broken token should learn it at once.
"""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.errors import DomainError, status_of
from devcapsules.http import HTTPError, Request, Response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.services.accounts import principals


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPError(
            401,
            "invalid_authorization_header",
            "Use Authorization: Bearer <access token or API key>",
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    return token.strip()


REJECTED_CREDENTIAL = "rejected_credential"


def authenticate_middleware() -> Middleware:
    """Identify the principal. A credential that fails is not refused here but after the
    rate limiter has counted the request against its IP (`credential_gate_middleware`):
    otherwise guessing tokens or keys would cost a D1 read each, unmetered."""

    async def authenticate(request: Request, ctx: Context, call_next: CallNext) -> Response:
        try:
            token = bearer_token(request)
            if token is not None:
                ctx.principal = await principals.resolve(ctx, token)
                ctx.logger = ctx.logger.bind(principal=ctx.principal.log_id)
        except (HTTPError, DomainError) as exc:
            if status_of(exc) != 401:
                raise  # e.g. a configuration error: not the client's fault, say so now
            ctx.state[REJECTED_CREDENTIAL] = exc
        return await call_next(request, ctx)

    return authenticate


def credential_gate_middleware() -> Middleware:
    """Answer the 401 that `authenticate` deferred (runs just after the rate limiter)."""

    async def credential_gate(request: Request, ctx: Context, call_next: CallNext) -> Response:
        rejected = ctx.state.get(REJECTED_CREDENTIAL)
        if rejected is not None:
            raise rejected
        return await call_next(request, ctx)

    return credential_gate
