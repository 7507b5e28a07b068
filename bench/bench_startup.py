"""Start-up cost of the Worker's module graph: CPython, and Pyodide for what loads offline.

The Workers runtime imports src/entry.py at deploy (snapshot) time and builds the app
on the first request; both must stay well under a second. Run: `python bench/bench_startup.py`.

- CPython: fresh interpreters (no warm imports) timing `import devcapsules.app` and
  `build_app(settings)`, median of N runs, plus the heaviest imports by `-X importtime`.
- Pyodide 0.28 (node): boot, `import workers` (the SDK) and `import entry` (our edge
  adapter). pydantic's compiled core is fetched from Pyodide's CDN, so the full app
  cannot be imported offline; its CPython figure is the proxy.
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
import time
t0 = time.perf_counter()
import devcapsules.app
from devcapsules.settings import Settings
t1 = time.perf_counter()
devcapsules.app.build_app(Settings.from_vars({"JWT_SECRET": "x" * 40}))
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def cpython_runs() -> tuple[list[float], list[float]]:
    imports, builds = [], []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        imports.append(float(out[0]))
        builds.append(float(out[1]))
    return imports, builds


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
    imports, builds = cpython_runs()
    print(f"CPython {sys.version.split()[0]}, {RUNS} fresh interpreters")
    print(f"  import devcapsules.app   median {statistics.median(imports):7.1f} ms")
    print(f"  build_app(settings)      median {statistics.median(builds):7.1f} ms")
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
    print(f"  import entry (edge)      {figures['entry_after_sdk_ms']:7.1f} ms")
    print(f"  our modules loaded: {', '.join(figures['modules'])}")


if __name__ == "__main__":
    main()
