//! People of a simulated company and their users, for the identity tests.

use serde_json::json;

use crate::conformance::{employees, still_employed};
use crate::stack::Stack;

/// Active employees with a work email: (Kombo id, email).
pub async fn people(stack: &Stack, integration: &str) -> anyhow::Result<Vec<(String, String)>> {
    let all = employees(stack, integration).await?;
    let active = still_employed(&all);
    Ok(all
        .iter()
        .filter(|e| active.contains(&e.id.as_str()))
        .filter_map(|e| Some((e.id.clone(), e.work_email.clone()?.to_lowercase())))
        .collect())
}

pub async fn user_of(stack: &Stack, kombo_id: &str) -> anyhow::Result<Option<i64>> {
    let client = stack.store.client().await?;
    Ok(client
        .query_opt(
            "SELECT id FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&kombo_id],
        )
        .await?
        .map(|r| r.get("id")))
}

/// The HR system changes a record's work email (`silent`: no webhook).
pub async fn change_email(
    stack: &Stack,
    integration: &str,
    id: &str,
    email: &str,
    silent: bool,
) -> anyhow::Result<()> {
    let op = json!({"op": "change_email", "employee_id": id, "email": email, "silent": silent});
    stack.sim.mutate(integration, op).await?;
    Ok(())
}

/// Active users of the tenant that share a normalised email with another.
pub async fn duplicated_emails(stack: &Stack) -> anyhow::Result<i64> {
    stack
        .count(
            "SELECT count(*) FROM (SELECT lower(btrim(email)) FROM users
             WHERE tenant_id = $1 AND status = 'active' AND email IS NOT NULL
             GROUP BY 1 HAVING count(*) > 1) AS d",
            "acme",
        )
        .await
}
