//! The receiver's own accept loop. `axum::serve` has no header-read timeout, no
//! idle timeout and no connection cap, so a few thousand clients that open a
//! connection and never finish their request hold the process until it runs out
//! of file descriptors. Here every connection needs a permit of a semaphore
//! (the cap: beyond it, new connections wait in the kernel's backlog), hyper
//! closes a connection whose request head does not arrive in time, and a
//! connection that stays idle between requests is closed too.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Limits of the HTTP server (each configurable through the environment).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// A request head (request line and headers) must arrive within this,
    /// counted from when the server starts reading it.
    pub header_read_timeout: Duration,
    /// A request body must be read completely within this.
    pub body_read_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Webhooks publishing at once (counted once the body is read and the
    /// signature verified); beyond it, 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
    /// Once the body is read, a webhook is answered within this: 503 with
    /// `Retry-After` if the broker has not confirmed by then.
    pub webhook_deadline: Duration,
    /// A whole request (body and handling) is cut off after this (503).
    pub request_timeout: Duration,
    /// An oversized body is read and discarded up to this many bytes before
    /// the 413, so that the client, still sending, reads the answer instead of
    /// a connection reset.
    pub drain_max_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(5),
            max_connections: 4096,
            max_concurrent_requests: 512,
            webhook_deadline: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            drain_max_bytes: 8 * 1024 * 1024,
        }
    }
}

impl HttpLimits {
    /// Keeps the connection cap below the process's file limit, with room for
    /// the broker connection, the database pool and the listener itself: a cap
    /// above the limit would turn into "Too many open files" on accept.
    pub fn fit_to_open_files(&mut self, open_files_limit: Option<u64>) {
        const RESERVED: u64 = 128;
        let Some(limit) = open_files_limit else {
            return;
        };
        let room = usize::try_from(limit.saturating_sub(RESERVED).max(16)).unwrap_or(usize::MAX);
        if self.max_connections > room {
            tracing::warn!(
                configured = self.max_connections,
                allowed = room,
                open_files_limit = limit,
                "HTTP_MAX_CONNECTIONS lowered to fit the open files limit"
            );
            self.max_connections = room;
        }
    }
}

/// Per connection: requests in flight and when the last one finished, for the
/// idle timeout (hyper's HTTP/1 server has none of its own).
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    last_done: Mutex<Option<Instant>>,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// How long until the connection counts as idle; `None` while a request is
    /// in flight or before the first one (the header-read timeout covers that).
    fn idle_in(&self, idle: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = *self.last_done.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|at| idle.saturating_sub(at.elapsed()))
    }
}

struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves once the connection has been idle for `idle`.
async fn idle_expired(activity: &Activity, idle: Duration) {
    loop {
        match activity.idle_in(idle) {
            Some(left) if left.is_zero() => return,
            Some(left) => tokio::time::sleep(left).await,
            None => tokio::time::sleep(idle).await,
        }
    }
}

/// Serves `app` on `listener` until `shutdown`; then stops accepting, lets each
/// connection finish its request in flight and waits for them (bounded by the
/// request timeout).
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    metrics::gauge!("http_max_connections").set(max as f64);
    loop {
        // Take a permit first: at the cap, connections queue in the backlog
        // rather than each costing a descriptor and a task.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; the
                    // connections in flight release descriptors as they end.
                    tracing::warn!(error = %e, "accept failed");
                    metrics::counter!("http_accept_errors_total").increment(1);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let limits = limits.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            metrics::gauge!("http_open_connections").increment(1.0);
            serve_connection(stream, app, &limits, &mut stop).await;
            metrics::gauge!("http_open_connections").decrement(1.0);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit: all of them back means all are done.
    let grace = limits.request_timeout + Duration::from_secs(1);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            still_open = max - permits.available_permits(),
            "connections still open at shutdown"
        );
    }
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: &HttpLimits,
    stop: &mut watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = tracked.begin();
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // Timeouts and clients going away: expected, not errors.
                    let reason = if e.is_timeout() { "header_timeout" } else { "error" };
                    metrics::counter!("http_connections_closed_total", "reason" => reason).increment(1);
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = idle_expired(&activity, limits.idle_timeout), if !closing => {
                metrics::counter!("http_connections_closed_total", "reason" => "idle").increment(1);
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = stop.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}
