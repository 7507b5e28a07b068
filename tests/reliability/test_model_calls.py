"""Model calls: one deadline for the whole call, and a bounded answer. The model server
is a real loopback HTTP peer that trickles, hangs or answers too much."""

from __future__ import annotations

import json

import pytest

from devcapsules.services.generation import config as generation_config
from devcapsules.services.generation.providers import http_client, make_provider
from devcapsules.services.generation.providers.base import (
    GenerationRequest,
    MalformedOutput,
    ProviderError,
    TransientProviderError,
)
from tests.support.peers import Behaviour, misbehaving_peer

COMPLETION = {"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]}


def generate(loop, url: str, timeout_s: str = "1") -> ProviderError:
    config = generation_config.from_vars(
        {"OPENAI_BASE_URL": url, "OPENAI_MODEL": "m", "GENERATION_MODEL_TIMEOUT_SECONDS": timeout_s}
    )

    async def call() -> ProviderError:
        async with http_client(config) as client:
            provider = make_provider(config, client)
            try:
                await provider.generate(GenerationRequest("Reverse a string", "python", "easy"))
            except ProviderError as exc:
                return exc
        raise AssertionError("the call succeeded")

    return loop.run_until_complete(call())


def test_a_trickling_model_is_a_model_timeout_within_the_deadline(loop):
    # A byte every 0.4 s never trips httpx's 1 s read timeout; the deadline does.
    body = json.dumps(COMPLETION).encode()
    with misbehaving_peer(Behaviour(body=body, trickle_every_s=0.4)) as peer:
        error = generate(loop, peer.url)
        assert isinstance(error, TransientProviderError) and error.code == "model_timeout"
        assert peer.abandoned.wait(10)


def test_a_hung_model_is_a_model_timeout(loop):
    with misbehaving_peer(Behaviour(hang=True)) as peer:
        error = generate(loop, peer.url)
        assert isinstance(error, TransientProviderError) and error.code == "model_timeout"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_model_answer_is_refused_while_reading(loop, chunked):
    huge = {"choices": [{"message": {"content": "x" * (8 << 20)}, "finish_reason": "stop"}]}
    with misbehaving_peer(Behaviour(body=json.dumps(huge).encode(), chunked=chunked)) as peer:
        error = generate(loop, peer.url, timeout_s="30")
    assert isinstance(error, MalformedOutput) and "bytes" in error.message
