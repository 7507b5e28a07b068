"""The provider interface: one capsule draft per call, and the errors that steer retries.

The consumer decides what an error means for the job, by its class:
- `TransientProviderError`: try the delivery again later (429, 5xx, timeouts);
  `retry_after` carries the server's `Retry-After` when it sent one.
- `PermanentProviderError`: the job cannot succeed by retrying (content filter, a
  request the model API refuses, bad credentials): fail it and ack the message.
- `MalformedOutput`: the model answered, but not with a usable capsule; counts as a
  failed attempt, and the next attempt is told what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    language: str
    difficulty: str
    # Concrete problems with the previous attempt, for the model to fix.
    feedback: list[str] = field(default_factory=list)
    previous: Any = None  # the previous output (dict or JSON text), for context


class ProviderError(Exception):
    code = "provider_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class TransientProviderError(ProviderError):
    code = "model_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ExecutorUnavailable(TransientProviderError):
    """Not the model's fault: the executor that verifies capsules is down. Retry later."""

    code = "executor_unavailable"


class PermanentProviderError(ProviderError):
    code = "provider_rejected"


class MalformedOutput(ProviderError):
    code = "invalid_model_output"


class Provider(Protocol):
    name: str

    async def generate(self, request: GenerationRequest) -> Any:
        """The model's capsule: a dict, or JSON text (validated by verify.py)."""
        ...
