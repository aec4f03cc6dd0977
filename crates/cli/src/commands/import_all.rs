//! `hris-sync import-all`: the "Import all" button, with live progress and a
//! summary; `--dry-run` prints what would change, field by field, and writes
//! nothing.

use hris_types::TenantId;
use std::time::Duration;

use futures::TryStreamExt;
use hris_kombo::records::Employee;
use hris_kombo::{Endpoint, ListQuery};
use hris_mapping::map_employee;
use hris_store::{PageStats, Store, Tenant};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::args::RoleArgs;
use crate::output::Progress;

pub async fn run(
    tenant_id: TenantId,
    dry_run: bool,
    wait: bool,
    json_out: bool,
    kombo_wait: Duration,
    role: RoleArgs,
) -> anyhow::Result<()> {
    let setup = crate::commands::worker::setup(&role, "import-all")?;
    let tenant = setup.ctx.store.tenant(&tenant_id).await?;
    if dry_run {
        return preview(&setup.ctx.store, &setup.ctx.kombo, &tenant, json_out).await;
    }
    let shutdown = CancellationToken::new();
    let connection = setup.connector.spawn(shutdown.clone());
    anyhow::ensure!(
        setup
            .connector
            .wait_connected(Duration::from_secs(15))
            .await,
        "cannot reach RabbitMQ at AMQP_URL"
    );
    let started = hris_worker::import::start(&setup.ctx, &tenant).await?;
    eprintln!("import-all started: sync run {}", started.sync_run_id);
    wait_for_kombo(&setup.ctx, &started, kombo_wait).await?;
    hris_worker::import::read_all(&setup.ctx, &tenant, &started).await?;
    shutdown.cancel();
    let _ = connection.await;
    if !wait {
        return Ok(());
    }
    let store = &setup.ctx.store;
    let mut progress = Progress::new(4, "entities synced");
    let mut done = 0;
    let (totals, failed) = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let finished = store
            .fetch_status(&tenant.id)
            .await?
            .iter()
            .filter(|s| s.last_full_at.is_some_and(|t| t >= started.started_at))
            .count();
        while done < finished {
            progress.inc();
            done += 1;
        }
        let (totals, running, failed) = store
            .full_run_totals(&tenant.id, started.started_at)
            .await?;
        if finished >= 4 && running == 0 {
            break (totals, failed);
        }
    };
    progress.finish();
    let status = if failed > 0 {
        hris_store::RunStatus::Partial
    } else {
        hris_store::RunStatus::Succeeded
    };
    store
        .close_umbrella_run(started.sync_run_id, status, &totals)
        .await?;
    print_summary(&totals, json_out, started.sync_run_id, status)?;
    Ok(())
}

/// The waiting phase, on stderr: which Kombo sync, how it ended.
async fn wait_for_kombo(
    ctx: &hris_worker::WorkerContext,
    started: &hris_worker::import::ImportStarted,
    bound: Duration,
) -> anyhow::Result<()> {
    use hris_worker::import::Waited;
    match &started.force_sync {
        Ok(sync) => eprintln!(
            "waiting for Kombo's sync {}{} to finish (at most {} s)…",
            sync.sync_id,
            if sync.already_queued {
                " (already queued)"
            } else {
                ""
            },
            bound.as_secs()
        ),
        Err(e) => eprintln!(
            "warning: Kombo did not accept the refresh request ({e}); syncing what Kombo has"
        ),
    }
    match hris_worker::import::wait_for_kombo(ctx, started, bound).await? {
        Waited::Finished { state } => eprintln!(
            "Kombo's sync finished ({}); reading everything",
            state.as_deref().unwrap_or("no state")
        ),
        Waited::TimedOut(after) => eprintln!(
            "warning: Kombo's sync did not finish within {} s; reading what Kombo has now (its sync-finished will catch up)",
            after.as_secs()
        ),
        Waited::Skipped => {}
    }
    Ok(())
}

fn print_summary(
    s: &PageStats,
    json_out: bool,
    run: uuid::Uuid,
    status: hris_store::RunStatus,
) -> anyhow::Result<()> {
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "sync_run_id": run, "status": status, "summary": s })
            )?
        );
    } else {
        println!(
            "{status}: created {}, updated {}, deactivated {}, unchanged {}, held {}, failed {}, identity conflicts {}",
            s.created, s.updated, s.deactivated, s.unchanged, s.held, s.failed, s.conflicts
        );
    }
    Ok(())
}

/// Reads every employee from Kombo and compares with the database: exactly what
/// a full employee sync would write, and writes nothing.
async fn preview(
    store: &Store,
    kombo: &hris_kombo::KomboClient,
    tenant: &Tenant,
    json_out: bool,
) -> anyhow::Result<()> {
    let integration = tenant
        .kombo_integration_id
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("tenant {} has no Kombo integration", tenant.id))?;
    let policy = hris_worker::fetch::policy_of(tenant);
    let query = ListQuery {
        include_deleted: true,
        ..ListQuery::default()
    };
    let mut pages = Box::pin(kombo.list::<Employee>(integration, Endpoint::Employees, query));
    let mut seen = Vec::new();
    let mut stats = PageStats::default();
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    let mut adoptions = Vec::new();
    let mut set_aside = 0usize;
    while let Some(page) = pages.try_next().await? {
        // Records that would be set aside still count as seen (a sync never
        // takes a record it could not read for one that vanished).
        seen.extend(page.bad.iter().filter_map(|b| b.kombo_id.clone()));
        set_aside += page.bad.len();
        seen.extend(page.records.iter().map(|e| e.id.clone()));
        let now = chrono::Utc::now();
        let mapped = page
            .records
            .iter()
            .map(|e| map_employee(e, &policy, now))
            .collect();
        let plan = store.preview_users(&tenant.id, mapped).await?.plan;
        stats.add(&plan.stats);
        conflicts.extend(
            plan.conflicts.iter().map(
                |c| json!({ "kombo_id": c.kombo_id, "conflict": format!("{:?}", c.conflict) }),
            ),
        );
        adoptions.extend(plan.relinks.iter().map(
            |r| json!({ "user_id": r.user.0, "from": r.from, "to": r.to, "by": format!("{:?}", r.by) }),
        ));
        for w in plan.writes {
            let fields: Vec<_> = w
                .changes
                .iter()
                .map(|c| json!({ "field": c.field, "old": c.old, "new": c.new }))
                .collect();
            changes.push(json!({ "kombo_id": w.user.kombo_id, "new": w.is_new, "fields": fields }));
        }
    }
    let vanished = store.preview_vanished(&tenant.id, &seen).await?;
    let budget = store.guard_budget(&tenant.id).await?;
    let deactivating = stats.deactivated as usize + vanished.len();
    let would_hold = !budget.admits(deactivating);
    let (allowed, threshold) = (budget.limit, budget.threshold);
    if json_out {
        let out = json!({
            "dry_run": true, "tenant_id": tenant.id, "changes": changes, "vanished": vanished,
            "summary": stats, "set_aside": set_aside,
            "identity_conflicts": conflicts, "relinks": adoptions, "guard": { "allowed": allowed, "used": budget.used, "threshold": threshold, "deactivating": deactivating, "would_hold": would_hold },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for c in &changes {
        let id = c["kombo_id"].as_str().unwrap_or("");
        println!("{} user {id}", if c["new"] == true { "+" } else { "~" });
        for f in c["fields"].as_array().into_iter().flatten() {
            println!(
                "    {:<20} {} → {}",
                f["field"].as_str().unwrap_or(""),
                f["old"],
                f["new"]
            );
        }
    }
    for r in &adoptions {
        println!(
            "= user {} would be taken over by record {} (was {}, matched {})",
            r["user_id"], r["to"], r["from"], r["by"]
        );
    }
    for c in &conflicts {
        println!(
            "! record {}: identity conflict {}, nothing would change",
            c["kombo_id"], c["conflict"]
        );
    }
    for id in &vanished {
        println!(
            "- user {id}: missing from the listing: marked missing, deactivated only if still missing after the grace period"
        );
    }
    if would_hold {
        println!(
            "the mass-change guard would hold these {deactivating} deactivations ({allowed} allowed in 24 h, threshold {:.0}%)",
            threshold * 100.0
        );
    }
    println!(
        "dry run (employees): would create {}, update {}, deactivate {}, leave {} unchanged; nothing was written",
        stats.created,
        stats.updated,
        i64::from(stats.deactivated) + vanished.len() as i64,
        stats.unchanged
    );
    Ok(())
}
