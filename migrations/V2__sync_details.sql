-- The employee's HRIS groups as last synced (sorted JSON array of Kombo ids):
-- lets a sync see a team move without reading team_memberships, and puts team
-- moves in the change log like any other field.
ALTER TABLE users ADD COLUMN hris_team_kombo_ids JSONB NOT NULL DEFAULT '[]'::JSONB;

-- Kombo's own syncs, from `sync-finished` webhooks.
CREATE TABLE kombo_syncs (
    event_id        TEXT PRIMARY KEY,
    tenant_id       TEXT REFERENCES tenants(id),
    integration_id  TEXT NOT NULL,
    sync_id         TEXT,
    status          TEXT,
    started_at      TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ,
    payload         JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX kombo_syncs_tenant ON kombo_syncs (tenant_id, received_at DESC);

-- The sweeper looks for notifications left behind by a fetch that died.
CREATE INDEX sync_state_rerun ON sync_state (rerun_requested_at) WHERE rerun_requested IS NOT NULL;
