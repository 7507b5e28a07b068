import asyncio

import pytest

from devcapsules.bindings.protocols import D1Error, Database
from devcapsules.bindings.sqlite_d1 import SqliteD1


@pytest.fixture
def db(tmp_path):
    database = SqliteD1(tmp_path / "d1.sqlite3")
    run(database.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER, b BLOB);"))
    yield database
    database.close()


def run(awaitable):
    return asyncio.run(awaitable)


def test_implements_the_protocol(db):
    assert isinstance(db, Database)


def test_run_reports_changes_and_last_row_id(db):
    result = run(db.prepare("INSERT INTO t (v) VALUES (?)").bind("a").run())
    assert result["success"] is True
    assert result["meta"]["changes"] == 1
    assert result["meta"]["last_row_id"] == 1
    assert result["results"] == []


def test_all_first_raw_shapes(db):
    run(db.prepare("INSERT INTO t (v, n) VALUES (?, ?)").bind("a", 7).run())
    select = db.prepare("SELECT id, v, n FROM t")
    assert run(select.all())["results"] == [{"id": 1, "v": "a", "n": 7}]
    assert run(select.first()) == {"id": 1, "v": "a", "n": 7}
    assert run(select.first("v")) == "a"
    assert run(select.raw()) == [[1, "a", 7]]
    assert run(select.raw(column_names=True)) == [["id", "v", "n"], [1, "a", 7]]
    assert run(db.prepare("SELECT v FROM t WHERE 0").first()) is None


def test_first_with_unknown_column_is_refused(db):
    run(db.prepare("INSERT INTO t (v) VALUES ('a')").run())
    with pytest.raises(D1Error, match="D1_COLUMN_NOTFOUND"):
        run(db.prepare("SELECT v FROM t").first("nope"))


def test_null_and_booleans_bind_like_d1(db):
    run(db.prepare("INSERT INTO t (v, n) VALUES (?, ?)").bind(None, True).run())
    assert run(db.prepare("SELECT v, n FROM t").first()) == {"v": None, "n": 1}


def test_integers_beyond_the_safe_range_are_refused(db):
    assert run(db.prepare("SELECT ? AS x").bind(2**53 - 2).first("x")) == 2**53 - 2
    with pytest.raises(D1Error, match="D1_TYPE_ERROR"):
        db.prepare("SELECT ?").bind(2**53 - 1)


def test_numbers_read_back_as_js_doubles(db):
    row = run(db.prepare("SELECT 9007199254740993 AS big, CAST(2 AS REAL) AS r, 2.5 AS f").first())
    assert row == {"big": 9007199254740992.0, "r": 2, "f": 2.5}
    assert isinstance(row["big"], float) and isinstance(row["r"], int)


def test_unsupported_types_are_refused(db):
    with pytest.raises(D1Error, match="D1_TYPE_ERROR"):
        db.prepare("SELECT ?").bind({"a": 1})


def test_blobs_come_back_as_byte_arrays(db):
    run(db.prepare("INSERT INTO t (b) VALUES (?)").bind(b"\x00\xff").run())
    assert run(db.prepare("SELECT b FROM t").first("b")) == [0, 255]


def test_more_than_100_bound_parameters_is_refused(db):
    hundred = ",".join("?" * 100)
    assert len(run(db.prepare(f"SELECT {hundred}").bind(*range(100)).raw())[0]) == 100
    with pytest.raises(D1Error, match="too many SQL variables"):
        run(db.prepare(f"SELECT {hundred},?").bind(*range(101)).all())


@pytest.mark.parametrize("sql", ["BEGIN", "begin transaction", "SAVEPOINT x", "COMMIT"])
def test_transaction_statements_are_refused(db, sql):
    with pytest.raises(D1Error, match="BEGIN TRANSACTION"):
        run(db.prepare(sql).run())


def test_sql_errors_carry_d1_prefix(db):
    with pytest.raises(D1Error, match=r"^D1_ERROR: no such column: nope"):
        run(db.prepare("SELECT nope FROM t").all())


def test_batch_is_atomic(db):
    insert = db.prepare("INSERT INTO t (v) VALUES (?)")
    with pytest.raises(D1Error):
        run(db.batch([insert.bind("kept?"), db.prepare("INSERT INTO missing VALUES (1)")]))
    assert run(db.prepare("SELECT count(*) AS c FROM t").first("c")) == 0
    results = run(db.batch([insert.bind("a"), insert.bind("b"), db.prepare("SELECT v FROM t")]))
    assert [r["meta"]["changes"] for r in results] == [1, 1, 0]
    assert results[2]["results"] == [{"v": "a"}, {"v": "b"}]


def test_batch_counts_one_round_trip(db):
    before = db.round_trips
    insert = db.prepare("INSERT INTO t (v) VALUES (?)")
    run(db.batch([insert.bind(str(i)) for i in range(5)]))
    assert db.round_trips == before + 1


def test_exec_runs_several_statements(db):
    result = run(db.exec("INSERT INTO t (v) VALUES ('x'); INSERT INTO t (v) VALUES ('y;z');"))
    assert result["count"] == 2
    assert run(db.prepare("SELECT v FROM t ORDER BY id").raw()) == [["x"], ["y;z"]]


def test_foreign_keys_are_enforced(db):
    run(db.exec("CREATE TABLE parent (id TEXT PRIMARY KEY);"))
    run(db.exec("CREATE TABLE child (p TEXT REFERENCES parent(id));"))
    with pytest.raises(D1Error, match="FOREIGN KEY"):
        run(db.prepare("INSERT INTO child VALUES ('nope')").run())


def test_upsert_returning_is_atomic_counter(db):
    run(db.exec("CREATE TABLE c (k TEXT PRIMARY KEY, n INTEGER NOT NULL);"))
    upsert = db.prepare(
        "INSERT INTO c (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1 RETURNING n"
    )

    async def many():
        return await asyncio.gather(*(upsert.bind("x").first("n") for _ in range(50)))

    assert sorted(run(many())) == list(range(1, 51))


def test_a_file_database_commits_without_an_fsync_per_transaction(db):
    # WAL + synchronous=NORMAL (1): no fsync on the response path of every counted
    # request; the default FULL (2) synced the log at each commit.
    assert db.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.connection.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_a_commit_survives_a_crash_of_the_process(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "crash.sqlite3"
    writer = (
        "import asyncio, os\n"
        "from devcapsules.bindings.sqlite_d1 import SqliteD1\n"
        f"db = SqliteD1({str(path)!r})\n"
        "asyncio.run(db.exec('CREATE TABLE t (v TEXT);'))\n"
        "asyncio.run(db.prepare('INSERT INTO t (v) VALUES (?)').bind('kept').run())\n"
        "os._exit(0)  # no close, no checkpoint: as if the host was killed\n"
    )
    subprocess.run([sys.executable, "-c", writer], check=True)
    reopened = SqliteD1(path)
    try:
        assert run(reopened.prepare("SELECT v FROM t").first("v")) == "kept"
    finally:
        reopened.close()
