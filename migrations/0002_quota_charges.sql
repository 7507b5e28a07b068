-- Generation-quota charges, one row per generation job (issue 4).
-- Makes consume and refund idempotent per job id under queue redelivery and client
-- retries: a job is charged at most once and refunded at most once, and the refund
-- goes back to the UTC day that was charged, even when the job fails after midnight.
-- No foreign key to generation_jobs: the quota is charged before the job row exists,
-- and a job that is never written can still be refunded.
CREATE TABLE quota_charges (
    job_id       TEXT PRIMARY KEY,                          -- gen_...
    subject      TEXT NOT NULL,                             -- usr_... (usage_counters.subject)
    window_start INTEGER NOT NULL,                          -- UTC day charged, epoch seconds
    charge_token TEXT NOT NULL,                             -- per call: new charge vs. repeat
    charged_at   TEXT NOT NULL,
    refunded_at  TEXT
);
CREATE INDEX quota_charges_window ON quota_charges (window_start);
