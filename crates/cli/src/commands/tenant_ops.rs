//! Tenant operations beyond registration: connect, disconnect, status, and the
//! mass-change guard's held changes.

use chrono::Utc;
use hris_kombo::envelope::CreateLinkRequest;
use hris_store::{DeadLetterFilter, Store};
use hris_types::TenantId;
use serde_json::json;

use crate::args::{DecideArgs, KomboArgs};
use crate::exit::Refused;
use crate::output::when;

pub async fn connect(
    store: &Store,
    kombo: &KomboArgs,
    tenant: &TenantId,
    tool: &str,
    admin_email: &str,
) -> anyhow::Result<()> {
    let t = store.tenant(tenant).await?;
    if let Some(refusal) = hris_worker::links::connect_refusal(&t) {
        return Err(Refused(refusal).into());
    }
    let link = kombo
        .client()?
        .create_link(&CreateLinkRequest {
            end_user_email: admin_email.to_owned(),
            end_user_organization_name: t.name.clone(),
            end_user_origin_id: Some(t.id.to_string()),
            integration_category: Some("HRIS".to_owned()),
            integration_tool: Some(tool.to_owned()),
            ..CreateLinkRequest::default()
        })
        .await?;
    println!("{link}");
    eprintln!(
        "send this link to the admin; when they finish, Kombo's integration-created links tenant {} and its first import starts",
        t.id
    );
    Ok(())
}

pub async fn disconnect(store: &Store, tenant: &TenantId, yes: bool) -> anyhow::Result<()> {
    store.tenant(tenant).await?;
    if !yes {
        return Err(Refused(format!(
            "disconnecting {tenant} stops acting on its webhooks and its scheduled and manual syncs. \
             It deletes nothing: its users, teams, locations, absences and their history stay, \
             and its Kombo integration is not deleted (resume with tenant resume, repair with tenant relink). Add --yes"
        ))
        .into());
    }
    store
        .set_integration_state(
            tenant,
            hris_store::IntegrationState::Disconnected,
            Some("disconnected by an operator"),
        )
        .await?;
    println!("tenant {tenant} disconnected: no more syncs; its data is kept");
    Ok(())
}

pub async fn status(store: &Store, tenant: &TenantId, json_out: bool) -> anyhow::Result<()> {
    let t = store.tenant(tenant).await?;
    let entities = store.fetch_status(tenant).await?;
    let held = store.held_changes(tenant).await?;
    let dead = store
        .dead_letter_summary(&DeadLetterFilter {
            tenant_id: Some(tenant.to_owned()),
            state: Some("pending".into()),
            ..DeadLetterFilter::default()
        })
        .await?;
    let dead_count: i64 = dead.iter().map(|g| g.count).sum();
    let open_issues = store.open_record_issue_counts(Some(tenant)).await?;
    let issues_of = |severity: &str| -> i64 {
        open_issues
            .iter()
            .filter(|(_, s, _)| s == severity)
            .map(|(_, _, n)| n)
            .sum()
    };
    let (skipped, altered) = (issues_of("skipped"), issues_of("altered"));
    let conflicts = store.identity_conflicts(tenant, false).await?.len();
    let health = store.tenant_health(tenant).await?;
    if json_out {
        let out = json!({
            "tenant": t.id, "integration_id": t.kombo_integration_id, "state": t.integration_state,
            "entities": entities, "held_changes": held.len(), "pending_dead_letters": dead_count,
            "record_issues": { "skipped": skipped, "altered": altered },
            "identity_conflicts": conflicts,
            "kombo": health, "environment_issues": store.environment_issues().await?,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "tenant {} ({}) — integration {} — {}",
        t.id,
        t.name,
        t.kombo_integration_id.as_deref().unwrap_or("-"),
        t.integration_state
    );
    super::tenant_health::print_health(&health);
    let mut rows = crate::output::table(&[
        "ENTITY",
        "LAST INCREMENTAL",
        "LAST FULL",
        "WATERMARK",
        "LAG",
        "LAST ERROR",
    ]);
    for e in &entities {
        let lag = e
            .last_fetch_started_at
            .map(|t| format!("{}s", (Utc::now() - t).num_seconds()))
            .unwrap_or_else(|| "-".into());
        rows.add_row(vec![
            e.entity.to_string(),
            when(e.last_incremental_at),
            when(e.last_full_at),
            when(e.watermark),
            lag,
            format!(
                "{}{}",
                e.last_error.as_deref().unwrap_or("-"),
                if e.fetching { "  (fetching now)" } else { "" }
            ),
        ]);
    }
    println!("{rows}");
    println!(
        "  held changes: {}   pending dead letters: {dead_count}   record issues: {skipped} set aside, {altered} altered   identity conflicts: {conflicts}",
        held.len()
    );
    if skipped + altered > 0 {
        println!("  see: hris-sync tenant issues --tenant {}", t.id);
    }
    Ok(())
}

pub async fn issues(
    store: &Store,
    tenant: &TenantId,
    all: bool,
    limit: i64,
    json_out: bool,
) -> anyhow::Result<()> {
    store.tenant(tenant).await?;
    let issues = store.tenant_record_issues(tenant, all, limit).await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&issues)?);
        return Ok(());
    }
    if issues.is_empty() {
        println!("no record issues for tenant {tenant}");
        return Ok(());
    }
    let mut rows = crate::output::table(&[
        "SEVERITY",
        "ENTITY",
        "KOMBO ID",
        "STAGE",
        "LAST SEEN",
        "SEEN",
        "REASON",
    ]);
    for i in &issues {
        let resolved = if i.resolved_at.is_some() {
            "  (resolved)"
        } else {
            ""
        };
        rows.add_row(vec![
            i.severity.to_string(),
            i.entity.clone(),
            if i.kombo_id.is_empty() {
                "(no id)".to_owned()
            } else {
                i.kombo_id.clone()
            },
            i.stage.to_string(),
            when(Some(i.last_seen_at)),
            i.seen_count.to_string(),
            format!("{}{resolved}", i.reason),
        ]);
    }
    println!("{rows}");
    Ok(())
}

pub async fn held(store: &Store, tenant: &TenantId, json_out: bool) -> anyhow::Result<()> {
    let held = store.held_changes(tenant).await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&held)?);
        return Ok(());
    }
    if held.is_empty() {
        println!("no held changes for tenant {tenant}");
        return Ok(());
    }
    println!("{} deactivations held for tenant {tenant}:", held.len());
    if let Some(first) = held.first() {
        println!("  because {}", first.held_because);
    }
    let mut rows = crate::output::table(&["ID", "USER (KOMBO ID)", "REASON", "HELD"]);
    for h in &held {
        rows.add_row(vec![
            h.id.to_string(),
            h.user_kombo_id.clone(),
            h.reason.clone(),
            when(Some(h.held_at)),
        ]);
    }
    println!("{rows}");
    println!(
        "apply them: hris-sync tenant approve --tenant {tenant}; drop them: hris-sync tenant reject --tenant {tenant}"
    );
    Ok(())
}

pub async fn decide(
    store: &Store,
    tenant: &TenantId,
    approve: bool,
    guard: &DecideArgs,
    actor: &str,
) -> anyhow::Result<()> {
    let mut held = store.held_changes(tenant).await?;
    if !guard.users.is_empty() {
        if let Some(missing) = guard
            .users
            .iter()
            .find(|u| !held.iter().any(|h| &h.user_kombo_id == *u))
        {
            anyhow::bail!("{missing} has no held change in tenant {tenant}");
        }
        held.retain(|h| guard.users.contains(&h.user_kombo_id));
    }
    let verb = if approve { "apply" } else { "drop" };
    let report = |decided: Option<u64>| -> anyhow::Result<()> {
        let ids: Vec<&str> = held.iter().map(|h| h.user_kombo_id.as_str()).collect();
        println!(
            "{}",
            json!({ "tenant": tenant, "held": ids, "dry_run": guard.dry_run,
                    "decision": if approve { "approve" } else { "reject" }, "decided": decided })
        );
        Ok(())
    };
    if !guard.json {
        println!("{}", held_summary(tenant, &held));
    }
    if held.is_empty() || guard.dry_run {
        if guard.json {
            report(None)?;
        } else if guard.dry_run {
            println!("dry run: nothing changed");
        }
        return Ok(());
    }
    if !guard.yes && !confirmed(&format!("{verb} these {} held changes?", held.len()))? {
        return Err(Refused(format!(
            "{verb}ing {} held changes needs --yes (or an answer on a terminal); nothing changed",
            held.len()
        ))
        .into());
    }
    let only = (!guard.users.is_empty()).then_some(guard.users.as_slice());
    let n = store.decide_held(tenant, approve, actor, only).await?;
    if guard.json {
        return report(Some(n));
    }
    println!(
        "{} {n} held changes of tenant {tenant} (as {actor})",
        if approve { "applied" } else { "dropped" }
    );
    Ok(())
}

/// The count, the reasons and a sample of the people, ids only.
fn held_summary(tenant: &TenantId, held: &[hris_store::HeldChange]) -> String {
    let mut reasons: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for h in held {
        *reasons.entry((&h.reason, &h.held_because)).or_default() += 1;
    }
    let reasons: Vec<String> = reasons
        .into_iter()
        .map(|((reason, because), n)| format!("  {n} × {reason} (held: {because})"))
        .collect();
    let sample: Vec<&str> = held
        .iter()
        .take(5)
        .map(|h| h.user_kombo_id.as_str())
        .collect();
    format!(
        "{} held changes of tenant {tenant}\n{}\n  e.g. {}",
        held.len(),
        reasons.join("\n"),
        sample.join(", ")
    )
}

/// Asks `question` on a terminal; `false` when stdin is not one.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
