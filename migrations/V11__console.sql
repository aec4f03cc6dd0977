-- The operations console (issue 18). Its tenants overview reads the open rows
-- of held_changes, identity_conflicts and dead_letters through their existing
-- (tenant, state) indexes; a tenant's "Import all" progress reads the runs of
-- one umbrella run, which needs this one.
CREATE INDEX sync_runs_parent ON sync_runs (parent_id) WHERE parent_id IS NOT NULL;
