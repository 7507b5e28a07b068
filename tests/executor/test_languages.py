import shutil

import pytest

from devcapsules.executor.languages import UnknownLanguage, available_languages, resolve
from devcapsules.executor.limits import Limits


def test_python_and_javascript_are_discovered_with_versions():
    names = {language.name: language for language in available_languages()}
    assert {"python", "javascript"} <= names.keys()
    assert names["python"].version[0].isdigit()
    assert names["python"].compile_cmd is None


@pytest.mark.parametrize(
    ("alias", "name"),
    [("py", "python"), ("Python3", "python"), ("js", "javascript"), ("node", "javascript")],
)
def test_aliases_resolve_case_insensitively(alias, name):
    assert resolve(alias).name == name


def test_cpp_alias_when_present():
    names = {language.name for language in available_languages()}
    if "cpp" not in names:
        pytest.skip("g++ not installed")
    assert resolve("c++").name == "cpp"


def test_unknown_language_lists_the_supported_ones():
    with pytest.raises(UnknownLanguage) as caught:
        resolve("cobol")
    assert "python" in caught.value.supported
    assert "cobol" in str(caught.value)


def test_client_limits_are_clamped_to_server_maximums():
    limits = Limits(max_time_limit_s=2, max_memory_limit_mb=128)

    def clamp(time_s, memory_mb):
        run = limits.clamp(time_s, memory_mb)
        return run.time_limit_s, run.memory_limit_mb

    assert clamp(60, 4096) == (2, 128)
    assert clamp(None, None) == (limits.default_time_limit_s, 128)
    assert clamp(0, 1) == (0.1, 16)


def test_every_toolchain_of_this_host_runs_in_the_sandbox_rust_included():
    # rustup's toolchain lives under a 0700 /root here: it is staged, not skipped.
    from devcapsules.executor.languages import unusable_languages

    assert unusable_languages() == {}
    if shutil.which("rustc"):
        assert resolve("rust").name == "rust"


def test_a_toolchain_outside_the_mounted_tree_is_listed_with_the_reason(monkeypatch, tmp_path):
    from devcapsules.executor import languages

    node = tmp_path / "node"
    node.write_text("#!/bin/sh\necho v20.0.0\n")
    node.chmod(0o755)
    monkeypatch.setattr(languages, "_binary", lambda name: str(node) if name == "node" else None)
    candidate = next(c for c in languages._CANDIDATES if c.name == "javascript")
    assert languages._probe(candidate) == f"{node} is outside /usr, the tree the sandbox mounts"
