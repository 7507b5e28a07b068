"""`devcapsules executor serve`: argument parsing (wired into devcapsules.local.cli)."""

from __future__ import annotations

import argparse
import os
import sys

KEY_VARIABLE = "AWS_EXECUTOR_API_KEY"
MIN_KEY_LENGTH = 32


def add_commands(commands: argparse._SubParsersAction) -> None:
    executor = commands.add_parser("executor", help="the code executor service")
    sub = executor.add_subparsers(
        title="executor commands", dest="executor_command", metavar="COMMAND", required=True
    )
    serve = sub.add_parser(
        "serve", help=f"serve execute/tests/languages over HTTP (key: ${KEY_VARIABLE})"
    )
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8788")))
    serve.add_argument(
        "--concurrency", type=int, default=os.cpu_count() or 1, help="runs at once (CPUs)"
    )
    serve.add_argument(
        "--queue-depth", type=int, default=None, help="runs waiting beyond that (4 x concurrency)"
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve without an API key (local experiments only)",
    )
    serve.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    serve.set_defaults(command_handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    key = os.environ.get(KEY_VARIABLE, "").strip() or None
    if key is None and not args.insecure_no_auth:
        print(
            f"devcapsules: error: set {KEY_VARIABLE} (the key the Worker sends),"
            " or pass --insecure-no-auth for a local experiment",
            file=sys.stderr,
        )
        return 2
    if key is not None and len(key) < MIN_KEY_LENGTH:
        message = f"devcapsules: error: {KEY_VARIABLE} must be at least {MIN_KEY_LENGTH} characters"
        print(message, file=sys.stderr)
        return 2
    from devcapsules.services import plans

    try:  # the service caps runs with the same PLAN_* vars the Worker reads
        table = plans.from_vars(os.environ)
    except ValueError as exc:  # the message the Worker's settings build gives
        print(f"devcapsules: error: {exc}", file=sys.stderr)
        return 2
    if args.concurrency < 1 or (args.queue_depth is not None and args.queue_depth < 0):
        print(
            "devcapsules: error: --concurrency must be >= 1 and --queue-depth >= 0", file=sys.stderr
        )
        return 2
    from devcapsules.executor_service.app import ServiceConfig
    from devcapsules.executor_service.server import run

    config = ServiceConfig(
        api_key=key,
        concurrency=args.concurrency,
        queue_depth=args.queue_depth,
        log_level=args.log_level,
        warm_pool=os.environ.get("EXECUTOR_WARM_POOL"),
        plans=table,
    )
    run(config, args.host, args.port)
    return 0
