//! Links and switches for a tenant's existing integration: relink (never a
//! second create-link), setup link, connect refused on a connected tenant,
//! pause and resume reaching Kombo, and what disconnect says it deletes.

use hris_e2e::stack::Stack;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relink_repairs_the_same_integration_and_connect_points_to_it() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let integration = stack.tenant("acme", 10, 81).await?;

    let out = stack.cli(&["tenant", "relink", "--tenant", "acme"]).await?;
    assert!(
        out.trim().ends_with(&format!("relink={integration}")),
        "{out}"
    );
    assert_eq!(stack.sim.action_count("relink").await?, 1);
    assert_eq!(stack.sim.action_count("create-link").await?, 0);

    let (code, stdout, stderr) = stack
        .cli_status(&[
            "tenant",
            "connect",
            "--tenant",
            "acme",
            "--tool",
            "personio",
            "--admin-email",
            "admin@acme.example",
        ])
        .await?;
    assert_eq!(code, Some(4), "refused: {stdout} {stderr}");
    assert!(
        stderr.contains("hris-sync tenant relink --tenant acme"),
        "{stderr}"
    );
    assert!(stderr.contains(&integration), "{stderr}");
    assert_eq!(stack.sim.action_count("create-link").await?, 0);

    let out = stack
        .cli(&["tenant", "setup-link", "--tenant", "acme"])
        .await?;
    assert!(
        out.trim().ends_with(&format!("setup={integration}")),
        "{out}"
    );
    assert_eq!(stack.sim.action_count("setup-link").await?, 1);

    stack.cli(&["tenant", "pause", "--tenant", "acme"]).await?;
    let kombo = stack.sim.client();
    assert_eq!(kombo.integration(&integration).await?.status, "INACTIVE");
    let tenant = stack.store.tenant(&"acme".into()).await?;
    assert_eq!(tenant.integration_state.to_string(), "paused");
    let status: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert_eq!(status["kombo"]["kombo_enabled"], false);
    stack.cli(&["tenant", "resume", "--tenant", "acme"]).await?;
    assert_eq!(kombo.integration(&integration).await?.status, "ACTIVE");
    assert_eq!(
        stack
            .store
            .tenant(&"acme".into())
            .await?
            .integration_state
            .to_string(),
        "active"
    );
    assert_eq!(stack.sim.action_count("enabled").await?, 2);

    let (code, _, stderr) = stack
        .cli_status(&["tenant", "disconnect", "--tenant", "acme"])
        .await?;
    assert_eq!(code, Some(4));
    assert!(stderr.contains("It deletes nothing"), "{stderr}");
    assert!(
        stderr.contains("its Kombo integration is not deleted"),
        "{stderr}"
    );
    // Relinking a tenant that has no integration is refused by us, not Kombo.
    stack.store.add_tenant(&"bare".into(), "Bare", None).await?;
    let (code, _, stderr) = stack
        .cli_status(&["tenant", "relink", "--tenant", "bare"])
        .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("has no Kombo integration"), "{stderr}");
    assert_eq!(stack.sim.action_count("relink").await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_relinks_and_refuses_a_second_connection() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let integration = stack.tenant("acme", 10, 82).await?;
    let token = "an-admin-token-of-some-length";
    let admin = hris_e2e::admin::AdminServer::for_stack(&stack, token).await?;
    let http = reqwest::Client::new();
    let r = http
        .post(admin.url("/admin/tenants/acme/relink"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await?;
    assert!(
        body["link"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("relink={integration}"))),
        "{body}"
    );
    let r = http
        .post(admin.url("/admin/tenants/acme/connect"))
        .bearer_auth(token)
        .json(&json!({ "tool": "personio", "admin_email": "admin@acme.example" }))
        .send()
        .await?;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "already_connected");
    assert_eq!(stack.sim.action_count("relink").await?, 1);
    assert_eq!(stack.sim.action_count("create-link").await?, 0);
    let r = http
        .post(admin.url("/admin/tenants/nobody/relink"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    Ok(())
}
