"""The `devcapsules` admin commands, run as a user would run them."""

import json
import os
import socket
import subprocess
import sys

import httpx
import pytest

from tests.support.server import ROOT, dev_server

pytestmark = pytest.mark.slow


def cli(*args: str, cwd=ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devcapsules.local.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, says: str) -> None:
    """An expected failure: one line on stderr that says what is wrong, a non-zero exit."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert says in result.stderr, result.stderr


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


# The SQLite bindings, also on the Miniflare rung (these failures are about their files).
SQLITE = {"DEVCAPSULES_BINDINGS": "sqlite"}
EVERY_COMMAND = [
    ("dev", "--port", "0"),
    ("db", "migrate"),
    ("users", "create", "--email", "a@example.com", "--password", "long enough", "--name", "A"),
    ("users", "set-plan", "a@example.com", "team"),
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c[:2]))
def test_outside_the_project_every_command_says_so(tmp_path, command):
    result = cli(*command, "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert_one_line_error(result, 1, f"no wrangler.toml in {tmp_path.resolve()} or its parents")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("users",), "the following arguments are required: COMMAND"),
        (("db",), "the following arguments are required: COMMAND"),
        (("executor",), "the following arguments are required: COMMAND"),
        (("deploy",), "invalid choice: 'deploy'"),
        (("users", "set-plan", "a@example.com", "gold"), "invalid choice: 'gold'"),
        (("users", "set-plan"), "required: email, plan"),
        (("users", "create", "--email", "a@example.com"), "required: --password, --name"),
        (("dev", "--port", "eighty"), "invalid int value: 'eighty'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_usage_mistakes_are_one_line_and_exit_2(args, says):
    assert_one_line_error(cli(*args), 2, says)


@pytest.mark.parametrize("command", EVERY_COMMAND[1:], ids=lambda c: " ".join(c[:2]))
def test_a_state_dir_that_cannot_be_made_is_one_line(tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = cli(*command, "--state-dir", str(blocker / "state"))
    assert_one_line_error(result, 1, f"cannot use {blocker / 'state'} as the state directory")


def test_a_state_dir_holding_no_database_is_one_line(tmp_path):
    (tmp_path / "state" / "d1").mkdir(parents=True)
    (tmp_path / "state" / "d1" / "DB.sqlite3").write_text("not a database")
    state = str(tmp_path / "state")
    result = cli("users", "set-plan", "a@example.com", "team", "--state-dir", state, env=SQLITE)
    assert_one_line_error(result, 1, "local database: file is not a database")


def test_refused_values_are_one_line(tmp_path):
    state = ("--state-dir", str(tmp_path / "state"))
    ghost = cli("users", "set-plan", "ghost@example.com", "team", *state)
    assert_one_line_error(ghost, 1, "no user with email ghost@example.com")
    bad = cli("users", "create", "--email", "nope", "--password", "short", "--name", "N", *state)
    assert_one_line_error(
        bad, 1, "--email: must be an email address; --password: String should have at least 8"
    )
    good = ("users", "create", "--email", "a@example.com", "--password", "long enough")
    assert cli(*good, "--name", "A", *state).returncode == 0
    assert_one_line_error(cli(*good, "--name", "A", *state), 1, "already exists")


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--env", "staging-typo"), {}, "wrangler.toml has no [env.staging-typo] section"),
        ((), {"PLAN_FREE_REQUESTS_PER_MINUTE": "lots"}, "PLAN_FREE_REQUESTS_PER_MINUTE must be"),
        ((), {"DEVCAPSULES_BINDINGS": "postgres"}, "DEVCAPSULES_BINDINGS must be"),
    ],
    ids=["unknown env", "bad setting", "bad bindings"],
)
def test_dev_refuses_bad_configuration_in_one_line(tmp_path, args, env, says):
    result = cli("dev", "--port", "0", "--state-dir", str(tmp_path / "state"), *args, env=env)
    assert_one_line_error(result, 1, says)


def test_dev_on_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = cli("dev", "--port", port, "--state-dir", str(tmp_path / "state"), env=SQLITE)
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "address already in use" in result.stderr


def test_executor_serve_without_a_key_is_one_line():
    result = cli("executor", "serve", env={"AWS_EXECUTOR_API_KEY": ""})
    assert_one_line_error(result, 2, "set AWS_EXECUTOR_API_KEY")
