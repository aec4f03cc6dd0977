//! "Import all" decides on the whole listing before it deactivates anyone:
//! 60 % of a tenant of 1,000 terminated with a past date, spread so that every
//! page of the listing alone fits in the guard's budget and the listing as a
//! whole does not, read by `hris-sync import-all` while the scheduler ticks
//! every 2 s. No page slips through, the scheduler deactivates nobody held, a
//! rejection leaves people active, an approval deactivates them, and another
//! tenant converges meanwhile.

use std::time::{Duration, Instant};

use hris_bus::FetchKind;
use hris_e2e::conformance::{employees, full_mismatches, still_employed};
use hris_e2e::faults::dead_letters;
use hris_e2e::guard::{Counts, limit, pending_held, spawn_scheduler, spread, terminate};
use hris_e2e::stack::Stack;
use serde_json::Value;

const TENANT: &str = "acme";
const PEOPLE: usize = 1000;
/// The rejected ones, of the held.
const REJECTED: usize = 10;

async fn counts(stack: &Stack, targets: &[String]) -> anyhow::Result<Counts> {
    hris_e2e::guard::counts(stack, TENANT, targets).await
}

/// `hris-sync import-all` for acme, as an operator runs it; its summary.
async fn import_all(stack: &Stack) -> anyhow::Result<Value> {
    let out = stack
        .cli(&["import-all", "--tenant", TENANT, "--json"])
        .await?;
    serde_json::from_str(&out).map_err(|e| anyhow::anyhow!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_all_decides_on_the_whole_listing_before_deactivating_anyone() -> anyhow::Result<()>
{
    let (stack, integration) = Stack::imported(TENANT, PEOPLE, 142).await?;
    let other = stack.tenant("other", 80, 144).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let listing = employees(&stack, &integration).await?;
    let active = counts(&stack, &[]).await?.active;
    // 60 % of the active, spread over the listing's pages as the workers read
    // them (Kombo's largest page), so that no page alone exceeds the limit.
    let live: Vec<_> = listing
        .iter()
        .filter(|e| e.remote_deleted_at.is_none())
        .cloned()
        .collect();
    let targets = spread(&still_employed(&live), (active as usize * 6).div_ceil(10));
    let page_size = hris_kombo::query::MAX_PAGE_SIZE as usize;
    let per_page: Vec<usize> = listing
        .chunks(page_size)
        .map(|page| page.iter().filter(|e| targets.contains(&e.id)).count())
        .collect();
    println!(
        "guard/import-all: {} people in {} pages of {page_size}; leavers per page {per_page:?}, {} in all; limit {}",
        listing.len(),
        per_page.len(),
        targets.len(),
        limit(active)
    );
    assert!(per_page.len() >= 4, "a listing of several pages");
    assert!(
        per_page.iter().all(|&n| (n as i64) < limit(active)),
        "each page's leavers alone fit in the budget"
    );
    assert!(
        targets.len() as i64 > limit(active),
        "the whole listing's do not"
    );

    let scheduler = spawn_scheduler(&stack);
    // Changes Kombo never announced: only a full read finds them. The other
    // tenant changes too (one leaver, within its own budget).
    terminate(&stack, &integration, true, -3, &targets).await?;
    let others = employees(&stack, &other).await?;
    terminate(
        &stack,
        &other,
        true,
        -3,
        &[still_employed(&others)[0].to_owned()],
    )
    .await?;
    // A full sync started within the clock-skew margin of the last one
    // counts as covering it: let the margin pass.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    stack.request_sync("other", FetchKind::Full).await?;
    let started = Instant::now();
    let summary = import_all(&stack).await?;
    let took = started.elapsed();
    stack.settle(Duration::from_secs(60)).await?;
    // Two more scheduler ticks: nothing held may slip through by leave date.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c = counts(&stack, &targets).await?;
    let dead = dead_letters(&stack).await?;
    println!(
        "guard/import-all: import-all took {:.1} s ({}); {} deactivated, {} held, {} by the scheduler; {dead} dead letters",
        took.as_secs_f64(),
        summary["status"],
        c.deactivated_targets,
        c.pending,
        c.by_scheduler
    );
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert!(
        summary["summary"]["held"].as_u64() >= Some(targets.len() as u64),
        "the run reports what it held: {summary}"
    );
    assert_eq!(
        c.deactivated_targets, 0,
        "no page slips through before the listing is decided"
    );
    assert_eq!(c.pending, targets.len() as i64);
    assert_eq!(pending_held(&stack, TENANT).await?, targets.len());
    assert_eq!(c.by_scheduler, 0, "the scheduler deactivates no held user");
    assert_eq!(c.active, active, "nobody deactivated");
    assert_eq!(dead, 0, "a held change is no failure");
    assert!(took < Duration::from_secs(120), "no hang: {took:?}");
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant converges, its leaver included"
    );

    // A few rejected, the rest approved.
    let (rejected, approved) = targets.split_at(REJECTED);
    let mut reject = vec![
        "tenant", "reject", "--tenant", TENANT, "--actor", "ops", "--yes",
    ];
    for id in rejected {
        reject.extend(["--user", id.as_str()]);
    }
    stack.cli(&reject).await?;
    stack
        .cli(&[
            "tenant", "approve", "--tenant", TENANT, "--actor", "ops", "--yes",
        ])
        .await?;
    let decided = counts(&stack, &targets).await?;
    let logged = stack
        .count(
            "SELECT count(*) FROM change_log WHERE tenant_id = $1 AND field = 'status' AND cause_event_id = 'held-change approved by ops'",
            TENANT,
        )
        .await?;
    assert_eq!(decided.deactivated_targets, approved.len() as i64);
    assert_eq!(
        logged,
        approved.len() as i64,
        "each approval in the history"
    );
    assert_eq!(decided.pending, 0);

    // Ticks and another "Import all" of the same data: the rejected stay
    // active, are not held again, and no leave-date deactivation waits.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again = import_all(&stack).await?;
    stack.settle(Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = counts(&stack, &targets).await?;
    let rejected: Vec<String> = rejected.to_vec();
    let rejected_active = stack
        .scalar(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active' AND kombo_id = ANY($2)
               AND (deactivate_at IS NULL OR deactivate_at > now())",
            &[&TENANT, &rejected],
        )
        .await?;
    println!(
        "guard/import-all: {} rejected stay active ({rejected_active}), {} approved deactivated; a second import-all held {}, the scheduler deactivated {}",
        rejected.len(),
        decided.deactivated_targets,
        later.pending,
        later.by_scheduler
    );
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(
        rejected_active, REJECTED as i64,
        "reject leaves them active"
    );
    assert_eq!(later.pending, 0, "the same HR data is not held again");
    assert_eq!(later.active, active - approved.len() as i64);
    assert_eq!(later.by_scheduler, 0);
    assert_eq!(dead_letters(&stack).await?, 0);
    scheduler.cancel();
    Ok(())
}
