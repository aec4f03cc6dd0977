//! `hris-sync tenant identity`: the tenant's identity conflicts, and a
//! person's decision about one of them.

use hris_store::identity::{IdentityConflict, Resolution};
use hris_types::TenantId;
use serde_json::json;

use crate::args::{DatabaseArgs, IdentityAction};
use crate::output::when;

pub async fn run(
    action: Option<IdentityAction>,
    db: DatabaseArgs,
    tenant: Option<TenantId>,
    all: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    match action {
        None => {
            let tenant = tenant
                .ok_or_else(|| crate::exit::Refused("name the tenant: --tenant T".to_owned()))?;
            list(&db, &tenant, all, json_out).await
        }
        Some(IdentityAction::Resolve {
            db,
            tenant,
            conflict,
            link,
            create,
            ignore: _,
            actor,
            json,
        }) => {
            let resolution = match (link, create) {
                (Some(user), _) => Resolution::Link(user),
                (None, true) => Resolution::Create,
                (None, false) => Resolution::Ignore,
            };
            let resolved = db
                .store()?
                .resolve_identity_conflict(&tenant, conflict, resolution, &actor.actor)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&resolved)?);
            } else {
                println!(
                    "conflict {} of tenant {tenant} ({}, record {}): {} by {}; the next sync of the record applies it (or `hris-sync import-all --tenant {tenant}` now)",
                    resolved.id,
                    resolved.kind,
                    resolved.kombo_id,
                    resolved.resolution.as_deref().unwrap_or("-"),
                    actor.actor
                );
            }
            Ok(())
        }
    }
}

async fn list(
    db: &DatabaseArgs,
    tenant: &TenantId,
    all: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    let store = db.store()?;
    store.tenant(tenant).await?;
    let conflicts = store.identity_conflicts(tenant, all).await?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "tenant": tenant, "conflicts": conflicts }))?
        );
        return Ok(());
    }
    if conflicts.is_empty() {
        println!("no identity conflicts for tenant {tenant}");
        return Ok(());
    }
    let mut rows = crate::output::table(&[
        "ID",
        "RECORD",
        "KIND",
        "WITH",
        "STATE",
        "SINCE",
        "LAST SEEN",
    ]);
    for c in &conflicts {
        rows.add_row(vec![
            c.id.to_string(),
            c.kombo_id.clone(),
            c.kind.clone(),
            with(c),
            c.state.clone(),
            when(Some(c.first_seen_at)),
            when(Some(c.last_seen_at)),
        ]);
    }
    println!("{rows}");
    println!(
        "nobody was merged or changed. Fix the data in the HR system (the next sync resolves it), or decide:\n  hris-sync tenant identity resolve --tenant {tenant} --conflict ID (--link USER_ID | --create | --ignore)"
    );
    Ok(())
}

/// The other side of a conflict: the records or users it is torn between.
fn with(c: &IdentityConflict) -> String {
    let records = c.other_kombo_ids.iter().map(|k| format!("record {k}"));
    let users = c.user_ids.iter().map(|u| format!("user {u}"));
    records.chain(users).collect::<Vec<_>>().join(", ")
}
