"""The Miniflare KV client against workerd's own KV simulator."""

from __future__ import annotations

import pytest

from devcapsules.bindings.protocols import BindingError


def test_text_json_bytes_and_missing(mf_env, run, unique):
    async def body():
        kv = mf_env.kv
        await kv.put(f"{unique}:text", "héllo")
        await kv.put(f"{unique}:json", '{"a": [1, null]}')
        await kv.put(f"{unique}:bytes", b"\x00\x01\xff")
        return (
            await kv.get(f"{unique}:text"),
            await kv.get(f"{unique}:json", type="json"),
            await kv.get(f"{unique}:bytes", type="arrayBuffer"),
            await kv.get(f"{unique}:bytes", type="bytes"),
            await kv.get(f"{unique}:missing"),
            await kv.get_with_metadata(f"{unique}:missing"),
        )

    text, data, raw, raw_alias, missing, missing_meta = run(body())
    assert text == "héllo"
    assert data == {"a": [1, None]}
    assert raw == raw_alias == b"\x00\x01\xff"
    assert missing is None
    assert missing_meta == {"value": None, "metadata": None}


def test_metadata_and_ttl(mf_env, run, unique):
    async def body():
        kv = mf_env.kv
        await kv.put(unique, "v", expiration_ttl=60, metadata={"plan": "pro", "n": 2})
        return await kv.get_with_metadata(unique), await kv.list(prefix=unique)

    found, listed = run(body())
    assert found == {"value": "v", "metadata": {"plan": "pro", "n": 2}}
    [entry] = listed["keys"]
    assert entry["name"] == unique and entry["metadata"] == {"plan": "pro", "n": 2}
    assert isinstance(entry["expiration"], int)


def test_ttl_under_60_seconds_is_refused(mf_env, run, unique):
    with pytest.raises(BindingError, match="Invalid expiration_ttl of 59"):
        run(mf_env.kv.put(unique, "v", expiration_ttl=59))
    assert run(mf_env.kv.get(unique)) is None


def test_list_prefix_limit_cursor_and_delete(mf_env, run, unique):
    async def body():
        kv = mf_env.kv
        for i in range(5):
            await kv.put(f"{unique}:{i}", str(i))
        await kv.put(f"other{unique}", "x")
        first = await kv.list(prefix=f"{unique}:", limit=2)
        second = await kv.list(prefix=f"{unique}:", limit=10, cursor=first["cursor"])
        await kv.delete(f"{unique}:0")
        after = await kv.list(prefix=f"{unique}:")
        return first, second, after

    first, second, after = run(body())
    assert [k["name"] for k in first["keys"]] == [f"{unique}:0", f"{unique}:1"]
    assert first["list_complete"] is False and first["cursor"]
    assert [k["name"] for k in second["keys"]] == [f"{unique}:{i}" for i in (2, 3, 4)]
    assert second["list_complete"] is True and "cursor" not in second
    assert len(after["keys"]) == 4
