import pytest

from devcapsules.bindings.protocols import BindingError, KVNamespace
from devcapsules.bindings.sqlite_kv import SqliteKV
from tests.bindings.conftest import run


@pytest.fixture
def kv(tmp_path, clock):
    namespace = SqliteKV(tmp_path / "kv.sqlite3", clock=clock)
    yield namespace
    namespace.close()


def test_implements_the_protocol(kv):
    assert isinstance(kv, KVNamespace)


def test_put_get_types(kv):
    run(kv.put("k", '{"a": 1}'))
    assert run(kv.get("k")) == '{"a": 1}'
    assert run(kv.get("k", type="json")) == {"a": 1}
    assert run(kv.get("k", type="arrayBuffer")) == b'{"a": 1}'


def test_missing_key_is_none(kv):
    assert run(kv.get("missing")) is None
    assert run(kv.get_with_metadata("missing")) == {"value": None, "metadata": None}


def test_metadata_round_trips(kv):
    run(kv.put("k", "v", metadata={"owner": "usr_1"}))
    assert run(kv.get_with_metadata("k")) == {"value": "v", "metadata": {"owner": "usr_1"}}


@pytest.mark.parametrize("ttl", [0, 1, 59])
def test_ttl_under_60_seconds_is_refused(kv, ttl):
    with pytest.raises(BindingError, match="Expiration TTL must be at least 60"):
        run(kv.put("k", "v", expiration_ttl=ttl))


def test_expired_keys_disappear(kv, clock):
    run(kv.put("k", "v", expiration_ttl=60))
    clock.now += 59
    assert run(kv.get("k")) == "v"
    clock.now += 1
    assert run(kv.get("k")) is None
    assert run(kv.list())["keys"] == []


def test_list_prefix_limit_cursor(kv):
    for name in ["a/3", "a/1", "b/1", "a/2"]:
        run(kv.put(name, "x"))
    first = run(kv.list(prefix="a/", limit=2))
    assert [k["name"] for k in first["keys"]] == ["a/1", "a/2"]
    assert first["list_complete"] is False
    second = run(kv.list(prefix="a/", limit=2, cursor=first["cursor"]))
    assert [k["name"] for k in second["keys"]] == ["a/3"]
    assert second["list_complete"] is True and "cursor" not in second


def test_list_shows_expiration_and_metadata(kv, clock):
    run(kv.put("k", "v", expiration_ttl=120, metadata={"m": 1}))
    assert run(kv.list())["keys"] == [
        {"name": "k", "expiration": int(clock.now) + 120, "metadata": {"m": 1}}
    ]


def test_key_and_metadata_limits(kv):
    with pytest.raises(BindingError, match="414"):
        run(kv.put("x" * 513, "v"))
    with pytest.raises(BindingError, match="Metadata"):
        run(kv.put("k", "v", metadata={"m": "x" * 1100}))


def test_delete(kv):
    run(kv.put("k", "v"))
    run(kv.delete("k"))
    assert run(kv.get("k")) is None


def test_persists_across_reopen(tmp_path, clock):
    first = SqliteKV(tmp_path / "kv.sqlite3", clock=clock)
    run(first.put("k", "v"))
    first.close()
    second = SqliteKV(tmp_path / "kv.sqlite3", clock=clock)
    assert run(second.get("k")) == "v"
    second.close()
