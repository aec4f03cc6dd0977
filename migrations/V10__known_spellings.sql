-- The columns the code reads as enums (hris-types) accept only the spellings
-- those enums have. A row no variant can read would fail every sync of its
-- tenant, so the schema refuses it when it is written instead.
-- (`tests/tests/schema_enums.rs` keeps these lists equal to the enums.)
ALTER TABLE tenants ADD CONSTRAINT tenants_integration_state_known
    CHECK (integration_state IN ('unconnected', 'active', 'paused', 'disconnected'));
ALTER TABLE tenants ADD CONSTRAINT tenants_enabled_scopes_known
    CHECK (enabled_scopes <@ ARRAY['work_location', 'avatar', 'legal_entity', 'employment_type',
                                   'custom_fields']::TEXT[]);
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_trigger_known
    CHECK (trigger IN ('webhook', 'schedule', 'import-all', 'replay', 'sweep'));
