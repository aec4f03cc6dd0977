//! The help text of `tenant set`: each key, its values, when it takes effect.

/// `tenant set --help`: each key, its values, and when it takes effect. The
/// scopes are `hris_mapping::Scope`'s (a test keeps them equal).
pub const TENANT_SETTINGS_HELP: &str = "\
Settings (KEY VALUE):
  name                        the tenant's display name
  enabled_scopes              comma-separated optional fields to sync: work_location,
                              avatar, legal_entity, employment_type, custom_fields
  invite_policy               never | immediately | on_start_date | days_before
  invite_days_before          whole days >= 0 (with days_before)
  time_zone                   IANA name, e.g. Europe/Berlin (leave dates end at midnight there)
  full_sync_interval_seconds  seconds >= 60 between scheduled full syncs (default 10800)
  primary_team_group_types    comma-separated Kombo group types that make a primary team
  mass_change_threshold       share of active users in (0, 1] that one day's deactivations
                              may reach before the guard holds them (default 0.2)
  custom_field_mapping        a JSON object: platform field -> Kombo custom field
  identity_match              how an HR record finds an existing user: email (default:
                              Kombo id, then work email), email_then_employee_number,
                              kombo_id_only
  deactivation_grace_seconds  how long a person deleted upstream or missing from a full
                              listing stays active in case they come back (default
                              86400; 0 deactivates at once)
  scope_filter                a JSON object of Kombo ids, e.g. {\"legal_entities\":
                              [\"LE1\"]}; lists: legal_entities, locations, groups.
                              People outside it are never created; users who move out
                              are deactivated (out_of_scope)
  first_name_source           first_name (default) or custom_field:KEY, e.g.
                              custom_field:preferred_name (falls back to first_name)
  rehire_invite               invite_again (default) | never: a returning leaver
                              relinked to their user
  change_log_retention_days   days a field's history is kept (default 365)
  dead_letter_payload_retention_days
                              days a dead letter keeps its payload; its id, reason
                              and headers stay (default 30)
  run_error_retention_days    days a sync run keeps its error text (default 90)

When they take effect: every sync after the change reads the settings anew.
Scopes, group types, the custom field mapping and the time zone reach people
whose records have not changed at the next full sync (every 3 h, or
`hris-sync import-all --tenant T` now). The invite policy applies to
invitations decided after the change. The threshold applies to the next batch.
Identity settings apply to records the next sync reads; the scope filter and the
first name source reach everyone at the next full sync. Retention applies at the
scheduler's next tick (deploy/PRIVACY.md).";

#[cfg(test)]
mod tests {
    #[test]
    fn tenant_set_help_lists_every_optional_scope() {
        let listed = super::TENANT_SETTINGS_HELP;
        for scope in hris_mapping::Scope::ALL {
            assert!(
                listed.contains(scope.as_str()),
                "{scope} missing from tenant set --help"
            );
        }
    }
}
