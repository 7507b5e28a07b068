"""Authenticate: identify the principal when a credential is present.

No credential: the request goes on anonymously (routes decide whether that is
enough). A credential that does not check out is a 401 with a precise code,
never silently ignored: a client with a broken token should learn it at once.
"""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.principal import Principal
from devcapsules.services import api_keys
from devcapsules.services.tokens import verify_access_token


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


async def resolve_principal(ctx: Context, token: str) -> Principal:
    if token.startswith(api_keys.KEY_PREFIX):
        return await api_keys.resolve(ctx, token)
    claims = verify_access_token(ctx.settings, token)
    return Principal(user_id=claims.user_id, plan=claims.plan, token_id=claims.token_id)


def authenticate_middleware() -> Middleware:
    async def authenticate(request: Request, ctx: Context, call_next: CallNext) -> Response:
        token = bearer_token(request)
        if token is not None:
            ctx.principal = await resolve_principal(ctx, token)
            ctx.logger = ctx.logger.bind(principal=ctx.principal.log_id)
        return await call_next(request, ctx)

    return authenticate
