//! `hris-sync tenant anonymise` and `tenant purge`: personal data erased on
//! request. Both need `--yes`; without it they run in a transaction that is
//! rolled back, say exactly what they would change, and exit 4. Output names
//! ids and counts only.

use hris_store::privacy::Mode;
use hris_types::TenantId;

use crate::args::{ActorArgs, DatabaseArgs};
use crate::exit::Refused;

/// Blanks a deactivated user's personal data everywhere it is kept.
#[derive(clap::Args, Debug)]
pub struct AnonymiseArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// The tenant (the platform's customer id).
    #[arg(long)]
    pub tenant: TenantId,
    /// The user's id (`users.id`, as `explain --json` shows it).
    #[arg(long)]
    pub user: i64,
    /// Required: names, emails (earlier ones too), job title, avatar, custom
    /// fields, employee number and remote id are blanked for good.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub actor: ActorArgs,
}

/// Deletes every row of a disconnected tenant.
#[derive(clap::Args, Debug)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// The tenant (the platform's customer id).
    #[arg(long)]
    pub tenant: TenantId,
    /// Required: the tenant, its people, teams, history and dead letters are deleted.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub actor: ActorArgs,
}

fn mode(yes: bool) -> Mode {
    if yes { Mode::Apply } else { Mode::DryRun }
}

pub async fn anonymise(args: &AnonymiseArgs) -> anyhow::Result<()> {
    let done = args
        .db
        .store()?
        .anonymise_user(&args.tenant, args.user, &args.actor.actor, mode(args.yes))
        .await?;
    let what = format!(
        "user {}: personal fields blanked, {} earlier emails deleted, {} change log entries, \
         {} dead letters and {} run errors cleaned{}",
        done.user_id,
        done.emails_deleted,
        done.change_log_entries,
        done.dead_letters,
        done.run_errors,
        if done.already {
            " (anonymised before)"
        } else {
            ""
        },
    );
    if !args.yes {
        return Err(Refused(format!("would anonymise {what}. Add --yes")).into());
    }
    println!("anonymised {what}");
    Ok(())
}

pub async fn purge(args: &PurgeArgs) -> anyhow::Result<()> {
    let purged = args
        .db
        .store()?
        .purge_tenant(&args.tenant, &args.actor.actor, mode(args.yes))
        .await?;
    let tables: Vec<String> = purged
        .rows
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    let what = format!(
        "tenant {}: {} rows ({})",
        args.tenant,
        purged.total(),
        tables.join(", ")
    );
    if !args.yes {
        return Err(Refused(format!("would delete {what}. Add --yes")).into());
    }
    println!("purged {what}");
    Ok(())
}
