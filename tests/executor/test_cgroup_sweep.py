"""The start-up sweep of abandoned run cgroups never takes a live host's: a host under
another TMPDIR looks gone from here, and its fresh (still empty) run cgroup must stay."""

from __future__ import annotations

import os

import pytest

from devcapsules.executor import cgroup, hostdir


@pytest.fixture
def found():
    hierarchy = cgroup.hierarchy()
    if hierarchy is None:
        pytest.skip("this host gives no cgroup")
    return hierarchy


def _elsewhere(found) -> cgroup.RunCgroup:
    # Named like a run cgroup of a host whose scratch directory is not under our TMPDIR.
    name = f"{cgroup.PREFIX}{hostdir.PREFIX}elsewhere{id(found)}-0"
    return found.create(name, 64 << 20, 8)


def test_a_fresh_cgroup_of_a_host_under_another_tmpdir_is_left_alone(found):
    group = _elsewhere(found)
    try:
        cgroup._sweep(found)
        assert all(os.path.exists(path) for path in group.dirs)
    finally:
        group.try_remove()


def test_an_abandoned_one_past_the_grace_is_removed(found, monkeypatch):
    group = _elsewhere(found)
    monkeypatch.setattr(cgroup, "_SWEEP_GRACE_S", -1.0)
    try:
        cgroup._sweep(found)
        assert not any(os.path.exists(path) for path in group.dirs)
    finally:
        group.try_remove()
