"""The `devcapsules` command: run the API locally and administer local state.

Every expected failure (a usage mistake, no wrangler.toml above the working directory,
an unknown user, an unusable state directory, a refused value) is one line on stderr
and a non-zero exit: 2 for usage, 1 for the rest. A traceback means a bug.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from devcapsules.context import PLANS
from devcapsules.errors import DomainError
from devcapsules.local.config import find_project_root, load_config
from devcapsules.local.migrations import apply_migrations
from devcapsules.local.runtime import resolve_state_dir

# What a user can cause: refusals of the domain (duplicate email), bad values (settings,
# --env), files and directories (no wrangler.toml, state dir), a state dir's databases.
EXPECTED_FAILURES = (DomainError, ValueError, OSError, sqlite3.Error)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake as one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.command_handler(args) or 0
    except EXPECTED_FAILURES as exc:
        print(f"devcapsules: error: {one_line(exc)}", file=sys.stderr)
        return 1


def one_line(exc: BaseException) -> str:
    """The message of an expected failure, on one line."""
    if isinstance(exc, ValidationError):  # the option names are the model's field names
        return "; ".join(
            f"--{'.'.join(map(str, error['loc']))}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, sqlite3.Error):
        return f"local database: {exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="devcapsules", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )

    dev = commands.add_parser("dev", help="serve the API locally with the queue consumer")
    dev.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8787")))
    _state_dir_option(dev)
    dev.add_argument("--env", dest="environment", help="a wrangler.toml [env.NAME] section")
    dev.set_defaults(command_handler=_run_dev)

    db = commands.add_parser("db", help="local D1 database").add_subparsers(
        title="db commands", dest="db_command", metavar="COMMAND", required=True
    )
    migrate = db.add_parser("migrate", help="apply pending migrations (wrangler's d1_migrations)")
    _state_dir_option(migrate)
    migrate.set_defaults(command_handler=_run_migrate)

    users = commands.add_parser("users", help="manage local users").add_subparsers(
        title="users commands", dest="users_command", metavar="COMMAND", required=True
    )
    create = users.add_parser("create", help="create a user (for scripting)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="free", choices=PLANS)
    _state_dir_option(create)
    create.set_defaults(command_handler=_run_users_create)
    set_plan = users.add_parser("set-plan", help="change a user's plan")
    set_plan.add_argument("email")
    set_plan.add_argument("plan", choices=PLANS)
    _state_dir_option(set_plan)
    set_plan.set_defaults(command_handler=_run_set_plan)

    from devcapsules.executor_service.cli import add_commands as add_executor_commands

    add_executor_commands(commands)
    return parser


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        help="where local bindings persist (default: $DEVCAPSULES_STATE_DIR or .state)",
    )


def _run_dev(args: argparse.Namespace) -> int:
    from devcapsules.local.http_server import run_event_loop
    from devcapsules.local.server import open_runtime, serve

    runtime = open_runtime(find_project_root(), args.state_dir, args.environment)
    try:
        run_event_loop(serve(runtime, args.host, args.port))
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
    return 0


def _run_migrate(args: argparse.Namespace) -> int:
    from devcapsules.bindings.sqlite_d1 import SqliteD1

    root = find_project_root()
    config = load_config(root)
    state_dir = resolve_state_dir(args.state_dir, root)
    db = SqliteD1(state_dir / "d1" / "DB.sqlite3")
    try:
        applied = apply_migrations(db.connection, config.migrations_dir or root / "migrations")
    finally:
        db.close()
    for name in applied:
        print(f"applied {name}")
    print(f"{len(applied)} migration(s) applied to {state_dir / 'd1' / 'DB.sqlite3'}")
    return 0


def _run_users_create(args: argparse.Namespace) -> int:
    from devcapsules.schemas.auth import RegisterRequest
    from devcapsules.services.accounts import sessions
    from devcapsules.services.accounts.passwords import PasswordHasher

    request = RegisterRequest(email=args.email, password=args.password, name=args.name)

    async def create(ctx):
        password_hash = await PasswordHasher().hash(request.password)
        return await sessions.create_user(
            ctx, request.email, request.name, password_hash, args.plan
        )

    user = _with_context(args, create)
    print(json.dumps(user.public()))
    return 0


def _run_set_plan(args: argparse.Namespace) -> int:
    from devcapsules.services.accounts.principals import change_plan

    user = _with_context(args, lambda ctx: change_plan(ctx, args.email, args.plan))
    if user is None:
        print(f"devcapsules: error: no user with email {args.email}", file=sys.stderr)
        return 1
    print(json.dumps(user.public()))
    return 0


def _with_context(args: argparse.Namespace, action):
    """Open the local bindings (migrating them), run one async action with a context of
    the app built from the same vars as the dev server's (so the services get the same
    settings, clock and ids as a request), close."""
    from devcapsules.app import build_app
    from devcapsules.local.runtime import running_env
    from devcapsules.local.server import open_runtime
    from devcapsules.settings import Settings

    runtime = open_runtime(find_project_root(), args.state_dir, None, quiet=True)
    app = build_app(Settings.from_vars(runtime.config.vars))

    async def run() -> object:
        async with running_env(runtime) as env:
            return await action(app.context(env))

    try:
        return asyncio.run(run())
    finally:
        runtime.close()


if __name__ == "__main__":
    sys.exit(main())
