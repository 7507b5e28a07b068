"""Every catalog exercise, in every language, passes its own verification in the sandbox."""

from __future__ import annotations

import asyncio

import pytest

from devcapsules.executor import DEFAULT_LIMITS
from devcapsules.schemas.execution import BatchRun
from devcapsules.services.execution.local import LocalExecutor, patient
from devcapsules.services.generation import verify
from devcapsules.services.generation.providers.catalog import build_capsule
from devcapsules.services.generation.providers.catalog_data import EXERCISES


async def runner(codes, cases, language, name):
    # The local backend's batch, as generation runs it: Python's solution and starter
    # share one sandbox (a forked process each), JavaScript's run one sandbox each.
    runs = [BatchRun(userCode=code, testCases=cases, functionName=name) for code in codes]
    limits = DEFAULT_LIMITS.clamp(None, None)
    with patient():  # every exercise at once: they queue for the executor's slots
        return await LocalExecutor().run_tests_batch(runs, language, limits=limits)


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_every_exercise_verifies(language):
    async def all_of_them():
        capsules = [build_capsule(entry, language) for entry in EXERCISES]
        return await asyncio.gather(*(verify.verify(c, language, runner) for c in capsules))

    results = asyncio.run(all_of_them())
    for entry, candidate in zip(EXERCISES, results, strict=True):
        assert candidate.valid, (entry["key"], candidate.problems)
        assert candidate.score >= 0.7, (entry["key"], candidate.breakdown)
    assert len(EXERCISES) >= 10
