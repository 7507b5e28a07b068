-- generation_jobs.quota_refunded was write-only: a refund is the deletion of the job's
-- quota_charges row (0002), which says on its own whether the charge still stands.
-- Nothing reads or writes the column any more. SQLite (and D1) drop a column in place.
ALTER TABLE generation_jobs DROP COLUMN quota_refunded;
