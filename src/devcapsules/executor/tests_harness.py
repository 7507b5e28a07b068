"""`run_tests()`: all test cases of a submission in ONE sandbox run (compile once, run N).

Two kinds of test case (one kind per request):
- function tests (Python, JavaScript): `{"input": [positional args], "expected": any JSON,
  "description"?, "hidden"?}`. A per-language harness (harness/*_harness.*) loads the user's
  code once and calls the function once per input.
- I/O tests (every language): `{"stdin": "...", "expectedOutput": "...", ...}`. The
  in-sandbox launcher runs the program once per stdin, each capture kept apart.

Why results cannot be forged: the sandbox only *reports* what the code returned or printed,
on a channel separate from stdout (fd 3 for harnesses, the launcher's private fd for I/O
runs), and user output is captured per test. Comparison with the expected values happens
here, outside the sandbox (rules in `matching`), and expected values never enter the
sandbox at all. In-process user code can always tamper with its own harness, so the worst
a forger achieves is reporting return values of its choosing: no more than hard-coding
answers, and useless for hidden tests whose expectations it never sees. Records are
validated (known index, first one wins); tests without a record fail.

Hidden tests: their inputs necessarily enter the sandbox (the code must run on them), so
they are not secret from determined code; their expected values are. Results of hidden
tests carry no expected value, actual value, output or error detail.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from devcapsules.matching import coarse_error, json_equal, output_equal, shown_result
from devcapsules.services.plans import RunLimits

from . import returned, sandbox, warm
from .languages import Language, resolve
from .limits import DEFAULT_LIMITS, Limits
from .runner import admit, classify, compile_source, workspace
from .sandbox import SandboxResult, SandboxUnavailable

log = logging.getLogger(__name__)

# language -> argv(language, memory_mb) of its function-test harness
FUNCTION_HARNESSES = {
    "python": lambda lang, mb: [lang.run_cmd[0], "-I", sandbox.support_path("python_harness.py")],
    "javascript": lambda lang, mb: [
        lang.run_cmd[0],
        f"--max-old-space-size={mb}",
        sandbox.support_path("js_harness.js"),
    ],
}
_MISSING = object()


class InvalidTestCases(ValueError):
    """Malformed test cases, or a kind the language does not support (HTTP: 422)."""


@dataclass(frozen=True)
class TestCase:
    kind: str  # "function" or "io"
    args: list | None = None
    stdin: str = ""
    expected: Any = None
    hidden: bool = False
    description: str | None = None


@dataclass
class TestCaseResult:
    passed: bool
    actual: Any = None
    expected: Any = None
    error: str | None = None
    time_ms: int = 0
    stdout: str = ""
    stderr: str = ""
    hidden: bool = False
    description: str | None = None

    def as_dict(self) -> dict:
        """The public shape (`matching.shown_result`: a hidden test's is reduced)."""
        full = {
            "passed": self.passed,
            "actual": self.actual,
            "expected": self.expected,
            "error": self.error,
            "timeMs": self.time_ms,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "description": self.description,
        }
        return shown_result(full, self.hidden)


@dataclass
class TestRunResult:
    status: str  # passed, failed, error, compile_error, or an execution status
    passed: int
    total: int
    tests: list[TestCaseResult] = field(default_factory=list)
    compile_output: str = ""
    error: str | None = None  # why the run as a whole failed (load error, deadline...)
    time_ms: int = 0
    memory_kb: int = 0
    language: str = ""
    version: str = ""


def parse_test_cases(raw: list[dict], limits: Limits = DEFAULT_LIMITS) -> list[TestCase]:
    if not isinstance(raw, list) or not raw:
        raise InvalidTestCases("testCases must be a non-empty list")
    if len(raw) > limits.max_test_cases:
        raise InvalidTestCases(f"at most {limits.max_test_cases} test cases per run")
    cases = [_parse_one(i, item) for i, item in enumerate(raw)]
    if len({case.kind for case in cases}) > 1:
        raise InvalidTestCases(
            "mix of function tests (input/expected) and I/O tests (stdin/expectedOutput) in one run"
        )
    return cases


def _parse_one(index: int, item: Any) -> TestCase:
    if not isinstance(item, dict):
        raise InvalidTestCases(f"testCases[{index}] must be an object")
    common = {"hidden": bool(item.get("hidden", False)), "description": item.get("description")}
    if "expectedOutput" in item:
        stdin = item.get("stdin", "")
        if not isinstance(stdin, str) or not isinstance(item["expectedOutput"], str):
            raise InvalidTestCases(f"testCases[{index}]: stdin/expectedOutput must be strings")
        return TestCase("io", stdin=stdin, expected=item["expectedOutput"], **common)
    if "input" in item and "expected" in item:
        args = item["input"]
        if not isinstance(args, list):
            raise InvalidTestCases(f"testCases[{index}].input must be a list of arguments")
        return TestCase("function", args=args, expected=item["expected"], **common)
    raise InvalidTestCases(f"testCases[{index}] needs input+expected or stdin+expectedOutput")


async def run_tests(
    user_code: str,
    test_cases: list[dict],
    language: str,
    function_name: str | None = None,
    *,
    time_limit_s: float | None = None,
    memory_limit_mb: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    run: RunLimits | None = None,
) -> TestRunResult:
    """Run every test case in one sandbox. `time_limit_s` applies to each test case; the
    run as a whole gets `time_limit_s * N + 2 s`, at most `limits.max_test_run_s`.
    Raises UnknownLanguage, InvalidTestCases, SourceTooLarge (client errors) and
    SandboxUnavailable (503); other failures become status internal_error."""
    lang = resolve(language)
    limits, admitted = admit(limits, run, time_limit_s, memory_limit_mb, user_code)
    cases = parse_test_cases(test_cases, limits)
    if cases[0].kind == "function" and lang.name not in FUNCTION_HARNESSES:
        raise InvalidTestCases(
            f"function tests are supported for "
            f"{', '.join(FUNCTION_HARNESSES)}; use stdin/expectedOutput"
        )
    time_s, memory_mb = admitted.time_limit_s, admitted.memory_limit_mb
    try:
        return await _run(lang, user_code, cases, function_name, time_s, memory_mb, limits)
    except SandboxUnavailable:
        raise
    except Exception:
        log.exception("test run failed inside the executor")
        return TestRunResult(
            "internal_error", 0, len(cases), language=lang.name, version=lang.version
        )


async def _run(
    lang: Language,
    code: str,
    cases: list[TestCase],
    function_name: str | None,
    time_s: float,
    memory_mb: int,
    limits: Limits,
) -> TestRunResult:
    files = {lang.source_file: code, **_input_files(cases, function_name, lang, time_s)}
    if cases[0].kind == "function":
        harness = FUNCTION_HARNESSES[lang.name](lang, memory_mb)[-1]  # its script
        with warm.taken(lang, limits, harness) as ready:
            if ready is not None:
                return await _function_run_warm(
                    ready, lang, files, cases, time_s, memory_mb, limits
                )
    with workspace(files) as workdir:
        compiled = await compile_source(lang, workdir, limits)
        if not compiled.ok:
            return TestRunResult(
                "compile_error",
                0,
                len(cases),
                compile_output=compiled.output,
                language=lang.name,
                version=lang.version,
            )
        box_limits = _box_limits(lang, cases, time_s, memory_mb, limits)
        if cases[0].kind == "function":
            argv = [*FUNCTION_HARNESSES[lang.name](lang, memory_mb), "tests.json"]
            run = await sandbox.run_sandboxed(
                argv, workdir=workdir, limits=box_limits, mounts=lang.mounts, results_channel=True
            )
            result = _function_results(run, cases, time_s, memory_mb)
        else:
            run = await sandbox.run_sandboxed(
                lang.run_argv(memory_mb),
                workdir=workdir,
                limits=box_limits,
                mounts=lang.mounts,
                runs=[f"tests/{i}.in" for i in range(len(cases))],
            )
            result = _io_results(run, cases, time_s, memory_mb)
    result.compile_output, result.language, result.version = (
        compiled.output,
        lang.name,
        lang.version,
    )
    result.time_ms, result.memory_kb = run.wall_ms, run.max_rss_kb
    return result


async def _function_run_warm(
    ready: warm.WarmSandbox,
    lang: Language,
    files: dict[str, str],
    cases: list[TestCase],
    time_s: float,
    memory_mb: int,
    limits: Limits,
) -> TestRunResult:
    """Function tests of an interpreted language in a pre-started sandbox (warm.py): the
    same harness, files, limits and results channel as the cold run below."""
    box_limits = _box_limits(lang, cases, time_s, memory_mb, limits)
    argv = [*FUNCTION_HARNESSES[lang.name](lang, memory_mb), "tests.json"]
    run = await ready.run(files, argv, b"", box_limits, results_channel=True)
    result = _function_results(run, cases, time_s, memory_mb)
    result.language, result.version = lang.name, lang.version
    result.time_ms, result.memory_kb = run.wall_ms, run.max_rss_kb
    return result


def _input_files(
    cases: list[TestCase], function_name: str | None, lang: Language, time_s: float
) -> dict[str, str]:
    # Only inputs go in: expected values stay on this side of the sandbox wall.
    if cases[0].kind == "io":
        return {f"tests/{i}.in": case.stdin for i, case in enumerate(cases)}
    return {"tests.json": json.dumps(_function_config(cases, function_name, lang, time_s))}


def _function_config(
    cases: list[TestCase], function_name: str | None, lang: Language, time_s: float
) -> dict:
    """The function-test harness's tests.json (inputs only)."""
    return {
        "source": lang.source_file,
        "function": function_name,
        "timeout_s": time_s,
        "inputs": [case.args for case in cases],
    }


def _box_limits(
    lang: Language, cases: list[TestCase], time_s: float, memory_mb: int, limits: Limits
) -> sandbox.SandboxLimits:
    n = len(cases)
    total = limits.suite_wall_s(time_s, n)
    # A harness process runs every test, so its CPU budget is the run's; an I/O run is
    # one process per test, each with the per-test budget.
    cpu = total if cases[0].kind == "function" else time_s
    base = limits.sandbox(
        time_limit_s=time_s,
        address_space_mb=lang.address_space_mb(memory_mb),
        memory_mb=memory_mb,
        wall_time_s=total,
        cpu_time_s=cpu,
    )
    # The channel carries every test's captured output, JSON-escaped.
    channel = min(64 * 1024 * 1024, n * 4 * limits.max_output_bytes + 1024 * 1024)
    return dataclasses.replace(base, per_run_wall_s=time_s * 1.5 + 1.0, max_channel_bytes=channel)


def _function_results(
    run: SandboxResult, cases: list[TestCase], time_s: float, memory_mb: int
) -> TestRunResult:
    setup, records = _parse_records(run.results, len(cases))
    if setup is not None and setup.get("error"):
        hidden = any(case.hidden for case in cases)
        error = "could not load the code" if hidden else str(setup["error"])
        results = [_result(case, False, error=error) for case in cases]
        return TestRunResult("error", 0, len(cases), results, error=error)
    results = []
    for index, case in enumerate(cases):
        record = records.get(index)
        if record is None:
            results.append(_result(case, False, error=None))
            continue
        actual, error = _decode_actual(record)
        passed = error is None and json_equal(actual, case.expected)
        results.append(_result(case, passed, actual=actual, error=error, record=record))
    return _summarise(results, records, cases, run, time_s, memory_mb)


def _io_results(
    run: SandboxResult, cases: list[TestCase], time_s: float, memory_mb: int
) -> TestRunResult:
    records = {r["index"]: r for r in run.reports if isinstance(r.get("index"), int)}
    results = []
    for index, case in enumerate(cases):
        record = records.get(index)
        if record is None:
            results.append(_result(case, False, error=None))
            continue
        error = _io_error(record, time_s, memory_mb, run)
        actual = str(record.get("stdout", ""))
        passed = error is None and output_equal(actual, case.expected)
        results.append(_result(case, passed, actual=actual, error=error, record=record))
    return _summarise(results, records, cases, run, time_s, memory_mb)


def _io_error(record: dict, time_s: float, memory_mb: int, whole: SandboxResult) -> str | None:
    # The cgroup spans every run; a run SIGKILLed (not by its deadline) in a run set that
    # saw an OOM kill is the one the kernel killed.
    view = SandboxResult(
        stdout="",
        stderr=str(record.get("stderr", "")),
        exit_code=record.get("exit_code"),
        signal=record.get("signal"),
        timed_out=bool(record.get("timed_out")),
        output_limit_exceeded=bool(record.get("stdout_truncated")),
        stdout_truncated=False,
        stderr_truncated=False,
        wall_ms=0,
        cpu_ms=int(record.get("cpu_ms") or 0),
        max_rss_kb=int(record.get("max_rss_kb") or 0),
        memory_exceeded=whole.memory_exceeded
        and record.get("signal") == signal.SIGKILL
        and not record.get("timed_out"),
        memory_counted=whole.memory_counted,
    )
    status = classify(view, time_s, memory_mb)
    if status == "ok":
        return None
    if status == "runtime_error":
        detail = (
            f"signal {view.signal}" if view.signal is not None else f"exit code {view.exit_code}"
        )
        return f"runtime error ({detail})"
    return status.replace("_", " ")


def _parse_records(data: bytes, n: int) -> tuple[dict | None, dict[int, dict]]:
    """Harness lines -> (setup record, {index: record}); anything malformed is ignored."""
    setup, records = None, {}
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # user code can write fd 3 itself
            continue
        if not isinstance(record, dict):
            continue
        if record.get("setup") is True and setup is None:
            setup = record
        index = record.get("index")
        if type(index) is int and 0 <= index < n and index not in records:
            records[index] = record
    return setup, records


def _decode_actual(record: dict) -> tuple[Any, str | None]:
    if record.get("error") is not None:
        return None, str(record["error"])
    try:
        return returned.decode(record.get("actual_json") or "null"), None
    except returned.Unreadable as exc:
        return None, str(exc)


def _result(
    case: TestCase,
    passed: bool,
    *,
    actual: Any = _MISSING,
    error: str | None,
    record: dict | None = None,
) -> TestCaseResult:
    record = record or {}
    if case.hidden and error is not None:
        error = coarse_error(error)
    return TestCaseResult(
        passed=passed,
        actual=None if actual is _MISSING else actual,
        expected=case.expected,
        error=error,
        time_ms=int(record.get("time_ms") or 0),
        stdout=str(record.get("stdout", ""))[:16384],
        stderr=str(record.get("stderr", ""))[:16384],
        hidden=case.hidden,
        description=case.description,
    )


def _summarise(
    results: list[TestCaseResult],
    records: dict,
    cases: list[TestCase],
    run: SandboxResult,
    time_s: float,
    memory_mb: int,
) -> TestRunResult:
    passed = sum(r.passed for r in results)
    if len(records) == len(cases):
        status = "passed" if passed == len(cases) else "failed"
        return TestRunResult(status, passed, len(cases), results)
    # The sandbox ended before every test reported: say why, on the run and each test.
    status = classify(run, float("inf"), memory_mb)
    if run.timed_out:
        status = "time_limit_exceeded"
    elif status == "ok":
        status = "runtime_error"
    reason = f"{status.replace('_', ' ')}: the run ended before this test completed"
    for index, result in enumerate(results):
        if index not in records:
            result.error = coarse_error(reason) if result.hidden else reason
    return TestRunResult(status, passed, len(cases), results, error=reason)
