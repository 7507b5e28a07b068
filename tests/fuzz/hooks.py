"""The schemathesis hooks of the fuzz run (the runner sets SCHEMATHESIS_HOOKS to this).

- tally.py counts what every call got back (observes only);
- `map_case` gives `POST /execute/tests` in its capsule mode a capsule that exists: a
  capsule id is server-made, so generated ones are always 404. Only valid (positive)
  cases whose `capsuleId` is itself valid are changed, so a negative case stays exactly
  as invalid as it was generated.
"""

from __future__ import annotations

import os

import schemathesis

from tests.fuzz import tally  # noqa: F401  (registers its hook on import)

RUN_TESTS = "POST /api/v1/execute/tests"


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    body = case.body
    if (
        case.operation.label == RUN_TESTS
        and meta is not None
        and meta.generation.mode.value == "positive"
        and isinstance(body, dict)
        and isinstance(body.get("capsuleId"), str)
    ):
        case.body = {**body, "capsuleId": os.environ["FUZZ_SUITE_CAPSULE_ID"]}
    return case
