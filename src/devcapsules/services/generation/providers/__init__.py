"""Providers behind one interface (`base.Provider`), chosen by `Settings.generation`."""

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
            endpoint=config.azure_endpoint,
            deployment=config.azure_deployment,
            api_key=config.azure_api_key,
            api_version=config.azure_api_version or DEFAULT_API_VERSION,
            timeout_s=config.model_timeout_seconds,
        )
    if config.provider == "openai_compatible":
        return OpenAICompatibleProvider(
            client,
            base_url=config.openai_base_url,
            model=config.openai_model,
            api_key=config.openai_api_key or None,
            timeout_s=config.model_timeout_seconds,
        )
    return CatalogProvider()
