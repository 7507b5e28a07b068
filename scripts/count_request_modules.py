"""How many of the application's own modules run code while serving one request.

Issue 16 measures the request path this way: `POST /api/v1/execute/tests` with an API key
(inline tests and a capsule's own suite), counting the modules under `src/devcapsules/`
whose functions are called while the request is handled — bindings (`bindings/`), the
hosts (`local/`, `edge.py`) and the sandbox (`executor/`) are not counted. Code the
sandbox library calls is the sandbox's work wherever its file lives: a call made from
inside `executor/` (on the local host, `matching.py`, the comparison the sandbox's test
harness makes; it lives outside `executor/` only because the Worker's Piston backend
compares too, and the Worker cannot import the sandbox) is not counted either. The
request is served once to warm up (imports and first-use caches), then traced on every
thread.

    .venv/bin/python scripts/count_request_modules.py [--list]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

PACKAGE = ROOT / "src" / "devcapsules"
NOT_COUNTED = ("bindings/", "local/", "executor/", "edge.py")
SANDBOX = PACKAGE / "executor"
VARS = {
    "ENVIRONMENT": "development",
    "JWT_SECRET": "count-modules-" + "x" * 40,
    "PBKDF2_ITERATIONS": "1000",
}


def module_of(filename: str) -> str | None:
    try:
        relative = Path(filename).resolve().relative_to(PACKAGE).as_posix()
    except ValueError:
        return None
    if relative.startswith(NOT_COUNTED):
        return None
    return relative


def called_by_sandbox(frame) -> bool:
    """Whether the sandbox library (`executor/`) is among this call's callers."""
    caller = frame.f_back
    while caller is not None:
        if Path(caller.f_code.co_filename).resolve().is_relative_to(SANDBOX):
            return True
        caller = caller.f_back
    return False


class ModuleTrace:
    """Collects the counted modules of every Python call made while active."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.sandbox_called: set[str] = set()  # run only by the sandbox library: not counted

    def profile(self, frame, event, _arg):
        if event == "call":
            module = module_of(frame.f_code.co_filename)
            # Only a module not yet seen pays for the walk up its callers.
            fresh = module is not None and module not in self.modules
            if fresh and not called_by_sandbox(frame):
                self.modules.add(module)
            elif fresh:
                self.sandbox_called.add(module)

    def __enter__(self) -> ModuleTrace:
        threading.setprofile(self.profile)
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *_exc: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def measure() -> dict[str, ModuleTrace]:
    """{request name: its trace} for the two forms of `POST /execute/tests` with a key."""
    from devcapsules.app import build_app
    from devcapsules.settings import Settings
    from tests.conftest import Client
    from tests.execution.support import ADD, make_capsule
    from tests.support.auth import create_api_key, key_headers, register
    from tests.support.bindings import open_sqlite_env

    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as state, open_sqlite_env(Path(state), VARS) as env:
        client = Client(build_app(Settings.from_vars(env.vars)), env, loop)
        account = register(client)
        headers = key_headers(create_api_key(client, account, ["execute"]))
        capsule_id = make_capsule(client, account.id)
        bodies = {
            "inline tests": ADD,
            "capsule suite": {"capsuleId": capsule_id, "userCode": ADD["userCode"]},
        }
        found = {}
        for name, body in bodies.items():
            _serve(client, body, headers)  # warm-up: imports, compiled patterns, caches
            with ModuleTrace() as trace:
                _serve(client, body, headers)
            trace.sandbox_called -= trace.modules
            found[name] = trace
    loop.close()
    return found


def _serve(client, body, headers) -> None:
    response = client.post("/api/v1/execute/tests", json=body, headers=headers)
    assert response.status == 200, response.body
    client.settle()  # the execution record and analytics written through wait_until


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the modules too")
    args = parser.parse_args()
    for name, trace in measure().items():
        print(f"POST /execute/tests ({name}), API key: {len(trace.modules)} modules")
        if args.list:
            for module in sorted(trace.modules):
                print(f"  {module}")
            for module in sorted(trace.sandbox_called):
                print(f"  ({module}: called by the sandbox only, not counted)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
