//! The console's tenants overview with 10,000 tenants: seeded straight in
//! SQL (sync states, runs, some errors, dead letters, Kombo issues, held
//! changes), then the page requested over HTTP from the admin role's own
//! server, as a browser would, and the overview query timed on its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hris_admin::{Admin, AdminToken};
use hris_kombo::{KomboClient, KomboClientConfig};
use hris_store::console::{TenantQuery, TenantSort};
use hris_worker::{SyncSettings, WorkerContext};

use crate::env::{Env, percentile};

const TOKEN: &str = "bench-console-token-0123";

pub struct ConsoleFigures {
    pub tenants: i64,
    pub requests: usize,
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
    pub page_bytes: usize,
}

/// Seeds `tenants` tenants (`console-…`, beside those of earlier stages)
/// with a realistic spread of problems.
async fn seed(env: &Env, tenants: i64) -> anyhow::Result<()> {
    let client = env.store.client().await?;
    client
        .batch_execute(&format!(
            "INSERT INTO tenants (id, name, kombo_integration_id, integration_state, integration_state_reason)
             SELECT 'console-' || lpad(n::text, 5, '0'), 'Company ' || n, 'personio:t' || n,
                    CASE WHEN n % 97 = 0 THEN 'paused' WHEN n % 211 = 0 THEN 'disconnected' ELSE 'active' END,
                    CASE WHEN n % 97 = 0 THEN 'paused by an operator' END
             FROM generate_series(1, {tenants}) AS n;
             INSERT INTO sync_state (tenant_id, entity, watermark, last_fetch_started_at, last_incremental_at,
                                     last_full_at, last_error, last_error_at)
             SELECT t.id, e, now() - interval '5 minutes', now() - (random() * interval '10 minutes'),
                    now() - (random() * interval '1 hour'), now() - (random() * interval '7 hours'),
                    CASE WHEN random() < 0.02 THEN 'Kombo answered 503 (PLATFORM.TEMPORARILY_UNAVAILABLE)' END,
                    now() - (random() * interval '1 hour')
             FROM tenants t, unnest(ARRAY['employees', 'teams', 'locations', 'absences']) AS e
             WHERE t.id LIKE 'console-%';
             INSERT INTO sync_runs (id, tenant_id, entity, kind, trigger, status, started_at, finished_at,
                                    pages, created, updated)
             SELECT gen_random_uuid(), t.id, e, k, 'schedule', 'succeeded', now() - interval '1 hour',
                    now() - interval '59 minutes', 3, 0, (random() * 20)::int
             FROM tenants t, unnest(ARRAY['employees', 'teams', 'locations', 'absences']) AS e,
                  unnest(ARRAY['incremental', 'full']) AS k
             WHERE t.id LIKE 'console-%';
             INSERT INTO dead_letters (dedupe_key, routing_key, tenant_id, entity, reason, error_class,
                                       error_code, payload)
             SELECT 'bench-' || t.id || '-' || i, 'employees', t.id, 'employees', 'Kombo refused the key',
                    'permanent', 'INTEGRATION.AUTHENTICATION_INVALID', '\\x7b7d'::bytea
             FROM tenants t, generate_series(1, 3) AS i WHERE t.id LIKE 'console-%3';
             INSERT INTO integration_health (tenant_id, kombo_status, setup_status, checked_at)
             SELECT id, CASE WHEN random() < 0.01 THEN 'INVALID' ELSE 'ACTIVE' END, 'COMPLETED', now()
             FROM tenants WHERE id LIKE 'console-%';
             INSERT INTO kombo_issues (issue_id, issue_type, integration_id, tenant_id, status, last_event_id)
             SELECT 'issue-' || id, 'integration.authentication_failed', kombo_integration_id, id, 'open', 'e-' || id
             FROM tenants WHERE id LIKE 'console-%77';
             INSERT INTO users (tenant_id, kombo_id, first_name, last_name, status, fetched_at)
             SELECT t.id, 'emp-' || i, 'Person', i::text, 'active', now()
             FROM tenants t, generate_series(1, 5) AS i WHERE t.id LIKE 'console-%5';
             INSERT INTO held_changes (tenant_id, user_id, user_kombo_id, reason, held_because)
             SELECT u.tenant_id, u.id, u.kombo_id, 'deleted_upstream', 'more than 20 % of active users'
             FROM users u WHERE u.tenant_id LIKE 'console-%15';
             ANALYZE;"
        ))
        .await?;
    Ok(())
}

/// Seeds, serves the console, and times the tenants page.
pub async fn tenants_page(
    env: &Env,
    tenants: i64,
    requests: usize,
) -> anyhow::Result<ConsoleFigures> {
    seed(env, tenants).await?;
    let kombo = KomboClient::new(KomboClientConfig::new(
        format!("http://{}/v1", env.sim_addr),
        hris_sim::state::read(&env.sim.config).api_key.clone(),
    ))?;
    let ctx = WorkerContext {
        store: env.store.clone(),
        kombo,
        publisher: env.publisher.clone(),
        settings: SyncSettings::new("bench-console"),
    };
    let admin = Arc::new(Admin::new(&AdminToken::parse(TOKEN)?, None, ctx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/console/tenants", listener.local_addr()?);
    let stop = env.stop.child_token();
    tokio::spawn(hris_admin::serve(
        listener,
        admin,
        Duration::from_secs(30),
        async move { stop.cancelled().await },
    ));

    // Each request a different view on-call uses: problems first (the
    // default), a later page, a sort, a search, a state filter.
    let views = [
        "",
        "?page=120",
        "?sort=last_full",
        "?q=company+99",
        "?state=active&sort=dead_letters",
    ];
    let mut http_ms = Vec::with_capacity(requests);
    let mut page_bytes = 0;
    for i in 0..requests + 5 {
        let started = Instant::now();
        let response = env
            .http
            .get(format!("{url}{}", views[i % views.len()]))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?;
        let body = response.bytes().await?;
        // The first few warm the pool and PostgreSQL's caches.
        if i >= 5 {
            http_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        if i % views.len() == 0 {
            page_bytes = body.len();
        }
    }
    let mut query_ms = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        env.store
            .tenant_overview(&TenantQuery {
                sort: TenantSort::Problems,
                page_size: 50,
                ..TenantQuery::default()
            })
            .await?;
        query_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    http_ms.sort_by(f64::total_cmp);
    query_ms.sort_by(f64::total_cmp);
    Ok(ConsoleFigures {
        tenants,
        requests,
        http_p50_ms: percentile(&http_ms, 50.0),
        http_p99_ms: percentile(&http_ms, 99.0),
        query_p50_ms: percentile(&query_ms, 50.0),
        query_p99_ms: percentile(&query_ms, 99.0),
        page_bytes,
    })
}
