"""Request and response models of /api/v1/auth."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from devcapsules.principal import SCOPES
from devcapsules.schemas import StrictModel
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


class SessionResponse(BaseModel):
    success: Literal[True] = True
    accessToken: str
    refreshToken: str
    tokenType: Literal["Bearer"] = "Bearer"
    expiresIn: int
    user: UserOut


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    createdAt: str
    lastUsedAt: str | None = None
    expiresAt: str | None = None
    revokedAt: str | None = None


class ApiKeyCreatedResponse(BaseModel):
    success: Literal[True] = True
    key: str
    apiKey: ApiKeyOut


class ApiKeyListResponse(BaseModel):
    success: Literal[True] = True
    apiKeys: list[ApiKeyOut]


class ApiKeyRevokedResponse(BaseModel):
    success: Literal[True] = True
    apiKey: ApiKeyOut


class KeySelf(BaseModel):
    id: str
    scopes: list[str]


class MeResponse(BaseModel):
    """`user` for sessions; `apiKey` (never the owner's details) for API keys."""

    success: Literal[True] = True
    user: UserOut | None = None
    apiKey: KeySelf | None = None
    plan: str
    authenticatedAs: Literal["user", "api_key"]
    limits: dict | None = None
    usage: dict | None = None


class OkResponse(BaseModel):
    success: Literal[True] = True
