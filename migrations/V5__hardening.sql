-- One bad record never freezes a tenant, and the mass-change guard holds on
-- every path a deactivation can take.

-- A record that could not be decoded, mapped or written (or that was stored
-- other than as received): set aside while the rest of its page applies, and
-- retried whenever Kombo serves the record again. `reason` never holds a value
-- from the record, only which field and what kind of problem.
CREATE TABLE record_issues (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    entity          TEXT NOT NULL,
    -- the record's Kombo id; '' when the record had no readable id
    kombo_id        TEXT NOT NULL,
    -- skipped: not applied | altered: applied, but a field was cut or dropped
    severity        TEXT NOT NULL CHECK (severity IN ('skipped', 'altered')),
    -- decode | map | write
    stage           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    sqlstate        TEXT,
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_count      INTEGER NOT NULL DEFAULT 1,
    sync_run_id     UUID,
    resolved_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX record_issues_open ON record_issues (tenant_id, entity, kombo_id, severity)
    WHERE resolved_at IS NULL;
CREATE INDEX record_issues_tenant ON record_issues (tenant_id, resolved_at, last_seen_at DESC);

-- When a sync (or the scheduler) last deactivated the user by itself: the
-- guard's budget counts these over a day, so that a mass deactivation cannot
-- slip through as many small runs. NULL for deactivations an admin approved.
ALTER TABLE users ADD COLUMN auto_deactivated_at TIMESTAMPTZ;
CREATE INDEX users_auto_deactivated ON users (tenant_id, auto_deactivated_at)
    WHERE auto_deactivated_at IS NOT NULL;

-- A rejected hold: Kombo's changed_at of the snapshot whose deactivation was
-- rejected. That snapshot deactivates nobody again; a newer one is decided anew.
ALTER TABLE users ADD COLUMN deactivation_rejected_for TIMESTAMPTZ;

-- A held change stops being pending when the HR data takes it back.
ALTER TABLE held_changes DROP CONSTRAINT held_changes_state_check;
ALTER TABLE held_changes ADD CONSTRAINT held_changes_state_check
    CHECK (state IN ('pending', 'approved', 'rejected', 'superseded'));
CREATE INDEX held_changes_user_pending ON held_changes (tenant_id, user_id) WHERE state = 'pending';

-- Deactivations a full sync found, decided only once its whole listing is in:
-- applied together within the guard's budget, or held together. Unlogged like
-- full_sync_seen: a crash drops the run, and the next full sync finds them again.
CREATE UNLOGGED TABLE full_sync_deactivations (
    run_id      UUID NOT NULL,
    user_id     BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (run_id, user_id)
);

-- Never used: every handler is idempotent by its apply (an older snapshot
-- never overwrites a newer one, unchanged rows are not written), so nothing
-- deduplicates on message ids.
DROP TABLE processed_messages;
