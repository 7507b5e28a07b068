"""One job's generation: ask the provider, verify, and ask again with the concrete
failures until a valid attempt reaches the quality threshold or the attempts run out.
The best attempt (valid first, then highest score) is what the caller keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from devcapsules.services.generation import verify
from devcapsules.services.generation.providers.base import (
    GenerationRequest,
    MalformedOutput,
    Provider,
    TransientProviderError,
)

OnStage = Callable[[str], Awaitable[None]]


@dataclass
class Outcome:
    best: verify.Candidate
    model_calls: int


async def _noop(stage: str) -> None:
    return None


def _better(best: verify.Candidate | None, candidate: verify.Candidate) -> verify.Candidate:
    return candidate if best is None or candidate.rank() > best.rank() else best


async def generate_verified(
    provider: Provider,
    request: GenerationRequest,
    runner: verify.TestRunnerLike,
    *,
    max_attempts: int,
    min_quality: float,
    on_stage: OnStage = _noop,
) -> Outcome:
    """Raises TransientProviderError / PermanentProviderError unless a valid attempt
    already exists (then a transient failure of a *refinement* keeps that attempt)."""
    best: verify.Candidate | None = None
    calls = 0
    for _ in range(max_attempts):
        await on_stage("generating")
        calls += 1
        try:
            raw = await provider.generate(request)
        except MalformedOutput as exc:
            candidate = verify.Candidate(None, problems=[exc.message])
        except TransientProviderError:
            if best is not None and best.valid:
                break
            raise
        else:
            await on_stage("validating")
            candidate = await verify.verify(raw, request.language, runner, on_stage)
        best = _better(best, candidate)
        if candidate.valid and candidate.score >= min_quality:
            break
        feedback = candidate.problems or verify.advice(candidate.breakdown)
        request = GenerationRequest(
            request.prompt, request.language, request.difficulty, feedback, _as_dict(candidate)
        )
    assert best is not None
    return Outcome(best, calls)


def _as_dict(candidate: verify.Candidate) -> Any:
    return candidate.raw
