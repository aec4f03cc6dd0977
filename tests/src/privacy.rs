//! Personal data checks: what a database dump, stored errors and a worker's
//! logs still say about a person, and whether deploy/PRIVACY.md lists every
//! column that can hold text.

use std::time::Duration;

use crate::TestDb;
use crate::stack::Stack;

/// The whole database as `pg_dump` writes it (schema and data), bounded.
pub async fn pg_dump(db: &TestDb) -> anyhow::Result<String> {
    let run = tokio::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(&db.url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run).await??;
    anyhow::ensure!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The texts of `needles` a dump still holds, in any case, as text or as
/// the hex of a bytea column (a dead letter's payload).
pub fn found_in(dump: &str, needles: &[&str]) -> Vec<String> {
    let dump = dump.to_lowercase();
    needles
        .iter()
        .filter(|n| {
            let text = n.to_lowercase();
            let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
            dump.contains(&text) || dump.contains(&hex)
        })
        .map(|n| (*n).to_owned())
        .collect()
}

/// Every error text kept about the stack's work, labelled by where: sync run
/// errors, fetch errors, record-issue reasons, archived dead letters (reason,
/// code, headers, payload) and those waiting in the queue (taken off it).
pub async fn stored_errors(stack: &Stack) -> anyhow::Result<String> {
    let client = stack.store.client().await?;
    let mut out = String::new();
    for (label, sql) in [
        (
            "sync_runs.error",
            "SELECT error FROM sync_runs WHERE error IS NOT NULL",
        ),
        (
            "sync_state.last_error",
            "SELECT last_error FROM sync_state WHERE last_error IS NOT NULL",
        ),
        ("record_issues.reason", "SELECT reason FROM record_issues"),
        (
            "dead_letters",
            "SELECT concat_ws(' ', reason, error_code, headers::text, encode(payload, 'escape')) FROM dead_letters",
        ),
    ] {
        for row in client.query(sql, &[]).await? {
            let text: Option<String> = row.get(0);
            out.push_str(&format!("{label}: {}\n", text.unwrap_or_default()));
        }
    }
    for m in stack.inspector.dead_letters().await? {
        out.push_str(&format!(
            "dead-letter queue: {:?} {}\n",
            m.properties.headers(),
            String::from_utf8_lossy(&m.data)
        ));
    }
    Ok(out)
}

/// Collects a child's stderr until it exits.
pub fn capture(child: &mut tokio::process::Child) -> tokio::task::JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let mut out = String::new();
        if let Some(mut stderr) = stderr {
            use tokio::io::AsyncReadExt;
            let _ = stderr.read_to_string(&mut out).await;
        }
        out
    })
}

/// `hris-sync worker --entity all` as a process logging everything (debug,
/// JSON) to a captured stderr, with its `/metrics` on a port of its own.
pub struct WorkerLogs {
    child: tokio::process::Child,
    logs: tokio::task::JoinHandle<String>,
    metrics: String,
}

impl WorkerLogs {
    pub fn start(stack: &Stack) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let verbose = "debug,lapin=info,hyper=info,hyper_util=info,reqwest=info,tokio_postgres=info,h2=info,rustls=info";
        let mut child = stack
            .worker_command(&[
                ("RUST_LOG", verbose),
                ("LOG_FORMAT", "json"),
                ("METRICS_ADDR", addr.as_str()),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let logs = capture(&mut child);
        Ok(Self {
            child,
            logs,
            metrics: format!("http://{addr}/metrics"),
        })
    }

    /// The sum of `metric`'s samples whose labels contain every one of `labels`.
    pub async fn metric(&self, metric: &str, labels: &[&str]) -> anyhow::Result<f64> {
        let text = reqwest::get(&self.metrics).await?.text().await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(metric) && labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Stops the worker (SIGTERM, as Kubernetes does) and returns its logs.
    pub async fn stop(mut self) -> anyhow::Result<String> {
        if let Some(pid) = self.child.id() {
            tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(self.logs.await?)
    }
}

/// Text-like columns (`table.column`) of the public schema that `inventory`
/// does not name as `` `table.column` ``.
pub async fn unlisted_columns(db: &TestDb, inventory: &str) -> anyhow::Result<Vec<String>> {
    let (client, _driver) = hris_store::connect_one(&db.url, "hris-sync tests").await?;
    let rows = client
        .query(
            "SELECT table_name::text || '.' || column_name::text AS col
             FROM information_schema.columns
             WHERE table_schema = 'public'
               AND (data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea')
                    OR (data_type = 'ARRAY' AND udt_name IN ('_text', '_varchar')))
             ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>("col"))
        .filter(|col| !inventory.contains(&format!("`{col}`")))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn found_in_sees_text_in_any_case_and_bytea_hex() {
        let dump = "COPY users … Ada\tLOVELACE\n … \\x6164614078 …";
        assert_eq!(
            super::found_in(dump, &["lovelace", "ada@x", "babbage"]),
            vec!["lovelace".to_owned(), "ada@x".to_owned()]
        );
    }
}
