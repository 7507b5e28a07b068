-- Rotation names its successor, so exchanging a refresh token and issuing the next one
-- can be one atomic D1 batch: the INSERT only happens if this very exchange claimed the
-- old token (two concurrent exchanges cannot both get a live successor).
ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
