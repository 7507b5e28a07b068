"""Providers behind one interface (`base.Provider`), chosen by `config.from_vars`."""

from __future__ import annotations

import httpx

from devcapsules.services.execution.http_client import new_client
from devcapsules.services.generation.config import GenerationConfig
from devcapsules.services.generation.providers.azure_openai import (
    DEFAULT_API_VERSION,
    AzureOpenAIProvider,
)
from devcapsules.services.generation.providers.base import Provider
from devcapsules.services.generation.providers.catalog import CatalogProvider
from devcapsules.services.generation.providers.openai_compatible import OpenAICompatibleProvider


def http_client(config: GenerationConfig) -> httpx.AsyncClient:
    """One client per consumer batch: its connections are shared by the batch's jobs."""
    timeout = httpx.Timeout(
        config.model_timeout_seconds, connect=min(10.0, config.model_timeout_seconds)
    )
    return new_client(timeout)  # the one client factory (the edge's goes through fetch)


def make_provider(config: GenerationConfig, client: httpx.AsyncClient) -> Provider:
    if config.provider == "azure_openai":
        return AzureOpenAIProvider(
            client,
            endpoint=config.var("AZURE_OPENAI_ENDPOINT"),
            deployment=config.var("AZURE_OPENAI_DEPLOYMENT"),
            api_key=config.var("AZURE_OPENAI_API_KEY"),
            api_version=config.var("AZURE_OPENAI_API_VERSION") or DEFAULT_API_VERSION,
            timeout_s=config.model_timeout_seconds,
        )
    if config.provider == "openai_compatible":
        return OpenAICompatibleProvider(
            client,
            base_url=config.var("OPENAI_BASE_URL"),
            model=config.var("OPENAI_MODEL"),
            api_key=config.var("OPENAI_API_KEY") or None,
            timeout_s=config.model_timeout_seconds,
        )
    return CatalogProvider()
