"""Who is calling: a user (JWT session) or an API key acting for its owner, with scopes."""

from __future__ import annotations

from dataclasses import dataclass, field

PLANS = ("free", "creator", "team", "enterprise")

# Scopes an API key may be granted.
SCOPES = (
    "capsules:read",
    "capsules:write",
    "execute",
    "generate",
    "analytics:read",
    "analytics:write",
)
# Held by user sessions only, never grantable to a key: managing the account and its
# keys (a leaked widget key must not be able to mint more keys).
ACCOUNT_SCOPE = "account"
SESSION_SCOPES = frozenset((*SCOPES, ACCOUNT_SCOPE))


@dataclass(frozen=True)
class Principal:
    user_id: str
    plan: str
    kind: str = "user"  # "user" (JWT session) or "api_key"
    scopes: frozenset[str] = field(default_factory=lambda: SESSION_SCOPES)
    api_key_id: str | None = None
    token_id: str | None = None

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

    @property
    def log_id(self) -> str:
        return f"{self.user_id}/{self.api_key_id}" if self.api_key_id else self.user_id

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
