"""The kernel surface a sandboxed program can reach: no nested user namespaces, a seccomp
filter over the calls exploits use, and no host path to learn from /proc."""

from __future__ import annotations

import os
import tempfile

import pytest

from devcapsules.executor import execute, sandbox, seccomp

from .conftest import restart_pool, run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]

SYSCALL = """
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    result = libc.syscall(nr, *args)
    return [result, os.strerror(ctypes.get_errno()) if result == -1 else ""]
"""
NR = seccomp.ARCHES[os.uname().machine][1]
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000


def probe(body: str) -> str:
    result = run(execute(SYSCALL + body, "python", time_limit_s=5))
    assert result.status == "ok", (result.status, result.stderr)
    return result.stdout


def test_io_uring_is_not_available():
    params = "ctypes.create_string_buffer(120)"
    out = probe(f"print(call({NR['io_uring_setup']}, 4, {params}))")
    assert out == "[-1, 'Function not implemented']\n"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("unshare", (CLONE_NEWUSER,)),
        ("unshare", (CLONE_NEWNS,)),
        ("setns", (0, 0)),
        ("ptrace", (0, 0, 0, 0)),  # PTRACE_TRACEME
        ("keyctl", (0, 0, 0, 0)),
        ("add_key", (0, 0, 0, 0, 0)),
        ("bpf", (0, 0, 0)),
        ("perf_event_open", (0, 0, -1, -1, 0)),
        ("userfaultfd", (0,)),
        ("mount", (0, 0, 0, 0, 0)),
        ("umount2", (0, 0)),
        ("pivot_root", (0, 0)),
        ("init_module", (0, 0, 0)),
        ("finit_module", (0, 0, 0)),
        ("kexec_load", (0, 0, 0, 0)),
        ("process_vm_readv", (1, 0, 0, 0, 0, 0)),
        ("mq_open", (0, 0, 0, 0)),  # allowed, this would read EFAULT (Bad address)
    ],
)
def test_denied_calls_fail_with_eperm(name, args):
    out = probe(f"print(call({NR[name]}, *{args!r}))")
    assert out == "[-1, 'Operation not permitted']\n", name


def test_clone_into_a_new_namespace_is_refused_but_fork_and_threads_work():
    body = (
        f"print(call({NR['clone']}, {CLONE_NEWUSER | 17}, 0, 0, 0, 0))\n"  # 17: SIGCHLD
        "import threading, subprocess\n"
        "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "print(subprocess.run(['/bin/echo', 'child'], capture_output=True).stdout)\n"
    )
    assert probe(body) == "[-1, 'Operation not permitted']\nb'child\\n'\n"


def test_no_nested_user_namespace_even_without_the_filter(monkeypatch):
    # bwrap's --disable-userns on its own: with an allow-all filter, unshare reaches the
    # kernel, which refuses a user namespace beyond the sandbox's own.
    allow_all = (0x06).to_bytes(2, "little") + b"\0\0" + (0x7FFF0000).to_bytes(4, "little")
    monkeypatch.setattr(sandbox, "_seccomp_program", lambda: allow_all)
    restart_pool()  # warm sandboxes built from now on get the patched filter too
    out = probe(f"print(call({NR['unshare']}, {CLONE_NEWUSER}))")
    assert out == "[-1, 'No space left on device']\n"  # the namespace count is exhausted


def test_no_host_path_in_any_visible_process_or_mount():
    out = probe(
        "import glob\n"
        "seen = []\n"
        "for path in glob.glob('/proc/[0-9]*/cmdline') + glob.glob('/proc/[0-9]*/environ'):\n"
        "    try: seen.append(open(path, 'rb').read().decode('utf-8', 'replace'))\n"
        "    except OSError: pass\n"
        "print(json.dumps(seen))\n"
    )
    seen = out
    project = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    for host_path in (project, tempfile.gettempdir() + "/", "site-packages", "/root"):
        assert host_path not in seen, host_path
    assert sandbox.SUPPORT_DIR in seen  # it did read pid 1's (the stub's or the launcher's)
