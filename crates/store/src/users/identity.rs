//! The stored side of identity: the tenant's rules, the standing decisions
//! about records, relinking a user to the record that took it over, the links
//! and emails each user had, and identity conflicts.

use hris_types::TenantId;
use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::GenericClient;
use hris_mapping::email::EmailStatus;
use hris_mapping::employee::MappedUser;
use hris_mapping::identity::{Conflict, Decided, IdentityMatch, MatchKey};
use hris_mapping::plan::{PageRules, RecordConflict, Relink, UserWrite};
use hris_types::RehireInvite;

use crate::StoreError;
use crate::apply::ApplyContext;
use crate::row::RowExt;

/// The tenant's identity settings, with the page's clock.
pub(crate) async fn page_rules(
    client: &impl GenericClient,
    tenant_id: &TenantId,
) -> Result<PageRules, StoreError> {
    let row = client
        .query_opt(
            "SELECT identity_match, deactivation_grace_seconds, rehire_invite FROM tenants WHERE id = $1",
            &[&tenant_id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
    let identity: IdentityMatch = row.col("identity_match")?;
    let grace: i32 = row.col("deactivation_grace_seconds")?;
    let rehire: RehireInvite = row.col("rehire_invite")?;
    Ok(PageRules {
        identity,
        grace: chrono::Duration::seconds(i64::from(grace.max(0))),
        rehire_invite: rehire == RehireInvite::InviteAgain,
        now: chrono::Utc::now(),
    })
}

/// Standing decisions (`tenant identity resolve --create | --ignore`) about
/// the page's records.
pub(crate) async fn decisions(
    client: &impl GenericClient,
    tenant_id: &TenantId,
    page: &[MappedUser],
) -> Result<BTreeMap<String, Decided>, StoreError> {
    let ids: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
    client
        .query(
            "SELECT kombo_id, decision FROM identity_decisions WHERE tenant_id = $1 AND kombo_id = ANY($2)",
            &[&tenant_id, &ids],
        )
        .await?
        .iter()
        .map(|r| {
            let decision: String = r.col("decision")?;
            let decided = if decision == "ignore" {
                Decided::Ignore
            } else {
                Decided::Create
            };
            Ok((r.col("kombo_id")?, decided))
        })
        .collect()
}

fn key_name(by: MatchKey) -> &'static str {
    match by {
        MatchKey::Email => "email",
        MatchKey::EmployeeNumber => "employee_number",
    }
}

/// Hands users over to the records that took them: the user row keeps its id
/// (and so its learning history), its earlier record is kept as a former link,
/// and the email it had is kept among its emails. Logged per user.
pub(crate) async fn relink(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    relinks: &[Relink],
) -> Result<(), StoreError> {
    if relinks.is_empty() {
        return Ok(());
    }
    let users: Vec<i64> = relinks.iter().map(|r| r.user.0).collect();
    let from: Vec<Option<&str>> = relinks.iter().map(|r| r.from.as_deref()).collect();
    let to: Vec<&str> = relinks.iter().map(|r| r.to.as_str()).collect();
    let by: Vec<&str> = relinks.iter().map(|r| key_name(r.by)).collect();
    tx.execute(
        "INSERT INTO user_emails (user_id, tenant_id, email, why)
         SELECT u.id, u.tenant_id, lower(btrim(u.email)), 'before the HR system was connected'
         FROM users u WHERE u.id = ANY($1) AND u.kombo_id IS NULL AND btrim(u.email) LIKE '%_@_%'
         ON CONFLICT DO NOTHING",
        &[&users],
    )
    .await?;
    tx.execute(
        "WITH r AS (SELECT * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[]) AS r(user_id, old, new, by)),
         moved AS (UPDATE users u SET kombo_id = r.new, updated_at = now() FROM r WHERE u.id = r.user_id AND u.tenant_id = $1),
         ended AS (UPDATE user_links l SET unlinked_at = now() FROM r
                   WHERE l.tenant_id = $1 AND l.kombo_id = r.old AND l.unlinked_at IS NULL),
         logged AS (INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id, sync_run_id)
                    SELECT $1, 'user', r.new, 'linked_record', to_jsonb(r.old),
                           jsonb_build_object('kombo_id', r.new, 'matched_by', r.by, 'user_id', r.user_id), $6, $7 FROM r)
         INSERT INTO user_links (tenant_id, kombo_id, user_id, linked_by)
         SELECT $1, r.new, r.user_id, r.by FROM r
         ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET user_id = EXCLUDED.user_id,
             linked_by = EXCLUDED.linked_by, linked_at = now(), unlinked_at = NULL",
        &[&ctx.tenant_id, &users, &from, &to, &by, &ctx.cause_event_id, &ctx.sync_run_id],
    )
    .await?;
    tracing::info!(tenant_id = %ctx.tenant_id, relinked = relinks.len(), "users taken over by HR records");
    Ok(())
}

/// After the rows are written: new users' links, and every written user's
/// current email among its emails (the one it replaces kept, with when).
pub(crate) async fn record_links_and_emails(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    writes: &[UserWrite],
    ids: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    let created: Vec<i64> = writes
        .iter()
        .filter(|w| w.is_new)
        .filter_map(|w| ids.get(&w.user.kombo_id).copied())
        .collect();
    tx.execute(
        "INSERT INTO user_links (tenant_id, kombo_id, user_id, linked_by)
         SELECT $1, u.kombo_id, u.id, 'created' FROM users u WHERE u.id = ANY($2)
         ON CONFLICT (tenant_id, kombo_id) DO NOTHING",
        &[&ctx.tenant_id, &created],
    )
    .await?;
    let (mut users, mut emails) = (Vec::new(), Vec::new());
    for w in writes.iter().filter(|w| {
        w.user.email_status == EmailStatus::Ok
            && (w.is_new || w.changes.iter().any(|c| c.field == "email"))
    }) {
        if let (Some(id), Some(email)) = (ids.get(&w.user.kombo_id), w.user.email.as_deref()) {
            users.push(*id);
            emails.push(email);
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    tx.execute(
        "WITH r AS (SELECT * FROM UNNEST($2::bigint[], $3::text[]) AS r(user_id, email)),
         replaced AS (UPDATE user_emails e SET replaced_at = now() FROM r
                      WHERE e.user_id = r.user_id AND e.email <> r.email AND e.replaced_at IS NULL)
         INSERT INTO user_emails (user_id, tenant_id, email, why)
         SELECT r.user_id, $1, r.email, 'synced' FROM r
         ON CONFLICT (user_id, email) DO UPDATE SET replaced_at = NULL",
        &[&ctx.tenant_id, &users, &emails],
    )
    .await?;
    Ok(())
}

fn conflict_parts(c: &Conflict) -> (&'static str, Vec<String>, Vec<i64>) {
    match c {
        Conflict::SharedEmail { others } => ("shared_email", others.clone(), Vec::new()),
        Conflict::EmailHeld { user } => ("email_held", Vec::new(), vec![user.0]),
        Conflict::Ambiguous { users } => {
            ("ambiguous", Vec::new(), users.iter().map(|u| u.0).collect())
        }
    }
}

/// Records the page's conflicts (one open conflict per record, refreshed) and
/// closes those of records that now matched cleanly.
pub(crate) async fn record_conflicts(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    conflicts: &[RecordConflict],
    matched: &[String],
) -> Result<(), StoreError> {
    for c in conflicts {
        let (kind, others, users) = conflict_parts(&c.conflict);
        tx.execute(
            "INSERT INTO identity_conflicts (tenant_id, kombo_id, kind, other_kombo_ids, user_ids, sync_run_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, kombo_id) WHERE state = 'open' DO UPDATE SET kind = EXCLUDED.kind,
                 other_kombo_ids = EXCLUDED.other_kombo_ids, user_ids = EXCLUDED.user_ids,
                 last_seen_at = now(), sync_run_id = EXCLUDED.sync_run_id",
            &[&ctx.tenant_id, &c.kombo_id, &kind, &others, &users, &ctx.sync_run_id],
        )
        .await?;
    }
    if !conflicts.is_empty() {
        tracing::warn!(tenant_id = %ctx.tenant_id, conflicts = conflicts.len(), "identity conflicts: nobody merged or changed");
    }
    tx.execute(
        "UPDATE identity_conflicts SET state = 'resolved', resolved_at = now(), resolved_by = 'sync',
             resolution = 'matched unambiguously'
         WHERE tenant_id = $1 AND state = 'open' AND kombo_id = ANY($2)",
        &[&ctx.tenant_id, &matched],
    )
    .await?;
    Ok(())
}
