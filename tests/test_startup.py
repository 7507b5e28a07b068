"""Start-up the deploy snapshot keeps: what importing the Worker's entry module does.

src/entry.py runs `devcapsules.app.prepare()` at its top level (checked on its source:
`workers` only imports inside Pyodide, where tests/pyodide checks the call happens once
at import). Here, in a fresh interpreter, `prepare()` must import the route table, the
schemas and their pydantic models and compile the router, and must do no network or
subprocess I/O, write no file, draw no randomness and read none of the Worker's vars;
the settings-dependent rest is built by `builder(settings)` on the first event.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, os, random, secrets, sys, uuid

events = []

def audit(event, args):
    if event.startswith(("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn")):
        events.append(event)
    elif event == "open" and isinstance(args[1], str) and set(args[1]) & set("wax+"):
        events.append(f"open for writing: {args[0]}")

def drew(name):
    def refuse(*args, **kwargs):
        events.append(f"randomness: {name}")
        return original[name](*args, **kwargs)
    return refuse

original = {
    "os.urandom": os.urandom, "secrets.token_bytes": secrets.token_bytes,
    "random.random": random.random, "random.getrandbits": random.getrandbits,
    "uuid.uuid4": uuid.uuid4,
}
os.urandom = drew("os.urandom")
secrets.token_bytes = drew("secrets.token_bytes")
random.random = drew("random.random")
random.getrandbits = drew("random.getrandbits")
uuid.uuid4 = drew("uuid.uuid4")

class Environ(dict):
    read = set()
    def __getitem__(self, key):
        self.read.add(key); return super().__getitem__(key)
    def get(self, key, default=None):
        self.read.add(key); return super().get(key, default)
    def __contains__(self, key):
        self.read.add(key); return super().__contains__(key)

os.environ = Environ(os.environ)
sys.addaudithook(audit)

from devcapsules.app import prepare
builder = prepare()
imported = sorted(m for m in sys.modules if m.startswith(("devcapsules", "pydantic")))
during_prepare = list(events)

from devcapsules.settings import Settings
first = builder(Settings.from_vars({"ENVIRONMENT": "development"}))
second = builder(Settings.from_vars({
    "ENVIRONMENT": "staging", "JWT_SECRET": "x" * 40, "EXECUTOR_URL": "https://executor.test",
}))
print(json.dumps({
    "events": during_prepare,
    "environ_read": sorted(Environ.read),
    "imported": imported,
    "router_shared": first.router is second.router,
    "routes": len(first.router.routes),
    "environments": [first.settings.environment, second.settings.environment],
}))
"""

# Every var or secret the Worker reads (wrangler.toml [vars], secrets, executor vars).
WORKER_VARS = {
    "ENVIRONMENT",
    "ALLOWED_ORIGINS",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "JWT_SECRET",
    "APP_VERSION",
    "PBKDF2_ITERATIONS",
    "EXECUTOR_URL",
    "EXECUTOR_BACKEND_DEFAULT",
    "EXECUTOR_ROUTES",
    "AWS_EXECUTOR_API_KEY",
}


def run_probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        # No bytecode caches: writing them is the interpreter's business, not start-up I/O.
        env={
            "PYTHONPATH": str(ROOT / "src"),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_prepare_imports_routes_schemas_and_models_and_does_nothing_else():
    seen = run_probe()
    assert seen["events"] == [], seen["events"]  # no network, processes, writes, randomness
    assert not WORKER_VARS & set(seen["environ_read"]), seen["environ_read"]
    imported = set(seen["imported"])
    for module in (
        "devcapsules.routes.capsules",
        "devcapsules.routes.generate",
        "devcapsules.routes.execute",
        "devcapsules.schemas.capsules",
        "devcapsules.schemas.generation",
        "pydantic",
        "devcapsules.consumers",
    ):
        assert module in imported, module
    assert seen["routes"] > 10
    # The router was built once by prepare(); the builder only adds what settings decide.
    assert seen["router_shared"] is True
    assert seen["environments"] == ["development", "staging"]


def test_entry_prepares_the_app_at_import_time():
    """`ISOLATE = edge.Isolate(prepare())` at module level: inside the deploy snapshot."""
    tree = ast.parse((ROOT / "src" / "entry.py").read_text())
    top_level_calls = {
        node.func.id
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        for node in ast.walk(statement.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "prepare" in top_level_calls
    imports = {
        (statement.module, alias.name)
        for statement in tree.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }
    assert ("devcapsules.app", "prepare") in imports
