"""Azure OpenAI chat completions with structured outputs.

`POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`,
key in the `api-key` header. Vars: AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT,
AZURE_OPENAI_API_VERSION (structured outputs need 2024-08-01-preview or later);
secret: AZURE_OPENAI_API_KEY.
"""

from __future__ import annotations

from typing import Any

import httpx

from devcapsules.services.generation.providers import chat
from devcapsules.services.generation.providers.base import GenerationRequest

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider:
    name = "azure_openai"

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        deployment: str,
        api_key: str,
        api_version: str = DEFAULT_API_VERSION,
        temperature: float = 0.2,
        timeout_s: float = 60.0,
    ):
        self.client = client
        self.url = (
            f"{endpoint.rstrip('/')}/openai/deployments/{deployment}/chat/completions"
            f"?api-version={api_version}"
        )
        self.headers = {"api-key": api_key}
        self.temperature = temperature
        self.timeout_s = timeout_s  # the whole call's deadline (connect to last byte)

    async def generate(self, request: GenerationRequest) -> Any:
        payload = {
            "messages": chat.build_messages(request),
            "response_format": chat.response_format(),
            "temperature": self.temperature,
        }
        return await chat.post_chat(
            self.client, self.url, self.headers, payload, self.name, self.timeout_s
        )
