"""A sandboxed Python program is compiled as `python3 main.py` compiles it, cold or warm,
although the stub compiles it through exec() instead of compile() (harness/warm_python.py
`compile_source`: compile() builds the interpreter's AST classes first, a fifth of a hello
world's interpreter). Each program's output and exit status are compared with the
sandbox's interpreter run bare on the host, its path written as the sandbox's."""

from __future__ import annotations

import pytest

from devcapsules.executor import execute

from .conftest import bare_python, require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox")]

PROGRAMS = {
    "a traceback from a nested function": (
        "def outer():\n    def inner(x):\n        return {'a': 1}[x] + 1\n"
        "    return inner('b')\nprint('before')\nouter()"
    ),
    "a syntax error": "print('never')\nx = (1,\ny = 2\n",
    "a syntax warning": "x = 1\nprint(x is 1)\n",
    "an invalid escape": "print(len('\\d'))\n",
    # written as UTF-8 (the API takes text), read as latin-1, both ways
    "a coding cookie": "# -*- coding: latin-1 -*-\nprint(ascii('caf\u00e9'))\n",
    "future annotations": (
        "from __future__ import annotations\n"
        "def f(x: Undefined) -> None: pass\nprint(f.__annotations__)"
    ),
    "nested code names its file": (
        "import sys\nclass C:\n    def m(self):\n        return sys._getframe().f_code\n"
        "print(C().m().co_filename == __file__ == sys._getframe().f_code.co_filename)\n"
        "print((lambda: sys._getframe().f_code.co_filename)() == __file__)"
    ),
    "the code is compile()'s": (
        "import sys\ndef walk(code):\n"
        "    yield code.co_filename, code.co_name, code.co_firstlineno\n"
        "    for const in code.co_consts:\n        if hasattr(const, 'co_code'):\n"
        "            yield from walk(const)\n"
        "me = sys._getframe().f_code\nwith open(__file__, 'rb') as f:\n"
        "    theirs = compile(f.read(), __file__, 'exec')\n"
        "print(me == theirs, list(walk(me)) == list(walk(theirs)), len(list(walk(me))))\n"
        "def g():\n    return [i for i in range(3)]\nprint(g())"
    ),
    # A cookie whose codec is imported while compiling: that import's frames are not the
    # program's (the stub stops only the exec'd source's own frame).
    "a codec imported while compiling": (
        "# -*- coding: cp1252 -*-\nimport sys\nprint(ascii('caf\u00e9'), __name__)\n"
        "print(sys._getframe().f_code.co_filename == __file__)"
    ),
    # As after a bare `python3 main.py`: the AST classes exist once compile() has run
    # (what the stub itself called before, on every run's clock), not before.
    "no AST classes built": "print([c for c in object.__subclasses__() if c.__name__ == 'AST'])",
}

SANDBOX_PATH = "/box/main.py"


def bare(code: str, tmp_path) -> tuple[int, str, str]:
    done = bare_python(code, tmp_path)
    script = str(tmp_path / "main.py")
    outs = (done.stdout, done.stderr)
    return done.returncode, *(out.decode().replace(script, SANDBOX_PATH) for out in outs)


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_program_compiles_as_python3_main_py_does(name, tmp_path, pool_mode):
    require_language("python")
    code = PROGRAMS[name]
    expected = bare(code, tmp_path)
    result = run(execute(code, "python", time_limit_s=10))
    assert (result.exit_code, result.stdout, result.stderr) == expected
