-- "Import all" waits for Kombo's sync to finish before reading. The wait must
-- not live only in the process that started it (the admin role restarts on
-- every deploy): whoever sees the sync end first (the integrations worker on
-- sync-finished, the scheduler once the wait is overdue, or the process that
-- waited) claims the read here, once.
ALTER TABLE sync_runs ADD COLUMN import_read_at TIMESTAMPTZ;
CREATE INDEX sync_runs_import_unread ON sync_runs (started_at)
    WHERE kombo_sync_id IS NOT NULL AND import_read_at IS NULL;
-- Imports started before this migration were read by their own process.
UPDATE sync_runs SET import_read_at = started_at WHERE kombo_sync_id IS NOT NULL;
