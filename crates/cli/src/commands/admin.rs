//! `hris-sync admin`: the admin API on `ADMIN_ADDR` (cluster-internal), with
//! `/metrics`, `/healthz` and `/readyz` on `METRICS_ADDR` like every role.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use hris_admin::{Admin, AdminToken};
use hris_bus::Topology;
use tokio_util::sync::CancellationToken;

use crate::args::{AmqpArgs, DatabaseArgs, KomboArgs};

#[derive(Args, Clone, Debug)]
pub struct AdminArgs {
    /// Listen address of the admin API (keep it cluster-internal).
    #[arg(long, env = "ADMIN_ADDR", default_value = "0.0.0.0:8082")]
    pub admin_addr: String,
    /// Bearer token of the admin API (/admin/…) and the console's write
    /// token (/console), 16 characters or more.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true, value_parser = TokenParser)]
    pub admin_token: AdminToken,
    /// The console's read-only token: pages, never actions (optional).
    #[arg(long, env = "ADMIN_READONLY_TOKEN", hide_env_values = true, value_parser = TokenParser)]
    pub admin_readonly_token: Option<AdminToken>,
    /// How long one admin request may take (then 503).
    #[arg(long = "admin-request-timeout-secs", env = "ADMIN_REQUEST_TIMEOUT_SECS", default_value = "30", value_parser = crate::duration::at_least(Duration::from_secs(1)))]
    pub admin_request_timeout: Duration,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9090")]
    pub metrics_addr: String,
    /// How long "Import all" waits for Kombo's own sync (force-sync) to
    /// finish before it reads what Kombo has.
    #[arg(long = "kombo-sync-wait-secs", env = "KOMBO_SYNC_WAIT_SECS", default_value = "900", value_parser = crate::duration::at_least(Duration::ZERO))]
    pub kombo_sync_wait: Duration,
}

/// The console inside another role (`hris-sync all`): served on ADMIN_ADDR
/// only when ADMIN_TOKEN is set.
#[derive(Args, Clone, Debug)]
pub struct ConsoleArgs {
    /// Listen address of the admin API and console (when ADMIN_TOKEN is set).
    #[arg(long, env = "ADMIN_ADDR", default_value = "127.0.0.1:8082")]
    pub admin_addr: String,
    /// Serves the admin API and the console with this write token.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true, value_parser = TokenParser)]
    pub admin_token: Option<AdminToken>,
    /// The console's read-only token.
    #[arg(long, env = "ADMIN_READONLY_TOKEN", hide_env_values = true, value_parser = TokenParser)]
    pub admin_readonly_token: Option<AdminToken>,
}

impl ConsoleArgs {
    /// Serves the admin API and console on ADMIN_ADDR with `ctx` until
    /// `stop`, if ADMIN_TOKEN is set.
    pub async fn spawn(
        &self,
        ctx: hris_worker::WorkerContext,
        stop: CancellationToken,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(token) = &self.admin_token else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind(&self.admin_addr)
            .await
            .with_context(|| format!("cannot listen on {}", self.admin_addr))?;
        tracing::info!(addr = %listener.local_addr()?, "admin API and console listening");
        let admin = Arc::new(Admin::new(token, self.admin_readonly_token.as_ref(), ctx));
        Ok(Some(tokio::spawn(async move {
            let timeout = Duration::from_secs(30);
            let _ = hris_admin::serve(listener, admin, timeout, stop.cancelled_owned()).await;
        })))
    }
}

/// Checks `ADMIN_TOKEN` at parse time without echoing it: clap's usual
/// "invalid value '…'" would print the (secret) value it refused.
#[derive(Clone)]
struct TokenParser;

impl TypedValueParser for TokenParser {
    type Value = AdminToken;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<AdminToken, clap::Error> {
        let refuse = |kind, message: String| clap::Error::raw(kind, message + "\n").with_cmd(cmd);
        let text = value
            .to_str()
            .ok_or_else(|| refuse(ErrorKind::InvalidUtf8, "ADMIN_TOKEN is not UTF-8".into()))?;
        AdminToken::parse(text).map_err(|e| refuse(ErrorKind::InvalidValue, e.to_string()))
    }
}

pub async fn run(
    db: DatabaseArgs,
    amqp: AmqpArgs,
    kombo: KomboArgs,
    args: AdminArgs,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.admin_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.admin_addr))?;
    let hris_worker::Services { ctx, connector } = crate::services::build(
        "admin",
        &db,
        &amqp,
        &kombo,
        Topology::new(&amqp.amqp_prefix),
        hris_worker::SyncSettings {
            kombo_sync_wait: args.kombo_sync_wait,
            ..hris_worker::SyncSettings::new("admin")
        },
    )?;
    ctx.store
        .ping()
        .await
        .context("cannot reach PostgreSQL at start")?;
    let connection_stop = CancellationToken::new();
    let connection = connector.spawn(connection_stop.clone());
    crate::commands::ops::spawn(
        &args.metrics_addr,
        ctx.clone(),
        connection_stop.child_token(),
    );
    let admin = Arc::new(Admin::new(
        &args.admin_token,
        args.admin_readonly_token.as_ref(),
        ctx,
    ));
    tracing::info!(addr = %listener.local_addr()?, "admin API and console listening");
    let timeout = args.admin_request_timeout;
    hris_admin::serve(listener, admin, timeout, hris_telemetry::shutdown_signal()).await?;
    // In-flight requests are done: close the broker connection cleanly.
    connection_stop.cancel();
    let _ = connection.await;
    Ok(())
}
