"""HTTP backends' answers are checked before they are used.

The remote executor service and Piston are other programs: an answer that is not the
shape we declare (`schemas.execution`, or Piston v2's wire format below) or is larger
than a run can legitimately produce is refused as a 502 `executor_bad_response`, with
the reason in the log. It is never passed on as a 200 that breaks our own schema, and
never becomes a 500 of ours. Sizes are bounded while reading (`services.outbound`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, model_validator

from devcapsules.errors import DependencyFailed, DependencyTimeout
from devcapsules.logs import Logger
from devcapsules.services import outbound
from devcapsules.services.execution.base import unavailable

KIB = 1024
# A run's streams are capped at 64 KiB each by every sandbox (ours and Piston's);
# JSON escaping can multiply that. 2 MiB holds stdout, stderr and compile output.
MAX_RUN_ANSWER_BYTES = 2 * KIB * KIB
# A test run: each case carries its own captured output (and actual/expected values).
PER_CASE_ANSWER_BYTES = 512 * KIB
MAX_SUITE_ANSWER_BYTES = 32 * KIB * KIB
MAX_BATCH_ANSWER_BYTES = 4 * MAX_SUITE_ANSWER_BYTES  # a test batch: every run's results
MAX_LIST_ANSWER_BYTES = 1 * KIB * KIB  # language lists

Model = TypeVar("Model", bound=BaseModel)


def suite_answer_bytes(cases: int) -> int:
    return min(MAX_SUITE_ANSWER_BYTES, MAX_RUN_ANSWER_BYTES + cases * PER_CASE_ANSWER_BYTES)


def bad_response(logger: Logger, backend: str, reason: str) -> DependencyFailed:
    logger.error("executor_bad_response", backend=backend, reason=reason[:500])
    message = "The code executor sent an answer we cannot use"
    return DependencyFailed("executor_bad_response", message)


async def executor_call(
    logger: Logger,
    backend: str,
    url: str,
    method: str,
    *,
    deadline_s: float,
    max_bytes: int,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> outbound.Answer:
    """One call to an HTTP executor backend (`backend`: remote or piston), its failures as
    the API's errors: 504 past the deadline, 503 unreachable, 502 oversized."""
    from devcapsules.services.execution.http_client import new_client

    try:
        async with new_client(deadline_s) as client:
            return await outbound.call(
                client,
                method,
                url,
                deadline_s=deadline_s,
                max_bytes=max_bytes,
                json_body=json_body,
                headers=headers,
            )
    except outbound.OutboundTimeout as exc:
        logger.warn(f"{backend}_timeout", url=url, error=str(exc))
        message = f"The code executor did not answer within {deadline_s:g} s"
        raise DependencyTimeout("executor_timeout", message) from None
    except outbound.OutboundUnreachable as exc:
        logger.warn(f"{backend}_unreachable", url=url, error=str(exc))
        message = "The code executor cannot be reached"
        raise unavailable("executor_unavailable", message) from None
    except outbound.OutboundTooLarge as exc:
        raise bad_response(logger, backend, str(exc)) from None


def checked(model: type[Model], data: Any, logger: Logger, backend: str) -> Model:
    """`data` as `model`, or a 502 naming (in the log) the first fields that are wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or '(root)'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise bad_response(logger, backend, f"{model.__name__}: {problems}") from None


# ------------------------------------------------------------ Piston v2's wire format


class PistonStage(BaseModel):
    """`run` / `compile` of a Piston v2 answer (newer servers add status, wall_time,
    memory; older ones omit them)."""

    stdout: str | None = None
    stderr: str | None = None
    output: str | None = None
    code: int | None = None
    signal: str | None = None
    status: str | None = None
    wall_time: float | None = None
    memory: int | None = None


class PistonAnswer(BaseModel):
    language: str
    version: str
    run: PistonStage | None = None  # absent when compiling failed
    compile: PistonStage | None = None

    @model_validator(mode="after")
    def _ran_or_compiled(self) -> PistonAnswer:
        if self.run is None and self.compile is None:
            raise ValueError("neither a run nor a compile stage")
        return self


class PistonRuntime(BaseModel):
    language: str
    version: str
    aliases: list[str] = []
