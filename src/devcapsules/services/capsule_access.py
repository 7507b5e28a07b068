"""Who sees which capsule, and in which view. No I/O: rules only.

- Owners (a user session, or one of their API keys holding `capsules:write`) see all of
  their capsules in the full view: reference solution and hidden test cases included.
- Everyone else sees published capsules that are public (in lists and by id) or unlisted
  (by id only), in the public view: no solution; hidden test cases only as a count.
- An API key with only `capsules:read` is a widget key: it lives in pages anyone can read,
  so it gets the public view, of its owner's *published* capsules of any visibility (a
  private published capsule can be embedded with the owner's key) plus what everyone sees.
- Anything else (private, draft, deleted, missing) is a 404: existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcapsules.principal import Principal


@dataclass(frozen=True)
class Audience:
    user_id: str | None  # whose capsules count as "own"; None: anonymous
    full_view: bool  # own capsules in the full view
    own_published_only: bool  # widget keys: only the owner's published capsules


ANONYMOUS = Audience(None, False, False)


def audience(principal: Principal | None) -> Audience:
    if principal is None:
        return ANONYMOUS
    if principal.is_api_key and not principal.allows("capsules:write"):
        return Audience(principal.user_id, False, True)
    return Audience(principal.user_id, True, False)


def is_own(who: Audience, capsule: Any) -> bool:
    return who.user_id is not None and who.user_id == capsule.owner_id


def can_read(who: Audience, capsule: Any) -> bool:
    """By id: lists apply the same rule in SQL, minus unlisted (services/capsules.py)."""
    if is_own(who, capsule) and (not who.own_published_only or capsule.status == "published"):
        return True
    return capsule.status == "published" and capsule.visibility in ("public", "unlisted")


def sees_full(who: Audience, capsule: Any) -> bool:
    return who.full_view and is_own(who, capsule)


def visible_test_cases(capsule: Any, full: bool) -> list[dict[str, Any]]:
    """All test cases in the full view; the public view keeps hidden ones as a count
    (`schemas.capsules.CapsuleOut.view` shows them either way)."""
    if full:
        return capsule.test_cases
    return [case for case in capsule.test_cases if not case.get("hidden")]


def public_copy_content(capsule: Any) -> dict[str, Any]:
    """What a non-owner's duplicate starts from: the public view only (no solution,
    no hidden test cases), so copying never reveals what reading would not."""
    return {**capsule.content(), "testCases": visible_test_cases(capsule, False), "solution": ""}
