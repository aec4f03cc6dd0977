//! Kombo integration health from the CLI: the health section of `tenant
//! status`, relink and setup links for the customer's admin, and pause and
//! resume (our syncing and Kombo's switch together).

use hris_store::{IntegrationState, TenantHealth};
use hris_worker::links::{self, LinkKind};

use crate::args::TenantKombo;
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

/// Prints a relink or setup link for the tenant's integration.
pub async fn link(args: &TenantKombo, kind: LinkKind) -> anyhow::Result<()> {
    let t = args.db.store()?.tenant(&args.tenant).await?;
    let link = links::link(&args.kombo.client()?, &t, kind).await?;
    println!("{link}");
    eprintln!(
        "send this link to the admin of tenant {} ({}): {}",
        t.id,
        t.kombo_integration_id.as_deref().unwrap_or("-"),
        kind.purpose()
    );
    Ok(())
}

/// Pause (`enabled` false) or resume: Kombo's switch first, so that a refusal
/// changes nothing here; then our own state.
pub async fn set_paused(args: &TenantKombo, paused: bool) -> anyhow::Result<()> {
    let (store, tenant) = (args.db.store()?, &args.tenant);
    let t = store.tenant(tenant).await?;
    links::set_enabled(&args.kombo.client()?, &t, !paused).await?;
    store.record_kombo_enabled(tenant, !paused).await?;
    let (state, reason, said) = if paused {
        (
            IntegrationState::Paused,
            Some("paused by an operator"),
            "paused: Kombo stops syncing (credentials kept) and so do we",
        )
    } else {
        (
            IntegrationState::Active,
            None,
            "resumed: Kombo syncs again; the next scheduled full sync catches up",
        )
    };
    store.set_integration_state(tenant, state, reason).await?;
    println!("tenant {tenant} {said}");
    Ok(())
}
