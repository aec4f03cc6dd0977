-- Page writes find a team's children by their parent's Kombo id (parents may
-- arrive after their children). Without this index each lookup scanned all of
-- the tenant's teams, once per team of every page.
CREATE INDEX teams_parent_ref ON teams (tenant_id, parent_kombo_id);
