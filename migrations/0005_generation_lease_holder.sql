-- Who holds a generation job's lease: one id per process (local host) or isolate (edge).
-- A restarted local host releases at once the jobs its crashed predecessor held, instead
-- of waiting for their leases to run out.
ALTER TABLE generation_jobs ADD COLUMN lease_holder TEXT;
