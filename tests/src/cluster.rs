//! A private three-node RabbitMQ cluster on this machine, for tests that stop
//! and restart nodes under load without disturbing the shared broker.
//!
//! Each node has its own name (`hris-cN-<port>@localhost`), AMQP port,
//! distribution port (AMQP port + 20000) and data and log directory under the
//! temporary directory. The Debian package's scripts run every node and every
//! `rabbitmqctl` as the `rabbitmq` user with `HOME=/var/lib/rabbitmq`, so they
//! all share that home's `.erlang.cookie`: the nodes can cluster and the CLI can
//! reach them without a cookie of our own (`RABBITMQ_ERLANG_COOKIE` is
//! deprecated). Nodes two and three join node one with
//! `stop_app; join_cluster; start_app`. Everything is stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bus::Inspector;
use crate::stack::Stack;

/// Every `rabbitmqctl` call is bounded: a hung CLI must fail the test, not stall it.
const CTL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct ClusterNode {
    pub name: String,
    pub port: u16,
    dir: PathBuf,
}

impl ClusterNode {
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

pub struct Cluster {
    pub nodes: Vec<ClusterNode>,
}

/// Whether `rabbitmq-server` is installed (on `PATH`): without it the cluster
/// tests skip; CI installs it (`scripts/services`), so there they run.
pub fn rabbitmq_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("rabbitmq-server").is_file())
    })
}

impl Cluster {
    /// Starts three nodes at once, waits for each, then joins two and three to
    /// one. About 20 s on a 2-core machine.
    pub async fn start() -> anyhow::Result<Self> {
        let started = Instant::now();
        reap_orphans();
        let mut cluster = Self { nodes: Vec::new() };
        for i in 1..=3 {
            let taken: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
            let port = crate::broker::free_port_pair(&taken)?;
            let node = ClusterNode {
                name: format!("hris-c{i}-{port}@localhost"),
                port,
                dir: std::env::temp_dir().join(format!("hris-cluster-{port}")),
            };
            // Registered before it starts, so that whatever fails below, drop
            // stops every node that did start.
            cluster.nodes.push(node);
            start_node(&cluster.nodes[i - 1])?;
        }
        // `await_startup` fails at once while the node's VM is not up yet; the
        // AMQP listener opens late in the boot, so wait for it first.
        let waits = cluster.nodes.iter().map(|n| async {
            await_port(n.port, Duration::from_secs(90)).await?;
            ctl(&n.name, &["await_startup", "--timeout", "60"]).await
        });
        for result in futures::future::join_all(waits).await {
            result?;
        }
        let first = cluster.nodes[0].name.clone();
        for node in &cluster.nodes[1..] {
            ctl(&node.name, &["stop_app"]).await?;
            ctl(&node.name, &["join_cluster", &first]).await?;
            ctl(&node.name, &["start_app"]).await?;
        }
        for node in &cluster.nodes {
            await_port(node.port, Duration::from_secs(60)).await?;
        }
        let running = cluster.running_nodes(0).await?;
        anyhow::ensure!(
            running.len() == 3,
            "cluster did not form: running nodes {running:?}"
        );
        println!(
            "cluster: 3 nodes up and joined in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            cluster
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(cluster)
    }

    /// Every node's URL, comma-separated, as `AMQP_URL` lists a cluster.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(ClusterNode::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Stops RabbitMQ on node `i` (its Erlang VM stays up, as after a crash of
    /// the application: clients are disconnected, its queue members go down).
    pub async fn stop_node(&self, i: usize) -> anyhow::Result<()> {
        ctl(&self.nodes[i].name, &["stop_app"]).await
    }

    /// Starts RabbitMQ on node `i` again; it rejoins the cluster by itself.
    pub async fn start_node(&self, i: usize) -> anyhow::Result<()> {
        ctl(&self.nodes[i].name, &["start_app"]).await?;
        ctl(&self.nodes[i].name, &["await_startup", "--timeout", "60"]).await?;
        await_port(self.nodes[i].port, Duration::from_secs(60)).await
    }

    /// Nodes the cluster reports running, asked through node `via`.
    pub async fn running_nodes(&self, via: usize) -> anyhow::Result<Vec<String>> {
        let out = ctl_output(
            &self.nodes[via].name,
            &["cluster_status", "--formatter", "json"],
        )
        .await?;
        let status: serde_json::Value = serde_json::from_str(&out)?;
        Ok(status["running_nodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every queue whose name starts with `prefix`: its type, members and
    /// online members, asked through node `via`.
    pub async fn queues(&self, via: usize, prefix: &str) -> anyhow::Result<Vec<QueueMembers>> {
        let out = ctl_output(
            &self.nodes[via].name,
            &[
                "list_queues",
                "name",
                "type",
                "members",
                "online",
                "leader",
                "--formatter",
                "json",
            ],
        )
        .await?;
        let listing: Vec<serde_json::Value> = serde_json::from_str(&out)?;
        let names = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(listing
            .iter()
            .filter_map(|q| {
                let name = q["name"].as_str()?;
                name.starts_with(prefix).then(|| QueueMembers {
                    name: name.to_owned(),
                    kind: q["type"].as_str().unwrap_or_default().to_owned(),
                    members: names(&q["members"]),
                    online: names(&q["online"]),
                    leader: q["leader"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }
}

impl Cluster {
    /// The client-provided names of the connections node `i` holds.
    pub async fn connection_names(&self, i: usize) -> anyhow::Result<Vec<String>> {
        let out = ctl_output(
            &self.nodes[i].name,
            &[
                "list_connections",
                "pid",
                "client_properties",
                "--no-table-headers",
            ],
        )
        .await?;
        // The listing spans the cluster; a connection's pid names its node
        // (`<hris-c1-…@localhost.1234.0>`). The client properties are an Erlang
        // term list holding {"connection_name","…"}.
        let on_node = format!("<{}.", self.nodes[i].name);
        let needle = "{\"connection_name\",\"";
        Ok(out
            .lines()
            .filter(|line| line.starts_with(&on_node))
            .filter_map(|line| {
                let rest = &line[line.find(needle)? + needle.len()..];
                Some(rest[..rest.find('"')?].to_owned())
            })
            .collect())
    }
}

/// One queue's replication as `rabbitmqctl list_queues` reports it.
#[derive(Debug, Clone)]
pub struct QueueMembers {
    pub name: String,
    pub kind: String,
    pub members: Vec<String>,
    pub online: Vec<String>,
    pub leader: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // `stop` ends each node's VM; the data directories go with it.
        for node in &self.nodes {
            let _ = Command::new("rabbitmqctl")
                .args(["-n", &node.name, "stop", "-q"])
                .status();
        }
        for node in &self.nodes {
            // A node still booting ignores `stop`: end it by the pid it wrote.
            kill_by_pid_file(&node.dir);
            let _ = std::fs::remove_dir_all(&node.dir);
        }
    }
}

fn kill_by_pid_file(dir: &Path) {
    let Ok(pid) = std::fs::read_to_string(dir.join("pid")) else {
        return;
    };
    let pid = pid.trim();
    if !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && Path::new("/proc").join(pid).exists()
    {
        let _ = Command::new("kill").arg(pid).status();
    }
}

/// A run killed by the test runner's timeout never drops its cluster: its
/// nodes would run on forever. Ends the nodes of cluster directories older
/// than any run can last (a live run's directories are never that old).
fn reap_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(15 * 60));
        if old_enough
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("hris-cluster-")
        {
            kill_by_pid_file(&entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start_node(node: &ClusterNode) -> anyhow::Result<()> {
    let dir = &node.dir;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("mnesia"))?;
    std::fs::create_dir_all(dir.join("log"))?;
    std::fs::write(dir.join("plugins"), "[].")?;
    // The machine's config file pins the shared broker's listener; each node
    // gets its own, on loopback only.
    std::fs::write(
        dir.join("rabbitmq.conf"),
        format!("listeners.tcp.1 = 127.0.0.1:{}\n", node.port),
    )?;
    chown_to_rabbitmq(dir);
    let status = Command::new("rabbitmq-server")
        .arg("-detached")
        .env("RABBITMQ_NODENAME", &node.name)
        .env("RABBITMQ_NODE_PORT", node.port.to_string())
        .env(
            "RABBITMQ_DIST_PORT",
            (u32::from(node.port) + 20000).to_string(),
        )
        .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
        .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", dir.join("log"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("plugins"))
        .env("RABBITMQ_PID_FILE", dir.join("pid"))
        .current_dir(dir)
        .status()?;
    anyhow::ensure!(
        status.success(),
        "rabbitmq-server {} did not start",
        node.name
    );
    Ok(())
}

/// The Debian scripts run the node as `rabbitmq`, which must own its directories.
fn chown_to_rabbitmq(dir: &Path) {
    let _ = Command::new("chown")
        .args(["-R", "rabbitmq:rabbitmq"])
        .arg(dir)
        .status();
}

async fn ctl(node: &str, args: &[&str]) -> anyhow::Result<()> {
    ctl_output(node, args).await.map(|_| ())
}

/// Runs `rabbitmqctl -n NODE ARGS -q`, bounded by `CTL_TIMEOUT`; its stdout.
async fn ctl_output(node: &str, args: &[&str]) -> anyhow::Result<String> {
    let run = tokio::process::Command::new("rabbitmqctl")
        .arg("-n")
        .arg(node)
        .args(args)
        .arg("-q")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CTL_TIMEOUT, run).await.map_err(|_| {
        anyhow::anyhow!("rabbitmqctl -n {node} {args:?}: no answer in {CTL_TIMEOUT:?}")
    })??;
    anyhow::ensure!(
        out.status.success(),
        "rabbitmqctl -n {node} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn await_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The inspection connection dies with its node: open another on a live one
/// (forgetting the old one: dropping it would delete the test's queues).
pub async fn reconnect_inspector(stack: &mut Stack) -> anyhow::Result<()> {
    let inspector = Inspector::connect(&stack.prefix).await?;
    std::mem::forget(std::mem::replace(&mut stack.inspector, inspector));
    Ok(())
}

/// Waits until every queue of the test has a member online on each of the
/// three nodes; the time it took.
pub async fn await_full_membership(
    cluster: &Cluster,
    via: usize,
    prefix: &str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    loop {
        let queues = cluster.queues(via, prefix).await?;
        if !queues.is_empty() && queues.iter().all(|q| q.online.len() == 3) {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "queue members not all online after 60 s: {queues:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
