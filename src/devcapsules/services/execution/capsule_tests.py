"""The test suite of a capsule, for `POST /execute/tests` with `capsuleId`.

Whoever may read a capsule (services/capsule_access.can_read: its owner, or anyone for a
published public/unlisted one) may run its tests, hidden ones included; the hidden
expectations go to the executor only and never into the response. Anything else is a
404, exactly like a missing capsule, so existence is not revealed.

A stored suite is bounded by the capsule schema (`TEST_CASES_MAX`), not by the caller's
plan: publishing accepts any capsule the API stored (services/solution_check), so every
learner, anonymous ones in the embed widget included, must be able to run it. Time and
memory stay the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcapsules.context import Context
from devcapsules.errors import InvalidInput, NotFound
from devcapsules.schemas.capsules import TEST_CASES_MAX
from devcapsules.services import capsule_access, capsules
from devcapsules.services.plans import RunLimits


@dataclass(frozen=True)
class CapsuleSuite:
    capsule_id: str
    language: str
    function_name: str | None
    test_cases: list[dict[str, Any]]


async def load_capsule_suite(ctx: Context, capsule_id: str) -> CapsuleSuite:
    capsule = await capsules.get(ctx.env.db, capsule_id)
    who = capsule_access.audience(ctx.principal)
    if capsule is None or not capsule_access.can_read(who, capsule):
        raise NotFound("not_found", "No such capsule")
    if not capsule.test_cases:
        raise InvalidInput("capsule_has_no_tests", f"Capsule {capsule_id} has no test cases")
    return CapsuleSuite(
        capsule.id, capsule.language, capsule.function_name, list(capsule.test_cases)
    )


def capsule_suite_limits(limits: RunLimits) -> RunLimits:
    """The caller's run limits, with the test-case cap raised to what a capsule may hold:
    both for the count check and for the limits handed to the executor."""
    return limits.with_caps(max_test_cases=max(limits.caps.max_test_cases, TEST_CASES_MAX))
