//! The real `hris-sync admin` process: it refuses a missing or short token at
//! start without printing it, serves the admin API and its probes on
//! ADMIN_ADDR and `/metrics` on METRICS_ADDR, and exits cleanly on SIGTERM.
//! The receiver serves no admin route, whatever its environment says.

use std::time::{Duration, Instant};

use hris_e2e::receiver_process::{ReceiverProcess, client};
use hris_e2e::stack::Stack;

const TOKEN: &str = "an-admin-token-of-some-length";

fn free_addr() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_role_serves_the_api_and_stops_on_sigterm() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.store.add_tenant(&"acme".into(), "Acme", None).await?;
    let (addr, metrics) = (free_addr()?, free_addr()?);
    let mut child = stack
        .role_command(
            &["admin"],
            &[
                ("ADMIN_ADDR", &addr),
                ("METRICS_ADDR", &metrics),
                ("ADMIN_TOKEN", TOKEN),
            ],
        )
        .spawn()?;
    let http = client();
    let url = |path: &str| format!("http://{addr}{path}");
    let started = Instant::now();
    loop {
        match http.get(url("/readyz")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if started.elapsed() > Duration::from_secs(30) => {
                anyhow::bail!("hris-sync admin not ready within 30 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(http.get(url("/healthz")).send().await?.status(), 200);
    let status = url("/admin/tenants/acme/status");
    assert_eq!(http.get(&status).send().await?.status(), 401);
    let r = http.get(&status).bearer_auth(TOKEN).send().await?;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["tenant"], "acme");
    assert_eq!(http.get(url("/nope")).send().await?.status(), 404);
    let scraped = http.get(format!("http://{metrics}/metrics")).send().await?;
    assert_eq!(scraped.status(), 200);

    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(sent.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await??;
    assert!(exit.success(), "clean exit after SIGTERM: {exit}");
    println!("admin process: probes, 401/200/404, /metrics, clean exit on SIGTERM");
    Ok(())
}

#[tokio::test]
async fn the_admin_role_refuses_a_missing_or_short_token_without_printing_it() -> anyhow::Result<()>
{
    for token in [None, Some("short-secret")] {
        let mut command = tokio::process::Command::new(hris_e2e::hris_sync_bin());
        command
            .arg("admin")
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("AMQP_URL", "amqp://127.0.0.1:1/%2f")
            .env("KOMBO_API_KEY", "unused")
            .env("ADMIN_ADDR", "127.0.0.1:0")
            .env_remove("ADMIN_TOKEN");
        if let Some(token) = token {
            command.env("ADMIN_TOKEN", token);
        }
        let out = tokio::time::timeout(Duration::from_secs(10), command.output()).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a usage error: {stderr}");
        assert!(stderr.contains("ADMIN_TOKEN"), "{stderr}");
        assert!(!stderr.contains("short-secret"), "{stderr}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_receiver_serves_no_admin_route() -> anyhow::Result<()> {
    let prefix = hris_e2e::amqp_prefix();
    let receiver =
        ReceiverProcess::start(&hris_e2e::amqp_url(), &prefix, &[("ADMIN_TOKEN", TOKEN)]).await?;
    let r = client()
        .post(receiver.url("/admin/tenants/acme/import-all"))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    receiver.stop().await;
    Ok(())
}
