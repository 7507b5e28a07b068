"""The language -> backend table, defaults per environment, and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devcapsules.services.execution.hybrid import ExecutorConfig, ExecutorConfigError
from devcapsules.settings import SettingsError
from tests.execution.support import client_with

REMOTE = {"EXECUTOR_URL": "http://executor.internal:8788", "AWS_EXECUTOR_API_KEY": "k" * 40}


def test_routes_pick_backends_by_language_and_alias():
    config = ExecutorConfig.from_vars(
        {
            "ENVIRONMENT": "development",
            "EXECUTOR_BACKEND_DEFAULT": "local",
            "EXECUTOR_ROUTES": "java=piston, Rust=piston ,c++=remote",
            "PISTON_URL": "http://piston:2000",
            **REMOTE,
        }
    )
    assert config.routes == {"java": "piston", "rust": "piston", "cpp": "remote"}
    assert config.backend_for("Java") == "piston"
    assert config.backend_for("rs") == "piston"
    assert config.backend_for("g++") == "remote"
    assert config.backend_for("py") == "local"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_deployed_environments_default_to_remote(environment):
    config = ExecutorConfig.from_vars({"ENVIRONMENT": environment, **REMOTE})
    assert config.default == "remote"
    assert config.executor_url == REMOTE["EXECUTOR_URL"]


def test_development_defaults_to_the_local_sandbox_when_one_can_run():
    assert ExecutorConfig.from_vars({"ENVIRONMENT": "development"}).default == "local"


def test_without_a_sandbox_the_default_is_remote():
    config = ExecutorConfig.from_vars({"ENVIRONMENT": "development", **REMOTE}, can_sandbox=False)
    assert config.default == "remote"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"EXECUTOR_BACKEND_DEFAULT": "docker"}, "unknown backend"),
        ({"EXECUTOR_ROUTES": "java"}, "is not lang=backend"),
        ({"EXECUTOR_ROUTES": "java=piston"}, "PISTON_URL"),
        ({"EXECUTOR_BACKEND_DEFAULT": "remote"}, "EXECUTOR_URL"),
        ({"ENVIRONMENT": "production"}, "EXECUTOR_URL"),
        ({"EXECUTOR_TIMEOUT_S": "soon", **REMOTE}, "EXECUTOR_TIMEOUT_S"),
    ],
)
def test_unworkable_configuration_is_refused(values, message):
    with pytest.raises(ExecutorConfigError, match=message):
        ExecutorConfig.from_vars(values)


def test_a_misconfigured_executor_fails_the_app_build_naming_the_variable(env, loop):
    # Formerly a 500 on the first /execute; now no request is served with it (the Worker
    # answers configuration_error on every route: tests/pyodide).
    with pytest.raises(SettingsError, match="EXECUTOR_URL"):
        client_with(env, loop, EXECUTOR_BACKEND_DEFAULT="remote")


def test_the_worker_graph_never_imports_the_sandbox():
    """What the edge loads (the app, every route) must not pull in the sandbox library,
    or a backend: they are imported when a request first needs them."""
    probe = (
        "import sys\n"
        "from devcapsules.app import build_app\n"
        "from devcapsules.settings import Settings\n"
        "build_app(Settings())\n"
        "import devcapsules.services.execution, devcapsules.routes.execute\n"
        "loaded = [m for m in sys.modules if m.startswith('devcapsules.executor')\n"
        "          or m.endswith(('execution.local', 'execution.remote', 'execution.piston'))]\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
