import json

import pytest

from devcapsules.executor.tests_harness import InvalidTestCases, run_tests

from .conftest import require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]

ADD_TESTS = [{"input": [1, 2], "expected": 3}, {"input": [-1, 1], "expected": 0}]


def test_seed_add_passes():
    result = run(run_tests("def add(a, b): return a + b", ADD_TESTS, "python", "add"))
    assert (result.status, result.passed, result.total) == ("passed", 2, 2)
    assert [t.actual for t in result.tests] == [3, 0]


def test_failures_show_actual_and_expected():
    result = run(run_tests("def add(a, b): return a - b", ADD_TESTS, "python", "add"))
    assert (result.status, result.passed) == ("failed", 0)
    assert result.tests[0].as_dict()["actual"] == -1
    assert result.tests[0].as_dict()["expected"] == 3


def test_twenty_cases_run_in_one_process():
    # The counter proves one process (one sandbox) served every case, in order.
    code = "calls = []\ndef f(x):\n    calls.append(x)\n    return len(calls)"
    cases = [{"input": [i], "expected": i + 1} for i in range(20)]
    result = run(run_tests(code, cases, "python", "f"))
    assert (result.status, result.passed, result.total) == ("passed", 20, 20)


def test_an_exception_fails_one_case_and_the_rest_still_run():
    code = "def f(x):\n    if x == 0: raise ValueError('boom')\n    return x"
    cases = [{"input": [0], "expected": 0}, {"input": [5], "expected": 5}]
    result = run(run_tests(code, cases, "python", "f"))
    assert result.status == "failed"
    assert "ValueError: boom" in result.tests[0].error
    assert result.tests[1].passed


def test_per_test_output_is_captured_separately():
    code = "import os\ndef f(x):\n    print('py', x)\n    os.write(1, b'raw\\n')\n    return x"
    cases = [{"input": [1], "expected": 1}, {"input": [2], "expected": 2}]
    result = run(run_tests(code, cases, "python", "f"))
    assert result.status == "passed"
    # Python buffers print() and not os.write(), so only the contents are fixed, not order.
    assert [sorted(t.stdout.splitlines()) for t in result.tests] == [
        ["py 1", "raw"],
        ["py 2", "raw"],
    ]


def test_non_json_return_values_are_errors():
    result = run(
        run_tests("def f(): return {1, 2}", [{"input": [], "expected": [1, 2]}], "python", "f")
    )
    assert "not JSON-serialisable" in result.tests[0].error


def test_load_errors_and_missing_functions():
    syntax = run(run_tests("def add(a, b) return", ADD_TESTS, "python", "add"))
    assert syntax.status == "error" and "SyntaxError" in syntax.error
    missing = run(run_tests("def plus(a, b): return a + b", ADD_TESTS, "python", "add"))
    assert missing.status == "error" and "'add'" in missing.error
    inferred = run(run_tests("def plus(a, b): return a + b", ADD_TESTS, "python"))
    assert inferred.status == "passed"


def test_hidden_expectations_never_enter_the_sandbox():
    # The code returns everything it can see: the files beside it and its arguments.
    code = (
        "import os\n"
        "def f(x):\n"
        "    seen = [open(n).read() for n in os.listdir('.') if os.path.isfile(n)]\n"
        "    return [x, seen]\n"
    )
    secret = "expected-value-7f3a91"
    cases = [
        {"input": [1], "expected": "whatever"},
        {"input": [2], "expected": secret, "hidden": True},
    ]
    result = run(run_tests(code, cases, "python", "f"))
    assert secret not in json.dumps(result.tests[0].actual)
    assert "expected" not in result.tests[1].as_dict()
    assert "actual" not in result.tests[1].as_dict()
    assert not result.tests[1].passed


def test_javascript_function_tests_sync_and_async():
    code = (
        "function add(a, b) { console.log('adding'); return a + b }\n"
        "const later = async (x) => x * 2;"
    )
    result = run(run_tests(code, ADD_TESTS, "javascript", "add"))
    assert (result.status, result.passed) == ("passed", 2)
    assert result.tests[0].stdout == "adding\n"
    doubled = run(run_tests(code, [{"input": [21], "expected": 42}], "js", "later"))
    assert doubled.status == "passed"
    thrown = run(
        run_tests(
            "function f() { throw new TypeError('nope') }",
            [{"input": [], "expected": 1}],
            "js",
            "f",
        )
    )
    assert "TypeError: nope" in thrown.tests[0].error


def test_python_io_tests():
    code = "a, b = map(int, input().split())\nprint(a + b, '  ')"
    cases = [{"stdin": "1 2\n", "expectedOutput": "3\n"}, {"stdin": "2 2\n", "expectedOutput": "5"}]
    result = run(run_tests(code, cases, "python"))
    assert [t.passed for t in result.tests] == [True, False]
    assert result.tests[1].actual == "4   \n"


def test_c_io_tests_compile_once():
    require_language("c")
    code = '#include <stdio.h>\nint main(){int a,b; scanf("%d %d",&a,&b); printf("%d\\n",a*b);}'
    cases = [{"stdin": f"{i} 3", "expectedOutput": str(i * 3)} for i in range(20)]
    result = run(run_tests(code, cases, "c"))
    assert (result.status, result.passed) == ("passed", 20)


def test_java_io_tests():
    require_language("java")
    code = (
        "import java.util.*;\npublic class Main { public static void main(String[] a) {"
        " Scanner s = new Scanner(System.in); System.out.println(s.nextInt() + 1); } }"
    )
    cases = [{"stdin": "1", "expectedOutput": "2"}, {"stdin": "41", "expectedOutput": "42"}]
    result = run(run_tests(code, cases, "java", time_limit_s=5))
    assert (result.status, result.passed) == ("passed", 2)


def test_compile_errors_are_reported_once():
    require_language("cpp")
    result = run(run_tests("int main( {", [{"stdin": "", "expectedOutput": ""}], "cpp"))
    assert result.status == "compile_error"
    assert "error" in result.compile_output


def test_invalid_test_cases_are_refused():
    with pytest.raises(InvalidTestCases):
        run(run_tests("x", [{"input": [1], "expected": 1}], "c"))
    with pytest.raises(InvalidTestCases):
        run(
            run_tests(
                "x", [{"input": [1], "expected": 1}, {"stdin": "", "expectedOutput": ""}], "python"
            )
        )
    with pytest.raises(InvalidTestCases):
        run(run_tests("x", [], "python"))
    with pytest.raises(InvalidTestCases):
        run(run_tests("x", [{"input": 1, "expected": 1}], "python"))


def test_a_cold_run_loads_none_of_json_signal_or_traceback(pool_mode):
    # Their imports (re, enum, tokenize, ...) cost ~10 ms of a cold run's start: the
    # harness uses their C layers (_json, _signal) and loads traceback on a first error.
    # Nor typing, which a prepared warm run has for the programs (~4 ms in every run).
    if pool_mode is not None:
        pytest.skip("a warm sandbox prepared for tests has them loaded before the run")
    code = (
        "import sys\n"
        "NAMES = {'json', 're', 'enum', 'signal', 'contextlib', 'traceback', 'tokenize',"
        " 'typing'}\n"
        "def f(fail):\n"
        "    if fail:\n"
        "        raise ValueError('boom')\n"
        "    return sorted(NAMES & set(sys.modules))\n"
    )
    cases = [{"input": [False], "expected": []}, {"input": [True], "expected": None}]
    cases.append({"input": [False], "expected": ["re", "tokenize", "traceback"]})
    result = run(run_tests(code, cases, "python", "f"))
    assert [t.passed for t in result.tests] == [True, False, False], result.tests[0].actual
    assert result.tests[1].error.endswith("ValueError: boom")
    assert {"re", "tokenize", "traceback"} <= set(result.tests[2].actual)  # for the error


# Each test's output, however the program moved, truncated or closed its stdout before.
MOVING_OUTPUT = (
    "import os\n"
    "def f(step):\n"
    "    if step == 0:\n"
    "        os.write(1, b'x' * 20000)\n"
    "        os.lseek(1, 0, os.SEEK_SET)\n"
    "        os.write(1, b'a')\n"
    "    elif step == 1:\n"
    "        os.write(1, b'y' * 100)\n"
    "        os.ftruncate(1, 0)\n"
    "        os.write(1, b'z')\n"
    "        os.write(2, b'e')\n"
    "    elif step == 2:\n"
    "        os.write(1, b'b\\n')\n"
    "        os.close(1)\n"
    "        os.close(2)\n"
    "    else:\n"
    "        print('c', flush=True)\n"
    "        os.write(2, b'd')\n"
    "    return os.fstat(1).st_ino if step in (0, 3) else None\n"
)
MOVING_CASES = [{"input": [step], "expected": None} for step in range(4)]


def moving_output_seen(result) -> list:
    return [(len(t.stdout), t.stdout[:2], t.stderr) for t in result.tests]


MOVING_OUTPUT_SEEN = [
    (16384, "ax", ""),  # 20000 bytes, the first overwritten, cut at 16 KB
    (101, "\0\0", "e"),  # written after the truncation: at its offset, past a hole
    (2, "b\n", ""),
    (2, "c\n", "d"),
]


def test_output_stays_each_tests_own_when_the_program_moves_or_closes_its_stdout():
    result = run(run_tests(MOVING_OUTPUT, MOVING_CASES, "python", "f"))
    assert moving_output_seen(result) == MOVING_OUTPUT_SEEN
    # One file per stream serves every test of the run (emptied between tests), not
    # two new ones per test: fd 1 is the same file in the first test and the last.
    first, _, _, last = (t.actual for t in result.tests)
    assert first == last and first is not None


def test_an_error_is_described_even_when_the_code_broke_imports():
    # A cold run imports traceback on its first error, after user code ran: if the code
    # made that impossible, the error is still named (type and message), not lost.
    code = (
        "import sys\n"
        "for name in ('traceback', 'linecache', 'tokenize', 're'):\n"
        "    sys.modules[name] = None\n"
        "def f():\n"
        "    raise ValueError('boom')\n"
    )
    result = run(run_tests(code, [{"input": [], "expected": 1}], "python", "f"))
    assert result.status == "failed" and result.tests[0].error.endswith("ValueError: boom")
