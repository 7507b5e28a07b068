"""A sandboxed Python program ends as `python3 main.py` would, cold or warm, although its
interpreter skips the runtime's own teardown (harness/warm_python.py `leave`): threads
joined, atexit handlers, its globals' finalizers, flushing and exit statuses, each
compared with the sandbox's interpreter run bare on the host."""

from __future__ import annotations

import pytest

from devcapsules.executor import execute

from .conftest import bare_python, require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox")]

PROGRAMS = {
    "atexit": "import atexit\natexit.register(print, 'atexit ran')\nprint('main')",
    "atexit order and errors": (
        "import atexit\natexit.register(print, 'first registered, last run')\n"
        "def boom():\n    raise ValueError('in atexit')\n"
        "atexit.register(boom)\natexit.register(print, 'last registered')"
    ),
    "a thread outlives main": (
        "import threading, time\n"
        "def later():\n    time.sleep(0.05)\n    print('thread finished')\n"
        "threading.Thread(target=later).start()\nprint('main returned')"
    ),
    "a global's finalizer": (
        "class Noisy:\n    def __del__(self):\n        print('finalized', flush=True)\n"
        "held = Noisy()\nprint('main')"
    ),
    "a cycle's finalizer": (
        "class Node:\n    def __del__(self):\n        print('cycle finalized')\n"
        "a = Node()\na.me = a\ndel a\nprint('main')"
    ),
    "unflushed output": "import sys\nsys.stdout.write('no newline')",
    "exit status": "print('x')\nraise SystemExit(3)",
    "exit message": "import sys\nsys.exit('bye')",
    "exit true": "import sys\nsys.exit(True)",
    "exit 300": "import sys\nsys.exit(300)",
    "stdout closed": "import os\nprint('lost')\nos.close(1)",
    "atexit exits": "import atexit, sys\natexit.register(sys.exit, 4)\nprint('main')",
}


def bare(code: str, tmp_path) -> tuple[int, str]:
    done = bare_python(code, tmp_path)
    return done.returncode, done.stdout.decode()


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_program_ends_as_python3_main_py_does(name, tmp_path, pool_mode):
    require_language("python")
    code = PROGRAMS[name]
    expected = bare(code, tmp_path)
    result = run(execute(code, "python", time_limit_s=10))
    assert (result.exit_code, result.stdout) == expected, result.stderr
    if name == "stdout closed":  # as CPython reports the failed flush of its stdout
        assert "Exception ignored" in result.stderr and result.exit_code == 120


def test_the_runtimes_own_teardown_is_skipped(pool_mode):
    """What only the interpreter's teardown of a module other than the program's does
    (clearing `os`, here) is not done: that is the part of the exit the run no longer pays."""
    require_language("python")
    code = (
        "import os\nclass Probe:\n    def __del__(self):\n        print('module teardown')\n"
        "os.probe = Probe()\nprint('main')"
    )
    result = run(execute(code, "python", time_limit_s=10))
    assert (result.status, result.stdout) == ("ok", "main\n"), result.stderr


def test_the_collector_sees_only_what_the_program_made(pool_mode):
    """The interpreter's and the stub's own objects are frozen before the program starts
    (`gc.freeze`): the collection at its exit, and its own, do not walk them again; the
    program's garbage is still collected ("a cycle's finalizer" above)."""
    require_language("python")
    code = (
        "import gc\nfrozen = gc.get_freeze_count()\n"
        "print(frozen > 1000, len(gc.get_objects()) < frozen)"
    )
    result = run(execute(code, "python", time_limit_s=10))
    assert result.stdout == "True True\n", result.stderr
