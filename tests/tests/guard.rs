//! The mass-change guard holds whatever path a deactivation takes: 60 % of a
//! tenant terminated with a past date, arriving by webhook, while the
//! scheduler ticks every 2 s; leave dates the scheduler finds reached
//! together. At most the threshold is deactivated; none by the scheduler
//! while held; a rejection leaves people as they were; an approval
//! deactivates them. ("Import all" has its own file: guard_import_all.rs.)

use std::time::{Duration, Instant};

use hris_bus::FetchKind;
use hris_e2e::conformance::{employees, full_mismatches, still_employed};
use hris_e2e::faults::dead_letters;
use hris_e2e::guard::{Counts, limit, pending_held, spawn_scheduler, terminate};
use hris_e2e::stack::Stack;

const TENANT: &str = "acme";

async fn counts(stack: &Stack, targets: &[String]) -> anyhow::Result<Counts> {
    hris_e2e::guard::counts(stack, TENANT, targets).await
}

async fn setup(employees_n: usize, seed: u64) -> anyhow::Result<(Stack, String, Vec<String>, i64)> {
    let (stack, integration) = Stack::imported(TENANT, employees_n, seed).await?;
    let mut people = employees(&stack, &integration).await?;
    // Deleted upstream is deactivated already, whatever its status says.
    people.retain(|e| e.remote_deleted_at.is_none());
    let employed = still_employed(&people);
    let active = counts(&stack, &[]).await?.active;
    let n = (active as usize * 6).div_ceil(10);
    let targets: Vec<String> = employed.into_iter().take(n).map(str::to_owned).collect();
    anyhow::ensure!(targets.len() == n, "enough people to terminate");
    Ok((stack, integration, targets, active))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mass_termination_by_webhook_deactivates_at_most_the_threshold() -> anyhow::Result<()> {
    let (stack, integration, targets, active) = setup(120, 141).await?;
    // Another tenant, changing meanwhile, is not held up by acme's hold.
    let other = stack.tenant("other", 40, 145).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let scheduler = spawn_scheduler(&stack);
    let started = Instant::now();
    // In groups of ten, each its own webhook and incremental run: a mass
    // change that arrives as many small runs is still one mass change.
    for group in targets.chunks(10) {
        terminate(&stack, &integration, false, -3, group).await?;
        stack.settle(Duration::from_secs(60)).await?;
    }
    let took = started.elapsed();
    let others = employees(&stack, &other).await?;
    let other_leaver = still_employed(&others)[0].to_owned();
    terminate(&stack, &other, false, -3, &[other_leaver]).await?;
    // Two more scheduler ticks: nothing held may slip through by leave date.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stack.settle(Duration::from_secs(30)).await?;
    let c = counts(&stack, &targets).await?;
    let dead = dead_letters(&stack).await?;
    println!(
        "guard/webhook: {} of {active} active terminated in {} webhooks ({:.1} s); {} deactivated (limit {}), {} held, {} by the scheduler; {dead} dead letters",
        targets.len(),
        targets.len().div_ceil(10),
        took.as_secs_f64(),
        c.deactivated_targets,
        limit(active),
        c.pending,
        c.by_scheduler
    );
    assert_eq!(dead, 0, "a held change is no failure");
    assert!(took < Duration::from_secs(90), "no hang: {took:?}");
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant converges, its leaver included"
    );
    assert!(
        c.deactivated_targets <= limit(active),
        "{} deactivated, limit {}",
        c.deactivated_targets,
        limit(active)
    );
    assert!(
        c.deactivated_targets > 0,
        "small batches within the budget apply"
    );
    assert!(c.pending > 0, "the rest is held");
    assert_eq!(
        c.deactivated_targets + c.pending,
        targets.len() as i64,
        "every leaver is either deactivated or held"
    );
    assert_eq!(c.by_scheduler, 0, "the scheduler deactivates no held user");
    assert_eq!(pending_held(&stack, TENANT).await?, c.pending as usize);

    // Reject: they stay exactly as they were, through ticks and a full sync.
    let active_before = c.active;
    stack
        .cli(&[
            "tenant", "reject", "--tenant", TENANT, "--actor", "ops", "--yes",
        ])
        .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stack.request_sync(TENANT, FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_reject = counts(&stack, &targets).await?;
    let pending_deactivations = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active' AND deactivate_at IS NOT NULL AND deactivate_at <= now()",
            TENANT,
        )
        .await?;
    println!(
        "guard/reject: active {} → {}; held again {}; leave-date deactivations pending {pending_deactivations}",
        active_before, after_reject.active, after_reject.pending
    );
    assert_eq!(
        after_reject.active, active_before,
        "reject leaves them active"
    );
    assert_eq!(
        after_reject.pending, 0,
        "the same HR data is not held again"
    );
    assert_eq!(pending_deactivations, 0);
    assert_eq!(after_reject.by_scheduler, 0);

    // The HR data changes again (a corrected date): decided anew, held again,
    // and this time approved.
    let still_active: Vec<String> = {
        let client = stack.store.client().await?;
        client
            .query(
                "SELECT kombo_id FROM users WHERE tenant_id = $1 AND status = 'active' AND kombo_id = ANY($2)",
                &[&TENANT, &targets],
            )
            .await?
            .iter()
            .map(|r| r.get("kombo_id"))
            .collect()
    };
    terminate(&stack, &integration, false, -5, &still_active).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let reheld = counts(&stack, &targets).await?;
    // What is left of the day's budget may take a few; the rest is held anew.
    assert!(reheld.pending > 0, "held anew");
    assert_eq!(
        reheld.pending + reheld.deactivated_targets,
        targets.len() as i64
    );
    // Not on a terminal and without --yes, approve shows what is held and
    // refuses (exit 4); --dry-run shows it too; neither changes anything.
    let approve = ["tenant", "approve", "--tenant", TENANT, "--actor", "ops"];
    let (code, shown, stderr) = stack.cli_status(&approve).await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        shown.contains(&format!("{} held changes of tenant", reheld.pending)),
        "{shown}"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    let dry = stack.cli(&[&approve[..], &["--dry-run"]].concat()).await?;
    assert!(dry.contains("dry run: nothing changed"), "{dry}");
    let dry = stack
        .cli(&[&approve[..], &["--dry-run", "--json"]].concat())
        .await?;
    let dry: serde_json::Value = serde_json::from_str(&dry)?;
    assert_eq!(
        dry["held"].as_array().map(|h| h.len() as i64),
        Some(reheld.pending),
        "{dry}"
    );
    assert_eq!(counts(&stack, &targets).await?.pending, reheld.pending);
    // One person first (--user): exactly one change is applied.
    let first = dry["held"][0].as_str().unwrap_or_default().to_owned();
    let one = stack
        .cli(&[&approve[..], &["--yes", "--json", "--user", &first]].concat())
        .await?;
    let one: serde_json::Value = serde_json::from_str(&one)?;
    assert_eq!(one["decided"], 1, "{one}");
    assert_eq!(counts(&stack, &targets).await?.pending, reheld.pending - 1);
    let (code, _, stderr) = stack
        .cli_status(&[&approve[..], &["--yes", "--user", "nobody-held"]].concat())
        .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no held change"), "{stderr}");
    stack.cli(&[&approve[..], &["--yes"]].concat()).await?;
    let approved = counts(&stack, &targets).await?;
    println!(
        "guard/approve: {} held, {} of {} leavers deactivated after approval",
        reheld.pending,
        approved.deactivated_targets,
        targets.len()
    );
    assert_eq!(approved.deactivated_targets, targets.len() as i64);
    assert_eq!(approved.pending, 0);
    scheduler.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leave_dates_reached_together_are_held_by_the_scheduler() -> anyhow::Result<()> {
    let (stack, integration, targets, active) = setup(60, 143).await?;
    // No scheduled full sync in between: this test moves time by hand.
    stack
        .store
        .client()
        .await?
        .execute(
            "INSERT INTO full_sync_schedule (tenant_id, next_due_at) VALUES ($1, now() + interval '1 day')
             ON CONFLICT (tenant_id) DO UPDATE SET next_due_at = EXCLUDED.next_due_at",
            &[&TENANT],
        )
        .await?;
    // Future leave dates: nothing to deactivate yet.
    terminate(&stack, &integration, false, 2, &targets).await?;
    stack.settle(Duration::from_secs(60)).await?;
    assert_eq!(counts(&stack, &targets).await?.deactivated_targets, 0);
    // The dates arrive (moved into the past in the database, as time would).
    stack
        .store
        .client()
        .await?
        .execute(
            "UPDATE users SET deactivate_at = now() - interval '1 minute' WHERE tenant_id = $1 AND kombo_id = ANY($2)",
            &[&TENANT, &targets],
        )
        .await?;
    let ctx = stack.worker_context("tick", Duration::from_secs(10));
    let config = hris_e2e::stack::scheduler_config("tick");
    let tick = hris_worker::scheduler::tick(&ctx, &config)
        .await
        .map_err(anyhow::Error::msg)?;
    let again = hris_worker::scheduler::tick(&ctx, &config)
        .await
        .map_err(anyhow::Error::msg)?;
    let c = counts(&stack, &targets).await?;
    println!(
        "guard/scheduler: {} leave dates of {active} reached; tick deactivated {}, held {}; next tick {} / {}",
        targets.len(),
        tick.deactivated,
        tick.held,
        again.deactivated,
        again.held
    );
    assert_eq!(tick.deactivated, 0);
    assert_eq!(tick.held, targets.len() as i64);
    assert_eq!((again.deactivated, again.held), (0, 0), "held once");
    assert_eq!(c.pending, targets.len() as i64);
    assert_eq!(c.deactivated_targets, 0);
    Ok(())
}
