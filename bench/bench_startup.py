"""Start-up cost of the Worker's module graph: CPython, and Pyodide for what loads offline.

The Workers runtime imports src/entry.py at deploy time and snapshots the result:
`import devcapsules.app` and `prepare()` (routes, schemas, pydantic models, router) are
paid there, once; a cold isolate's first event pays only `builder(settings)` and its own
request. Run: `python bench/bench_startup.py`.

- CPython: fresh interpreters (no warm imports) timing each phase, median of N runs
  (the anchor is the import phase of the same run; the ratio is first event / import),
  plus the heaviest imports by `-X importtime`.
- Pyodide 0.28 (node): boot, `import workers` (the SDK) and `import devcapsules.edge`
  (our adapter). pydantic's compiled core is fetched from Pyodide's package index, so
  the app (and with it src/entry.py) cannot be imported offline; CPython is the proxy.
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import subprocess
import sys
from pathlib import Path

from devcapsules.bindings.miniflare import node_executable

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
PROBE = """
import asyncio, time
t0 = time.perf_counter()
import devcapsules.app
t1 = time.perf_counter()
builder = devcapsules.app.prepare()
t2 = time.perf_counter()
from devcapsules.bindings.env import Env
from devcapsules.http import Headers, Request
from devcapsules.settings import Settings
vars = {"ENVIRONMENT": "staging", "JWT_SECRET": "x" * 40, "EXECUTOR_URL": "https://e.test"}
app = builder(Settings.from_vars(vars))
t3 = time.perf_counter()
request = Request("GET", "https://api.test/api/v1/openapi.json", Headers(), b"", None)
asyncio.run(app.handle(request, Env()))
t4 = time.perf_counter()
print(*((b - a) * 1000 for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4))))
"""
PHASES = (
    "import devcapsules.app",
    "prepare() (routes, schemas)",
    "builder(settings)",
    "first request (openapi)",
)


def cpython_runs() -> list[list[float]]:
    """Per phase, one figure per fresh interpreter."""
    phases: list[list[float]] = [[] for _ in PHASES]
    for _ in range(RUNS):
        out = (
            subprocess.run(
                [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
            )
            .stdout.splitlines()[-1]
            .split()
        )  # the app's log lines come first
        for figures, value in zip(phases, out, strict=True):
            figures.append(float(value))
    return phases


def heaviest_imports(limit: int = 8) -> list[tuple[int, str]]:
    """The costliest imports directly under devcapsules.app (depth 1-2 of the tree)."""
    command = [sys.executable, "-X", "importtime", "-c", "import devcapsules.app"]
    err = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2][1:]  # one separator space, then two spaces per level
            depth = (len(name) - len(name.lstrip())) // 2
            if 1 <= depth <= 2:
                rows.append((int(parts[1]), name.strip()))
    return sorted(rows, reverse=True)[:limit]


def pyodide_figures() -> dict | None:
    if not (ROOT / "node_modules" / "pyodide").exists():
        return None
    dist = importlib.metadata.distribution("workers-runtime-sdk")
    sdk = Path(dist.locate_file("workers/__init__.py")).parent.parent
    done = subprocess.run(
        [node_executable() or "node", str(ROOT / "bench" / "pyodide_import.mjs"), str(sdk)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None


def main() -> None:
    medians = [statistics.median(figures) for figures in cpython_runs()]
    print(f"CPython {sys.version.split()[0]}, {RUNS} fresh interpreters (median ms)")
    for phase, median in zip(PHASES, medians, strict=True):
        print(f"  {phase:30} {median:7.1f} ms")
    snapshot, first_event = sum(medians[:2]), sum(medians[2:])
    print(f"  at import (the deploy snapshot keeps it)  {snapshot:7.1f} ms")
    print(f"  on a cold isolate's first event           {first_event:7.1f} ms")
    print(f"  ratio first event / import               {first_event / snapshot:7.2f}")
    print("  heaviest imports (cumulative, -X importtime):")
    for us, name in heaviest_imports():
        print(f"    {us / 1000:7.1f} ms  {name}")
    figures = pyodide_figures()
    if figures is None:
        print("Pyodide: skipped (node_modules/pyodide or the SDK is missing)")
        return
    print(f"Pyodide {figures['pyodide']} (node)")
    print(f"  interpreter boot         {figures['pyodide_boot_ms']:7.1f} ms")
    print(f"  import workers (SDK)     {figures['workers_sdk_ms']:7.1f} ms")
    print(f"  import devcapsules.edge  {figures['edge_after_sdk_ms']:7.1f} ms")
    print("  (the app itself needs pydantic-core's wasm: not loadable offline, see CPython)")
    print(f"  our modules loaded: {', '.join(figures['modules'])}")


if __name__ == "__main__":
    main()
