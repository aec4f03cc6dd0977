//! A private RabbitMQ node for one test, which it may stop and start without
//! disturbing the shared broker every other test uses.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct PrivateBroker {
    pub node: String,
    pub port: u16,
    dir: PathBuf,
}

impl PrivateBroker {
    /// Starts a node with its own data directory and ports (plugins off).
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port_pair(&[])?;
        let node = format!("hris-test-{port}@localhost");
        let dir = std::env::temp_dir().join(format!("hris-rabbit-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mnesia"))?;
        std::fs::create_dir_all(dir.join("log"))?;
        std::fs::write(dir.join("plugins"), "[].")?;
        // The machine's config file pins the shared broker's listener; this
        // node gets its own.
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\n"),
        )?;
        let _ = Command::new("chown")
            .args(["-R", "rabbitmq:rabbitmq"])
            .arg(&dir)
            .status();
        let status = Command::new("rabbitmq-server")
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", (u32::from(port) + 20000).to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .current_dir(&dir)
            .status()?;
        anyhow::ensure!(status.success(), "rabbitmq-server did not start");
        let broker = Self { node, port, dir };
        broker.await_up().await?;
        broker.ctl(&["await_startup"])?;
        Ok(broker)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let status = Command::new("rabbitmqctl")
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .arg("-q")
            .status()?;
        anyhow::ensure!(status.success(), "rabbitmqctl {args:?} failed");
        Ok(())
    }

    async fn await_up(&self) -> anyhow::Result<()> {
        for _ in 0..60 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!("private RabbitMQ node {} did not come up", self.node)
    }

    /// Stops RabbitMQ on the node (connections drop, queues stay on disk).
    pub fn stop(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"])
    }

    pub async fn start_again(&self) -> anyhow::Result<()> {
        self.ctl(&["start_app"])?;
        self.await_up().await
    }

    /// Raises a memory alarm on this node (a watermark of 0: any use is too
    /// much), so the broker blocks every publishing connection; waits (up to
    /// 30 s) until the alarm is in force.
    pub async fn raise_memory_alarm(&self) -> anyhow::Result<()> {
        self.ctl(&["set_vm_memory_high_watermark", "0"])?;
        self.await_memory_alarm(true).await
    }

    /// Puts the watermark back to the default fraction and waits until the
    /// alarm has cleared.
    pub async fn clear_memory_alarm(&self) -> anyhow::Result<()> {
        self.ctl(&["set_vm_memory_high_watermark", "0.4"])?;
        self.await_memory_alarm(false).await
    }

    async fn await_memory_alarm(&self, on: bool) -> anyhow::Result<()> {
        for _ in 0..60 {
            if self.memory_alarm()? == on {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!(
            "memory alarm of {} not {}",
            self.node,
            if on { "raised" } else { "cleared" }
        )
    }

    /// Whether a memory alarm is in force on this node.
    pub fn memory_alarm(&self) -> anyhow::Result<bool> {
        let out = Command::new("rabbitmqctl")
            .arg("-n")
            .arg(&self.node)
            .args(["eval", "rabbit_alarm:get_alarms()."])
            .output()?;
        anyhow::ensure!(out.status.success(), "rabbitmqctl eval get_alarms failed");
        Ok(String::from_utf8_lossy(&out.stdout).contains("memory"))
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .arg("-n")
            .arg(&self.node)
            .args(["stop", "-q"])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `rabbitmqctl` takes its own distribution port from 35672–35682 (the default
/// 25672 + 10000 …): no node may listen there, or every CLI call on the machine
/// (the shared broker's too) loses a port it needs.
const CLI_PORTS: std::ops::RangeInclusive<u16> = 35672..=35682;

/// A port for a test node whose +20000 distribution port is free too, outside
/// the CLI's ports and distinct from `taken`.
pub(crate) fn free_port_pair(taken: &[u16]) -> anyhow::Result<u16> {
    for _ in 0..50 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if port < 40000
            && !CLI_PORTS.contains(&port)
            && !taken.contains(&port)
            && std::net::TcpListener::bind(("127.0.0.1", port + 20000)).is_ok()
        {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port pair")
}

/// What on-call would look at when the shared broker does not answer: its
/// alarms and descriptor use, the machine's load, the Erlang VMs running and
/// the disk left. Appended to a failed connect, so a CI log says why.
pub fn diagnosis() -> String {
    // `timeout` bounds each command: a hung CLI must not hang the report.
    fn run(program: &str, args: &[&str]) -> String {
        match Command::new("timeout")
            .arg("10")
            .arg(program)
            .args(args)
            .output()
        {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("{program}: {e}"),
        }
    }
    let status = run("rabbitmq-diagnostics", &["-q", "status"]);
    let wanted: Vec<&str> = status
        .lines()
        .skip_while(|l| !l.contains("Alarms"))
        .take(4)
        .chain(
            status
                .lines()
                .skip_while(|l| !l.contains("File Descriptors"))
                .take(4),
        )
        .collect();
    format!(
        "broker: {}\nconnections: {}\nload: {}beam VMs: {}disk: {}",
        wanted.join(" | "),
        run(
            "rabbitmqctl",
            &["-q", "list_connections", "--no-table-headers", "pid"]
        )
        .lines()
        .count(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
        run("pgrep", &["-c", "beam.smp"]),
        run("df", &["-h", "--output=avail", "/var/lib/rabbitmq"]).replace('\n', " "),
    )
}
