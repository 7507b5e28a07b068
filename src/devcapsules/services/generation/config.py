"""Generation settings (`Settings.generation`), parsed from the vars when the app is built.

Which provider runs is decided by what is configured, most specific first:
- Azure OpenAI when AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT and the
  AZURE_OPENAI_API_KEY secret are all set (AZURE_OPENAI_API_VERSION optional);
- an OpenAI-compatible server when OPENAI_BASE_URL and OPENAI_MODEL are set
  (OPENAI_API_KEY optional: local servers take none);
- otherwise the offline `catalog`. GENERATION_PROVIDER=catalog|azure_openai|
  openai_compatible forces one (a forced provider missing its vars is an error).
Every error names its var (a `GenerationConfigError`, which fails the app build).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PROVIDERS = ("azure_openai", "openai_compatible", "catalog")


class GenerationConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GenerationConfig:
    provider: str = "catalog"
    # Azure OpenAI (provider "azure_openai"); an empty api_version means the provider's default.
    azure_endpoint: str = ""
    azure_deployment: str = ""
    azure_api_key: str = ""
    azure_api_version: str = ""
    # An OpenAI-compatible server (provider "openai_compatible"); the key is optional.
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: str = ""
    # Messages of one batch processed at once; the batch size (10) by default, so a
    # full batch costs about one model latency, not ten.
    concurrency: int = 10
    # How long a delivery owns a job without renewing it; a heartbeat renews it every
    # third of this while the work runs, so a crashed delivery's job is retaken soon.
    lease_seconds: int = 60
    # Model calls per delivery: the first draft plus corrections with concrete failures.
    max_model_attempts: int = 3
    # Below this the consumer asks again (the best attempt is still kept).
    min_quality: float = 0.7
    model_timeout_seconds: float = 60.0


def _text(values: Mapping[str, str], name: str) -> str:
    return str(values.get(name) or "").strip()


def _number(values: Mapping[str, str], name: str, default: float, low: float, high: float):
    raw = values.get(name)
    if raw in (None, ""):
        return default
    try:
        number = type(default)(raw)
    except ValueError:
        raise GenerationConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= number <= high:
        raise GenerationConfigError(f"{name} must be between {low} and {high}, got {raw}")
    return number


def _provider(values: Mapping[str, str]) -> str:
    def has(*names: str) -> bool:
        return all(_text(values, n) for n in names)

    azure = has("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_KEY")
    compatible = has("OPENAI_BASE_URL", "OPENAI_MODEL")
    forced = _text(values, "GENERATION_PROVIDER").lower()
    if forced:
        if forced not in PROVIDERS:
            raise GenerationConfigError(f"GENERATION_PROVIDER must be one of {PROVIDERS}")
        if (forced == "azure_openai" and not azure) or (
            forced == "openai_compatible" and not compatible
        ):
            raise GenerationConfigError(f"GENERATION_PROVIDER={forced} but its vars are missing")
        return forced
    return "azure_openai" if azure else "openai_compatible" if compatible else "catalog"


def from_vars(values: Mapping[str, str]) -> GenerationConfig:
    return GenerationConfig(
        provider=_provider(values),
        azure_endpoint=_text(values, "AZURE_OPENAI_ENDPOINT"),
        azure_deployment=_text(values, "AZURE_OPENAI_DEPLOYMENT"),
        azure_api_key=_text(values, "AZURE_OPENAI_API_KEY"),
        azure_api_version=_text(values, "AZURE_OPENAI_API_VERSION"),
        openai_base_url=_text(values, "OPENAI_BASE_URL"),
        openai_model=_text(values, "OPENAI_MODEL"),
        openai_api_key=_text(values, "OPENAI_API_KEY"),
        concurrency=_number(values, "GENERATION_CONCURRENCY", 10, 1, 100),
        lease_seconds=_number(values, "GENERATION_LEASE_SECONDS", 60, 5, 3600),
        max_model_attempts=_number(values, "GENERATION_MAX_MODEL_ATTEMPTS", 3, 1, 5),
        min_quality=_number(values, "GENERATION_MIN_QUALITY", 0.7, 0.0, 1.0),
        model_timeout_seconds=_number(
            values, "GENERATION_MODEL_TIMEOUT_SECONDS", 60.0, 0.05, 600.0
        ),
    )
