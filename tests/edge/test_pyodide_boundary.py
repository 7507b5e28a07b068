"""Rung 3 of the fidelity ladder: our Workers boundary code inside Pyodide 0.28.

One Node process (tests/pyodide/run_boundary.mjs) loads npm `pyodide` (the
interpreter workerd runs), the real `workers-runtime-sdk` from our venv, src/, and
Miniflare's D1/KV/Queue objects, runs every `case_*` of tests/pyodide/boundary_cases.py
and writes a JSON report; each case is one pytest test here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from devcapsules.bindings.miniflare import REPO_ROOT, node_executable
from tests.edge.conftest import fast_consumer_config

RUNNER = REPO_ROOT / "tests" / "pyodide" / "run_boundary.mjs"
CASES_FILE = REPO_ROOT / "tests" / "pyodide" / "boundary_cases.py"
SDK_DISTRIBUTION = "workers-runtime-sdk"


def case_names() -> list[str]:
    text = CASES_FILE.read_text()
    return sorted(
        line.split("(")[0].removeprefix("async def ")
        for line in text.splitlines()
        if line.startswith("async def case_")
    )


def sdk_dir() -> Path:
    """Where pip installed the vendored SDK (a dependency of workers-py, pinned in dev)."""
    dist = importlib.metadata.distribution(SDK_DISTRIBUTION)
    return Path(dist.locate_file("workers/__init__.py")).parent.parent


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (REPO_ROOT / "node_modules" / "pyodide" / "package.json").exists():
        pytest.skip("node_modules/pyodide is missing (run `npm ci`)")
    try:
        sdk = sdk_dir()
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{SDK_DISTRIBUTION} is not installed (make install)")
    work = tmp_path_factory.mktemp("pyodide")
    out = work / "report.json"
    command = [
        node_executable() or "node",
        str(RUNNER),
        "--sdk",
        str(sdk),
        "--state",
        str(work / "state"),
    ]
    command += ["--report", str(out), "--config", str(fast_consumer_config(work))]
    command += ["--site", sysconfig.get_paths()["purelib"]]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"boundary runner failed:\n{done.stdout}\n{done.stderr}"
    data = json.loads(out.read_text())
    data["by_name"] = {case["name"]: case for case in data["cases"]}
    return data


def test_runs_in_the_pinned_pyodide(report):
    package = json.loads((REPO_ROOT / "node_modules" / "pyodide" / "package.json").read_text())
    assert report["pyodide"] == package["version"]
    assert importlib.metadata.version(SDK_DISTRIBUTION) == "1.9.5"


@pytest.mark.parametrize("name", case_names())
def test_case(report, name):
    case = report["by_name"].get(name)
    assert case is not None, f"{name} did not run"
    assert case["ok"], case.get("error")


def test_web_crypto_pbkdf2_agrees_with_hashlib(report):
    expected = hashlib.pbkdf2_hmac("sha256", b"correct horse", b"NaCl-salt", 1000, 32)
    assert report["by_name"]["case_pbkdf2_web_crypto"]["value"] == expected.hex()
