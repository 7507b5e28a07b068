"""Warm sandboxes: single use, isolated from each other and from later runs, drained.

The attack suite itself runs against warm sandboxes too (conftest.pool_mode); these
tests check what only a pool can get wrong."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from devcapsules.executor import cgroup, execute, hostdir, sandbox, warm
from devcapsules.executor.tests_harness import run_tests

from .conftest import require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]

# A run that leaves a secret made at run time (no other run can know it in advance) in
# its /tmp and work directory listing, waits so that concurrent runs overlap, then dumps
# everything of another run it could find: /tmp, /box, and every visible process.
SNOOP = r"""
import json, os, time
secret = os.urandom(16).hex()
with open(f"/tmp/{secret}", "w") as f:
    f.write(secret)
started = time.time()
time.sleep(float(input() or 0))
seen = []
for root in ("/tmp", "/box"):
    for name in os.listdir(root):
        seen.append(name)
        try:
            with open(os.path.join(root, name), errors="replace") as f:
                seen.append(f.read())
        except OSError:
            pass
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    for what in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                seen.append(f.read().decode(errors="replace"))
        except OSError:
            pass
print(json.dumps({"secret": secret, "seen": seen, "span": [started, time.time()]}))
"""


@pytest.fixture
def pool():
    """A python pool of 2 that does not refill: which sandbox a run gets is known."""
    yield from pool_of_two()


def pool_of_two():
    require_language("python")
    made = warm.configure({"python": 2})
    made.refill_soon = lambda: None
    yield made
    warm.configure({})


@pytest.fixture
def launcher_pool(monkeypatch):
    """A pool like `pool` whose Python sandboxes run under the warm launcher: what a host
    whose run cgroups do not count CPU gets (no lean sandbox there, as no lean cold run)."""
    monkeypatch.setattr(sandbox, "in_process_python", lambda *_: False)
    yield from pool_of_two()


@pytest.fixture(params=["lean", "launcher"])
def either_pool(request):
    """Each test twice: lean warm Python sandboxes, then launcher ones."""
    yield request.getfixturevalue("pool" if request.param == "lean" else "launcher_pool")


def snoop(pause_s: float = 0.0):
    return execute(SNOOP, "python", stdin=f"{pause_s}\n", time_limit_s=5)


def report(result) -> dict:
    assert result.status == "ok", (result.status, result.stderr)
    return json.loads(result.stdout)


def test_parse_sizes():
    assert warm.parse_sizes("python=2, javascript=1") == {"python": 2, "javascript": 1}
    assert warm.parse_sizes("") == warm.parse_sizes("0") == warm.parse_sizes("python=0") == {}
    for bad in ("python", "python=two", "=2", "python=-1"):
        with pytest.raises(warm.WarmPoolConfigError):
            warm.parse_sizes(bad)


def test_a_warm_sandbox_runs_one_program_and_is_gone(pool, monkeypatch):
    handed = []
    take = pool.take
    monkeypatch.setattr(pool, "take", lambda *a: handed.append(take(*a)) or handed[-1])

    assert run(execute("print('Hello World')", "python")).stdout == "Hello World\n"

    (used,) = handed
    assert used is not None and pool.taken["python"] == 1 and pool.idle("python") == 1
    assert used.proc.returncode is not None and not os.path.exists(used.workdir)
    assert not any(os.path.exists(path) for path in (used.group.dirs if used.group else []))
    with pytest.raises(RuntimeError, match="exactly one"):
        run(used.run({"main.py": "print(2)"}, ["python3", "main.py"], b"", None))
    # The next run gets the other pre-started sandbox, never the used one again.
    run(execute("print(2)", "python"))
    assert handed[1] is not None and handed[1] is not used and pool.idle("python") == 0


def test_a_filled_pool_holds_sandboxes_whose_start_is_over(pool):
    # fill_and_wait returned once the sandboxes' processes were spawned: a run taken
    # then waited for the rest of the start (~30-40 ms for a prepared Python one, more
    # than a cold run); now it returns once each stub waits for its run and said so.
    idle = list(pool._idle["python"])
    assert len(idle) == 2 and all(warm.ready() for warm in idle)


def test_a_sandbox_that_died_idle_is_not_counted_ready(pool):
    assert pool.readiness() == {"python": {"size": 2, "idle": 2, "ready": 2}}
    dead = pool._idle["python"][0]
    os.killpg(dead.proc.pid, signal.SIGKILL)  # bwrap: the sandbox dies with it
    dead.proc.wait()
    assert pool.readiness() == {"python": {"size": 2, "idle": 2, "ready": 1}}


def test_a_run_takes_a_ready_sandbox_before_one_still_starting(pool):
    lang = warm.discover()["python"]
    starting = warm.WarmSandbox(lang, pool.limits)
    # Still starting, whatever the machine's speed: a stopped process group would not
    # hold it (bwrap's sandbox leaves the group with --new-session, at a moment of its
    # own), so its readiness is what says so here; the sandbox itself is a real one.
    starting.ready = lambda timeout_s=0.0: False
    try:
        pool._idle["python"].appendleft(starting)  # first in the queue
        handed = []
        take = pool.take
        pool.take = lambda *a: handed.append(take(*a)) or handed[-1]
        assert run(execute("print(1)", "python")).stdout == "1\n"
        assert handed[0] is not starting and starting in pool._idle["python"]
    finally:
        with contextlib.suppress(ValueError):
            pool._idle["python"].remove(starting)
        starting.destroy(wait=True)


def test_a_sandbox_handed_its_run_before_it_is_ready_runs_it(pool):
    # Its stub says ready on the host's socket, which the hand-over has closed by then.
    lang = warm.discover()["python"]
    starting = warm.WarmSandbox(lang, pool.limits)
    os.killpg(starting.proc.pid, signal.SIGSTOP)
    box = pool.limits.sandbox(time_limit_s=5, address_space_mb=None, memory_mb=256)

    async def scenario():
        files, argv = {"main.py": "print(7)"}, ["python3", "main.py"]
        running = asyncio.ensure_future(starting.run(files, argv, b"", box))
        await asyncio.sleep(0)  # the run is handed over (the host's end closed) ...
        os.killpg(starting.proc.pid, signal.SIGCONT)  # ... before the stub goes on
        return await running

    try:
        assert run(scenario()).stdout == "7\n"
    finally:
        starting.destroy(wait=True)


def assert_overlapping_and_blind(first: dict, second: dict) -> None:
    """Two probes' reports: they ran at the same time, each saw its own secret (the probe
    works) and neither saw the other's."""
    assert first["span"][0] < second["span"][1] and second["span"][0] < first["span"][1]
    for mine, other in ((first, second), (second, first)):
        assert any(mine["secret"] in item for item in mine["seen"])  # the probe does see
        assert not any(other["secret"] in item for item in mine["seen"])


def test_two_concurrent_warm_runs_cannot_see_each_other(pool):
    async def both():
        return await asyncio.gather(snoop(1.0), snoop(1.0))

    first, second = (report(r) for r in run(both()))
    assert pool.taken["python"] == 2  # both warm
    assert_overlapping_and_blind(first, second)


def test_a_sandbox_started_before_a_run_cannot_see_that_runs_files(pool):
    earlier = report(run(snoop()))
    later = report(run(snoop()))  # the second sandbox: started before the first run
    assert pool.taken["python"] == 2
    assert not any(earlier["secret"] in item for item in later["seen"])


# The same probe as a function under test (run_tests' harness), returning what it saw.
SNOOP_FUNCTION = "def snoop(pause):\n" + "".join(
    f"    {line}\n"
    for line in SNOOP.strip()
    .replace("float(input() or 0)", "pause")
    .replace("print(json.dumps(", "return ((")
    .splitlines()
)


def snoop_tests(pause_s: float = 0.0):
    return run_tests(SNOOP_FUNCTION, [{"input": [pause_s], "expected": None}], "python", "snoop")


def harness_report(result) -> dict:
    (case,) = result.tests
    assert case.error is None and isinstance(case.actual, dict), (result.status, case.error)
    return case.actual


def test_a_test_run_takes_one_warm_sandbox_which_is_then_gone(pool, monkeypatch):
    handed = []
    take = pool.take
    monkeypatch.setattr(pool, "take", lambda *a: handed.append(take(*a)) or handed[-1])
    cases = [{"input": [1, 2], "expected": 3}, {"input": [2, 2], "expected": 5}]

    result = run(run_tests("def add(a, b):\n    return a + b\n", cases, "python", "add"))

    assert (result.status, result.passed, result.total) == ("failed", 1, 2)
    assert [case.actual for case in result.tests] == [3, 4]
    (used,) = handed
    assert used is not None and pool.taken["python"] == 1 and pool.idle("python") == 1
    assert used.proc.returncode is not None and not os.path.exists(used.workdir)
    assert not any(os.path.exists(path) for path in (used.group.dirs if used.group else []))


def test_a_warm_test_run_and_a_warm_execute_cannot_see_each_other(pool):
    async def both():
        return await asyncio.gather(snoop(1.0), snoop_tests(1.0))

    plain, tests = run(both())
    first, second = report(plain), harness_report(tests)
    assert pool.taken["python"] == 2  # both warm
    assert_overlapping_and_blind(first, second)


def test_a_warm_test_run_sees_nothing_of_an_earlier_run(pool):
    earlier = report(run(snoop()))
    later = harness_report(run(snoop_tests()))
    assert pool.taken["python"] == 2
    assert not any(earlier["secret"] in item for item in later["seen"])


def test_without_a_pool_runs_go_cold():
    warm.configure({})
    assert warm.pool() is None
    assert run(execute("print(1)", "python")).stdout == "1\n"


def _idle_state(made: warm.WarmPool) -> tuple[list[int], list[str], set]:
    idle = [w for queue in made._idle.values() for w in queue]
    return [w.proc.pid for w in idle], [w.workdir for w in idle], made.cgroup_dirs()


def test_drain_kills_every_idle_sandbox_and_removes_its_directory_and_cgroup():
    require_language("python")
    made = warm.configure({"python": 2})
    pids, dirs, groups = _idle_state(made)
    assert len(pids) == 2 and all(os.path.isdir(d) for d in dirs)
    warm.configure({})
    assert made.idle("python") == 0
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already: no zombie either
    assert not any(os.path.exists(d) for d in dirs)
    assert not any(os.path.exists(path) for path in groups)


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["dev", "executor"])
def test_a_server_stopped_with_sigterm_drains_its_pool(command):
    require_language("python")
    root = Path(tempfile.mkdtemp(prefix="dc-warm-"))
    root.chmod(0o755)
    port = str(_port())
    argv = {
        "dev": ["dev", "--port", port, "--state-dir", str(root / "state")],
        "executor": ["executor", "serve", "--port", port, "--insecure-no-auth"],
    }[command]
    env = {**os.environ, "TMPDIR": str(root), "EXECUTOR_WARM_POOL": "python=2"}
    if command == "dev":
        env["EXECUTOR_BACKEND_DEFAULT"] = "local"
    server = subprocess.Popen(
        [sys.executable, "-m", "devcapsules.local.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in server.stdout:
            if '"warm_pool_ready"' in line:
                break
        assert '"python": 2' in line, line
        (host,) = root.glob(f"{hostdir.PREFIX}*")
        sandboxes = _descendants(server.pid)
        assert len(sandboxes) >= 2  # bwrap and what it started, per warm sandbox
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        server.kill()
        server.wait()
    try:
        assert [pid for pid in sandboxes if _alive(pid)] == []
        assert list(root.glob(f"{hostdir.PREFIX}*")) == []
        found = cgroup.hierarchy()
        if found is not None:
            mine = f"{cgroup.PREFIX}{host.name}-*"
            assert [p for base in found.bases() for p in base.glob(mine)] == []
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_pool_configured_from_a_thread_that_exits_still_serves():
    # bwrap's --die-with-parent fires when the thread that forked it exits: the pool
    # spawns on its own long-lived thread, so a sandbox made for a short-lived caller
    # (asyncio.to_thread at start-up) is still alive for its run.
    import threading

    require_language("python")
    caller = threading.Thread(target=warm.configure, args=({"python": 1},))
    caller.start()
    caller.join()
    try:
        result = run(execute("print('still here')", "python"))
        assert result.stdout == "still here\n", (result.status, result.signal)
        assert warm.pool().taken["python"] == 1
    finally:
        warm.configure({})


def test_a_run_with_other_plan_limits_is_warm_and_its_memory_limit_holds(pool):
    from devcapsules.executor import Limits

    plan = Limits(max_memory_limit_mb=512, default_memory_limit_mb=128)
    bomb = "held = bytearray(200 * 1024 * 1024)\nprint('allocated')"
    # The time limit is classified before the memory limit, and a loaded machine's page
    # faults and cgroup reclaim are the run's CPU time: the plan's maximum (10 s, for a
    # run that needs well under one) takes the timer out of the outcome.
    slack = plan.max_time_limit_s
    result = run(execute(bomb, "python", memory_limit_mb=64, time_limit_s=slack, limits=plan))
    assert result.status == "memory_limit_exceeded", (result.status, result.memory_kb)
    roomy = run(execute(bomb, "python", memory_limit_mb=512, time_limit_s=slack, limits=plan))
    assert roomy.status == "ok", (roomy.status, roomy.stderr)  # the limit was raised too
    assert pool.taken["python"] == 2


def test_a_warm_program_recurses_exactly_as_deep_as_a_cold_one(pool):
    code = (
        "def d(n):\n    try:\n        return d(n + 1)\n"
        "    except RecursionError:\n        return n\nprint(d(0))\n"
    )
    warm_depth = run(execute(code, "python")).stdout
    warm.configure({})
    cold_depth = run(execute(code, "python")).stdout
    assert pool.taken["python"] == 1
    assert warm_depth == cold_depth and int(cold_depth) > 900


# What the test harness's process imported after its run was handed over: everything in
# sys.modules that the stub had not loaded when the run came (None: no warm stub above).
IMPORTED_AFTER_HAND_OVER = """
import sys

def imported(fail=False):
    if fail:
        return 1 / 0
    frame = sys._getframe()
    while frame is not None and "MODULES_AT_HAND_OVER" not in frame.f_globals:
        frame = frame.f_back
    if frame is None:
        return None
    return sorted(set(sys.modules) - frame.f_globals["MODULES_AT_HAND_OVER"])
"""


# HumanEval-style programs start with this: `typing` is loaded at preparation too.
TYPED = "from typing import List\n"


@pytest.mark.parametrize("header", ["", TYPED], ids=["untyped", "typed"])
def test_a_prepared_warm_test_run_imports_nothing_after_hand_over(header):
    require_language("python")
    made = warm.configure({"python": 1})  # one plain sandbox: nothing asked for tests yet
    try:
        case = [{"input": [], "expected": []}]
        first = run(run_tests(IMPORTED_AFTER_HAND_OVER, case, "python", "imported"))
        # It took the plain sandbox (still warm), which pays the harness's imports...
        assert made.taken["python"] == 1 and "_json" in first.tests[0].actual
        made.fill_and_wait()  # ...and the mix shifted: the refill is prepared for tests
        (idle,) = made._idle["python"]
        assert idle.shape.prepared and idle.shape.prepared.endswith("python_harness.py")

        # A failing test first: formatting its error (traceback, and ast for the carets
        # under `1 / 0`) was loaded at preparation too.
        failing = [{"input": [True], "expected": None}, {"input": [False], "expected": []}]
        program = header + IMPORTED_AFTER_HAND_OVER
        second = run(run_tests(program, failing, "python", "imported"))

        assert made.taken["python"] == 2 and second.tests[1].passed, second.tests[1].actual
        assert second.tests[0].error.endswith("ZeroDivisionError: division by zero")
        assert idle.proc.returncode is not None and not os.path.exists(idle.workdir)
    finally:
        warm.configure({})


def test_a_warm_program_does_not_get_the_harness_modules():
    require_language("python")
    made = warm.configure({"python": 1})
    try:
        code = "import sys\nprint(sorted({'json', 're', 'tempfile'} & set(sys.modules)))"
        result = run(execute(code, "python"))
        assert made.taken["python"] == 1 and result.stdout == "[]\n", result.stderr
    finally:
        warm.configure({})


def test_the_pool_refills_once_the_used_sandbox_is_gone_not_before_the_answer(pool):
    """A refill's start (a bwrap and an interpreter) would compete with the answer, and
    a used sandbox still dying plus its replacement would outnumber the pool's size."""
    asked: list[bool] = []
    handed = []
    take = pool.take
    pool.take = lambda *a: handed.append(take(*a)) or handed[-1]

    async def scenario() -> bool:
        pool.refill_soon = lambda: asked.append(not os.path.exists(handed[0].workdir))
        result = await execute("print(1)", "python")
        assert result.stdout == "1\n" and handed[0] is not None
        before_answer = bool(asked)
        for _ in range(3000):  # a wait for the state the test needs (30 s at most)
            if asked:
                break
            await asyncio.sleep(0.01)
        return before_answer

    assert run(scenario()) is False  # not asked for by the time the answer came
    assert asked == [True]  # asked for once, when the sandbox's directory was gone


@pytest.mark.parametrize("started", [False, True], ids=["before-it-starts", "while-it-runs"])
def test_a_cancelled_teardown_still_removes_the_sandbox_and_stops_reading_it(
    launcher_pool, started
):
    """The answer comes before the sandbox's teardown; a loop that closes then (a server
    stopping, `asyncio.run` returning) cancels the teardown, maybe before it started (a
    task cancelled then never runs its body). The sandbox must still go, and the pipes'
    readers must leave the loop before their descriptors close: a loop polling a closed
    (or reused) descriptor logs read errors, or reads someone else's pipe. A lean
    sandbox has no teardown after its answer (bwrap ended with the program): the
    launcher's kind, which has one."""
    pool = launcher_pool
    handed = []
    take = pool.take
    pool.take = lambda *a: handed.append(take(*a)) or handed[-1]

    async def answer_then_cancel_the_teardown() -> tuple[str, set[int]]:
        result = await execute("print(1)", "python")
        teardown = handed[0]._gone
        if started:
            await asyncio.sleep(0)  # the teardown starts, then waits for bwrap's end
        teardown.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await teardown
        selector = asyncio.get_running_loop()._selector  # what the loop still polls
        return result.stdout, [fd for fd in selector.get_map() if not is_open(fd)]

    stdout, closed_but_polled = run(answer_then_cancel_the_teardown())
    assert stdout == "1\n"
    assert closed_but_polled == []
    assert not os.path.exists(handed[0].workdir)


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


# What a warm Python program sees of its sandbox's processes: its own pid and every pid
# in its namespace (pid 1's entry is hidden, the directory is still listed).
PROCESSES = (
    "import os; print(os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
)


def test_a_lean_warm_sandbox_holds_only_its_program(pool):
    """No launcher: bwrap's reaper (pid 1) and the program (pid 2, the interpreter sh
    exec'd), one interpreter started per warm sandbox instead of two."""
    assert all(idle.lean for idle in pool._idle["python"])
    result = run(execute(PROCESSES, "python"))
    assert result.stdout == "2 [1, 2]\n", result.stderr


def test_without_a_cpu_counting_cgroup_warm_python_runs_under_the_launcher(launcher_pool):
    assert not any(idle.lean for idle in launcher_pool._idle["python"])
    result = run(execute(PROCESSES, "python"))
    assert result.stdout == "3 [1, 2, 3]\n", result.stderr  # the launcher is pid 2


@pytest.mark.parametrize(
    ("code", "status", "exit_code", "signal_number"),
    [
        ("print('out')", "ok", 0, None),
        ("import sys; print('out'); sys.exit(3)", "runtime_error", 3, None),
        ("import os; print('out', flush=True); os.kill(os.getpid(), 9)", "runtime_error", None, 9),
        ("print('out'); raise SystemExit('bye')", "runtime_error", 1, None),
    ],
    ids=["ok", "exit-3", "sigkill", "exit-message"],
)
def test_a_warm_runs_outcome_is_reported_the_same_either_way(
    either_pool, code, status, exit_code, signal_number
):
    """The lean kind's outcome comes from bwrap's status record and the cgroup, the
    launcher's from its report: the same for the program either way."""
    result = run(execute(code, "python"))
    assert (result.status, result.exit_code, result.signal) == (status, exit_code, signal_number)
    assert result.stdout == "out\n" and result.memory_kb > 0
    assert result.stderr == ("bye\n" if exit_code == 1 else "")
    assert either_pool.taken["python"] == 1


def test_a_lean_warm_run_past_its_time_limit_is_killed_and_reported(pool):
    result = run(
        execute(
            "import time\nprint('started', flush=True)\ntime.sleep(60)", "python", time_limit_s=1
        )
    )
    assert result.status == "time_limit_exceeded" and result.stdout == "started\n"
    assert pool.taken["python"] == 1 and pool.idle("python") == 1
