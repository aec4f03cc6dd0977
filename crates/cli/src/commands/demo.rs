//! `hris-sync demo`: the whole service on this machine in one process, against
//! the simulator. A customer connects their HR system through Kombo's flow
//! (signed webhooks over HTTP), the company is imported with live progress,
//! then a few live changes arrive in the database within seconds; the
//! operations console shows the result (`demo_console`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hris_bus::{AmqpConfig, Entity, Publisher, RetryPolicy, Topology};
use hris_kombo::envelope::CreateLinkRequest;
use hris_kombo::{KomboClientConfig, WebhookSecrets};
use hris_receiver::{AppState, ReceiverConfig};
use hris_sim::{SimConfig, SimState};
use hris_store::Store;
use hris_worker::scheduler::SchedulerConfig;
use hris_worker::{Services, ServicesConfig, SyncSettings, Tuning};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::commands::demo_console::DemoConsole;
use crate::output::Progress;

const SECRET: &str = "demo-webhook-secret";
const TENANT: &str = "demo-co";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// People in the simulated company.
    #[arg(long, default_value_t = 3000)]
    pub employees: usize,
    /// The demo's own database: dropped and created afresh on every run.
    #[arg(
        long,
        env = "DEMO_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/hris_demo"
    )]
    pub database_url: String,
    /// RabbitMQ for the demo.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Where the demo serves the operations console (any free port if taken).
    #[arg(long, env = "ADMIN_ADDR", default_value = "127.0.0.1:8082")]
    pub admin_addr: String,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    step("database", &format!("fresh {}", redact(&args.database_url)));
    recreate_database(&args.database_url).await?;
    hris_store::migrate(&args.database_url, "hris-sync demo").await?;
    let store = hris_store::connect(&args.database_url, 16, "hris-sync demo")?;

    let stop = CancellationToken::new();
    let prefix = format!("demo-{}", std::process::id());
    let mut topology = Topology::new(&prefix);
    topology.retry_delays = [1.0, 5.0, 30.0].map(Duration::from_secs_f64).to_vec();
    // Both listeners first: the simulator sends webhooks to the receiver, and
    // the Kombo client reads the simulator.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/webhooks/kombo", receiver.local_addr()?);
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_addr = sim_listener.local_addr()?;
    let sim = Arc::new(SimState::new(SimConfig {
        webhook_url: Some(receiver_url.clone()),
        webhook_secret: SECRET.to_owned(),
        debounce: Duration::from_millis(500),
        public_url: format!("http://{sim_addr}"),
        ..SimConfig::default()
    }));
    let api_key = hris_sim::state::read(&sim.config).api_key.clone();
    let Services { ctx, connector } = Services::with_store(
        store.clone(),
        ServicesConfig {
            amqp: AmqpConfig::new(&args.amqp_url, "hris-sync demo"),
            topology: topology.clone(),
            kombo: KomboClientConfig::new(format!("http://{sim_addr}/v1"), api_key),
            settings: SyncSettings::new("demo"),
        },
    )?;
    // The connection outlives the roles: the demo's queues are deleted over it
    // once they have stopped (a demo must not leave queues behind).
    let connection_stop = CancellationToken::new();
    let connection = connector.spawn(connection_stop.clone());
    anyhow::ensure!(
        connector.wait_connected(Duration::from_secs(20)).await,
        "cannot reach RabbitMQ at {} (scripts/services starts it)",
        redact(&args.amqp_url)
    );

    let state = Arc::new(AppState {
        config: ReceiverConfig {
            secrets: WebhookSecrets::from_comma_separated(SECRET),
            max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
        },
        publisher: Publisher::new(connector.clone()),
        metrics: hris_telemetry::metrics_handle(),
    });
    let http_stop = stop.child_token();
    tokio::spawn(hris_receiver::serve(receiver, state, async move {
        http_stop.cancelled().await
    }));
    let sim_stop = stop.child_token();
    tokio::spawn(hris_sim::serve(sim_listener, sim, async move {
        sim_stop.cancelled().await
    }));
    step(
        "services",
        &format!(
            "receiver {receiver_url}, Kombo simulator http://{sim_addr}/v1, queues {prefix}.*"
        ),
    );

    let tuning = Tuning {
        prefetch: 16,
        concurrency: 8,
        policy: RetryPolicy::new(topology.retry_delays.clone(), 5),
        shutdown_grace: Duration::from_secs(10),
    };
    let workers = tokio::spawn(hris_worker::run(
        ctx.clone(),
        connector.clone(),
        Entity::ALL.to_vec(),
        true,
        tuning,
        stop.child_token(),
    ));
    let scheduler = tokio::spawn(hris_worker::scheduler::run(
        ctx.clone(),
        SchedulerConfig {
            owner: "demo".into(),
            tick: Duration::from_secs(2),
            batch: 100,
        },
        stop.child_token(),
    ));

    let console = DemoConsole::start(&args.admin_addr, ctx.clone(), stop.child_token()).await?;

    // The customer's admin connects their HR system through Kombo's flow.
    store
        .add_tenant(&TENANT.into(), "Demo Company", None)
        .await?;
    let link = ctx
        .kombo
        .create_link(&CreateLinkRequest {
            end_user_email: "it-admin@demo-co.example".into(),
            end_user_organization_name: "Demo Company".into(),
            end_user_origin_id: Some(TENANT.into()),
            integration_category: Some("HRIS".into()),
            integration_tool: Some("personio".into()),
            ..CreateLinkRequest::default()
        })
        .await?;
    step(
        "connect",
        &format!("tenant {TENANT} got a connection link: {link}"),
    );
    let token = link
        .rsplit_once("token=")
        .map(|(_, t)| t.to_owned())
        .context("link without a token")?;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("http://{sim_addr}{path}");
    let done: Value = http
        .post(control("/_sim/connect/complete"))
        .json(&json!({ "token": token, "company": { "employees": args.employees, "seed": 2026 } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let integration = done["integration_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    step(
        "connect",
        &format!("the admin finished; Kombo sent integration-created for {integration}"),
    );

    // The first import starts by itself.
    let import_started = Instant::now();
    let mut progress = Progress::new(args.employees as u64, "importing people");
    let mut shown = 0;
    while shown < args.employees as i64 {
        anyhow::ensure!(
            import_started.elapsed() < Duration::from_secs(600),
            "the import did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = count(
            &store,
            "SELECT count(*) AS n FROM users WHERE tenant_id = $1",
        )
        .await?;
        while shown < now {
            progress.inc();
            shown += 1;
        }
    }
    progress.finish();
    let import_secs = import_started.elapsed().as_secs_f64();
    step(
        "import",
        &format!(
            "{} people in {import_secs:.1} s ({:.0}/s)",
            args.employees,
            args.employees as f64 / import_secs
        ),
    );
    wait_idle(&store).await?;

    // Live changes, each followed into the database.
    let employee = |i: usize| {
        let store = store.clone();
        async move {
            let client = store.client().await?;
            let row = client
                .query_one("SELECT kombo_id FROM users WHERE tenant_id = $1 AND status = 'active' ORDER BY id OFFSET $2 LIMIT 1", &[&TENANT, &(i as i64)])
                .await?;
            anyhow::Ok(row.try_get::<_, String>("kombo_id")?)
        }
    };
    let (promoted, leaver, mover) = (employee(1).await?, employee(2).await?, employee(3).await?);
    let team: String = store
        .client()
        .await?
        .query_one("SELECT kombo_id FROM teams WHERE tenant_id = $1 AND group_type = 'TEAM' ORDER BY kombo_id DESC LIMIT 1", &[&TENANT])
        .await?
        .try_get("kombo_id")?;
    let mut latencies = Vec::new();
    let changes: [(&str, Value, String); 4] = [
        (
            "a hire",
            json!({"op": "hire", "job_title": "Demo Engineer", "start_in_days": -1}),
            "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND job_title = 'Demo Engineer'"
                .into(),
        ),
        (
            "a promotion",
            json!({"op": "promote", "employee_id": promoted, "job_title": "Head of Demos"}),
            format!(
                "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND kombo_id = '{promoted}' AND job_title = 'Head of Demos'"
            ),
        ),
        (
            "a leaver",
            json!({"op": "terminate", "employee_id": leaver, "days_from_today": -1}),
            format!(
                "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND kombo_id = '{leaver}' AND status = 'deactivated'"
            ),
        ),
        (
            "a team move",
            json!({"op": "move_team", "employee_id": mover, "team_id": team}),
            format!(
                "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND kombo_id = '{mover}' AND primary_team_kombo_id = '{team}'"
            ),
        ),
    ];
    for (what, mutation, check) in changes {
        let at = Instant::now();
        http.post(control(&format!(
            "/_sim/integrations/{integration}/mutations"
        )))
        .json(&mutation)
        .send()
        .await?
        .error_for_status()?;
        while count(&store, &check).await? == 0 {
            anyhow::ensure!(
                at.elapsed() < Duration::from_secs(60),
                "{what} did not arrive within a minute"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = at.elapsed().as_secs_f64();
        latencies.push(secs);
        step(
            "live",
            &format!(
                "{what} in the HR system → in the database {secs:.2} s later (incl. Kombo's webhook debounce of 0.5 s)"
            ),
        );
    }

    let active = count(
        &store,
        "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND status = 'active'",
    )
    .await?;
    let deactivated = count(
        &store,
        "SELECT count(*) AS n FROM users WHERE tenant_id = $1 AND status = 'deactivated'",
    )
    .await?;
    let teams = count(
        &store,
        "SELECT count(*) AS n FROM teams WHERE tenant_id = $1",
    )
    .await?;
    let locations = count(
        &store,
        "SELECT count(*) AS n FROM locations WHERE tenant_id = $1",
    )
    .await?;
    let absences = count(
        &store,
        "SELECT count(*) AS n FROM absences WHERE tenant_id = $1",
    )
    .await?;
    let history = count(
        &store,
        "SELECT count(*) AS n FROM change_log WHERE tenant_id = $1",
    )
    .await?;
    println!("\nsummary");
    println!("  people        {active} active, {deactivated} deactivated");
    println!(
        "  teams {teams}, locations {locations}, absences {absences}, change-log entries {history}"
    );
    println!(
        "  import        {} people in {import_secs:.1} s",
        args.employees
    );
    println!(
        "  live changes  {} of 4 arrived, slowest {:.2} s",
        latencies.len(),
        latencies.iter().cloned().fold(0.0, f64::max)
    );
    println!("  total         {:.1} s", started.elapsed().as_secs_f64());
    println!(
        "\nexplore: DATABASE_URL={} hris-sync tenant status --tenant {TENANT}",
        redact(&args.database_url)
    );
    println!(
        "         DATABASE_URL={} hris-sync explain --tenant {TENANT} --user {leaver}",
        redact(&args.database_url)
    );

    console.show().await;
    stop.cancel();
    let _ = workers.await;
    let _ = scheduler.await;
    console.stopped().await;
    if let Ok(channel) = connector.open_channel().await {
        let _ = topology.delete(&channel).await;
    }
    connection_stop.cancel();
    let _ = connection.await;
    Ok(())
}

fn step(stage: &str, what: &str) {
    println!("[{stage:>8}] {what}");
}

/// `sql` names its one column `n`.
async fn count(store: &Store, sql: &str) -> anyhow::Result<i64> {
    Ok(store
        .client()
        .await?
        .query_one(sql, &[&TENANT])
        .await?
        .try_get("n")?)
}

/// Waits until no fetch is running or pending.
async fn wait_idle(store: &Store) -> anyhow::Result<()> {
    for _ in 0..600 {
        let busy = count(store, "SELECT count(*) AS n FROM sync_state WHERE tenant_id = $1 AND ((lease_owner IS NOT NULL AND lease_until > now()) OR rerun_requested IS NOT NULL)").await?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Drops and creates the demo database through the server's `postgres` database.
async fn recreate_database(url: &str) -> anyhow::Result<()> {
    let (base, name) = url
        .rsplit_once('/')
        .context("DEMO_DATABASE_URL has no database name")?;
    let (name, query) = match name.split_once('?') {
        Some((name, query)) => (name, format!("?{query}")),
        None => (name, String::new()),
    };
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "demo database name {name:?}: letters, digits and _ only"
    );
    // Same sslmode as the demo's own connections.
    let (client, driver) =
        hris_store::connect_one(&format!("{base}/postgres{query}"), "hris-sync demo")
            .await
            .context("cannot reach PostgreSQL (scripts/services starts it)")?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// A URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
