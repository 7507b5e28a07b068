"""Apply D1 migrations to a local database, in wrangler's own bookkeeping format.

Wrangler records applied migrations in a `d1_migrations` table (id, name,
applied_at) and applies files in name order; we do the same, so a database
migrated here is recognised by `wrangler d1 migrations apply` and vice versa.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)
"""


class MigrationError(RuntimeError):
    """A migration file failed; nothing of it was applied."""


def migration_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if p.is_file())


def pending_migrations(connection: sqlite3.Connection, directory: Path) -> list[Path]:
    connection.execute(MIGRATIONS_TABLE)
    applied = {row[0] for row in connection.execute("SELECT name FROM d1_migrations")}
    return [p for p in migration_files(directory) if p.name not in applied]


def apply_migrations(connection: sqlite3.Connection, directory: Path) -> list[str]:
    """Apply each pending file in its own transaction; return the names applied."""
    applied: list[str] = []
    for path in pending_migrations(connection, directory):
        script = path.read_text()
        record = f"INSERT INTO d1_migrations (name) VALUES ({_quote(path.name)});"
        try:
            # executescript would COMMIT first; wrap the file and its record in one transaction.
            connection.executescript(f"BEGIN;\n{script}\n;\n{record}\nCOMMIT;")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise MigrationError(f"{path.name}: {exc}") from exc
        applied.append(path.name)
    return applied


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
