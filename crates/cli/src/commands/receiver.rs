use secrecy::ExposeSecret;
use std::sync::Arc;

use anyhow::Context;
use hris_bus::{AmqpConfig, Connector, Publisher, Topology};
use hris_kombo::WebhookSecrets;
use hris_receiver::{AppState, ReceiverConfig};
use tokio_util::sync::CancellationToken;

use crate::args::{AmqpArgs, ReceiverArgs};

pub async fn run(amqp: AmqpArgs, args: ReceiverArgs, metrics_addr: String) -> anyhow::Result<()> {
    let secrets = WebhookSecrets::from_comma_separated(args.kombo_webhook_secrets.expose_secret());
    anyhow::ensure!(
        !secrets.is_empty(),
        "KOMBO_WEBHOOK_SECRETS is empty: every webhook would be refused"
    );
    let mut limits = args.http_limits()?;
    limits.fit_to_open_files(hris_receiver::nofile::raise_open_files_limit());
    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let ops = tokio::net::TcpListener::bind(&metrics_addr)
        .await
        .with_context(|| format!("cannot listen on {metrics_addr} (METRICS_ADDR)"))?;
    let shutdown = CancellationToken::new();
    let connector = Connector::new(
        AmqpConfig::new(amqp.amqp_url.expose_secret(), "hris-sync receiver"),
        Topology::new(&amqp.amqp_prefix),
    );
    let connection_task = connector.spawn(shutdown.clone());
    let state = Arc::new(AppState {
        config: ReceiverConfig {
            secrets,
            max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
        },
        publisher: Publisher::new(connector),
        metrics: hris_telemetry::metrics_handle(),
    });
    let ops_stop = shutdown.clone();
    tokio::spawn(hris_receiver::serve_ops(ops, state.clone(), async move {
        ops_stop.cancelled().await
    }));
    tracing::info!(addr = %listener.local_addr()?, %metrics_addr, max_connections = limits.max_connections, "receiver listening");
    hris_receiver::serve_with(listener, state, limits, hris_telemetry::shutdown_signal()).await?;
    // In-flight requests are done: close the broker connection cleanly.
    shutdown.cancel();
    let _ = connection_task.await;
    Ok(())
}
