//! The admin API checks the token before reading anything, and answers 404
//! for unknown tenants. Against its own server (`hris_admin::serve`, what
//! `hris-sync admin` runs); the process itself: `admin_process.rs`.

use hris_e2e::admin::admin_server;
use hris_e2e::receiver_process::client;

/// A distinctive value that must never appear in an answer.
const IBAN: &str = "DE89370400440532013000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_checks_the_token_before_reading_anything() -> anyhow::Result<()> {
    let (_db, admin, token) = admin_server().await?;
    let http = client();
    let connect = admin.url("/admin/tenants/acme/connect");
    let huge = vec![b'{'; 5 * 1024 * 1024];
    for (what, body) in [
        ("5 MiB", huge),
        ("bad JSON", b"{not json".to_vec()),
        ("no body", Vec::new()),
    ] {
        let r = http.post(&connect).body(body).send().await?;
        assert_eq!(r.status(), 401, "unauthenticated {what}");
    }
    // Authenticated: bad JSON is a 400 that quotes nothing from the body.
    let r = http
        .post(&connect)
        .bearer_auth(token)
        .body(format!(r#"{{"tool": 7, "admin_email": ["{IBAN}"]}}"#))
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    let text = r.text().await?;
    assert!(!text.contains(IBAN) && !text.contains("7,"), "{text}");
    println!(
        "admin: unauthenticated 5 MiB, bad JSON and empty bodies 401; authenticated bad JSON 400 without its values"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_answers_404_for_unknown_tenants() -> anyhow::Result<()> {
    let (_db, admin, token) = admin_server().await?;
    let http = client();
    // Unknown tenants: 404 on every route.
    let valid = r#"{"tool":"personio","admin_email":"a@example.com"}"#;
    for (method, path) in [
        ("POST", "/admin/tenants/nobody/import-all"),
        ("GET", "/admin/tenants/nobody/status"),
        ("POST", "/admin/tenants/nobody/connect"),
        ("POST", "/admin/tenants/nobody/held/approve"),
        ("POST", "/admin/tenants/nobody/held/reject"),
    ] {
        let r = http
            .request(method.parse()?, admin.url(path))
            .bearer_auth(token)
            .body(valid)
            .send()
            .await?;
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let r = http
        .post(admin.url("/admin/tenants/acme/held/approve"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), 200, "a known tenant with nothing held");
    println!("admin: unknown tenant 404 on 5 routes, a known one 200");
    Ok(())
}
