-- Kombo integration health (issue 16). V7, not V6: V6 is identity matching,
-- developed alongside; refinery applies versions in order and allows the gap.

-- What Kombo last said about a tenant's integration (GET /integrations/{id}),
-- and when we asked. While data_expired_at is set, setup_status is not
-- COMPLETED or an authentication issue is open, deletions upstream are not
-- news about people leaving: the guard holds those deactivations.
CREATE TABLE integration_health (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    -- ACTIVE | INVALID | INACTIVE
    kombo_status        TEXT,
    -- INCOMPLETE | FINAL_SYNC_PENDING | COMPLETED
    setup_status        TEXT,
    data_expired_at     TIMESTAMPTZ,
    -- Kombo's syncing switch as we last set it (PUT /integrations/{id}/enabled)
    kombo_enabled       BOOLEAN,
    -- the last answer to GET /integrations/{id}
    checked_at          TIMESTAMPTZ,
    -- the last time a worker claimed the right to ask (at most one ask per
    -- interval per tenant, whatever the number of workers)
    check_claimed_at    TIMESTAMPTZ,
    -- the last failed ask: Kombo's error code (or our kind of failure), no values
    check_error         TEXT,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Kombo's issues (issue-status-changed): raised adds, resolved closes.
-- integration_id NULL: an issue of the whole Kombo environment.
CREATE TABLE kombo_issues (
    issue_id            TEXT PRIMARY KEY,
    issue_type          TEXT NOT NULL,
    integration_id      TEXT,
    tenant_id           TEXT REFERENCES tenants(id) ON DELETE SET NULL,
    title               TEXT,
    status              TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    first_observed_at   TIMESTAMPTZ,
    resolved_at         TIMESTAMPTZ,
    last_event_id       TEXT NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX kombo_issues_open ON kombo_issues (tenant_id, issue_type) WHERE status = 'open';

-- "Import all" waits for the sync-finished of the sync it asked for.
CREATE INDEX kombo_syncs_sync_id ON kombo_syncs (integration_id, sync_id);

-- The Kombo sync an "Import all" umbrella run waits for: its sync-finished
-- starts the import's full read, so the integrations worker does not also
-- start an incremental catch-up for it.
ALTER TABLE sync_runs ADD COLUMN kombo_sync_id TEXT;
CREATE INDEX sync_runs_kombo_sync ON sync_runs (tenant_id, kombo_sync_id)
    WHERE kombo_sync_id IS NOT NULL AND finished_at IS NULL;

-- Kombo's error message of a dead letter, personal data masked: Kombo deletes
-- its request logs (log_url) after 30 days.
ALTER TABLE dead_letters ADD COLUMN error_message TEXT;
