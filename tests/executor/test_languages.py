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
    assert limits.clamp(60, 4096) == (2, 128)
    assert limits.clamp(None, None) == (limits.default_time_limit_s, 128)
    assert limits.clamp(0, 1) == (0.1, 16)
