//! The admin API's server (`hris_admin::serve`, what `hris-sync admin` runs)
//! in-process on an ephemeral port, with its own broker connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hris_admin::{Admin, AdminToken};
use hris_bus::Connector;
use tokio_util::sync::CancellationToken;

pub struct AdminServer {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    /// Set when this server declared a topology no one else cleans up.
    _queues: Option<crate::bus::TestQueues>,
}

impl AdminServer {
    /// The admin API on `stack`'s database, broker and simulator.
    pub async fn for_stack(stack: &crate::stack::Stack, token: &str) -> anyhow::Result<Self> {
        Self::for_stack_with(stack, token, None).await
    }

    /// The admin API and console on `stack`, the console also admitting
    /// `read_only` (ADMIN_READONLY_TOKEN).
    pub async fn for_stack_with(
        stack: &crate::stack::Stack,
        token: &str,
        read_only: Option<&str>,
    ) -> anyhow::Result<Self> {
        let ctx = stack.worker_context("admin", Duration::from_secs(10));
        let (store, kombo) = (ctx.store.clone(), ctx.kombo.clone());
        Self::start(&stack.prefix, token, read_only, move |connector| {
            hris_worker::WorkerContext {
                store,
                kombo,
                publisher: hris_bus::Publisher::new(connector),
                settings: hris_worker::SyncSettings::new("admin"),
            }
        })
        .await
    }

    /// Starts the admin API with `token`, `ctx` built on its own connector
    /// (waiting up to 10 s for the broker connection).
    pub async fn start(
        prefix: &str,
        token: &str,
        read_only: Option<&str>,
        ctx: impl FnOnce(Arc<Connector>) -> hris_worker::WorkerContext,
    ) -> anyhow::Result<Self> {
        let name = format!("admin-{prefix}");
        let (connector, shutdown) =
            crate::bus::connect(&crate::amqp_url(), &name, prefix, true).await?;
        let read_only = read_only.map(AdminToken::parse).transpose()?;
        let admin = Arc::new(Admin::new(
            &AdminToken::parse(token)?,
            read_only.as_ref(),
            ctx(connector),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_secs(30);
            let _ = hris_admin::serve(listener, admin, timeout, async move {
                stop.cancelled().await;
            })
            .await;
        });
        Ok(Self {
            addr,
            shutdown,
            _queues: None,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The admin API over a database with the tenant `acme` and a simulator as
/// Kombo; its token is the third value.
pub async fn admin_server() -> anyhow::Result<(crate::TestDb, AdminServer, &'static str)> {
    let db = crate::TestDb::migrated().await?;
    let store = db.store();
    store.add_tenant(&"acme".into(), "Acme", None).await?;
    let sim = crate::Sim::start(hris_sim::SimConfig::default()).await?;
    let kombo = sim.client();
    let token = "an-admin-token-of-some-length";
    let prefix = crate::amqp_prefix();
    let ctx_store = store.clone();
    let mut admin = AdminServer::start(&prefix, token, None, move |connector| {
        hris_worker::WorkerContext {
            store: ctx_store,
            kombo,
            publisher: hris_bus::Publisher::new(connector),
            settings: hris_worker::SyncSettings::new("admin"),
        }
    })
    .await?;
    admin._queues = Some(crate::bus::TestQueues::new(&prefix));
    Ok((db, admin, token))
}
