-- A generation job creates at most one capsule, even if two deliveries overlap after a
-- lease expired: the second insert fails on this index and reuses the first capsule.
DROP INDEX IF EXISTS capsules_generation_job;
CREATE UNIQUE INDEX capsules_generation_job ON capsules (generation_job_id)
    WHERE generation_job_id IS NOT NULL;
