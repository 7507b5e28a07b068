"""D1 on a local SQLite file, with the platform's rules.

D1 is SQLite behind an API, so the SQL is the same; what this module adds are
the rules the API imposes, each checked against Miniflare's simulator:
- at most 100 bound parameters per statement (`SQLITE_LIMIT_VARIABLE_NUMBER`);
- no `BEGIN`/`COMMIT`/`SAVEPOINT`: `batch()` is the transaction;
- bound values are None, bool, int of magnitude below 2**53 - 1, float, str or bytes
  (Pyodide sends larger ints as BigInt, which D1 refuses);
- numbers read back as D1 returns them through JS doubles: an INTEGER beyond the safe
  range becomes a float, a REAL with an integral value an int;
- errors are raised with D1's `D1_ERROR: ...` / `D1_TYPE_ERROR: ...` messages;
- foreign keys are enforced (D1 enables them);
- results are `{"results", "success", "meta": {"changes", "last_row_id", ...}}`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devcapsules.bindings.protocols import D1_MAX_BOUND_PARAMETERS, D1Error

MAX_SAFE_INTEGER = 2**53 - 1
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE
)
_TRANSACTION_MESSAGE = (
    "D1_ERROR: To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or "
    "SAVEPOINT statements."
)


def check_bind_value(value: Any) -> Any:
    """Return the value as SQLite stores it, or refuse it the way D1 does."""
    if value is None or isinstance(value, (str, float, bytes)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) >= MAX_SAFE_INTEGER:
            # On the edge such an int becomes a JS BigInt, which D1 refuses.
            raise D1Error(f"D1_TYPE_ERROR: Type 'bigint' not supported for value '{value}'")
        return value
    raise D1Error(
        f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value '{value!r}'"
    )


class SqliteStatement:
    def __init__(self, database: SqliteD1, sql: str, values: tuple[Any, ...] = ()):
        self.database = database
        self.sql = sql
        self.values = values

    def bind(self, *values: Any) -> SqliteStatement:
        # Like D1, bind() returns a new statement; the prepared one can be reused.
        return SqliteStatement(self.database, self.sql, tuple(check_bind_value(v) for v in values))

    async def all(self) -> dict[str, Any]:
        return self.database.execute_one(self)

    async def run(self) -> dict[str, Any]:
        return self.database.execute_one(self)

    async def first(self, column: str | None = None) -> Any:
        rows = self.database.execute_one(self)["results"]
        if not rows:
            return None
        if column is None:
            return rows[0]
        if column not in rows[0]:
            raise D1Error(f"D1_COLUMN_NOTFOUND: Column not found ({column})")
        return rows[0][column]

    async def raw(self, column_names: bool = False) -> list[list[Any]]:
        # Rows as lists keep columns that share a name (e.g. `SELECT 1, 1`).
        columns, rows, _ = self.database.execute_raw(self)
        values = [list(row) for row in rows]
        return [columns, *values] if column_names else values


class SqliteD1:
    """A D1 binding backed by one SQLite file (or `:memory:`)."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, D1_MAX_BOUND_PARAMETERS)
        self.connection.execute("PRAGMA foreign_keys = ON")
        self.connection.execute("PRAGMA busy_timeout = 5000")
        if self.path != ":memory:":
            self.connection.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL still keeps the database consistent and every commit
            # survives a crash of the process; only a power loss may take the last
            # commits. FULL (the default) fsyncs the log on every commit: ~1-2 ms each,
            # on the response path of every counted request (the rate limiter's upsert).
            self.connection.execute("PRAGMA synchronous = NORMAL")
        # Calls are synchronous and short; the lock makes threaded callers (the
        # executor pool, the benchmark) as safe as the event loop.
        self.lock = threading.RLock()
        self.round_trips = 0

    def prepare(self, sql: str) -> SqliteStatement:
        return SqliteStatement(self, sql)

    async def batch(self, statements: Sequence[SqliteStatement]) -> list[dict[str, Any]]:
        """All statements in one transaction: all apply, or none do."""
        with self.lock:
            self.round_trips += 1
            self._control("BEGIN IMMEDIATE")
            try:
                results = [self._execute(statement) for statement in statements]
            except BaseException:
                self._control("ROLLBACK")
                raise
            self._control("COMMIT")
            return results

    def _control(self, sql: str) -> None:
        # Even the transaction's own statements fail like D1 (e.g. a closed database).
        try:
            self.connection.execute(sql)
        except sqlite3.Error as exc:
            raise D1Error(f"D1_ERROR: {exc}: SQLITE_ERROR") from None

    async def exec(self, sql: str) -> dict[str, Any]:
        """Run raw SQL (several statements, no bindings), as D1's `exec` does."""
        started = time.perf_counter()
        statements = [s for s in _split_statements(sql) if s.strip()]
        with self.lock:
            self.round_trips += 1
            for statement in statements:
                self._refuse_transaction_control(statement)
                try:
                    self.connection.execute(statement)
                except sqlite3.Error as exc:
                    raise D1Error(f"D1_EXEC_ERROR: Error in line 1: {statement}: {exc}") from None
        return {"count": len(statements), "duration": _elapsed_ms(started)}

    def execute_one(self, statement: SqliteStatement) -> dict[str, Any]:
        with self.lock:
            self.round_trips += 1
            return self._execute(statement)

    def execute_raw(self, statement: SqliteStatement) -> tuple[list[str], list[tuple], dict]:
        with self.lock:
            self.round_trips += 1
            return self._run(statement)

    def close(self) -> None:
        self.connection.close()

    def _execute(self, statement: SqliteStatement) -> dict[str, Any]:
        columns, rows, meta = self._run(statement)
        results = [dict(zip(columns, row, strict=True)) for row in rows]
        return {"success": True, "meta": meta, "results": results}

    def _run(self, statement: SqliteStatement) -> tuple[list[str], list[tuple], dict[str, Any]]:
        self._refuse_transaction_control(statement.sql)
        started = time.perf_counter()
        before = self.connection.total_changes
        try:
            cursor = self.connection.execute(statement.sql, statement.values)
            rows = [tuple(_from_sqlite(v) for v in row) for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise D1Error(f"D1_ERROR: {exc}: SQLITE_ERROR") from None
        columns = [d[0] for d in cursor.description or ()]
        changes = self.connection.total_changes - before
        meta = {
            "served_by": "devcapsules.sqlite",
            "duration": _elapsed_ms(started),
            "changes": changes,
            "last_row_id": cursor.lastrowid or 0,
            "changed_db": changes > 0,
            "rows_read": len(rows),
            "rows_written": changes,
        }
        return columns, rows, meta

    @staticmethod
    def _refuse_transaction_control(sql: str) -> None:
        if _TRANSACTION_CONTROL.match(sql):
            raise D1Error(_TRANSACTION_MESSAGE)


def _from_sqlite(value: Any) -> Any:
    """A column value as it reaches Python on the edge, where D1 speaks JS values."""
    if isinstance(value, bytes):
        return list(value)  # D1 returns BLOBs as arrays of byte values
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return float(value)  # a JS double: precision beyond 2**53 is lost
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # JS has one number type; Pyodide maps integral ones to int
    return value


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _split_statements(sql: str) -> list[str]:
    """Split on semicolons that end complete statements (sqlite3.complete_statement)."""
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip().rstrip(";"))
            current = ""
    if current.strip(" ;\n\t"):
        statements.append(current.strip().rstrip(";"))
    return statements
