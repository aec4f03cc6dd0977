//! Bad input, tenant isolation and what the logs may contain.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::bus::{Inspector, Receiver, SECRET};
use hris_e2e::privacy::capture;
use hris_e2e::stack::Stack;
use serde_json::json;

/// A small deterministic generator for the malformed requests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_malformed_requests_get_clear_answers_and_publish_nothing()
-> anyhow::Result<()> {
    let prefix = hris_e2e::amqp_prefix();
    let receiver = Receiver::start(&prefix).await?;
    let inspector = Inspector::connect(&prefix).await?;
    let http = reqwest::Client::new();
    let url = receiver.url("/webhooks/kombo");
    let valid = hris_e2e::bus::data_changed("V", "personio:x", &["hris_employees"]);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut signed_garbage = 0;
    let mut signed_and_accepted = 0u32;
    for i in 0..3000 {
        let kind = rng.next() % 8;
        let body: Vec<u8> = match kind {
            0 => {
                let n = (rng.next() % 2048) as usize;
                rng.bytes(n)
            }
            1 => valid[..(rng.next() as usize % valid.len())].to_vec(),
            2 => serde_json::to_vec(&json!({"id": rng.next(), "type": ["x"], "data": rng.next() % 3})).unwrap_or_default(),
            3 => b"{}".to_vec(),
            4 => serde_json::to_vec(&json!({"id": format!("E{i}"), "type": "data-changed", "data": {"integration_id": 7}})).unwrap_or_default(),
            5 => vec![b'['; 100_000],
            _ => valid.clone(),
        };
        // Mostly unsigned or wrongly signed; some bodies signed properly, to
        // reach the parser with garbage.
        let mut good = false;
        let signature = match rng.next() % 4 {
            0 => None,
            1 => Some(hris_kombo::sign("not-the-secret", &body)),
            2 => {
                let junk = rng.bytes(40);
                Some(String::from_utf8_lossy(&junk).into_owned())
            }
            _ if kind != 6 => {
                signed_garbage += 1;
                good = true;
                Some(hris_kombo::sign(SECRET, &body))
            }
            _ => Some(hris_kombo::sign("still-wrong", &body)),
        };
        let mut request = http.post(&url).body(body);
        if let Some(sig) = signature.filter(|s| reqwest::header::HeaderValue::from_str(s).is_ok()) {
            request = request.header("X-Kombo-Signature", sig);
        }
        let status = request.send().await?.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        assert!(status < 500, "request {i} (kind {kind}) got {status}");
        if !good {
            assert!(
                status == 401 || status == 413,
                "a badly signed request was looked at: {status}"
            );
        } else if status == 200 {
            signed_and_accepted += 1;
        }
    }
    for (method, path) in [
        ("GET", "/webhooks/kombo"),
        ("PUT", "/webhooks/kombo"),
        ("POST", "/nope"),
        ("DELETE", "/admin/tenants/x/import-all"),
    ] {
        let status = http
            .request(method.parse()?, receiver.url(path))
            .send()
            .await?
            .status()
            .as_u16();
        assert!([404, 405].contains(&status), "{method} {path}: {status}");
    }
    // Only correctly signed events that parsed may publish (one message each
    // at most here); nothing badly signed ever does.
    let published = inspector.total_depth().await?;
    assert!(
        published <= signed_and_accepted,
        "{published} published for {signed_and_accepted} accepted"
    );
    println!(
        "fuzz/http: 3000 malformed requests ({signed_garbage} correctly signed), answers {statuses:?}, 0 × 5xx, every bad signature 401, {published} published (all correctly signed)"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_with_colliding_ids_never_touch_each_other() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    // The same seed: both companies have the same Kombo ids and remote ids.
    let a = stack.tenant("alpha", 150, 99).await?;
    let _b = stack.tenant("beta", 150, 99).await?;
    stack
        .spawn_worker_with(&Entity::ALL, true, Duration::from_secs(10))
        .await?;
    stack.request_sync("alpha", FetchKind::Full).await?;
    stack.request_sync("beta", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let snapshot = |stack: &Stack| {
        let store = stack.store.clone();
        async move {
            let client = store.client().await?;
            let row = client
                .query_one(
                    "SELECT md5(string_agg(u::text, '|' ORDER BY id)) FROM (
                        SELECT id, kombo_id, remote_id, first_name, email, job_title, status, manager_user_id,
                               primary_team_id, updated_at FROM users WHERE tenant_id = 'beta') u",
                    &[],
                )
                .await?;
            anyhow::Ok(row.get::<_, Option<String>>(0))
        }
    };
    let before = snapshot(&stack).await?;
    let beta_log_before = stack
        .count(
            "SELECT count(*) FROM change_log WHERE tenant_id = $1",
            "beta",
        )
        .await?;
    let employees = hris_e2e::conformance::employees(&stack, &a).await?;
    let ids: Vec<&str> = employees.iter().take(60).map(|e| e.id.as_str()).collect();
    stack
        .sim
        .mutate(
            &a,
            json!({"op": "promote", "employee_id": ids[0], "job_title": "Only Alpha"}),
        )
        .await?;
    stack
        .sim
        .mutate(&a, json!({"op": "delete", "employee_id": ids[1]}))
        .await?;
    stack
        .sim
        .mutate(
            &a,
            json!({"op": "vanish", "employee_ids": &ids[2..60], "silent": true}),
        )
        .await?;
    stack.flush_webhooks().await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    stack.request_sync("alpha", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    // alpha's full sync held its mass deactivation; approving it touches alpha only.
    stack
        .store
        .decide_held(&"alpha".into(), true, "test", None)
        .await?;
    let beta_users = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND job_title = 'Only Alpha'",
            "beta",
        )
        .await?;
    assert_eq!(beta_users, 0);
    assert_eq!(
        snapshot(&stack).await?,
        before,
        "beta's rows did not change at all"
    );
    let beta_log = stack
        .count(
            "SELECT count(*) FROM change_log WHERE tenant_id = $1",
            "beta",
        )
        .await?;
    assert_eq!(beta_log, beta_log_before, "no history written for beta");
    let alpha_changed = stack.count("SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'deactivated' AND deactivation_reason IN ('deleted_upstream', 'missing_from_full_sync')", "alpha").await?;
    assert!(
        alpha_changed >= 50,
        "alpha's own changes applied ({alpha_changed})"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_of_a_full_run_hold_no_names_emails_or_secrets() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let integration = stack.tenant("acme", 200, 98).await?;
    let verbose = "debug,lapin=info,hyper=info,hyper_util=info,reqwest=info,tokio_postgres=info,h2=info,rustls=info";
    let mut worker = stack
        .worker_command(&[("RUST_LOG", verbose), ("LOG_FORMAT", "json")])
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let worker_logs = capture(&mut worker);
    // A receiver process too: webhooks carry the admin's email in end_user.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut receiver = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .arg("receiver")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("AMQP_URL", hris_e2e::amqp_url())
        .env("AMQP_PREFIX", &stack.prefix)
        .env("KOMBO_WEBHOOK_SECRETS", SECRET)
        .env("RUST_LOG", verbose)
        .env("LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let receiver_logs = capture(&mut receiver);
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let http = reqwest::Client::new();
    let event = serde_json::to_vec(
        &json!({"id": "EV-pii", "type": "integration-state-changed", "data": {
        "integration_id": integration, "integration_tool": "personio", "integration_category": "HRIS",
        "end_user": {"organization_name": "Acme Secretive Org", "creator_email": "creator.person@acme-private.example", "origin_id": "acme"},
        "state": "ACTIVE"}}),
    )?;
    for _ in 0..50 {
        let sent = http
            .post(format!("http://127.0.0.1:{port}/webhooks/kombo"))
            .header("X-Kombo-Signature", hris_kombo::sign(SECRET, &event))
            .body(event.clone())
            .send()
            .await;
        if sent.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.sim.mutate(&integration, json!({"op": "change_email", "employee_id": employees[0].id, "email": "changed.person@acme-private.example"})).await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &worker.id().unwrap_or_default().to_string()])
        .status()
        .await;
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &receiver.id().unwrap_or_default().to_string()])
        .status()
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(30), worker.wait()).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), receiver.wait()).await;
    let logs = format!("{}\n{}", worker_logs.await?, receiver_logs.await?);
    assert!(
        logs.contains("fetch complete") && logs.contains("webhook accepted"),
        "the logs of both processes were captured:\n{logs}"
    );
    let mut forbidden: Vec<String> = vec![
        SECRET.to_owned(),
        stack.sim.api_key(),
        "creator.person@acme-private.example".into(),
        "changed.person@acme-private.example".into(),
        "Acme Secretive Org".into(),
    ];
    for e in &employees {
        forbidden.extend(e.work_email.iter().filter(|m| m.contains('@')).cloned());
        if let (Some(f), Some(l)) = (&e.first_name, &e.last_name) {
            forbidden.push(format!("{f} {l}"));
            forbidden.push(format!("\"{l}\""));
        }
    }
    let leaks: Vec<&String> = forbidden
        .iter()
        .filter(|f| logs.contains(f.as_str()))
        .collect();
    assert!(
        leaks.is_empty(),
        "personal data or secrets in the logs: {leaks:?}"
    );
    println!(
        "logs: {} lines at debug level, {} names/emails/secrets checked, none found",
        logs.lines().count(),
        forbidden.len()
    );
    Ok(())
}
