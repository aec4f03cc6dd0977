//! The operations console in a real headless Chromium: log in, approve a
//! held mass deactivation and see the people deactivated, start an import;
//! replay a group of dead letters and see it resolved; a read-only token sees
//! no action and a forged POST is refused; a user's page shows their job
//! title's history. With `CONSOLE_SCREENSHOTS=docs` the pages are saved as
//! PNGs (README).

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::admin::AdminServer;
use hris_e2e::browser::Browser;
use hris_e2e::conformance::{employees, still_employed};
use hris_e2e::stack::{Stack, eventually};
use hris_store::IntegrationState;
use hris_types::TenantId;
use serde_json::json;

const TOKEN: &str = "console-write-token-0123";
const READ_ONLY: &str = "console-read-only-token-0123";
const TENANT: &str = "acme";
/// Every form that acts (logging out is no action).
const ACTION_FORMS: &str = "form[method='post']:not([action='/console/logout'])";

/// Other tenants, so that the overview has rows to sort (problems first).
async fn neighbours(stack: &Stack) -> anyhow::Result<()> {
    for (id, name, state) in [
        ("globex", "Globex Corporation", IntegrationState::Paused),
        ("initech", "Initech", IntegrationState::Unconnected),
        (
            "umbrella",
            "Umbrella Health",
            IntegrationState::Disconnected,
        ),
    ] {
        let id = TenantId::from(id);
        stack.store.add_tenant(&id, name, None).await?;
        if state != IntegrationState::Unconnected {
            stack
                .store
                .set_integration_state(&id, state, Some("set by an operator"))
                .await?;
        }
    }
    Ok(())
}

/// `acme` imported, then 60 % of its people terminated in one change: the
/// guard holds the batch. Returns the stack and the people held.
async fn held_mass_deactivation() -> anyhow::Result<(Stack, Vec<String>)> {
    let (stack, integration) = Stack::imported(TENANT, 40, 181).await?;
    let people = employees(&stack, &integration).await?;
    let employed: Vec<String> = still_employed(&people)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let targets: Vec<String> = employed
        .iter()
        .take(employed.len() * 6 / 10)
        .cloned()
        .collect();
    for id in &targets {
        stack
            .sim
            .mutate(
                &integration,
                json!({"op": "terminate", "employee_id": id, "days_from_today": -3, "silent": true}),
            )
            .await?;
    }
    stack.request_sync(TENANT, FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let held = stack
        .count(
            "SELECT count(*) FROM held_changes WHERE tenant_id = $1 AND state = 'pending'",
            TENANT,
        )
        .await?;
    anyhow::ensure!(
        held as usize == targets.len(),
        "{held} held of {}",
        targets.len()
    );
    neighbours(&stack).await?;
    Ok((stack, targets))
}

/// The console on `stack` (both tokens) and a browser logged in with `token`.
async fn logged_in(stack: &Stack, token: &str) -> anyhow::Result<(AdminServer, Browser)> {
    let admin = AdminServer::for_stack_with(stack, TOKEN, Some(READ_ONLY)).await?;
    let browser = Browser::start().await?;
    browser.log_in(&admin.url(""), token).await?;
    Ok((admin, browser))
}

async fn deactivated(stack: &Stack, ids: &[String]) -> anyhow::Result<i64> {
    stack
        .scalar(
            "SELECT count(*) FROM users WHERE tenant_id = 'acme' AND status = 'deactivated' AND kombo_id = ANY($1)",
            &[&ids],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_approves_a_held_mass_deactivation() -> anyhow::Result<()> {
    let (stack, targets) = held_mass_deactivation().await?;
    let (_admin, browser) = logged_in(&stack, TOKEN).await?;
    assert_eq!(browser.text("#access").await?, "write");

    // Problems first: acme (held changes) heads the overview.
    let first = browser
        .text("#tenants tbody tr:first-child td:first-child")
        .await?;
    assert!(first.starts_with(TENANT), "{first}");
    browser.screenshot("console-tenants").await?;
    browser
        .click_to("#tenants tbody tr:first-child a", "/console/tenants/acme")
        .await?;
    let heading = browser.text("#held-changes").await?;
    assert_eq!(heading, format!("Held changes ({})", targets.len()));
    browser.screenshot("console-tenant").await?;
    assert_eq!(deactivated(&stack, &targets).await?, 0, "held, not applied");

    browser.click_to("#approve-all", "notice=").await?;
    let notice = browser.text("#notice").await?;
    assert_eq!(
        notice,
        format!("{} held change(s) approved.", targets.len())
    );
    assert_eq!(browser.text("#held-changes").await?, "Held changes (0)");
    assert_eq!(deactivated(&stack, &targets).await?, targets.len() as i64);
    // The directory shows them deactivated, and the audit names the console.
    let source = browser.client.source().await?;
    assert!(
        source.matches(">deactivated<").count() >= targets.len(),
        "people listed deactivated"
    );
    let decided_by = stack
        .count(
            "SELECT count(*) FROM held_changes WHERE tenant_id = $1 AND decided_by = 'console:admin-token'",
            TENANT,
        )
        .await?;
    assert_eq!(decided_by, targets.len() as i64);

    // "Import all" from the page: started, and its progress shown there.
    browser.click_to("#import-all", "notice=Import").await?;
    assert!(browser.text("#notice").await?.starts_with("Import started"));
    assert!(
        browser
            .text("#import-progress")
            .await?
            .starts_with("Latest: started")
    );
    browser.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_viewer_sees_no_action_and_a_forged_post_is_refused() -> anyhow::Result<()> {
    let (stack, targets) = held_mass_deactivation().await?;
    let (admin, browser) = logged_in(&stack, READ_ONLY).await?;
    let base = admin.url("");
    assert_eq!(browser.text("#access").await?, "read-only");
    browser
        .client
        .goto(&format!("{base}/console/tenants/{TENANT}"))
        .await?;
    assert_eq!(
        browser.text("#held-changes").await?,
        format!("Held changes ({})", targets.len())
    );
    for action in [
        "#approve-all",
        "#reject-all",
        "#import-all",
        "input[type='checkbox']",
        ACTION_FORMS,
    ] {
        assert!(
            !browser.has(action).await?,
            "a read-only page offers {action}"
        );
    }
    browser
        .client
        .goto(&format!("{base}/console/dead-letters"))
        .await?;
    assert!(!browser.has("a.replay").await? && !browser.has("a.purge").await?);
    assert!(!browser.has(ACTION_FORMS).await?);

    // A POST forged in the read-only session (its cookie, even a CSRF field).
    let status = browser
        .client
        .execute(
            "return fetch('/console/tenants/acme/held', {method: 'POST',
                headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'action=approve-all&csrf=forged'}).then(r => r.status);",
            vec![],
        )
        .await?;
    assert_eq!(status, json!(403));
    // Without a session, or with the read-only token as a bearer: refused too.
    let http = reqwest::Client::new();
    let url = admin.url("/console/tenants/acme/held");
    let form = [("action", "approve-all")];
    let anonymous = http.post(&url).form(&form).send().await?;
    assert_eq!(anonymous.status(), 403);
    let bearer = http
        .post(&url)
        .bearer_auth(READ_ONLY)
        .form(&form)
        .send()
        .await?;
    assert_eq!(bearer.status(), 403);
    assert_eq!(
        deactivated(&stack, &targets).await?,
        0,
        "nothing was approved"
    );
    browser.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_replays_a_dead_letter_group() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant(TENANT, 30, 182).await?;
    stack
        .sim
        .set_faults(
            &integration,
            json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID",
                   "error_message": "The token was revoked."}),
        )
        .await?;
    stack
        .spawn_worker_with(&Entity::ALL, true, Duration::from_secs(10))
        .await?;
    stack.request_sync(TENANT, FetchKind::Full).await?;
    let pending = || async {
        stack
            .count(
                "SELECT count(*) FROM dead_letters WHERE tenant_id = $1 AND state = 'pending'",
                TENANT,
            )
            .await
    };
    eventually(
        "four dead letters archived",
        Duration::from_secs(30),
        || async { Ok(pending().await? == 4) },
    )
    .await?;
    // The customer reconnects: replaying can now succeed.
    stack.sim.set_faults(&integration, json!({})).await?;
    neighbours(&stack).await?;

    let (admin, browser) = logged_in(&stack, TOKEN).await?;
    let base = admin.url("");
    browser
        .client
        .goto(&format!("{base}/console/dead-letters"))
        .await?;
    let groups = browser
        .client
        .find_all(fantoccini::Locator::Css("#groups tr.group"))
        .await?;
    assert_eq!(
        groups.len(),
        4,
        "one group per entity: permanent × code × entity"
    );
    browser.screenshot("console-dead-letters").await?;

    browser
        .click_to(
            "#groups tr.group[data-code='INTEGRATION.AUTHENTICATION_INVALID'] a.replay",
            "/console/dead-letters/replay?",
        )
        .await?;
    assert_eq!(browser.text("#preview-count").await?, "1");
    browser.click_to("#confirm-replay", "notice=").await?;
    let notice = browser.text("#notice").await?;
    assert!(notice.starts_with("Replayed 1 "), "{notice}");
    assert_eq!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("#groups tr.group"))
            .await?
            .len(),
        3,
        "the replayed group is no longer pending"
    );
    assert_eq!(pending().await?, 3);
    let audited = stack
        .count(
            "SELECT count(*) FROM dlq_audit a JOIN dead_letters d ON d.id = a.dead_letter_id
             WHERE d.tenant_id = $1 AND a.action = 'replay' AND a.actor = 'console:admin-token'",
            TENANT,
        )
        .await?;
    assert_eq!(audited, 1);
    // The replayed message is worked off: its entity syncs.
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(
        pending().await?,
        3,
        "the replay succeeded, no new dead letter"
    );
    browser.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_page_shows_their_job_titles_history() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported(TENANT, 20, 183).await?;
    let people = employees(&stack, &integration).await?;
    let person = still_employed(&people)
        .first()
        .map(|id| (*id).to_owned())
        .ok_or_else(|| anyhow::anyhow!("nobody employed"))?;
    for title in ["Senior Analyst", "Head of Analytics"] {
        stack
            .sim
            .mutate(
                &integration,
                json!({"op": "promote", "employee_id": person, "job_title": title}),
            )
            .await?;
        stack.flush_webhooks().await?;
        stack.settle(Duration::from_secs(30)).await?;
    }
    let (admin, browser) = logged_in(&stack, READ_ONLY).await?;
    let base = admin.url("");
    // Found through the directory search, by Kombo id.
    browser
        .client
        .goto(&format!("{base}/console/tenants/{TENANT}"))
        .await?;
    browser
        .client
        .find(fantoccini::Locator::Css("#people-search"))
        .await?
        .send_keys(&person)
        .await?;
    browser
        .click_to("#people-search-submit", &format!("people={person}"))
        .await?;
    browser
        .click_to("#people tbody tr:first-child a", "/users/")
        .await?;
    assert_eq!(browser.text("#job-title").await?, "Head of Analytics");
    let titles = browser
        .client
        .find_all(fantoccini::Locator::Css(
            "#history tr[data-field='job_title']",
        ))
        .await?;
    let mut changes = Vec::new();
    for row in titles {
        changes.push(row.text().await?);
    }
    assert!(
        changes
            .iter()
            .any(|c| c.contains("Senior Analyst") && c.contains("Head of Analytics")),
        "{changes:?}"
    );
    assert!(changes.len() >= 2, "every change of the title: {changes:?}");
    assert!(
        changes.iter().any(|c| c.contains("incremental/webhook")),
        "{changes:?}"
    );
    browser.screenshot("console-user").await?;
    browser.close().await
}
