//! `hris-sync explain`: one user's state, the history of each synced field,
//! and the dead letters that may concern them.

use hris_store::Store;
use hris_types::TenantId;
use serde_json::json;

use crate::args::DatabaseArgs;
use crate::output::when;

pub async fn run(
    db: DatabaseArgs,
    tenant: TenantId,
    user: String,
    json: bool,
) -> anyhow::Result<()> {
    let store: Store = db.store()?;
    let state = match store.find_user(&tenant, &user).await {
        Ok(state) => state,
        Err(hris_store::StoreError::NotFound(what)) => {
            // A record the sync set aside has no user yet: say why.
            let issues = store.record_issues_of(&tenant, &user).await?;
            anyhow::ensure!(!issues.is_empty(), "{what} not found");
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({ "user": null, "record_issues": issues })
                    )?
                );
            } else {
                println!("no user for {user} in tenant {tenant}; the sync set its record aside:");
                print_issues(&issues);
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let explained = store.explain_user(&tenant, state).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&explained)?);
        return Ok(());
    }
    let hris_store::explanation::Explanation {
        user: state,
        emails,
        linked_records: links,
        identity_conflicts: conflicts,
        history,
        teams,
        dead_letters: dead,
        record_issues: issues,
    } = explained;
    println!(
        "user {} (Kombo {}) of tenant {tenant}",
        state.id,
        state
            .kombo_id
            .as_deref()
            .unwrap_or("-: created by the platform")
    );
    println!(
        "  status        {}{}",
        state.status,
        state
            .deactivation_reason
            .as_deref()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default()
    );
    println!(
        "  name          {} {}",
        state.first_name.as_deref().unwrap_or(""),
        state.last_name.as_deref().unwrap_or("")
    );
    println!(
        "  email         {} ({})",
        state.email.as_deref().unwrap_or("-"),
        state.email_status
    );
    println!(
        "  job title     {}",
        state.job_title.as_deref().unwrap_or("-")
    );
    println!(
        "  HR status     {}",
        state.employment_status.as_deref().unwrap_or("-")
    );
    println!(
        "  hire / leave  {} / {}",
        opt(state.hire_date),
        opt(state.leave_date)
    );
    println!(
        "  manager       {}",
        state.manager_kombo_id.as_deref().unwrap_or("-")
    );
    println!(
        "  team          {}",
        state.primary_team.as_deref().unwrap_or("-")
    );
    println!(
        "  location      {}",
        state.location.as_deref().unwrap_or("-")
    );
    println!("  deleted in HR {}", when(state.remote_deleted_at));
    if let Some(reason) = &state.pending_deactivation_reason {
        println!(
            "  pending       deactivation ({reason}) at {}, unless the person comes back",
            when(state.pending_deactivation_at)
        );
    }
    if let Some(evidence) = &state.deactivation_evidence {
        println!("  evidence      {evidence}");
    }
    for e in &emails {
        let until = e
            .replaced_at
            .map(|t| format!("until {}", when(Some(t))))
            .unwrap_or_else(|| "current".into());
        println!("  email seen    {} ({until}; {})", e.email, e.why);
    }
    for l in &links {
        let until = l
            .unlinked_at
            .map(|t| format!("until {}", when(Some(t))))
            .unwrap_or_else(|| "current".into());
        println!(
            "  HR record     {} (by {}, {until})",
            l.kombo_id, l.linked_by
        );
    }
    for t in &teams {
        println!(
            "  team          {} ({}, since {})",
            t.team_name
                .as_deref()
                .or(t.team_kombo_id.as_deref())
                .unwrap_or("-"),
            t.source,
            when(Some(t.since))
        );
    }
    for c in &conflicts {
        println!(
            "  CONFLICT {}   record {} {} — see `hris-sync tenant identity --tenant {tenant}`",
            c.id, c.kombo_id, c.kind
        );
    }
    println!(
        "  last change   {} (Kombo changed_at {})",
        when(Some(state.updated_at)),
        when(state.kombo_changed_at)
    );
    println!("\nhistory ({} changes, oldest first):", history.len());
    let mut rows = crate::output::table(&["WHEN", "FIELD", "OLD", "NEW", "CAUSE"]);
    for h in &history {
        let event = h
            .cause_event_id
            .as_deref()
            .map(|e| format!(", event {e}"))
            .unwrap_or_default();
        rows.add_row(vec![
            when(Some(h.changed_at)),
            h.field.clone(),
            show(&h.old_value),
            show(&h.new_value),
            format!("{}{event}", h.sync_run.as_deref().unwrap_or("-")),
        ]);
    }
    println!("{rows}");
    if !issues.is_empty() {
        println!("\nopen record issues:");
        print_issues(&issues);
    }
    if dead.is_empty() {
        println!("\nno pending dead letters for this tenant's employee sync");
    } else {
        println!(
            "\npending dead letters of this tenant's employee sync (may hold this user's latest change):"
        );
        let mut rows = crate::output::table(&["ID", "ARCHIVED", "CLASS", "CODE OR REASON"]);
        for d in &dead {
            rows.add_row(vec![
                d.id.to_string(),
                when(Some(d.archived_at)),
                d.letter.error_class.clone(),
                d.letter
                    .error_code
                    .clone()
                    .unwrap_or_else(|| d.letter.reason.clone()),
            ]);
        }
        println!("{rows}");
    }
    Ok(())
}

fn print_issues(issues: &[hris_store::RecordIssue]) {
    for i in issues {
        println!(
            "  {} {} ({}, seen {} times, last {}): {}",
            i.severity,
            i.entity,
            i.stage,
            i.seen_count,
            when(Some(i.last_seen_at)),
            i.reason
        );
    }
}

fn opt(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "-".to_owned())
}

fn show(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "∅".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
