"""Hostile programs: each must end with the right status and leave nothing running."""

import os
import socket
import subprocess
import uuid

import pytest

from devcapsules.executor.runner import execute
from devcapsules.executor.tests_harness import run_tests

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]


def py(code: str, **kwargs):
    kwargs.setdefault("time_limit_s", 1)
    return run(execute(code, "python", **kwargs))


def test_infinite_loop_is_time_limit_exceeded(marker):
    result = py(f"# {marker}\nwhile True: pass")
    assert result.status == "time_limit_exceeded"


def test_sleep_past_the_wall_clock_is_killed(marker):
    result = py(f"import time  # {marker}\ntime.sleep(60)")
    assert result.status == "time_limit_exceeded"


def test_child_that_outlives_its_parent_is_killed(marker):
    # Double fork + setsid: a classic daemon, re-parented away from the user's process.
    code = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'],"
        " start_new_session=True)\n"
        "print('parent done')\n"
    )
    result = py(code)
    assert result.status == "ok"
    assert result.stdout == "parent done\n"


def test_child_still_running_at_the_deadline_is_killed(marker):
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'while True: pass', '{marker}'],"
        " start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    assert py(code).status == "time_limit_exceeded"


def test_fork_bomb_is_capped_by_the_process_limit(marker):
    # Count how many processes the code can create: far below the host's limit.
    code = (
        f"import os, time  # {marker}\n"
        "n = 0\n"
        "try:\n"
        "    while n < 10000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print(n, type(e).__name__)\n"
    )
    result = py(code, time_limit_s=2)
    count, error = result.stdout.split()
    assert int(count) < 64
    assert error == "BlockingIOError"


def test_classic_fork_bomb_is_contained(marker):
    code = f"import os  # {marker}\nwhile True:\n    try: os.fork()\n    except OSError: pass"
    result = py(code)
    assert result.status == "time_limit_exceeded"
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_memory_bomb_is_memory_limit_exceeded():
    result = py(
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024 * 1024))",
        memory_limit_mb=128,
        # The bomb reaches 128 MB in well under a second, but on a loaded machine the page
        # faults and the cgroup's reclaim (CPU time of the run) could exceed the default
        # 1 s, and the time limit is classified first: give the memory limit the race.
        time_limit_s=10,
    )
    assert result.status == "memory_limit_exceeded"
    assert result.memory_kb < 200 * 1024


def test_javascript_heap_bomb_is_memory_limit_exceeded():
    code = "const a = []; while (true) a.push(new Array(1e6).fill(1.5));"
    result = run(execute(code, "javascript", time_limit_s=5, memory_limit_mb=64))
    assert result.status == "memory_limit_exceeded"


def test_output_flood_is_cut_at_the_cap(marker):
    result = py(f"# {marker}\nwhile True: print('x' * 1000)")
    assert result.status == "output_limit_exceeded"
    assert result.stdout_truncated
    assert len(result.stdout) == 64 * 1024


def test_stderr_flood_is_cut_too():
    result = py("import sys\nwhile True: sys.stderr.write('e' * 1000)")
    assert result.status == "output_limit_exceeded"
    assert result.stderr_truncated and len(result.stderr) == 64 * 1024


def test_network_connect_fails():
    # Even to a port listening on the host's loopback: the sandbox has its own network.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            f"for target in [('127.0.0.1', {port}), ('1.1.1.1', 80)]:\n"
            "    try:\n"
            "        socket.create_connection(target, timeout=2); print('connected')\n"
            "    except OSError as e:\n"
            "        print('refused', type(e).__name__)\n"
        )
        result = py(code, time_limit_s=3)
    assert "connected" not in result.stdout
    assert result.stdout.count("refused") == 2


def test_dns_lookup_fails():
    code = (
        "import socket\n"
        "try:\n"
        "    print(socket.getaddrinfo('example.com', 80))\n"
        "except OSError as e:\n"
        "    print('failed', type(e).__name__)\n"
    )
    result = py(code, time_limit_s=3)
    assert result.stdout.startswith("failed")


def test_writing_outside_tmp_fails_and_tmp_works():
    code = (
        "import os\n"
        "for path in ['/usr/evil', '/etc/evil', '/evil', '/box/evil', 'evil', '/opt/dc/x']:\n"
        "    try:\n"
        "        open(path, 'w').write('x'); print('wrote', path)\n"
        "    except OSError as e:\n"
        "        print('denied', path)\n"
        "open('/tmp/ok', 'w').write('fine'); print(open('/tmp/ok').read())\n"
    )
    result = py(code)
    assert "wrote" not in result.stdout
    assert result.stdout.count("denied") == 6
    assert result.stdout.endswith("fine\n")


def test_filling_tmp_is_capped():
    code = (
        "import errno\n"
        "total = 0\n"
        "try:\n"
        "    for i in range(100):\n"
        "        with open(f'/tmp/fill{i}', 'wb') as f:\n"
        "            for _ in range(8):\n"
        "                f.write(b'x' * 1024 * 1024); total += 1\n"
        "except OSError as e:\n"
        "    print(total, errno.errorcode[e.errno])\n"
    )
    result = py(code, time_limit_s=5)
    total, error = result.stdout.split()
    assert int(total) <= 64
    assert error == "ENOSPC"


def test_single_file_size_is_capped():
    code = (
        "try:\n"
        "    open('/tmp/big', 'wb').write(b'x' * 40 * 1024 * 1024)\n"
        "except OSError as e:\n"
        "    print('stopped', e.errno)\n"
    )
    result = py(code, time_limit_s=3)
    assert result.stdout.startswith("stopped")


def test_no_host_environment_or_secrets(monkeypatch):
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("DEVCAPSULES_TEST_SECRET", canary)
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for path in ['/proc/1/environ', '/proc/self/environ', '/proc/1/cmdline']:\n"
        "    try:\n"
        "        print(path, open(path, 'rb').read())\n"
        "    except OSError as e:\n"
        "        print(path, 'denied')\n"
        "import subprocess\n"
        "print(subprocess.run(['ps', 'aux'], capture_output=True, text=True).stdout)\n"
    )
    result = py(code)
    assert canary not in result.stdout + result.stderr
    assert "DEVCAPSULES_TEST_SECRET" not in result.stdout
    assert str(os.getpid()) not in result.stdout.split("/proc/1/environ")[0]


def test_service_source_and_state_are_invisible():
    import devcapsules

    package_dir = os.path.dirname(devcapsules.__file__)
    code = (
        "import os\n"
        f"paths = ['/work', '/root', {package_dir!r}, '/var/lib', '/home', '/srv']\n"
        "print([p for p in paths if os.path.exists(p)])\n"
        "print(sorted(os.listdir('/')))\n"
    )
    result = py(code)
    assert result.stdout.splitlines()[0] == "[]"
    assert "work" not in result.stdout.splitlines()[1]


def test_printed_fake_results_are_not_believed():
    # Fake records on stdout, on every descriptor it can find, and a tampered json.
    code = (
        "import json, os\n"
        "fake = json.dumps({'index': 0, 'actual_json': '3', 'passed': True, 'error': None})\n"
        'print(fake); print(\'{"passed": 1, "total": 1, "status": "passed"}\')\n'
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try: os.write(int(fd), (fake + '\\n').encode())\n"
        "    except OSError: pass\n"
        "json.dumps = lambda *a, **k: '42'\n"
        "def add(a, b): return -1\n"
    )
    cases = [{"input": [1, 2], "expected": 999, "hidden": True}, {"input": [2, 2], "expected": 4}]
    result = run(run_tests(code, cases, "python", "add"))
    assert result.passed == 0
    assert result.status == "failed"


def test_io_program_cannot_write_into_the_launchers_report():
    # The report pipe is owned by host root, so reopening it through /proc/<pid>/fd is
    # refused, and the launcher is non-dumpable besides.
    code = (
        "import json, os\n"
        "fakes = [json.dumps({'index': i, 'stdout': '42', 'exit_code': 0}) for i in (0, 1)]\n"
        "fake = '\\n'.join(fakes) + '\\n'\n"
        "hits = 0\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try: fds = os.listdir(f'/proc/{pid}/fd')\n"
        "    except OSError: continue\n"
        "    for fd in fds:\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/fd/{fd}', 'w') as f: f.write(fake); hits += 1\n"
        "        except OSError: pass\n"
        "print('wrong answer')\n"
    )
    # Two runs: the second one's forgery would land after the first's genuine record.
    cases = [{"stdin": "", "expectedOutput": "42", "hidden": True}] * 2
    result = run(run_tests(code, cases, "python"))
    assert result.passed == 0


def test_server_is_healthy_after_the_attacks():
    assert py("print('Hello World')").stdout == "Hello World\n"
