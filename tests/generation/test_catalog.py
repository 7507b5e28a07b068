"""Every catalog exercise, in every language, passes its own verification in the sandbox."""

from __future__ import annotations

import asyncio

import pytest

from devcapsules.executor import run_tests
from devcapsules.services.execution.local import suite_result
from devcapsules.services.generation import verify
from devcapsules.services.generation.providers.catalog import build_capsule
from devcapsules.services.generation.providers.catalog_data import EXERCISES


async def runner(code, cases, language, name):
    # The sandbox library's result as the local backend hands it on: the typed one.
    return suite_result(await run_tests(code, cases, language, name))


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
