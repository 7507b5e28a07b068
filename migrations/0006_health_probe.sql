-- One row that `GET /health?deep=true` upserts: proof that D1 accepts writes, not just
-- `SELECT 1` (a full or read-only database still answers reads).
CREATE TABLE IF NOT EXISTS health_probe (
    id         TEXT PRIMARY KEY,
    checked_at TEXT NOT NULL,
    checks     INTEGER NOT NULL DEFAULT 0
);
