"""The favordynmods holder: cgroup v1 moves without the RCU wait (cgroup_favor.py).
How much it saves is measured in bench/_cold_path.py; here: that it is mounted as
designed, privately, and goes with the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devcapsules.executor import cgroup, cgroup_favor


def _mounts(pid: int) -> str:
    return Path(f"/proc/{pid}/mountinfo").read_text()


def _favor_line(text: str) -> str:
    return next((line for line in text.splitlines() if f"name={cgroup_favor.NAME}" in line), "")


@pytest.fixture
def v1_root():
    found = cgroup.hierarchy()
    if found is None or found.version != "v1" or os.geteuid() != 0:
        pytest.skip("favordynmods is held for cgroup v1 run cgroups, as root")
    return found


def _children() -> list[int]:
    mine = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            mine.append(int(entry))
    return mine


def test_the_host_holds_a_favordynmods_hierarchy_once_it_uses_v1_cgroups(v1_root):
    held = [pid for pid in _children() if _favor_line(_mounts(pid))]
    assert held, "no child of this host holds the favordynmods mount"
    assert "favordynmods" in _favor_line(_mounts(held[0]))


def test_the_mount_is_private_and_goes_with_its_holder(v1_root):
    holder = cgroup_favor.hold()
    assert holder is not None
    try:
        assert "favordynmods" in _favor_line(_mounts(holder.pid))
        assert _favor_line(_mounts(os.getpid())) == ""  # not in the host's namespace
    finally:
        cgroup_favor.release(holder)
    assert not Path(f"/proc/{holder.pid}").exists()
