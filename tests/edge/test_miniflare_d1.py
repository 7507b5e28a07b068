"""The Miniflare D1 client: every Protocol operation against workerd's own D1."""

from __future__ import annotations

import pytest

from devcapsules.bindings.protocols import D1Error


def make_table(run, env, name: str) -> None:
    columns = "id INTEGER PRIMARY KEY, n INTEGER, r REAL, b BLOB, t TEXT"
    run(env.db.exec(f"CREATE TABLE {name} ({columns})"))


def test_values_round_trip_exactly(mf_env, run, unique):
    async def body():
        env = mf_env
        await env.db.exec(f"CREATE TABLE {unique} (a, n INTEGER, r REAL, b BLOB, t TEXT)")
        insert = env.db.prepare(f"INSERT INTO {unique} VALUES (?, ?, ?, ?, ?)")
        await insert.bind(None, True, 2.5, b"\x00\xff\x10", "naïve ☃ 𝄞").run()
        return await env.db.prepare(f"SELECT * FROM {unique}").first()

    row = run(body())
    # NULL reads back as None, a bool binds as 1, a BLOB comes back as D1 returns it
    # (an array of byte values), unicode survives.
    assert row == {"a": None, "n": 1, "r": 2.5, "b": [0, 255, 16], "t": "naïve ☃ 𝄞"}


def test_integral_real_reads_back_as_int_like_on_the_edge(mf_env, run):
    # JS has one number type: D1 returns REAL 1.0 as 1, and Pyodide hands Python an int.
    value = run(mf_env.db.prepare("SELECT CAST(1 AS REAL) AS x").first("x"))
    assert value == 1 and isinstance(value, int)


def test_integers_beyond_2_53_read_back_as_floats(mf_env, run):
    value = run(mf_env.db.prepare("SELECT 9007199254740993 AS x").first("x"))
    assert isinstance(value, float) and value == 9007199254740992.0


def test_binding_an_int_pyodide_sends_as_bigint_is_refused(mf_env, run):
    statement = mf_env.db.prepare("SELECT ? AS x")
    assert run(statement.bind(2**53 - 2).first("x")) == 2**53 - 2
    with pytest.raises(D1Error, match="D1_TYPE_ERROR: Type 'bigint' not supported"):
        run(statement.bind(2**53 - 1).first("x"))


def test_run_reports_changes_and_last_row_id(mf_env, run, unique):
    env = mf_env
    make_table(run, env, unique)
    result = run(env.db.prepare(f"INSERT INTO {unique} (t) VALUES (?), (?)").bind("a", "b").run())
    assert result["success"] is True
    assert result["meta"]["changes"] == 2
    assert result["meta"]["last_row_id"] == 2
    assert result["results"] == []


def test_all_first_and_raw(mf_env, run, unique):
    env = mf_env
    make_table(run, env, unique)
    run(env.db.prepare(f"INSERT INTO {unique} (n, t) VALUES (1, 'x'), (2, 'y')").run())
    select = env.db.prepare(f"SELECT n, t FROM {unique} ORDER BY n")
    assert run(select.all())["results"] == [{"n": 1, "t": "x"}, {"n": 2, "t": "y"}]
    assert run(select.first()) == {"n": 1, "t": "x"}
    assert run(select.first("t")) == "x"
    assert run(select.raw()) == [[1, "x"], [2, "y"]]
    assert run(select.raw(column_names=True)) == [["n", "t"], [1, "x"], [2, "y"]]
    assert run(env.db.prepare(f"SELECT * FROM {unique} WHERE 0").first()) is None


def test_batch_is_atomic(mf_env, run, unique):
    env = mf_env
    make_table(run, env, unique)
    good = env.db.prepare(f"INSERT INTO {unique} (t) VALUES (?)").bind("kept?")
    bad = env.db.prepare("SELECT no_such_column")
    with pytest.raises(D1Error, match="^D1_ERROR: no such column"):
        run(env.db.batch([good, bad]))
    assert run(env.db.prepare(f"SELECT count(*) AS c FROM {unique}").first("c")) == 0

    results = run(env.db.batch([good, env.db.prepare(f"SELECT t FROM {unique}")]))
    assert [r["results"] for r in results] == [[], [{"t": "kept?"}]]


def test_exec_runs_several_statements(mf_env, run, unique):
    result = run(mf_env.db.exec(f"CREATE TABLE {unique} (x);\nINSERT INTO {unique} VALUES (1);"))
    assert result["count"] == 2


def test_sql_error_and_platform_refusals(mf_env, run):
    db = mf_env.db
    with pytest.raises(D1Error, match="^D1_ERROR: no such table"):
        run(db.prepare("SELECT * FROM missing_table").all())
    with pytest.raises(D1Error, match="^D1_ERROR: To execute a transaction"):
        run(db.prepare("BEGIN").run())
    placeholders = ", ".join("?" * 101)
    with pytest.raises(D1Error, match="too many SQL variables"):
        run(db.prepare(f"SELECT {placeholders}").bind(*range(101)).all())
    assert len(run(db.prepare(f"SELECT {placeholders[3:]}").bind(*range(100)).raw())[0]) == 100
