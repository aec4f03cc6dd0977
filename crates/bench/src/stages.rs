//! The service's stages, measured end to end on the real services.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hris_bus::{Entity, Envelope, FetchKind, Outgoing, SyncedEntity, Trigger};

use crate::env::{Env, percentile};

pub struct ReceiverFigures {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: usize,
}

/// Signed `data-changed` webhooks over HTTP from `connections` concurrent clients.
pub async fn receiver(
    env: &Env,
    requests: usize,
    connections: usize,
) -> anyhow::Result<ReceiverFigures> {
    let url = env.receiver_url.clone();
    let started = Instant::now();
    let latencies: Vec<Option<f64>> = futures::stream::iter(0..requests)
        .map(|i| {
            let http = env.http.clone();
            let url = url.clone();
            async move {
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": format!("bench-{i}"), "type": "data-changed",
                    "data": { "integration_id": "personio:bench", "integration_tool": "personio",
                              "integration_category": "HRIS", "changed_models": [{ "name": "hris_employees" }] }
                }))
                .unwrap_or_default();
                let signature = hris_kombo::sign(crate::env::SECRET, &body);
                let t = Instant::now();
                let ok = http
                    .post(&url)
                    .header("X-Kombo-Signature", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                ok.then(|| t.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let failures = latencies.iter().filter(|l| l.is_none()).count();
    let mut ok: Vec<f64> = latencies.into_iter().flatten().collect();
    ok.sort_by(f64::total_cmp);
    Ok(ReceiverFigures {
        rate: ok.len() as f64 / elapsed,
        p50_ms: percentile(&ok, 50.0),
        p99_ms: percentile(&ok, 99.0),
        failures,
    })
}

/// Publishes a sync of every entity of `tenant`.
pub async fn request_sync(
    env: &Env,
    tenant: &str,
    integration: &str,
    kind: FetchKind,
) -> anyhow::Result<()> {
    let messages = SyncedEntity::ALL
        .iter()
        .map(|entity| {
            let mut e = Envelope::new(
                format!("bench-{}", uuid::Uuid::now_v7()),
                Some(integration.into()),
                Entity::from(*entity),
                kind,
                Trigger::ImportAll,
            );
            e.tenant_id = Some(tenant.into());
            Outgoing::event(&env.publisher, e)
        })
        .collect();
    env.publisher.publish_all(messages).await?;
    Ok(())
}

pub struct ImportFigures {
    pub employees: usize,
    pub wall_secs: f64,
    pub employee_fetch_secs: f64,
    pub per_sec: f64,
    pub peak_rss_mib: f64,
    pub resync_written: i64,
    pub resync_secs: f64,
}

/// A company of `employees` imported into an empty tenant by a fresh worker
/// process, then resynced with nothing changed.
pub async fn import(
    env: &Env,
    employees: usize,
    concurrency: usize,
) -> anyhow::Result<ImportFigures> {
    let tenant = format!("import{employees}");
    let integration = format!("personio:{tenant}");
    let generate = Instant::now();
    env.add_company(&integration, employees, employees as u64);
    eprintln!(
        "  generated {employees} people in {:.1} s",
        generate.elapsed().as_secs_f64()
    );
    env.store
        .add_tenant(&tenant.as_str().into(), &tenant, Some(&integration))
        .await?;
    let worker = env.worker(concurrency)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    request_sync(env, &tenant, &integration, FetchKind::Full).await?;
    env.settle(Duration::from_secs(3600)).await?;
    let wall_secs = started.elapsed().as_secs_f64();
    let client = env.store.client().await?;
    let fetch: f64 = client
        .query_one(
            "SELECT COALESCE(extract(epoch FROM max(finished_at) - min(started_at)), 0)::float8 AS secs FROM sync_runs
             WHERE tenant_id = $1 AND entity = 'employees'",
            &[&tenant],
        )
        .await?
        .try_get("secs")?;
    let stored: i64 = client
        .query_one(
            "SELECT count(*) AS n FROM users WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .try_get("n")?;
    anyhow::ensure!(
        stored as usize == employees,
        "{stored} of {employees} imported"
    );
    // Past the 2 s skew margin, so the resync is not "covered" by the import.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before: i64 = client
        .query_one(
            "SELECT count(*) AS n FROM sync_runs WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .try_get("n")?;
    let resync = Instant::now();
    request_sync(env, &tenant, &integration, FetchKind::Full).await?;
    env.settle(Duration::from_secs(3600)).await?;
    let resync_secs = resync.elapsed().as_secs_f64();
    let after: i64 = client
        .query_one(
            "SELECT count(*) AS n FROM sync_runs WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .try_get("n")?;
    anyhow::ensure!(after > before, "the resync ran");
    let written: i64 = client
        .query_one(
            "SELECT COALESCE(sum(created + updated + deactivated), 0)::bigint AS written FROM
               (SELECT * FROM sync_runs WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT $2) r",
            &[&tenant, &(after - before)],
        )
        .await?
        .try_get("written")?;
    let peak = worker.peak_rss_mib().unwrap_or(0.0);
    worker.stop();
    Ok(ImportFigures {
        employees,
        wall_secs,
        employee_fetch_secs: fetch,
        per_sec: employees as f64 / fetch.max(1e-9),
        peak_rss_mib: peak,
        resync_written: written,
        resync_secs,
    })
}

/// An employee changed, and when its webhook was sent.
type Sent = (String, chrono::DateTime<chrono::Utc>);

pub struct Lags {
    pub changes: usize,
    pub sent_secs: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub struct Freshness {
    pub tenants: usize,
    /// Every tenant's change at once: bounded by throughput (the backlog drains).
    pub burst: Lags,
    /// The same changes arriving at `paced_rate` per second.
    pub paced: Lags,
    pub paced_rate: f64,
}

/// `tenants` small tenants, one change each: webhook sent → row committed,
/// once all at once and once at a steady rate.
pub async fn freshness(env: &Env, tenants: usize, concurrency: usize) -> anyhow::Result<Freshness> {
    let worker = env.worker(concurrency)?;
    for t in 0..tenants {
        let id = format!("fresh{t:04}");
        env.add_company(&format!("personio:{id}"), 5, t as u64);
        env.store
            .add_tenant(&id.as_str().into(), &id, Some(&format!("personio:{id}")))
            .await?;
        request_sync(env, &id, &format!("personio:{id}"), FetchKind::Full).await?;
    }
    env.settle(Duration::from_secs(600)).await?;
    let client = env.store.client().await?;
    let targets: Vec<(String, String)> = client
        .query("SELECT DISTINCT ON (tenant_id) tenant_id, kombo_id FROM users WHERE tenant_id LIKE 'fresh%' ORDER BY tenant_id, kombo_id", &[])
        .await?
        .iter()
        .map(|r| anyhow::Ok((r.try_get("tenant_id")?, r.try_get("kombo_id")?)))
        .collect::<Result<_, _>>()?;
    // Past the 2 s skew margin, so no change is "covered" by an earlier fetch.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let burst = change_round(env, &targets, "Fresh", None).await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let paced_rate = 100.0;
    let paced = change_round(env, &targets, "Paced", Some(paced_rate)).await?;
    worker.stop();
    Ok(Freshness {
        tenants: targets.len(),
        burst,
        paced,
        paced_rate,
    })
}

/// Gives each target employee `job_title` in the simulator and sends its
/// tenant's webhook (all at once, or `rate` per second); returns the lags.
async fn change_round(
    env: &Env,
    targets: &[(String, String)],
    job_title: &str,
    rate: Option<f64>,
) -> anyhow::Result<Lags> {
    let sent: Arc<std::sync::Mutex<Vec<Sent>>> = Arc::default();
    let sending = Instant::now();
    let start = tokio::time::Instant::now();
    futures::stream::iter(targets.iter().cloned().enumerate())
        .for_each_concurrent(32, |(i, (tenant, employee))| {
            let sent = sent.clone();
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                }
                let integration = format!("personio:{tenant}");
                let _ = env
                    .http
                    .post(env.control(&format!("/_sim/integrations/{integration}/mutations")))
                    .json(&serde_json::json!({"op": "promote", "employee_id": employee, "job_title": job_title, "silent": true}))
                    .send()
                    .await;
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": format!("{job_title}-{tenant}"), "type": "data-changed",
                    "data": { "integration_id": integration, "integration_tool": "personio",
                              "integration_category": "HRIS", "changed_models": [{ "name": "hris_employees" }] }
                }))
                .unwrap_or_default();
                let at = chrono::Utc::now();
                let ok = env
                    .http
                    .post(&env.receiver_url)
                    .header("X-Kombo-Signature", hris_kombo::sign(crate::env::SECRET, &body))
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ok && let Ok(mut s) = sent.lock() {
                    s.push((employee, at));
                }
            }
        })
        .await;
    let sent_secs = sending.elapsed().as_secs_f64();
    eprintln!(
        "  {} changes made and their webhooks sent in {sent_secs:.1} s",
        targets.len()
    );
    env.settle(Duration::from_secs(600)).await?;
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let client = env.store.client().await?;
    let mut lags = Vec::new();
    for (employee, at) in &sent {
        // The end of the sync run that wrote the change: recorded after the
        // page's commit (the row's own `updated_at` is its transaction's start).
        let committed: chrono::DateTime<chrono::Utc> = client
            .query_one(
                "SELECT r.finished_at FROM change_log c JOIN sync_runs r ON r.id = c.sync_run_id
                 WHERE c.record_kombo_id = $1 AND c.field = 'job_title' AND c.new_value = to_jsonb($2::text)",
                &[employee, &job_title],
            )
            .await?
            .try_get("finished_at")?;
        lags.push(((committed - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0).max(0.0));
    }
    lags.sort_by(f64::total_cmp);
    Ok(Lags {
        changes: lags.len(),
        sent_secs,
        p50_ms: percentile(&lags, 50.0),
        p99_ms: percentile(&lags, 99.0),
        max_ms: lags.last().copied().unwrap_or(0.0),
    })
}

pub struct FanIn {
    pub tenants: usize,
    pub employees_each: usize,
    pub total_secs: f64,
    pub median_tenant_secs: f64,
    pub slowest_tenant_secs: f64,
}

/// `tenants` companies of `each` people, all fully synced at once.
pub async fn fan_in(
    env: &Env,
    tenants: usize,
    each: usize,
    concurrency: usize,
) -> anyhow::Result<FanIn> {
    for t in 0..tenants {
        let id = format!("fan{t:04}");
        env.add_company(&format!("personio:{id}"), each, 10_000 + t as u64);
        env.store
            .add_tenant(&id.as_str().into(), &id, Some(&format!("personio:{id}")))
            .await?;
    }
    let worker = env.worker(concurrency)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let began = chrono::Utc::now();
    for t in 0..tenants {
        let id = format!("fan{t:04}");
        request_sync(env, &id, &format!("personio:{id}"), FetchKind::Full).await?;
    }
    env.settle(Duration::from_secs(7200)).await?;
    let total_secs = started.elapsed().as_secs_f64();
    worker.stop();
    let client = env.store.client().await?;
    let mut done: Vec<f64> = client
        .query(
            "SELECT extract(epoch FROM max(finished_at) - $1::timestamptz)::float8 AS done_secs FROM sync_runs
             WHERE tenant_id LIKE 'fan%' GROUP BY tenant_id",
            &[&began],
        )
        .await?
        .iter()
        .map(|r| r.try_get("done_secs"))
        .collect::<Result<_, _>>()?;
    done.sort_by(f64::total_cmp);
    Ok(FanIn {
        tenants,
        employees_each: each,
        total_secs,
        median_tenant_secs: percentile(&done, 50.0),
        slowest_tenant_secs: done.last().copied().unwrap_or(0.0),
    })
}
