-- Identity: one person, one user (DESIGN.md "Identity"). The platform has users
-- before a tenant connects; the HR system re-creates people under new ids and
-- reuses emails. A user is matched, adopted or relinked, never duplicated.

-- A user the platform created itself has no Kombo id and no fetch time; a sync
-- never edits, deactivates or counts it until an HR record adopts it.
ALTER TABLE users ALTER COLUMN kombo_id DROP NOT NULL;
ALTER TABLE users ALTER COLUMN fetched_at DROP NOT NULL;
-- Written by the platform: a user who has signed in is never invited again.
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMPTZ;
-- A deactivation decided but not yet due: deleted upstream waits out the
-- tenant's grace period (a re-created record may still take the user over),
-- missing from a full listing waits for a later listing that still misses it.
ALTER TABLE users ADD COLUMN pending_deactivation_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN pending_deactivation_reason TEXT;
CREATE INDEX users_pending_deactivation ON users (pending_deactivation_at)
    WHERE status = 'active' AND pending_deactivation_at IS NOT NULL;
-- What made the last deactivation: {"sync_run": …, "event": …}.
ALTER TABLE users ADD COLUMN deactivation_evidence JSONB;
-- Matching keys: the email as the platform may have written it (case,
-- spaces), and the employee number.
DROP INDEX users_email;
CREATE INDEX users_email ON users (tenant_id, lower(btrim(email)));
CREATE INDEX users_employee_number ON users (tenant_id, btrim(employee_number))
    WHERE employee_number IS NOT NULL;

-- Every Kombo record a user was linked to, and how: an old record arriving
-- again (its deletion, late) still finds the user it handed over.
CREATE TABLE user_links (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    kombo_id    TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    linked_by   TEXT NOT NULL CHECK (linked_by IN ('created', 'email', 'employee_number', 'admin')),
    linked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    unlinked_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, kombo_id)
);
CREATE INDEX user_links_user ON user_links (user_id);

-- A user's emails, normalised: the current one and every earlier one, with
-- when and why. An old email still finds the person.
CREATE TABLE user_emails (
    user_id     BIGINT NOT NULL REFERENCES users(id),
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    email       TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    replaced_at TIMESTAMPTZ,
    why         TEXT NOT NULL,
    PRIMARY KEY (user_id, email)
);
CREATE INDEX user_emails_lookup ON user_emails (tenant_id, email);

-- An HR record that matched ambiguously: nobody was merged or changed. Open
-- until a later sync finds it unambiguous, or a person decides.
CREATE TABLE identity_conflicts (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    kombo_id        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('shared_email', 'email_held', 'ambiguous')),
    other_kombo_ids TEXT[] NOT NULL DEFAULT '{}',
    user_ids        BIGINT[] NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'ignored')),
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    sync_run_id     UUID,
    resolved_at     TIMESTAMPTZ,
    resolved_by     TEXT,
    resolution      TEXT
);
CREATE UNIQUE INDEX identity_conflicts_open ON identity_conflicts (tenant_id, kombo_id)
    WHERE state = 'open';
CREATE INDEX identity_conflicts_tenant ON identity_conflicts (tenant_id, state);

-- A person's decision about a record, obeyed by every later sync: create a
-- user of its own, or ignore it. (Linking is done on the user itself.)
CREATE TABLE identity_decisions (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    kombo_id    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('create', 'ignore')),
    decided_by  TEXT NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kombo_id)
);

ALTER TABLE tenants ADD COLUMN identity_match TEXT NOT NULL DEFAULT 'email'
    CHECK (identity_match IN ('email', 'email_then_employee_number', 'kombo_id_only'));
ALTER TABLE tenants ADD COLUMN deactivation_grace_seconds INTEGER NOT NULL DEFAULT 86400
    CHECK (deactivation_grace_seconds >= 0);
-- {"legal_entities": [kombo ids], "locations": [...], "groups": [...]}: a person
-- is in scope when every non-empty list names one of theirs. Empty: everyone.
ALTER TABLE tenants ADD COLUMN scope_filter JSONB NOT NULL DEFAULT '{}'::JSONB;
-- first_name | custom_field:KEY (a "known as" field of the HR system).
ALTER TABLE tenants ADD COLUMN first_name_source TEXT NOT NULL DEFAULT 'first_name';
-- A relinked rehire: invite them again (invite_again) or not (never).
ALTER TABLE tenants ADD COLUMN rehire_invite TEXT NOT NULL DEFAULT 'invite_again'
    CHECK (rehire_invite IN ('invite_again', 'never'));

ALTER TABLE sync_runs ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;

-- What was linked and which emails were seen before this migration.
INSERT INTO user_links (tenant_id, kombo_id, user_id, linked_by, linked_at)
    SELECT tenant_id, kombo_id, id, 'created', created_at FROM users WHERE kombo_id IS NOT NULL;
INSERT INTO user_emails (user_id, tenant_id, email, first_seen_at, why)
    SELECT id, tenant_id, email, created_at, 'synced' FROM users
    WHERE email IS NOT NULL AND email_status = 'ok';
