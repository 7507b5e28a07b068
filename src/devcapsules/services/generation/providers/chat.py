"""What Azure OpenAI and OpenAI-compatible servers share: the chat-completions protocol.

Request: `messages` + `response_format: {"type": "json_schema", "json_schema": {name,
strict, schema}}` built from `GeneratedCapsule`. Response: `choices[0].message.content`
holds the JSON; `finish_reason` "content_filter" means the output was filtered, "length"
that it was cut off; a structured-output refusal arrives as `message.refusal`.

Errors, as the services document them: 429 with `Retry-After` (seconds) or
`retry-after-ms`; 400 with `error.code == "content_filter"` (Azure: innererror
`ResponsibleAIPolicyViolation`) when the prompt was filtered; other 4xx mean the request
itself is wrong; 408/409/5xx and network failures are worth retrying.

One call has one deadline (`GENERATION_MODEL_TIMEOUT_SECONDS`, connect to last byte):
a model server that trickles its answer is a `model_timeout`, retried like any
transient failure. Answers above MAX_ANSWER_BYTES are refused while being read.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from devcapsules.schemas.generation import MAX_TESTS, MIN_TESTS, capsule_json_schema
from devcapsules.services import outbound
from devcapsules.services.generation.providers.base import (
    GenerationRequest,
    MalformedOutput,
    PermanentProviderError,
    TransientProviderError,
)

SYSTEM_PROMPT = f"""You write programming exercises ("capsules") for learners.
Answer with one JSON object matching the schema. Rules:
- `solution` is a complete, correct reference implementation of `functionName`.
- `starterCode` declares the same function with the same parameters but does not solve
  it (a stub with a TODO comment); it must compile/parse.
- `testCases`: {MIN_TESTS} to {MAX_TESTS} cases. `inputJson` is a JSON array of the
  positional arguments; `expectedJson` is the JSON of the return value. Cover edge
  cases (empty input, single element, negatives, boundaries) and mark a few hidden.
- `problem` states the task fully, names the function and shows an example.
- Give 2-3 progressive `hints`, and short lower-case `tags`.
- JavaScript: a plain `function name(...)` declaration, no exports needed."""

RETRYABLE_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
# A capsule is tens of KB; a completion far larger is not one we can use.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


def build_messages(request: GenerationRequest) -> list[dict[str, str]]:
    user = (
        f"Language: {request.language}\nDifficulty: {request.difficulty}\n"
        f"Exercise request: {request.prompt}"
    )
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    if request.feedback:
        if request.previous is not None:
            previous = request.previous
            if not isinstance(previous, str):
                previous = json.dumps(previous)
            previous = previous[:12000]
            messages.append({"role": "assistant", "content": previous})
        problems = "\n".join(f"- {item}" for item in request.feedback[:20])
        messages.append(
            {
                "role": "user",
                "content": f"That capsule failed verification:\n{problems}\n"
                "Return a corrected capsule.",
            }
        )
    return messages


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "capsule", "strict": True, "schema": capsule_json_schema()},
    }


def retry_after(response: outbound.Answer) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms` wins over `Retry-After`."""
    millis = response.headers.get("retry-after-ms")
    seconds = response.headers.get("retry-after")
    try:
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        if seconds is not None:
            return max(0.0, float(seconds))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff
    return None


def raise_for_error(response: outbound.Answer, provider: str) -> None:
    if response.status < 400:
        return
    error = _error_body(response)
    code = str(error.get("code") or "")
    inner = str((error.get("innererror") or {}).get("code") or "")
    message = str(error.get("message") or "error")[:500]
    where = f"{provider} HTTP {response.status}"
    if response.status in RETRYABLE_STATUSES:
        kind = "provider_rate_limited" if response.status == 429 else "model_unavailable"
        raise TransientProviderError(
            f"{where}: {message}", code=kind, retry_after=retry_after(response)
        )
    if code == "content_filter" or inner == "ResponsibleAIPolicyViolation":
        raise PermanentProviderError(f"{where}: {message}", code="content_filtered")
    if response.status in (401, 403):
        raise PermanentProviderError(f"{where}: {message}", code="provider_auth_failed")
    raise PermanentProviderError(f"{where}: {message}", code="provider_invalid_request")


def _error_body(response: outbound.Answer) -> dict[str, Any]:
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def parse_completion(response: outbound.Answer) -> Any:
    """The capsule JSON text of a successful completion."""
    try:
        choice = response.json()["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError, AttributeError):
        raise TransientProviderError("model response is not a chat completion") from None
    finish = choice.get("finish_reason")
    if finish == "content_filter":
        raise PermanentProviderError("the model output was filtered", code="content_filtered")
    if message.get("refusal"):
        raise PermanentProviderError(f"model refused: {message['refusal']}", code="model_refused")
    content = message.get("content")
    if finish == "length":
        raise MalformedOutput("the model output was cut off (finish_reason=length)")
    if not isinstance(content, str) or not content.strip():
        raise MalformedOutput("the model returned no content")
    return content


async def post_chat(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    payload: dict,
    provider: str,
    deadline_s: float,
) -> Any:
    try:
        response = await outbound.call(
            client,
            "POST",
            url,
            deadline_s=deadline_s,
            max_bytes=MAX_ANSWER_BYTES,
            json_body=payload,
            headers=headers,
        )
    except outbound.OutboundTimeout:
        message = f"{provider} did not answer within {deadline_s:g} s"
        raise TransientProviderError(message, code="model_timeout") from None
    except outbound.OutboundUnreachable as exc:
        # The transport error may name internal hosts: job owners see only the provider.
        kind = str(exc).partition(":")[0]
        raise TransientProviderError(f"{provider} unreachable ({kind})") from None
    except outbound.OutboundTooLarge as exc:
        raise MalformedOutput(f"{provider}: {exc}") from None
    raise_for_error(response, provider)
    return parse_completion(response)
