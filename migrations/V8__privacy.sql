-- Personal data (issue 20): anonymising a leaver, erasing a tenant, and
-- keeping history only as long as each tenant allows. deploy/PRIVACY.md lists
-- every column that can hold personal data.

-- When the user's personal fields were blanked. A sync leaves such a user's
-- fields alone while the HR record stays deactivated; a reactivation upstream
-- brings the data (and the person) back and clears it.
ALTER TABLE users ADD COLUMN anonymised_at TIMESTAMPTZ;

-- Who anonymised, erased or expired what, and how much: counts and ids only,
-- never a value. No foreign keys: a tenant's erasure keeps its audit rows.
CREATE TABLE privacy_audit (
    id          BIGSERIAL PRIMARY KEY,
    -- anonymise | purge_tenant | retention
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    tenant_id   TEXT,
    user_id     BIGINT,
    detail      JSONB NOT NULL DEFAULT '{}'::JSONB,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX privacy_audit_tenant ON privacy_audit (tenant_id, at);

-- Retention, per tenant, enforced by the scheduler in bounded batches.
ALTER TABLE tenants ADD COLUMN change_log_retention_days INTEGER NOT NULL DEFAULT 365
    CHECK (change_log_retention_days >= 1);
ALTER TABLE tenants ADD COLUMN dead_letter_payload_retention_days INTEGER NOT NULL DEFAULT 30
    CHECK (dead_letter_payload_retention_days >= 1);
ALTER TABLE tenants ADD COLUMN run_error_retention_days INTEGER NOT NULL DEFAULT 90
    CHECK (run_error_retention_days >= 1);

-- The retention sweeps find old rows by age, not by record.
CREATE INDEX change_log_age ON change_log (changed_at);
CREATE INDEX dead_letters_payload_age ON dead_letters (archived_at) WHERE length(payload) > 0;
CREATE INDEX sync_runs_error_age ON sync_runs (started_at) WHERE error IS NOT NULL;
