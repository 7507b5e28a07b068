"""run_batch(): many programs in one sandbox, a forked process each, nothing shared."""

from __future__ import annotations

import subprocess

import pytest

from devcapsules.executor.batch import run_batch
from devcapsules.executor.languages import resolve

from .conftest import processes_with, require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]


@pytest.fixture(autouse=True)
def python():
    require_language("python")


def statuses(programs, **kwargs) -> list[str]:
    return [r.status for r in run(run_batch(programs, **kwargs))]


def test_each_program_gets_its_own_verdict():
    programs = [
        "def f(x):\n    return x + 1\nassert f(1) == 2\nprint('fine')",
        "assert 1 == 2",
        "while True:\n    pass",
        "import sys\nsys.exit(3)",
        "print('x' * 100_000)",
        "def broken(:\n    pass",
    ]
    results = run(run_batch(programs, time_limit_s=1))
    assert [r.status for r in results] == [
        "ok",
        "runtime_error",
        "time_limit_exceeded",
        "runtime_error",
        "output_limit_exceeded",
        "runtime_error",
    ]
    assert results[0].stdout == "fine\n"
    assert "AssertionError" in results[1].stderr and "batch_python" not in results[1].stderr
    assert results[3].exit_code == 3


def test_a_program_leaves_nothing_for_the_next_one():
    marker = "dcbatch-leftover-9b1e"
    leave = (
        "import subprocess\n"
        "open('/tmp/left', 'w').write('x')\n"
        f"command = ['/bin/sh', '-c', 'exec -a {marker} sleep 60']\n"
        "subprocess.Popen(command, start_new_session=True)\n"
    )
    look = (
        "import os\n"
        "assert not os.path.exists('/tmp/left'), 'file survived'\n"
        "mine = {os.getpid(), os.getppid(), 1}\n"
        "ancestors = set()\n"
        "pid = os.getppid()\n"
        "while pid > 1:\n"
        "    ancestors.add(pid)\n"
        "    pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "others = [p for p in pids if p not in mine | ancestors]\n"
        "assert not others, others\n"
    )
    assert statuses([leave, look]) == ["ok", "ok"]
    assert processes_with(marker) == []


# What a program can leave besides processes and plain /tmp files: a directory it made
# unreadable (shutil.rmtree gives up on it), files in /dev (bwrap's tmpfs, owned by the
# sandbox uid) and /dev/shm, a /dev link replaced, /tmp's own mode, and System V IPC
# objects (the batch shares one IPC namespace).
LEAVE_EVERYWHERE = (
    "import ctypes, os\n"
    "os.makedirs('/tmp/locked/inner')\n"
    "open('/tmp/locked/inner/f', 'w').write('x')\n"
    "os.chmod('/tmp/locked/inner', 0o500)\n"
    "os.chmod('/tmp/locked', 0)\n"
    "open('/dev/shm/left', 'w').write('x')\n"
    "os.makedirs('/dev/left/deeper')\n"
    "os.unlink('/dev/stdin')\n"
    "os.symlink('/tmp/elsewhere', '/dev/stdin')\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "made = [libc.shmget(4242, 4096, 0o1000 | 0o600), libc.msgget(4243, 0o1000 | 0o600),\n"
    "        libc.semget(4244, 1, 0o1000 | 0o600)]\n"
    "assert min(made) >= 0, made\n"
    "os.chmod('/tmp', 0o500)\n"
)
LOOK_EVERYWHERE = (
    "import ctypes, os\n"
    "found = os.listdir('/tmp')\n"
    "found += [p for p in ('/dev/shm/left', '/dev/left') if os.path.lexists(p)]\n"
    "if os.readlink('/dev/stdin') != '/proc/self/fd/0':\n"
    "    found.append('/dev/stdin')\n"
    "if os.stat('/tmp').st_mode & 0o7777 != 0o755:\n"
    "    found.append('/tmp mode')\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "ipc = [libc.shmget(4242, 0, 0), libc.msgget(4243, 0), libc.semget(4244, 0, 0)]\n"
    "found += [kind for kind, got in zip(('shm', 'msg', 'sem'), ipc) if got >= 0]\n"
    "assert not found, found\n"
)


def test_a_program_leaves_nothing_anywhere_writable_or_in_ipc():
    results = run(run_batch([LEAVE_EVERYWHERE, LOOK_EVERYWHERE, LOOK_EVERYWHERE]))
    assert [r.status for r in results] == ["ok", "ok", "ok"], [r.stderr for r in results]


def test_what_a_program_does_to_tmp_cannot_stop_the_programs_after_it():
    # The harness's own output files are unnamed: closing /tmp to its uid (the tmpfs is
    # the sandbox uid's) or removing what is in it stopped the whole batch before.
    close_tmp = "import os\nos.chmod('/tmp', 0)\n"
    clear_tmp = "import os\nfor name in os.listdir('/tmp'):\n    os.unlink('/tmp/' + name)\n"
    results = run(run_batch([close_tmp, "print('after')", clear_tmp, "print('after')"]))
    assert [r.status for r in results] == ["ok"] * 4, [r.stderr for r in results]
    assert results[1].stdout == results[3].stdout == "after\n"


def test_a_program_cannot_write_a_later_programs_record():
    forge = (
        "import os, json\n"
        "record = {'index': 1, 'exit_code': 0, 'signal': None, 'timed_out': False,\n"
        "          'stdout': '', 'stderr': '', 'stdout_truncated': False,\n"
        "          'stderr_truncated': False}\n"
        "for path in (f'/proc/{os.getppid()}/fd/3', '/proc/self/fd/3'):\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write(json.dumps(record) + '\\n')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, exc.errno)\n"
    )
    first, second = run(run_batch([forge, "assert False"]))
    assert "wrote" not in first.stdout, first.stdout
    assert second.status == "runtime_error"


def test_too_many_programs_are_refused():
    with pytest.raises(ValueError, match="at most"):
        run(run_batch(["pass"] * 101))


def test_a_batch_takes_a_warm_sandbox_when_the_pool_has_one(pool_mode):
    taken = pool_mode.taken["python"] if pool_mode is not None else 0
    assert statuses(["print(1)", "raise SystemExit(3)"]) == ["ok", "runtime_error"]
    if pool_mode is not None:
        assert pool_mode.taken["python"] == taken + 1  # one sandbox for the whole batch


def _as_traceback_prints_it(program: str, name: str, where) -> str:
    """What `traceback.print_exception` prints for `program` compiled as `name`, run
    under the sandbox's own interpreter outside it, beside its file as in the sandbox
    (the program's frames only)."""
    (where / name).write_text(program)
    script = (
        "import sys, traceback\n"
        "try:\n"
        f"    exec(compile({program!r}, {name!r}, 'exec'), {{'__name__': '__main__'}})\n"
        "except BaseException as exc:\n"
        "    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)\n"
    )
    interpreter = resolve("python").run_cmd[0]
    done = subprocess.run([interpreter, "-c", script], capture_output=True, text=True, cwd=where)
    return done.stderr


@pytest.mark.parametrize(
    "program",
    [
        "def f(x):\n    return [1][x]\nf(5)\n",
        "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('chained') from e\n",
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    raise RuntimeError('during')\n",
        "e = TypeError('noted')\ne.add_note('a note')\nraise e\n",
        "exec('x = (1,')\n",
    ],
)
def test_a_failing_program_s_traceback_reads_as_traceback_prints_it(program, tmp_path):
    # The harness prints it with the interpreter's own printer (no traceback module
    # loaded): the same text, carets, chains and notes included.
    [result] = run(run_batch([program]))
    assert result.status == "runtime_error"
    assert result.stderr == _as_traceback_prints_it(program, "p0.py", tmp_path)


def test_the_batch_harness_preloads_what_programs_import_and_little_else():
    # Loaded once per batch, shared by every child: collections, re and typing (what
    # HumanEval-style problems import) on purpose; json, traceback and friends, which
    # only the harness used, no longer (each is part of every batch's start).
    probe = (
        "import sys\n"
        "wanted = ('collections', 're', 'typing', 'json', 'traceback', 'linecache',"
        " 'tokenize', 'textwrap')\n"
        "print(' '.join(name for name in wanted if name in sys.modules))\n"
    )
    [result] = run(run_batch([probe]))
    assert result.stdout.split() == ["collections", "re", "typing"]
