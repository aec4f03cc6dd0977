//! The demo's operations console: served beside the demo's roles with a
//! token made for this run, its address printed at the end; on a terminal
//! the demo then keeps serving it (and syncing) until Ctrl-C.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hris_admin::{Admin, AdminToken};
use hris_worker::WorkerContext;
use tokio_util::sync::CancellationToken;

pub struct DemoConsole {
    pub url: String,
    token: String,
    task: tokio::task::JoinHandle<()>,
}

impl DemoConsole {
    /// Serves the console on `addr` (any free port if it is taken).
    pub async fn start(
        addr: &str,
        ctx: WorkerContext,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("no port for the console")?,
        };
        let url = format!("http://{}/console", listener.local_addr()?);
        // A token of this run only: the demo's database is thrown away too.
        let token = format!("demo-{}", uuid::Uuid::new_v4().simple());
        let admin = Arc::new(Admin::new(&AdminToken::parse(&token)?, None, ctx));
        let task = tokio::spawn(async move {
            let timeout = Duration::from_secs(30);
            let _ = hris_admin::serve(listener, admin, timeout, stop.cancelled_owned()).await;
        });
        Ok(Self { url, token, task })
    }

    /// Prints where the console is; on a terminal, serves it until Ctrl-C.
    pub async fn show(&self) {
        println!(
            "\nconsole: open {} and log in with the token {}",
            self.url, self.token
        );
        if std::io::stdout().is_terminal() {
            println!("         serving it (and syncing) until Ctrl-C");
            hris_telemetry::shutdown_signal().await;
        }
    }

    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}
