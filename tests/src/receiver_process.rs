//! The real `hris-sync receiver` binary on an ephemeral port, with its logs
//! captured, for tests of what only the process shows: its HTTP server limits,
//! its open files limit, what it logs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bus::SECRET;

pub struct ReceiverProcess {
    pub addr: SocketAddr,
    /// `METRICS_ADDR`: its probes and metrics.
    pub ops_addr: SocketAddr,
    pub prefix: String,
    child: tokio::process::Child,
    logs: Arc<Mutex<String>>,
    /// Last: the process is killed before its queues go.
    _queues: crate::bus::TestQueues,
}

impl ReceiverProcess {
    /// Starts `hris-sync receiver` against `amqp_url` with `env` on top of the
    /// basics (JSON logs, the test secret), waiting up to 30 s for `/readyz`.
    pub async fn start(amqp_url: &str, prefix: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_wrapped(&[], amqp_url, prefix, env).await
    }

    /// As `start`, run under `wrapper` (e.g. `prlimit --nofile=1024:4096 --`).
    pub async fn start_wrapped(
        wrapper: &[&str],
        amqp_url: &str,
        prefix: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let ops_port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let ops_addr: SocketAddr = ([127, 0, 0, 1], ops_port).into();
        let bin = crate::hris_sync_bin();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = tokio::process::Command::new(program);
                c.args(args).arg(&bin);
                c
            }
            None => tokio::process::Command::new(&bin),
        };
        command
            .arg("receiver")
            .env("HTTP_ADDR", addr.to_string())
            .env("METRICS_ADDR", ops_addr.to_string())
            .env("AMQP_URL", amqp_url)
            .env("AMQP_PREFIX", prefix)
            .env("KOMBO_WEBHOOK_SECRETS", SECRET)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn()?;
        let logs = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        let process = Self {
            addr,
            ops_addr,
            prefix: prefix.to_owned(),
            child,
            logs,
            _queues: crate::bus::TestQueues::new(prefix),
        };
        process.await_ready(Duration::from_secs(30)).await?;
        Ok(process)
    }

    async fn await_ready(&self, within: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(r) = http
                .get(format!("http://{}/readyz", self.ops_addr))
                .send()
                .await
                && r.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "receiver not ready within {within:?}; logs:\n{}",
            self.logs()
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the process (SIGTERM, then SIGKILL after 10 s) and returns its logs.
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
        }
        // Give the log reader a moment to take the last lines.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.logs()
    }
}

/// Posts `body` signed with the test secret; status, `Retry-After` and the time
/// the answer took.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    body: &[u8],
) -> anyhow::Result<(u16, Option<String>, Duration)> {
    let started = Instant::now();
    let r = http
        .post(url)
        .header("X-Kombo-Signature", hris_kombo::sign(SECRET, body))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await?;
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = r.bytes().await;
    Ok((status, retry_after, started.elapsed()))
}

/// The hard open files limit of this process (the receiver inherits it).
pub fn hard_open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(4)?.parse().ok()
}

/// Opens `n` connections to `addr` (100 at a time), each sending `first` (if
/// any), and watches each from the moment it is open: the handles resolve to
/// the time from opening until the server closed it, `None` if it was still
/// open after `within`.
pub async fn open_watched(
    addr: SocketAddr,
    n: usize,
    first: &'static [u8],
    within: Duration,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<Option<Duration>>>> {
    let mut out = Vec::with_capacity(n);
    for batch in 0..n.div_ceil(100) {
        let size = (n - batch * 100).min(100);
        let opened = futures::future::join_all((0..size).map(|_| async move {
            let connect = TcpStream::connect(addr);
            let mut stream = tokio::time::timeout(Duration::from_secs(10), connect).await??;
            if !first.is_empty() {
                stream.write_all(first).await?;
            }
            let opened = Instant::now();
            anyhow::Ok(tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let closed = async {
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                };
                tokio::time::timeout(within, closed)
                    .await
                    .ok()
                    .map(|()| opened.elapsed())
            }))
        }))
        .await;
        for watched in opened {
            out.push(watched?);
        }
    }
    Ok(out)
}

/// What `open_watched`'s handles resolved to.
pub async fn close_times(
    watched: Vec<tokio::task::JoinHandle<Option<Duration>>>,
) -> Vec<Option<Duration>> {
    futures::future::join_all(watched)
        .await
        .into_iter()
        .map(|r| r.ok().flatten())
        .collect()
}

/// A test's HTTP client (30 s timeout).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

/// Sends `head` (which declares a body) and then the body one byte every
/// 100 ms (`trickle`) or nothing at all; returns what the server answered,
/// when, and whether it closed the connection within 15 s.
pub async fn slow_request(
    addr: SocketAddr,
    head: &str,
    trickle: bool,
) -> anyhow::Result<(String, Duration, bool)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickler = tokio::spawn(async move {
        for _ in 0..600 {
            if !trickle || writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut answer));
    let ended = read.await.is_ok();
    let took = started.elapsed();
    trickler.abort();
    Ok((String::from_utf8_lossy(&answer).into_owned(), took, ended))
}

/// Asks `GET /webhooks/kombo` (answered 405 at once) on a keep-alive
/// connection, then nothing more; returns
/// the answer, how long after it the server closed the connection, and
/// whether it did so within `within`.
pub async fn idle_after_one_request(
    addr: SocketAddr,
    within: Duration,
) -> anyhow::Result<(String, Duration, bool)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /webhooks/kombo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await??;
    answer.truncate(n);
    let answered = Instant::now();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(within, stream.read_to_end(&mut rest))
        .await
        .is_ok();
    Ok((
        String::from_utf8_lossy(&answer).into_owned(),
        answered.elapsed(),
        ended,
    ))
}
