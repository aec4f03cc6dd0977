-- Effective dates, invitations, the mass-change guard, full-sync bookkeeping
-- and the scheduler's claims.

-- End of the leave day in the tenant's zone: the scheduler deactivates then.
ALTER TABLE users ADD COLUMN deactivate_at TIMESTAMPTZ;
CREATE INDEX users_deactivate_due ON users (deactivate_at)
    WHERE status = 'active' AND deactivate_at IS NOT NULL;

-- The outbox the platform reads: rows turn 'due' when their time comes; the
-- platform marks them 'sent'. Cancelled when the person left before starting.
CREATE TABLE invitations (
    user_id         BIGINT PRIMARY KEY REFERENCES users(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    due_at          TIMESTAMPTZ NOT NULL,
    state           TEXT NOT NULL DEFAULT 'scheduled'
        CHECK (state IN ('scheduled', 'due', 'sent', 'cancelled')),
    cancel_reason   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX invitations_scheduled ON invitations (due_at) WHERE state = 'scheduled';
CREATE INDEX invitations_tenant ON invitations (tenant_id, state);

-- Deactivations the mass-change guard held for approval.
CREATE TABLE held_changes (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    user_id         BIGINT NOT NULL REFERENCES users(id),
    user_kombo_id   TEXT NOT NULL,
    sync_run_id     UUID,
    reason          TEXT NOT NULL,
    held_because    TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'rejected')),
    held_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at      TIMESTAMPTZ,
    decided_by      TEXT
);
CREATE UNIQUE INDEX held_changes_one_pending ON held_changes (user_id) WHERE state = 'pending';
CREATE INDEX held_changes_tenant ON held_changes (tenant_id, state);

-- Active users when an employee sync started: the guard's denominator.
ALTER TABLE sync_runs ADD COLUMN active_at_start INTEGER;

-- Ids a running full sync has seen; what is missing at its end vanished.
-- Unlogged: it is rebuilt by the next full sync if the database crashes.
CREATE UNLOGGED TABLE full_sync_seen (
    run_id      UUID NOT NULL,
    kombo_id    TEXT NOT NULL,
    PRIMARY KEY (run_id, kombo_id)
);

-- When each tenant's next scheduled full sync is due; claimed with
-- FOR UPDATE SKIP LOCKED so several schedulers never enqueue one twice.
CREATE TABLE full_sync_schedule (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants(id),
    next_due_at         TIMESTAMPTZ NOT NULL,
    last_enqueued_at    TIMESTAMPTZ,
    enqueued_by         TEXT
);
CREATE INDEX full_sync_schedule_due ON full_sync_schedule (next_due_at);
