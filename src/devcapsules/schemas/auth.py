"""Request and response models of /api/v1/auth."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from devcapsules.context import SCOPES
from devcapsules.schemas import Body, StrictModel

if TYPE_CHECKING:
    from devcapsules.services.accounts.sessions import Session
from devcapsules.schemas.patterns import EMAIL, ONE_LINE, SPACE, documented, matches

PASSWORD_MIN = 8
# Refuse megabyte passwords before any hashing work is spent on them.
PASSWORD_MAX = 128

Scope = Literal[SCOPES]  # type: ignore[valid-type]


class Credentials(StrictModel):
    email: str = Field(
        max_length=254, examples=["ada@example.com"], json_schema_extra=documented(EMAIL)
    )
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not matches(EMAIL, value):
            raise ValueError("must be an email address")
        return value.strip(SPACE).lower()


def one_line(value: str) -> str:
    if not matches(ONE_LINE, value):
        raise ValueError("must be one line of text without control characters")
    return value


# A person's or a key's name: shown in dashboards and logs, so one line, no controls.
Name = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra=documented(ONE_LINE)),
    AfterValidator(one_line),
]


class RegisterRequest(Credentials):
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    name: Name


class LoginRequest(Credentials):
    pass


class RefreshRequest(StrictModel):
    refreshToken: str = Field(min_length=10, max_length=200)


class ApiKeyCreateRequest(StrictModel):
    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expiresAt: datetime | None = None

    @field_validator("expiresAt")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("must include a timezone, e.g. 2027-01-01T00:00:00Z")
            if value <= datetime.now(value.tzinfo):
                raise ValueError("must be in the future")
        return value


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    plan: str
    createdAt: str


class SessionResponse(Body):
    success: Literal[True] = True
    accessToken: str
    refreshToken: str
    tokenType: Literal["Bearer"] = "Bearer"
    expiresIn: int
    user: UserOut

    @classmethod
    def of(cls, session: Session) -> SessionResponse:
        return cls(
            accessToken=session.access_token,
            refreshToken=session.refresh_token,
            tokenType="Bearer",
            expiresIn=session.expires_in,
            user=session.user.public(),
        )


# Read from a key's row (services/accounts/store.key_metadata), whose columns are snake_case, or
# from its own JSON (populate_by_name).
class ApiKeyOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    prefix: str
    scopes: list[str]
    createdAt: str = Field(validation_alias="created_at")
    lastUsedAt: str | None = Field(default=None, validation_alias="last_used_at")
    expiresAt: str | None = Field(default=None, validation_alias="expires_at")
    revokedAt: str | None = Field(default=None, validation_alias="revoked_at")


class ApiKeyCreatedResponse(Body):
    success: Literal[True] = True
    key: str
    apiKey: ApiKeyOut


class ApiKeyListResponse(Body):
    success: Literal[True] = True
    apiKeys: list[ApiKeyOut]


class ApiKeyRevokedResponse(Body):
    success: Literal[True] = True
    apiKey: ApiKeyOut


class KeySelf(BaseModel):
    id: str
    scopes: list[str]


class MeResponse(Body):
    """`user` for sessions; `apiKey` (never the owner's details) for API keys."""

    success: Literal[True] = True
    user: UserOut | None = None
    apiKey: KeySelf | None = None
    plan: str
    authenticatedAs: Literal["user", "api_key"]
    limits: dict | None = None
    usage: dict | None = None


class OkResponse(Body):
    success: Literal[True] = True
