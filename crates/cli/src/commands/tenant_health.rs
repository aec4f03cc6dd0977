//! Kombo integration health from the CLI: the health section of `tenant
//! status`.

use hris_store::TenantHealth;

use crate::output::when;

/// The health lines of `tenant status` (ids and Kombo's words only).
pub fn print_health(health: &TenantHealth) {
    println!(
        "  kombo: status {}   setup {}   enabled {}   data expired {}   checked {}{}",
        health.kombo_status.as_deref().unwrap_or("-"),
        health.setup_status.as_deref().unwrap_or("-"),
        health
            .kombo_enabled
            .map(|e| e.to_string())
            .unwrap_or_else(|| "-".into()),
        when(health.data_expired_at),
        when(health.checked_at),
        health
            .check_error
            .as_deref()
            .map(|e| format!("   last check failed: {e}"))
            .unwrap_or_default()
    );
    for issue in &health.open_issues {
        println!(
            "  open Kombo issue {} {} since {}",
            issue.issue_id,
            issue.issue_type,
            when(issue.first_observed_at)
        );
    }
    if let Some(because) = &health.deletions_held_because {
        println!("  deactivations from deletions upstream are held: {because}");
    }
}
