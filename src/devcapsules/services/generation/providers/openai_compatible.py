"""Any OpenAI-compatible chat-completions server: OpenAI, vLLM, Ollama, llama.cpp.

`POST {OPENAI_BASE_URL}/chat/completions` with `model` = OPENAI_MODEL and, when the
OPENAI_API_KEY secret is set, `Authorization: Bearer <key>` (local servers need none).
"""

from __future__ import annotations

from typing import Any

import httpx

from devcapsules.services.generation.providers import chat
from devcapsules.services.generation.providers.base import GenerationRequest


class OpenAICompatibleProvider:
    name = "openai_compatible"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.2,
        timeout_s: float = 60.0,
    ):
        self.client = client
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.temperature = temperature
        self.timeout_s = timeout_s  # the whole call's deadline (connect to last byte)

    async def generate(self, request: GenerationRequest) -> Any:
        payload = {
            "model": self.model,
            "messages": chat.build_messages(request),
            "response_format": chat.response_format(),
            "temperature": self.temperature,
        }
        return await chat.post_chat(
            self.client, self.url, self.headers, payload, self.name, self.timeout_s
        )
