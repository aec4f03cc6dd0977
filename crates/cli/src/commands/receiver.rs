use std::sync::Arc;

use anyhow::Context;
use hris_bus::{AmqpConfig, Connector, Publisher, Topology};
use hris_kombo::WebhookSecrets;
use hris_receiver::{AppState, ReceiverConfig};
use tokio_util::sync::CancellationToken;

use crate::args::{AmqpArgs, DatabaseArgs, KomboArgs, ReceiverArgs};

/// The admin API's state, when `ADMIN_TOKEN` is set (it needs the database and Kombo).
pub fn admin(
    args: &ReceiverArgs,
    kombo: &KomboArgs,
    connector: &Arc<Connector>,
) -> anyhow::Result<Option<Arc<hris_receiver::admin::Admin>>> {
    let Some(token) = args.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    anyhow::ensure!(
        token.len() >= 16,
        "ADMIN_TOKEN is too short: use 16 characters or more"
    );
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("the admin API (ADMIN_TOKEN) needs DATABASE_URL"))?;
    let db = DatabaseArgs {
        database_url: url,
        database_pool_size: 4,
    };
    let ctx = hris_worker::WorkerContext {
        store: db.store_for("receiver admin")?,
        kombo: kombo.client()?,
        // The receiver's own connection: one per process.
        publisher: Publisher::new(connector.clone()),
        settings: hris_worker::SyncSettings::new("receiver-admin"),
    };
    Ok(Some(Arc::new(hris_receiver::admin::Admin::new(token, ctx))))
}

pub async fn run(amqp: AmqpArgs, args: ReceiverArgs, kombo: KomboArgs) -> anyhow::Result<()> {
    let secrets = WebhookSecrets::from_comma_separated(&args.kombo_webhook_secrets);
    anyhow::ensure!(
        !secrets.is_empty(),
        "KOMBO_WEBHOOK_SECRETS is empty: every webhook would be refused"
    );
    let mut limits = args.http_limits()?;
    limits.fit_to_open_files(hris_receiver::nofile::raise_open_files_limit());
    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let shutdown = CancellationToken::new();
    let connector = Connector::new(
        AmqpConfig::new(&amqp.amqp_url, "hris-sync receiver"),
        Topology::new(&amqp.amqp_prefix),
    );
    let connection_task = connector.spawn(shutdown.clone());
    let admin = admin(&args, &kombo, &connector)?;
    let state = Arc::new(AppState {
        config: ReceiverConfig {
            secrets,
            max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
        },
        publisher: Publisher::new(connector),
        metrics: hris_telemetry::metrics_handle(),
        admin,
    });
    tracing::info!(addr = %listener.local_addr()?, max_connections = limits.max_connections, "receiver listening");
    hris_receiver::serve_with(listener, state, limits, hris_telemetry::shutdown_signal()).await?;
    // In-flight requests are done: close the broker connection cleanly.
    shutdown.cancel();
    let _ = connection_task.await;
    Ok(())
}
