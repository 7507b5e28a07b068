-- DevCapsules initial schema (D1 / SQLite).
-- Timestamps are ISO-8601 UTC text with milliseconds ("2026-02-13T12:00:00.000Z"):
-- they sort correctly as text and read well in `wrangler d1 execute`.
-- JSON columns hold validated JSON text (checked with json_valid).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,                         -- usr_...
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,      -- normalised lower-case
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,                            -- pbkdf2_sha256$iter$salt$hash
    plan          TEXT NOT NULL DEFAULT 'free'
                  CHECK (plan IN ('free', 'creator', 'team', 'enterprise')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,                           -- rt_...
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,                              -- one login = one family
    token_hash  TEXT NOT NULL UNIQUE,                       -- sha256 of the token
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    rotated_at  TEXT,                                       -- set when exchanged
    revoked_at  TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,                          -- key_...
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,                      -- first chars, for lookup/display
    key_hash     TEXT NOT NULL UNIQUE,                      -- sha256 of the full key
    scopes       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE capsules (
    id                TEXT PRIMARY KEY,                     -- cap_...
    owner_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    problem           TEXT NOT NULL DEFAULT '',
    language          TEXT NOT NULL,
    difficulty        TEXT NOT NULL DEFAULT 'medium'
                      CHECK (difficulty IN ('easy', 'medium', 'hard')),
    starter_code      TEXT NOT NULL DEFAULT '',
    solution          TEXT NOT NULL DEFAULT '',
    function_name     TEXT,
    test_cases        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(test_cases)),
    hints             TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(hints)),
    tags              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    visibility        TEXT NOT NULL DEFAULT 'private'
                      CHECK (visibility IN ('private', 'unlisted', 'public')),
    status            TEXT NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'published', 'archived')),
    source            TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'generated')),
    generation_job_id TEXT,
    quality_score     REAL CHECK (quality_score IS NULL OR quality_score BETWEEN 0 AND 1),
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    deleted_at        TEXT
);
-- List queries: newest first with (created_at, id) as the stable cursor.
CREATE INDEX capsules_owner_list ON capsules (owner_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX capsules_public_list ON capsules (status, visibility, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX capsules_language ON capsules (language, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX capsules_generation_job ON capsules (generation_job_id)
    WHERE generation_job_id IS NOT NULL;

-- One row per (capsule, tag) so the tag filter is an index lookup, not a JSON scan.
CREATE TABLE capsule_tags (
    capsule_id TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (tag, capsule_id)
);
CREATE INDEX capsule_tags_capsule ON capsule_tags (capsule_id);

CREATE TABLE generation_jobs (
    id                 TEXT PRIMARY KEY,                    -- gen_<epoch-ms>_<8 hex>
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id         TEXT,
    prompt             TEXT NOT NULL,
    language           TEXT NOT NULL,
    difficulty         TEXT NOT NULL CHECK (difficulty IN ('easy', 'medium', 'hard')),
    status             TEXT NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    stage              TEXT NOT NULL DEFAULT 'queued'
                       CHECK (stage IN ('queued', 'generating', 'validating', 'testing',
                                        'saving', 'done')),
    progress           INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    attempts           INTEGER NOT NULL DEFAULT 0,
    idempotency_key    TEXT,
    request_hash       TEXT,
    capsule_id         TEXT,
    quality_score      REAL,
    provider           TEXT,
    error_code         TEXT,
    error_message      TEXT,
    enqueued_at        TEXT,                                -- NULL until the queue took it
    lease_until        TEXT,                                -- a delivery working on it
    quota_refunded     INTEGER NOT NULL DEFAULT 0,
    generation_time_ms INTEGER,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    started_at         TEXT,
    completed_at       TEXT
);
CREATE UNIQUE INDEX generation_jobs_idempotency ON generation_jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX generation_jobs_user ON generation_jobs (user_id, created_at DESC, id DESC);
CREATE INDEX generation_jobs_unsent ON generation_jobs (created_at) WHERE enqueued_at IS NULL;

CREATE TABLE executions (
    id          TEXT PRIMARY KEY,                           -- exe_...
    user_id     TEXT,                                       -- NULL for anonymous
    api_key_id  TEXT,
    capsule_id  TEXT,
    language    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('run', 'tests')),
    status      TEXT NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    tests_passed INTEGER,
    tests_total  INTEGER,
    created_at  TEXT NOT NULL
);
CREATE INDEX executions_capsule ON executions (capsule_id, created_at) WHERE capsule_id IS NOT NULL;
CREATE INDEX executions_user ON executions (user_id, created_at) WHERE user_id IS NOT NULL;

CREATE TABLE analytics_events (
    capsule_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,                              -- client id, deduplicated
    type        TEXT NOT NULL CHECK (type IN ('capsule_view', 'code_run', 'test_run',
                                              'capsule_completed', 'hint_revealed')),
    session_id  TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(properties)),
    PRIMARY KEY (capsule_id, event_id)
);
CREATE INDEX analytics_events_received ON analytics_events (received_at);

CREATE TABLE analytics_daily (
    capsule_id      TEXT NOT NULL,
    day             TEXT NOT NULL,                          -- YYYY-MM-DD (UTC)
    views           INTEGER NOT NULL DEFAULT 0,
    runs            INTEGER NOT NULL DEFAULT 0,
    test_runs       INTEGER NOT NULL DEFAULT 0,
    test_runs_passed INTEGER NOT NULL DEFAULT 0,
    completions     INTEGER NOT NULL DEFAULT 0,
    hints           INTEGER NOT NULL DEFAULT 0,
    unique_sessions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (capsule_id, day)
);

-- First sighting of a session per capsule and day: makes unique counts exact
-- while storing only a hash of the anonymous session id.
CREATE TABLE analytics_sessions (
    capsule_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    PRIMARY KEY (capsule_id, day, session_hash)
);

-- Exact counters for rate limits and quotas (atomic upserts; never KV).
CREATE TABLE usage_counters (
    subject      TEXT NOT NULL,                             -- usr_..., ip:..., key_...
    window       TEXT NOT NULL CHECK (window IN ('minute', 'day', 'generation_day')),
    window_start INTEGER NOT NULL,                          -- epoch seconds
    count        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, window, window_start)
);
CREATE INDEX usage_counters_window ON usage_counters (window, window_start);
