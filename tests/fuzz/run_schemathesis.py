"""Fuzz the whole API with schemathesis over real HTTP, against the real local host.

    .venv/bin/python -m tests.fuzz.run_schemathesis [extra schemathesis args...]

Starts `devcapsules dev` on a fresh state directory, seeds a user, a session, capsules,
an API key and a generation job through the API (tests/fuzz/seed.py), then runs
`schemathesis run` over every operation in /api/v1/openapi.json with the settings in
tests/fuzz/schemathesis.toml: every check (schemathesis enables all of them by default;
`--checks all` would also override the config's per-operation settings). It does so in
two passes, each on a fresh server (see PASSES): the examples, coverage and fuzzing
phases, then the stateful phase. Exits non-zero on any finding.

The run is deterministic: a fixed seed and a bounded number of examples per operation
(schemathesis.toml), no time budget, one worker. The same cases are sent every run, and
the table printed at the end (valid cases per operation, how many the API accepted and
why it refused the others; tests/fuzz/tally.py) is the same from run to run.

One worker, because with several schemathesis runs Hypothesis in threads, and on
CPython 3.11.0-3.11.7 two threads building ASTs at once corrupt a per-interpreter
recursion counter (CPython gh-106905, fixed in 3.11.8): Hypothesis parses lambda sources
to describe strategies, and the run dies with "SystemError: AST constructor recursion
depth mismatch". One worker is also what makes the server see the same sequence of
requests, hence give the same answers, every run.

Knobs: FUZZ_REPORT_DIR (keep the JUnit reports and tallies there). Extra arguments go to
`schemathesis run` (e.g. `--include-tag auth`, `--max-examples 5`; with `--phases`, the
run is one pass of those phases).

The plan limits are lifted for the run (the fuzzer would otherwise spend it on 429s);
429 stays declared in the document, so a 429 would still conform.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz.acceptance import table
from tests.fuzz.seed import seed
from tests.support.server import ROOT, dev_server

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
UNLIMITED = {
    f"PLAN_FREE_{name}": "unlimited"
    for name in ("REQUESTS_PER_MINUTE", "REQUESTS_PER_DAY", "GENERATIONS_PER_DAY")
}


def schemathesis_command(base: str, report_dir: Path, extra: list[str]) -> list[str]:
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "--workers",
        "1",  # see the module docstring: determinism, and CPython gh-106905
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
        *extra,
    ]


# Each pass gets a fresh server. The stateful phase chains calls on what earlier
# responses returned, and after the other phases that is a state with random ids and
# background work (queued generation jobs, recorded analytics) whose order varies from run
# to run; on a freshly seeded server its scenarios are the same every run.
PASSES = ("examples,coverage,fuzzing", "stateful")


def main(argv: list[str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="devcapsules-fuzz-") as tmp:
        # CI may keep the reports as artifacts; locally they go with the tmp dir.
        report = Path(os.environ.get("FUZZ_REPORT_DIR", Path(tmp) / "report"))
        # Phases chosen on the command line (`--phases fuzzing`) run as one pass.
        passes = [[]] if "--phases" in argv else [["--phases", phases] for phases in PASSES]
        codes, rows = [], []
        for number, phases in enumerate(passes):
            work, out = Path(tmp) / f"pass-{number}", report / f"pass-{number}"
            code, tally = run_pass(work, out, [*phases, *argv])
            codes.append(code)
            rows.extend(tally)
    print(table(rows))
    print(f"schemathesis exit codes {codes} in {time.monotonic() - started:.0f} s")
    return max(codes)


def run_pass(work: Path, report: Path, args: list[str]) -> tuple[int, list]:
    """One schemathesis run against a fresh, freshly seeded local host."""
    work.mkdir(parents=True)
    report.mkdir(parents=True, exist_ok=True)
    tally = report / "tally.json"
    with dev_server(work / "state", UNLIMITED) as base:
        env = {
            **os.environ,
            # Hypothesis would otherwise leave its caches in the repository.
            "HYPOTHESIS_STORAGE_DIRECTORY": str(work / "hypothesis"),
            "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
            "FUZZ_TALLY": str(tally),
            **seed(base),
        }
        command = schemathesis_command(base, report, args)
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    return code, json.loads(tally.read_text()) if tally.exists() else []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
