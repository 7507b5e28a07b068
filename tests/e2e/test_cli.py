"""The `devcapsules` admin commands, run as a user would run them."""

import json
import subprocess
import sys

import httpx
import pytest

from tests.support.server import ROOT, dev_server

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devcapsules.local.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_user_then_set_plan_then_login(tmp_path):
    state = str(tmp_path / "state")
    created = cli(
        "users",
        "create",
        "--email",
        "Cli@Example.com",
        "--password",
        "long enough pw",
        "--name",
        "Cli",
        "--state-dir",
        state,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["plan"] == "free"
    changed = cli("users", "set-plan", "cli@example.com", "team", "--state-dir", state)
    assert changed.returncode == 0 and json.loads(changed.stdout)["plan"] == "team"
    with dev_server(tmp_path / "state") as base:
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": "cli@example.com", "password": "long enough pw"},
        )
        assert login.status_code == 200
        assert login.json()["user"]["plan"] == "team"


def test_set_plan_refuses_unknown_user_and_plan(tmp_path):
    state = str(tmp_path / "state")
    assert (
        cli("users", "set-plan", "ghost@example.com", "team", "--state-dir", state).returncode == 1
    )
    assert (
        cli("users", "set-plan", "ghost@example.com", "gold", "--state-dir", state).returncode == 2
    )


def test_db_migrate_is_idempotent(tmp_path):
    state = str(tmp_path / "state")
    first = cli("db", "migrate", "--state-dir", state)
    assert "applied 0001_initial_schema.sql" in first.stdout
    second = cli("db", "migrate", "--state-dir", state)
    assert second.stdout.startswith("0 migration(s) applied")
