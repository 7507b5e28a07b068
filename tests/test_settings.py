"""Typed settings: every section is parsed when the app is built, and a bad var of any
section fails the build, naming the var (the Worker then answers `configuration_error`
on every route: tests/pyodide's `case_dispatch_a_bad_var_of_any_section_...`)."""

from __future__ import annotations

import dataclasses

import pytest

from devcapsules.app import build_app
from devcapsules.settings import Settings, SettingsError

REMOTE = {"EXECUTOR_BACKEND_DEFAULT": "remote", "EXECUTOR_URL": "https://executor.test"}

# (section, the bad vars, the var the error must name)
BAD_VARS = [
    ("environment", {"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
    ("limits (body)", {"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
    ("auth", {"PBKDF2_ITERATIONS": "10"}, "PBKDF2_ITERATIONS"),
    ("auth", {"ENVIRONMENT": "production", "JWT_SECRET": "short", **REMOTE}, "JWT_SECRET"),
    ("cors", {"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
    ("logging", {"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ("execution", {"EXECUTOR_BACKEND_DEFAULT": "docker"}, "EXECUTOR_BACKEND_DEFAULT"),
    ("execution", {"EXECUTOR_ROUTES": "java"}, "EXECUTOR_ROUTES"),
    ("execution", {"EXECUTOR_TIMEOUT_S": "soon", **REMOTE}, "EXECUTOR_TIMEOUT_S"),
    ("execution", {"EXECUTOR_BACKEND_DEFAULT": "remote"}, "EXECUTOR_URL"),
    ("execution", {"EXECUTOR_ROUTES": "java=piston"}, "PISTON_URL"),
    ("generation", {"GENERATION_PROVIDER": "gpt"}, "GENERATION_PROVIDER"),
    ("generation", {"GENERATION_PROVIDER": "azure_openai"}, "GENERATION_PROVIDER"),
    ("generation", {"GENERATION_CONCURRENCY": "lots"}, "GENERATION_CONCURRENCY"),
    ("generation", {"GENERATION_LEASE_SECONDS": "1"}, "GENERATION_LEASE_SECONDS"),
    ("generation", {"GENERATION_MIN_QUALITY": "2"}, "GENERATION_MIN_QUALITY"),
    ("generation", {"GENERATION_MODEL_TIMEOUT_SECONDS": "x"}, "GENERATION_MODEL_TIMEOUT_SECONDS"),
    ("analytics", {"ANALYTICS_RETENTION_DAYS": "0"}, "ANALYTICS_RETENTION_DAYS"),
    ("analytics", {"ANALYTICS_RETENTION_DAYS": "ninety"}, "ANALYTICS_RETENTION_DAYS"),
    ("analytics", {"ANALYTICS_CACHE_TTL": "30"}, "ANALYTICS_CACHE_TTL"),
    ("limits", {"PLAN_FREE_REQUESTS_PER_DAY": "many"}, "PLAN_FREE_REQUESTS_PER_DAY"),
    ("limits", {"PLAN_GOLD_REQUESTS_PER_DAY": "5"}, "PLAN_GOLD_REQUESTS_PER_DAY"),
]


@pytest.mark.parametrize(
    ("section", "values", "var"), BAD_VARS, ids=[f"{s}-{v}" for s, _, v in BAD_VARS]
)
def test_a_bad_var_of_any_section_fails_the_app_build_naming_it(section, values, var):
    with pytest.raises(SettingsError, match=var):
        build_app(Settings.from_vars({"ENVIRONMENT": "development", **values}))


def test_every_section_is_typed_and_parsed_at_build():
    settings = Settings.from_vars(
        {
            "ENVIRONMENT": "staging",
            "JWT_SECRET": "s" * 40,
            "PBKDF2_ITERATIONS": "5000",
            "ALLOWED_ORIGINS": "https://app.example",
            "LOG_LEVEL": "WARNING",
            "EXECUTOR_URL": "https://executor.test",
            "EXECUTOR_ROUTES": "java=piston",
            "PISTON_URL": "https://piston.test",
            "EXECUTOR_WARM_POOL": "python=2",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_MODEL": "m",
            "GENERATION_LEASE_SECONDS": "30",
            "ANALYTICS_CACHE_TTL": "120",
            "PLAN_FREE_REQUESTS_PER_DAY": "50",
        }
    )
    assert settings.auth.password_iterations == 5000
    assert settings.cors.allowed_origins == ("https://app.example",)
    assert settings.logging.level == "warn"
    assert settings.execution.backend_for("java") == "piston"
    assert settings.execution.backend_for("python") == "remote"
    assert settings.execution.warm_pool == "python=2"
    assert settings.generation.provider == "openai_compatible"
    assert settings.generation.openai_model == "m"
    assert settings.generation.lease_seconds == 30
    assert settings.analytics.cache_ttl == 120
    assert settings.limits.for_plan("free").requests_per_day == 50


def test_no_raw_vars_bag_travels_with_the_settings():
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert "extra" not in fields and "vars" not in fields
    generation = {f.name for f in dataclasses.fields(Settings().generation)}
    assert "vars" not in generation


def test_a_development_host_without_a_sandbox_serves_without_an_executor_url():
    """It falls back to `remote` by itself; only code execution is then unconfigured."""
    from devcapsules.services.execution.hybrid import ExecutorConfig

    config = ExecutorConfig.from_vars({"ENVIRONMENT": "development"}, can_sandbox=False)
    assert config.default == "remote" and config.executor_url is None
