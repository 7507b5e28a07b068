"""run_tests_batch(): several test runs in one sandbox, each as if it ran on its own."""

from __future__ import annotations

import pytest

from devcapsules.executor import InvalidTestCases, SuiteRun, run_tests, run_tests_batch

from .conftest import processes_with, require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]

CASES = [{"input": [1], "expected": 2}, {"input": [2], "expected": 3, "hidden": True}]
GOOD = "def f(x):\n    return x + 1\n"


@pytest.fixture(autouse=True)
def python():
    require_language("python")


def view(result) -> tuple:
    """What a caller reads of a run: the verdict and each test's outcome."""
    tests = [(t.passed, t.actual, t.error, t.hidden) for t in result.tests]
    return (result.status, result.passed, result.total, result.error, tests)


def batch(codes: list[str], cases=CASES, **limits) -> list:
    runs = [SuiteRun(code, cases) for code in codes]
    return run(run_tests_batch(runs, "python", **limits))


def test_each_run_gets_the_verdict_it_gets_on_its_own():
    codes = [
        GOOD,
        "def f(x):\n    return x\n",  # wrong answers
        "def f(x):\n    while True:\n        pass\n",  # every call times out
        "raise RuntimeError('at load')\n",  # the module does not load
        "import os\ndef f(x):\n    os._exit(3)\n",  # the process dies mid-run
        "def f(x):\n    return {1, 2}\n",  # not JSON-serialisable
        GOOD,
    ]
    together = batch(codes, time_limit_s=1)
    alone = [run(run_tests(code, CASES, "python", time_limit_s=1)) for code in codes]
    assert [view(r) for r in together] == [view(r) for r in alone]
    assert [r.status for r in together] == [
        "passed",
        "failed",
        "failed",
        "error",
        "runtime_error",
        "failed",
        "passed",
    ]


# The function-test harness's module, seen from a test: the name its code runs under.
HARNESS_MODULE = (
    "import sys\n"
    "def f(x):\n"
    "    frame = sys._getframe(1)\n"
    "    while frame.f_code.co_name != 'run_one':\n"
    "        frame = frame.f_back\n"
    "    return frame.f_globals['__name__']\n"
)


def test_the_harness_module_is_loaded_once_per_batch_not_in_every_run():
    # Its imports and definitions ran in the batch harness before the first fork (each
    # run's process calls its main() on its own copy), not again in every run's process.
    together = batch([HARNESS_MODULE, HARNESS_MODULE])
    assert [[t.actual for t in r.tests] for r in together] == [["__batch_support__"] * 2] * 2
    alone = run(run_tests(HARNESS_MODULE, CASES, "python"))
    assert [t.actual for t in alone.tests] == ["__main__"] * 2  # a run of its own


def test_each_run_gets_its_own_tests_with_one_spec_file_for_the_batch():
    # The runs' configs travel in batch.json (one file for the batch): no run's tests.json
    # is written, and each run still calls its own function on its own inputs.
    listing = (
        "import os\ndef f(x):\n    return sorted(n for n in os.listdir('.') if 'tests' in n)\n"
    )
    runs = [
        SuiteRun(GOOD, CASES),
        SuiteRun(
            "def g(x):\n    return x * 2\n\ndef h():\n    pass\n",
            [{"input": [5], "expected": 10}],
            "g",
        ),
        SuiteRun(listing, [{"input": [0], "expected": []}]),
    ]
    results = run(run_tests_batch(runs, "python"))
    assert [(r.status, r.passed, r.total) for r in results] == [
        ("passed", 2, 2),
        ("passed", 1, 1),
        ("passed", 1, 1),
    ], [r.tests[0].actual for r in results]


def test_a_run_sees_nothing_a_previous_run_left():
    marker = "dctbatch-leftover-5c2a"
    leave = (
        "import subprocess\n"
        "open('/tmp/left', 'w').write('x')\n"
        f"command = ['/bin/sh', '-c', 'exec -a {marker} sleep 60']\n"
        "subprocess.Popen(command, start_new_session=True)\n"
        "SEEN = 1\n"
        "def f(x):\n    return x + 1\n"
    )
    look = (  # /proc/1 (bwrap's reaper) is an empty directory: no cmdline to read
        "import os, sys\n"
        "def f(x):\n"
        "    others = [p for p in os.listdir('/proc') if p.isdigit() and p != '1'\n"
        f"              and '{marker}' in open(f'/proc/{{p}}/cmdline').read()]\n"
        "    kept = 'SEEN' in dir(sys.modules.get('solution'))\n"
        "    leftovers = os.path.exists('/tmp/left') or others or kept\n"
        "    return x + 1 if not leftovers else -1\n"
    )
    assert [r.status for r in batch([leave, look])] == ["passed", "passed"]
    assert processes_with(marker) == []


def test_a_run_leaves_nothing_anywhere_writable_or_in_ipc():
    from .test_batch import LEAVE_EVERYWHERE, LOOK_EVERYWHERE

    def suite(body: str) -> str:
        return body + "def f(x):\n    return x + 1\n"

    # All but /tmp's mode: the function-test harness captures output in /tmp (alone too).
    leave = LEAVE_EVERYWHERE.replace("os.chmod('/tmp', 0o500)\n", "")
    results = batch([suite(leave), suite(LOOK_EVERYWHERE), GOOD])
    assert [r.status for r in results] == ["passed"] * 3, [r.error for r in results]


def test_a_run_cannot_write_another_runs_results():
    forge = (
        "import os, json\n"
        "record = {'index': 0, 'actual_json': '2', 'error': None, 'stdout': '', 'stderr': ''}\n"
        "for path in (f'/proc/{os.getppid()}/fd/3', '/proc/self/fd/3'):\n"
        "    try:\n"
        "        with open(path, 'a') as f:\n"
        "            f.write(json.dumps({'index': 1, 'results': json.dumps(record)}) + '\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "def f(x):\n    return x + 1\n"
    )
    first, second = batch([forge, "def f(x):\n    return 0\n"])
    assert first.status == "passed"
    assert (second.status, second.passed) == ("failed", 0)


def test_time_and_memory_limits_apply_to_each_run_not_to_the_batch():
    # Each run holds most of its memory limit: alone that is fine, so in a batch it must
    # be too (runs take turns, nothing accumulates); a run above the limit fails alone.
    hold = "def f(x):\n    block = bytearray(80 * 1024 * 1024)\n    return x + 1 + block[0]\n"
    hog = "def f(x):\n    block = bytearray(400 * 1024 * 1024)\n    return x + 1 + block[0]\n"
    cases = [{"input": [1], "expected": 2}]
    results = batch([hold, hold, hog, hold], cases, memory_limit_mb=128)
    assert [r.status for r in results] == ["passed", "passed", "failed", "passed"]
    assert "memory" in results[2].tests[0].error.lower()
    # CPU: every run is a fresh process with its own CPU limit (the run's budget, as on
    # its own), its count starting at zero whatever the runs before it spent.
    spend = (
        "import resource, time\n"
        "def f(x):\n"
        "    used = time.process_time()\n"
        "    end = used + 0.2\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "    return [resource.getrlimit(resource.RLIMIT_CPU)[0], used < 0.2]\n"
    )
    one = [{"input": [1], "expected": None}]
    spent = batch([spend] * 3, one, time_limit_s=5)
    alone = run(run_tests(spend, one, "python", time_limit_s=5))
    assert alone.tests[0].actual == [7, True]  # the run's wall: 5 s x 1 test + 2 s
    assert [result.tests[0].actual for result in spent] == [[7, True]] * 3
    # The deadline: a run that never returns is stopped at its own limit, the next runs.
    looping = "def f(x):\n    while True:\n        pass\n"
    late = batch([looping, GOOD], cases, time_limit_s=1)
    assert late[0].tests[0].error == "time limit exceeded" and late[1].status == "passed"


def test_only_python_function_tests_are_batched():
    io = [SuiteRun("print(input())", [{"stdin": "a", "expectedOutput": "a"}])] * 2
    with pytest.raises(InvalidTestCases):
        run(run_tests_batch(io, "python"))
    with pytest.raises(InvalidTestCases):
        run(run_tests_batch([], "python"))


def test_a_batch_takes_one_warm_sandbox_when_the_pool_has_one(pool_mode):
    taken = pool_mode.taken["python"] if pool_mode is not None else 0
    assert [r.status for r in batch([GOOD, GOOD, GOOD])] == ["passed"] * 3
    if pool_mode is not None:
        assert pool_mode.taken["python"] == taken + 1


def test_a_failing_test_imports_nothing_in_its_run():
    # What formatting its error needs (traceback, and the ast it loads for the carets
    # under `1 / x`) was loaded once in the batch harness, not in each failing run.
    code = (
        "import sys\n"
        "BEFORE = set(sys.modules)\n"
        "def f(x):\n"
        "    if x == 0:\n"
        "        return 1 / x\n"
        "    return sorted(set(sys.modules) - BEFORE)\n"
    )
    cases = [{"input": [0], "expected": 0}, {"input": [1], "expected": []}]
    for result in batch([code, code], cases):
        failed, imported = result.tests
        assert failed.error.endswith("ZeroDivisionError: division by zero"), failed.error
        assert "^^^" in failed.error  # the carets ast gives
        assert imported.passed, imported.actual


def test_output_capture_in_a_batch_run_is_as_in_a_run_of_its_own():
    from .test_tests_harness import MOVING_CASES, MOVING_OUTPUT, moving_output_seen

    together = batch([MOVING_OUTPUT, GOOD, MOVING_OUTPUT], MOVING_CASES)
    alone = run(run_tests(MOVING_OUTPUT, MOVING_CASES, "python"))
    assert moving_output_seen(together[0]) == moving_output_seen(alone)
    assert moving_output_seen(together[2]) == moving_output_seen(alone)
    first, _, _, last = (t.actual for t in together[0].tests)
    assert first == last and first is not None  # its own fd 1, one file for every test


def test_a_prepared_warm_test_batch_imports_nothing_after_hand_over():
    """A warm sandbox prepared for batches has the function-test harness's preload
    (traceback, ast, ...) loaded before its run: a test batch's start loads nothing."""
    from devcapsules.executor import warm

    from .test_warm_pool import IMPORTED_AFTER_HAND_OVER

    made = warm.configure({"python": 1})  # one plain sandbox: nothing asked for batches yet
    try:
        cases = [{"input": [True], "expected": None}, {"input": [False], "expected": []}]
        batch([GOOD, GOOD])  # takes the plain one (still warm); the mix shifts to batches
        made.fill_and_wait()
        (idle,) = made._idle["python"]
        assert idle.shape.prepared and idle.shape.prepared.endswith("batch_python.py")
        runs = [SuiteRun(IMPORTED_AFTER_HAND_OVER, cases, function_name="imported")] * 2
        for result in run(run_tests_batch(runs, "python")):
            failed, imported = result.tests
            assert failed.error.endswith("ZeroDivisionError: division by zero"), failed.error
            assert imported.passed, imported.actual
        assert made.taken["python"] == 2 and idle.proc.returncode is not None
    finally:
        warm.configure({})
