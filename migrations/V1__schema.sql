-- hris-sync schema. Tables and columns named in shared/DESIGN.md are a contract
-- with the platform, which reads the people directory straight from here.
-- Synced rows are never deleted: what vanished upstream is deactivated or archived.

CREATE TABLE tenants (
    id                          TEXT PRIMARY KEY,          -- the platform's customer id (Kombo's origin_id)
    name                        TEXT NOT NULL,
    kombo_integration_id        TEXT UNIQUE,
    -- unconnected | active | paused | disconnected
    integration_state           TEXT NOT NULL DEFAULT 'unconnected',
    integration_state_reason    TEXT,
    -- optional scopes: work_location, avatar, legal_entity, employment_type, custom_fields
    enabled_scopes              TEXT[] NOT NULL DEFAULT ARRAY['work_location']::TEXT[],
    -- never | immediately | on_start_date | days_before
    invite_policy               TEXT NOT NULL DEFAULT 'on_start_date'
        CHECK (invite_policy IN ('never', 'immediately', 'on_start_date', 'days_before')),
    invite_days_before          INTEGER NOT NULL DEFAULT 0 CHECK (invite_days_before >= 0),
    time_zone                   TEXT NOT NULL DEFAULT 'UTC',
    full_sync_interval_seconds  INTEGER NOT NULL DEFAULT 10800 CHECK (full_sync_interval_seconds >= 60),
    -- group types in order of preference for the primary team
    primary_team_group_types    TEXT[] NOT NULL DEFAULT ARRAY['TEAM', 'DEPARTMENT']::TEXT[],
    mass_change_threshold       DOUBLE PRECISION NOT NULL DEFAULT 0.2
        CHECK (mass_change_threshold > 0 AND mass_change_threshold <= 1),
    custom_field_mapping        JSONB NOT NULL DEFAULT '{}'::JSONB,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE legal_entities (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kombo_id            TEXT NOT NULL,
    remote_id           TEXT,
    name                TEXT,
    country             TEXT,
    remote_deleted_at   TIMESTAMPTZ,
    archived_at         TIMESTAMPTZ,
    fetched_at          TIMESTAMPTZ NOT NULL,
    kombo_changed_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);

CREATE TABLE locations (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kombo_id            TEXT NOT NULL,
    remote_id           TEXT,
    name                TEXT,
    location_type       TEXT,
    city                TEXT,
    country             TEXT,
    time_zone           TEXT,
    remote_deleted_at   TIMESTAMPTZ,
    archived_at         TIMESTAMPTZ,
    fetched_at          TIMESTAMPTZ NOT NULL,
    kombo_changed_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);

CREATE TABLE teams (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kombo_id            TEXT NOT NULL,
    remote_id           TEXT,
    name                TEXT,
    group_type          TEXT,              -- DEPARTMENT | TEAM | COST_CENTER | NULL
    parent_kombo_id     TEXT,
    parent_team_id      BIGINT REFERENCES teams(id),
    remote_deleted_at   TIMESTAMPTZ,
    archived_at         TIMESTAMPTZ,
    fetched_at          TIMESTAMPTZ NOT NULL,
    kombo_changed_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);

CREATE TABLE users (
    id                      BIGSERIAL PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants(id),
    kombo_id                TEXT NOT NULL,
    remote_id               TEXT,
    employee_number         TEXT,
    first_name              TEXT,
    last_name               TEXT,
    email                   TEXT,
    email_status            TEXT NOT NULL DEFAULT 'ok' CHECK (email_status IN ('ok', 'missing', 'invalid')),
    job_title               TEXT,
    hire_date               DATE,
    leave_date              DATE,
    status                  TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    employment_status       TEXT,          -- Kombo's value, raw strings kept
    deactivation_reason     TEXT,
    manager_kombo_id        TEXT,
    manager_user_id         BIGINT REFERENCES users(id),
    primary_team_kombo_id   TEXT,
    primary_team_id         BIGINT REFERENCES teams(id),
    location_kombo_id       TEXT,
    primary_location_id     BIGINT REFERENCES locations(id),
    legal_entity_kombo_id   TEXT,
    employment_type         TEXT,
    avatar_url              TEXT,
    custom_fields           JSONB,
    remote_deleted_at       TIMESTAMPTZ,
    -- when the snapshot we hold was fetched, and Kombo's changed_at (tie-breaker):
    -- an older snapshot never overwrites a newer one
    fetched_at              TIMESTAMPTZ NOT NULL,
    kombo_changed_at        TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);
CREATE INDEX users_manager_ref ON users (tenant_id, manager_kombo_id);
CREATE INDEX users_team_ref ON users (tenant_id, primary_team_kombo_id);
CREATE INDEX users_location_ref ON users (tenant_id, location_kombo_id);
CREATE INDEX users_email ON users (tenant_id, lower(email));

CREATE TABLE team_memberships (
    user_id     BIGINT NOT NULL REFERENCES users(id),
    team_id     BIGINT NOT NULL REFERENCES teams(id),
    -- only 'hris' memberships are ever changed by a sync
    source      TEXT NOT NULL CHECK (source IN ('hris', 'manual')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, team_id, source)
);
CREATE INDEX team_memberships_team ON team_memberships (team_id);

CREATE TABLE absence_types (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kombo_id            TEXT NOT NULL,
    remote_id           TEXT,
    name                TEXT,
    unit                TEXT,
    remote_deleted_at   TIMESTAMPTZ,
    archived_at         TIMESTAMPTZ,
    fetched_at          TIMESTAMPTZ NOT NULL,
    kombo_changed_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);

CREATE TABLE absences (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kombo_id            TEXT NOT NULL,
    remote_id           TEXT,
    employee_kombo_id   TEXT NOT NULL,
    user_id             BIGINT REFERENCES users(id),
    type_kombo_id       TEXT,
    absence_type_id     BIGINT REFERENCES absence_types(id),
    start_date          DATE,
    end_date            DATE,
    start_time          TEXT,
    end_time            TEXT,
    amount              DOUBLE PRECISION,
    unit                TEXT,
    status              TEXT,              -- REQUESTED | APPROVED | DECLINED | CANCELLED | DELETED | raw
    -- cancelled, declined and deleted absences stop counting
    counts              BOOLEAN NOT NULL DEFAULT true,
    remote_deleted_at   TIMESTAMPTZ,
    dropped_at          TIMESTAMPTZ,
    fetched_at          TIMESTAMPTZ NOT NULL,
    kombo_changed_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, kombo_id)
);
CREATE INDEX absences_employee ON absences (tenant_id, employee_kombo_id);

-- One row per (tenant, entity): the watermark and the lease that makes fetches
-- of one tenant and entity run one at a time, across every worker replica.
CREATE TABLE sync_state (
    tenant_id               TEXT NOT NULL REFERENCES tenants(id),
    entity                  TEXT NOT NULL,
    watermark               TIMESTAMPTZ,
    last_fetch_started_at   TIMESTAMPTZ,
    last_incremental_at     TIMESTAMPTZ,
    last_full_at            TIMESTAMPTZ,
    next_full_due_at        TIMESTAMPTZ,
    lease_owner             TEXT,
    lease_until             TIMESTAMPTZ,
    -- a notification arrived while a fetch ran: NULL | 'incremental' | 'full'
    rerun_requested         TEXT,
    rerun_requested_at      TIMESTAMPTZ,
    last_error              TEXT,
    last_error_at           TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, entity)
);

CREATE TABLE sync_runs (
    id              UUID PRIMARY KEY,
    parent_id       UUID REFERENCES sync_runs(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    entity          TEXT,                  -- NULL for an import-all umbrella run
    kind            TEXT NOT NULL CHECK (kind IN ('incremental', 'full')),
    trigger         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'partial')),
    dry_run         BOOLEAN NOT NULL DEFAULT false,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ,
    pages           INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    deactivated     INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    held            INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);
CREATE INDEX sync_runs_tenant ON sync_runs (tenant_id, started_at DESC);

-- Field-level history: old value, new value and cause (event, sync run).
CREATE TABLE change_log (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    record_type     TEXT NOT NULL,         -- user | team | location | absence | ...
    record_kombo_id TEXT NOT NULL,
    field           TEXT NOT NULL,
    old_value       JSONB,
    new_value       JSONB,
    cause_event_id  TEXT,
    sync_run_id     UUID,
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX change_log_record ON change_log (tenant_id, record_type, record_kombo_id, changed_at);

-- Messages whose effect is committed, for handlers that are not naturally idempotent.
CREATE TABLE processed_messages (
    consumer        TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Events for integrations no tenant claims yet: applied when the tenant appears.
CREATE TABLE pending_integration_events (
    event_id        TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL,
    origin_id       TEXT,
    event_type      TEXT NOT NULL,
    payload         JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_at      TIMESTAMPTZ
);
CREATE INDEX pending_integration_events_origin ON pending_integration_events (origin_id) WHERE applied_at IS NULL;

-- Dead letters, archived for on-call. `dedupe_key` makes archiving idempotent when
-- the archiver crashes between insert and ack.
CREATE TABLE dead_letters (
    id              BIGSERIAL PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    message_id      TEXT,
    routing_key     TEXT NOT NULL,
    tenant_id       TEXT,
    integration_id  TEXT,
    entity          TEXT,
    reason          TEXT NOT NULL,
    error_class     TEXT NOT NULL,
    error_code      TEXT,
    log_url         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at TIMESTAMPTZ,
    last_failed_at  TIMESTAMPTZ,
    headers         JSONB NOT NULL DEFAULT '{}'::JSONB,
    payload         BYTEA NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'replayed', 'purged')),
    archived_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at     TIMESTAMPTZ,
    replayed_by     TEXT,
    replay_count    INTEGER NOT NULL DEFAULT 0,
    purged_at       TIMESTAMPTZ,
    purged_by       TEXT
);
CREATE INDEX dead_letters_lookup ON dead_letters (state, tenant_id, entity, error_class, archived_at);

CREATE TABLE dlq_audit (
    id              BIGSERIAL PRIMARY KEY,
    dead_letter_id  BIGINT REFERENCES dead_letters(id),
    action          TEXT NOT NULL,         -- replay | purge
    actor           TEXT NOT NULL,
    detail          JSONB,
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
