import sqlite3

import pytest

from devcapsules.local.migrations import (
    MigrationError,
    apply_migrations,
    migration_files,
    pending_migrations,
)
from tests.support.bindings import MIGRATIONS


def tables(connection):
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def test_initial_schema_creates_every_table():
    connection = sqlite3.connect(":memory:")
    applied = apply_migrations(connection, MIGRATIONS)
    assert applied[0] == "0001_initial_schema.sql"
    assert applied == [path.name for path in migration_files(MIGRATIONS)]
    assert {
        "users",
        "refresh_tokens",
        "api_keys",
        "capsules",
        "capsule_tags",
        "generation_jobs",
        "executions",
        "analytics_events",
        "analytics_daily",
        "analytics_sessions",
        "usage_counters",
        "quota_charges",
        "d1_migrations",
    } <= tables(connection)


def test_migrations_are_idempotent():
    connection = sqlite3.connect(":memory:")
    apply_migrations(connection, MIGRATIONS)
    assert apply_migrations(connection, MIGRATIONS) == []
    assert pending_migrations(connection, MIGRATIONS) == []
    names = connection.execute("SELECT name FROM d1_migrations").fetchall()
    assert names == [(path.name,) for path in migration_files(MIGRATIONS)]


def test_enum_check_constraints_hold():
    connection = sqlite3.connect(":memory:")
    apply_migrations(connection, MIGRATIONS)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        connection.execute(
            "INSERT INTO users (id, email, name, password_hash, plan, created_at, updated_at)"
            " VALUES ('u', 'a@b.c', 'n', 'h', 'platinum', 't', 't')"
        )


def test_failed_migration_applies_nothing(tmp_path):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (x);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x); INSERT INTO nope VALUES (1);")
    connection = sqlite3.connect(":memory:")
    with pytest.raises(MigrationError, match="0002_bad.sql"):
        apply_migrations(connection, tmp_path)
    assert "a" in tables(connection) and "b" not in tables(connection)
    assert [p.name for p in pending_migrations(connection, tmp_path)] == ["0002_bad.sql"]


def test_generation_jobs_no_longer_has_the_write_only_quota_refunded_column():
    # A refund is the deletion of the job's quota_charges row; 0007 drops the old flag.
    connection = sqlite3.connect(":memory:")
    apply_migrations(connection, MIGRATIONS)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(generation_jobs)")}
    assert "quota_refunded" not in columns
    assert {"id", "user_id", "status", "created_at"} <= columns
