"""The languages this host can run: toolchains discovered once, on first use.

Every command here runs inside the sandbox with the run's work directory as cwd, so source
and binary paths are relative. Toolchains must live under /usr (mounted read-only) or bring
their own `mounts` (Rust's sysroot, a JDK's /etc config). Memory is capped with RLIMIT_AS
where that works; managed runtimes reserve gigabytes of address space up front, so for
them the heap flag in the command is the limit and RLIMIT_AS only a loose backstop.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .sandbox import Mount

log = logging.getLogger(__name__)

RUST_DIR = "/opt/rust"  # where the host's Rust sysroot appears inside the sandbox


class UnknownLanguage(LookupError):
    """Not a language (or alias) this host supports (HTTP: 422 listing `supported`)."""

    def __init__(self, name: str, supported: list[str]) -> None:
        super().__init__(f"unsupported language {name!r}; supported: {', '.join(supported)}")
        self.name, self.supported = name, supported


@dataclass(frozen=True)
class Language:
    name: str
    version: str
    aliases: tuple[str, ...]
    source_file: str
    compile_cmd: tuple[str, ...] | None  # None: interpreted
    run_cmd: tuple[str, ...]  # "{memory_mb}" is replaced by the run's memory limit
    mounts: tuple[Mount, ...] = ()
    # Extra RLIMIT_AS on top of the memory limit; None: the runtime reserves too much
    # address space for RLIMIT_AS to mean anything, so the heap flag does the job.
    address_space_slack_mb: int | None = 0
    compile_address_space_mb: int | None = 2048

    def run_argv(self, memory_mb: int) -> list[str]:
        return [part.replace("{memory_mb}", str(memory_mb)) for part in self.run_cmd]

    def address_space_mb(self, memory_mb: int) -> int | None:
        if self.address_space_slack_mb is None:
            return None
        return memory_mb + self.address_space_slack_mb


@dataclass(frozen=True)
class _Candidate:
    name: str
    binary: str  # looked up on PATH
    version_cmd: Callable[[str], list[str]]
    build: Callable[[str, str], Language | str]  # (binary, version) -> Language or why not


def _python(binary: str, version: str) -> Language:
    return Language(
        "python", version, ("python", "py", "python3"), "main.py", None, (binary, "main.py")
    )


def _javascript(binary: str, version: str) -> Language:
    # V8 reserves ~1 GB of address space at start; --max-old-space-size is the real cap.
    return Language(
        "javascript",
        version,
        ("javascript", "js", "node", "nodejs"),
        "main.js",
        None,
        (binary, "--max-old-space-size={memory_mb}", "main.js"),
        address_space_slack_mb=None,
    )


def _c(binary: str, version: str) -> Language:
    return Language(
        "c",
        version,
        ("c", "gcc"),
        "main.c",
        (binary, "-O2", "-std=gnu17", "-o", "main", "main.c", "-lm"),
        ("./main",),
    )


def _cpp(binary: str, version: str) -> Language:
    return Language(
        "cpp",
        version,
        ("cpp", "c++", "g++", "cxx"),
        "main.cpp",
        (binary, "-O2", "-std=gnu++17", "-o", "main", "main.cpp"),
        ("./main",),
    )


def _java(binary: str, version: str) -> Language:
    java = os.path.join(os.path.dirname(os.path.realpath(binary)), "java")
    # Debian's JDK keeps its config under /etc/java-N-openjdk, linked from the JDK tree.
    mounts = tuple(Mount(path, path) for path in sorted(glob.glob("/etc/java-*")))
    run = (
        java,
        "-Xmx{memory_mb}m",
        "-Xss64m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-cp",
        ".",
        "Main",
    )
    return Language(
        "java",
        version,
        ("java",),
        "Main.java",
        (
            binary,
            "-J-Xmx512m",
            "-J-XX:+UseSerialGC",
            "-J-XX:TieredStopAtLevel=1",
            "-encoding",
            "UTF-8",
            "Main.java",
        ),
        run,
        mounts,
        address_space_slack_mb=None,
        compile_address_space_mb=None,
    )


def _rust(binary: str, version: str) -> Language | str:
    sysroot = subprocess.run(
        [binary, "--print", "sysroot"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    if not os.path.realpath(sysroot).startswith("/usr/") and not os.access(sysroot, os.R_OK):
        return f"its sysroot {sysroot} is not readable by this process"
    # We mount the sysroot, not the rustup proxy. The mount is by descriptor (see
    # sandbox._command), so a rustup toolchain under a 0700 /root works too.
    return Language(
        "rust",
        version,
        ("rust", "rs"),
        "main.rs",
        (f"{RUST_DIR}/bin/rustc", "-O", "--edition", "2021", "-o", "main", "main.rs"),
        ("./main",),
        (Mount(sysroot, RUST_DIR),),
        compile_address_space_mb=None,
    )


_CANDIDATES = (
    _Candidate("python", "python3", lambda b: [b, "--version"], _python),
    _Candidate("javascript", "node", lambda b: [b, "--version"], _javascript),
    _Candidate("c", "gcc", lambda b: [b, "-dumpfullversion"], _c),
    _Candidate("cpp", "g++", lambda b: [b, "-dumpfullversion"], _cpp),
    _Candidate("java", "javac", lambda b: [b, "-version"], _java),
    _Candidate("rust", "rustc", lambda b: [b, "--version"], _rust),
)


def _binary(name: str) -> str | None:
    # Prefer the system toolchain under /usr: it is what the sandbox mounts.
    for directory in ("/usr/bin", "/usr/local/bin"):
        if os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    return shutil.which(name)


def _probe(candidate: _Candidate) -> Language | str | None:
    """The language; or, for a toolchain the host has but the sandbox cannot use, why not;
    None when the host has no such toolchain."""
    binary = _binary(candidate.binary)
    if binary is None:
        return None
    real = os.path.realpath(binary)
    if candidate.name != "rust" and not real.startswith("/usr/"):
        return f"{real} is outside /usr, the tree the sandbox mounts"
    try:
        done = subprocess.run(
            candidate.version_cmd(binary), capture_output=True, text=True, timeout=30
        )
        match = re.search(r"\d+(?:\.\d+)+", done.stdout + done.stderr)
        found = candidate.build(binary, match.group(0) if match else "unknown")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"probing {binary} failed: {exc}"
    if isinstance(found, Language) and os.path.isabs(found.run_cmd[0]):
        # A runtime every run of the language executes: its code stays resident, out of
        # the runs' memory limits (resident.py: else a run at its limit can thrash).
        # Imported here, at discovery: its ctypes was ~9 ms of every executor import.
        from . import resident

        resident.keep(found.run_cmd[0])
    return found


@functools.cache
def _discovered() -> tuple[dict[str, Language], dict[str, str]]:
    """Probe every known toolchain (in parallel: javac alone takes ~0.5 s). Cached."""
    with ThreadPoolExecutor(len(_CANDIDATES)) as pool:
        found = list(pool.map(_probe, _CANDIDATES))
    usable = {item.name: item for item in found if isinstance(item, Language)}
    unusable = {
        candidate.name: item
        for candidate, item in zip(_CANDIDATES, found, strict=True)
        if isinstance(item, str)
    }
    for name, reason in unusable.items():
        log.warning("%s: found on this host but not usable in the sandbox: %s", name, reason)
    return usable, unusable


def discover() -> dict[str, Language]:
    return _discovered()[0]


def unusable_languages() -> dict[str, str]:
    """Toolchains this host has that the sandbox cannot run: name -> why not."""
    return _discovered()[1]


def available_languages() -> list[Language]:
    return list(discover().values())


def resolve(name: str) -> Language:
    """Find a language by name or alias, case-insensitively; raise UnknownLanguage."""
    wanted = name.strip().lower()
    for language in discover().values():
        if wanted in language.aliases:
            return language
    raise UnknownLanguage(name, sorted(discover()))
