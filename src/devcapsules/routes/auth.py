"""/api/v1/auth: register, login, refresh, logout, me, API keys."""

from __future__ import annotations

from devcapsules.context import ACCOUNT_SCOPE, Context
from devcapsules.http import HTTPError, Request
from devcapsules.routing import Reply, Route
from devcapsules.schemas import auth as schemas
from devcapsules.services import plan_usage
from devcapsules.services.accounts import api_keys, sessions, store

PREFIX = "/api/v1/auth"
TAGS = ("auth",)


async def register(request: Request, ctx: Context) -> Reply:
    body: schemas.RegisterRequest = request.data
    user = await sessions.register(ctx, body.email, body.password, body.name)
    ctx.logger.info("user_registered", userId=user.id)
    session = await sessions.start_session(ctx, user)
    return Reply(schemas.SessionResponse.of(session), status=201)


async def login(request: Request, ctx: Context) -> schemas.SessionResponse:
    body: schemas.LoginRequest = request.data
    user = await sessions.authenticate_password(ctx, body.email, body.password)
    return schemas.SessionResponse.of(await sessions.start_session(ctx, user))


async def refresh(request: Request, ctx: Context) -> schemas.SessionResponse:
    body: schemas.RefreshRequest = request.data
    return schemas.SessionResponse.of(await sessions.refresh_session(ctx, body.refreshToken))


async def logout(request: Request, ctx: Context) -> schemas.OkResponse:
    body: schemas.RefreshRequest = request.data
    await sessions.logout(ctx, body.refreshToken)
    # Unknown tokens answer the same: logout is idempotent and reveals nothing.
    return schemas.OkResponse()


async def me(request: Request, ctx: Context) -> dict:
    principal = ctx.principal
    user = await store.user_by_id(ctx.env.db, principal.user_id)
    if user is None:
        raise HTTPError(401, "token_invalid", "The account no longer exists")
    body: dict = {"plan": user.plan, "authenticatedAs": principal.kind}
    if principal.is_api_key:
        # Widget keys live in pages anyone can read: a key learns about itself and its
        # budget, never the owner's email or name.
        body["apiKey"] = {"id": principal.api_key_id, "scopes": sorted(principal.scopes)}
    else:
        body["user"] = user.public()
    body.update(await plan_usage.summary(ctx, user.id, user.plan))
    return body


async def create_api_key(request: Request, ctx: Context) -> Reply:
    body: schemas.ApiKeyCreateRequest = request.data
    key, row = await api_keys.create(
        ctx, ctx.principal.user_id, body.name, list(body.scopes), body.expiresAt
    )
    ctx.logger.info("api_key_created", apiKeyId=row["id"])
    return Reply(schemas.ApiKeyCreatedResponse(key=key, apiKey=row), status=201)


async def list_api_keys(request: Request, ctx: Context) -> schemas.ApiKeyListResponse:
    keys = await api_keys.list_for_user(ctx, ctx.principal.user_id)
    return schemas.ApiKeyListResponse(apiKeys=keys)


async def revoke_api_key(request: Request, ctx: Context) -> schemas.ApiKeyRevokedResponse:
    row = await api_keys.revoke(ctx, ctx.principal.user_id, request.path_params["id"])
    ctx.logger.info("api_key_revoked", apiKeyId=row["id"])
    return schemas.ApiKeyRevokedResponse(apiKey=row)


_session = {"auth": "required", "scopes": [ACCOUNT_SCOPE], "tags": TAGS}

routes = [
    Route(
        f"{PREFIX}/register",
        register,
        ["POST"],
        body=schemas.RegisterRequest,
        response=schemas.SessionResponse,
        status=201,
        tags=TAGS,
        errors=(409, 422),
        summary="Create an account and start a session",
    ),
    Route(
        f"{PREFIX}/login",
        login,
        ["POST"],
        body=schemas.LoginRequest,
        response=schemas.SessionResponse,
        tags=TAGS,
        errors=(401, 422),
        summary="Log in with email and password",
    ),
    Route(
        f"{PREFIX}/refresh",
        refresh,
        ["POST"],
        body=schemas.RefreshRequest,
        response=schemas.SessionResponse,
        tags=TAGS,
        errors=(401, 422),
        summary="Exchange a refresh token for new tokens (rotation)",
    ),
    Route(
        f"{PREFIX}/logout",
        logout,
        ["POST"],
        body=schemas.RefreshRequest,
        response=schemas.OkResponse,
        tags=TAGS,
        summary="Revoke a refresh token's session",
    ),
    Route(
        f"{PREFIX}/me",
        me,
        ["GET"],
        auth="required",
        response=schemas.MeResponse,
        tags=TAGS,
        summary="The caller's user, plan, limits and usage",
    ),
    Route(
        f"{PREFIX}/api-keys",
        create_api_key,
        ["POST"],
        body=schemas.ApiKeyCreateRequest,
        response=schemas.ApiKeyCreatedResponse,
        status=201,
        errors=(409, 422),
        summary="Create an API key (the key is shown once)",
        **_session,
    ),
    Route(
        f"{PREFIX}/api-keys",
        list_api_keys,
        ["GET"],
        response=schemas.ApiKeyListResponse,
        summary="List API keys (never the secret)",
        **_session,
    ),
    Route(
        f"{PREFIX}/api-keys/{{id}}",
        revoke_api_key,
        ["DELETE"],
        response=schemas.ApiKeyRevokedResponse,
        errors=(404,),
        summary="Revoke an API key",
        **_session,
    ),
]
