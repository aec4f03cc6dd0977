//! `hris-sync tenant …`: the tenant commands and their options.

use clap::Subcommand;
use hris_types::TenantId;

use crate::args::{ActorArgs, DatabaseArgs, KomboArgs};

/// A tenant and the Kombo it talks to (relink, setup-link, pause, resume).
#[derive(clap::Args, Debug)]
pub struct TenantKombo {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub kombo: KomboArgs,
    /// The tenant (the platform's customer id).
    #[arg(long)]
    pub tenant: TenantId,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Registers a tenant (idempotent for the same values).
    Add {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The platform's customer id (Kombo's end_user.origin_id).
        #[arg(long = "tenant", alias = "id", value_name = "TENANT")]
        id: TenantId,
        /// The tenant's display name.
        #[arg(long)]
        name: String,
        /// Links an existing Kombo integration now.
        #[arg(long)]
        integration_id: Option<String>,
    },
    /// Lists tenants.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Shows one tenant with its settings.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id); `--id` is its old spelling.
        #[arg(long = "tenant", alias = "id", value_name = "TENANT")]
        id: TenantId,
    },
    /// Changes one setting of a tenant.
    #[command(after_long_help = crate::settings_help::TENANT_SETTINGS_HELP)]
    Set {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id); `--id` is its old spelling.
        #[arg(long = "tenant", alias = "id", value_name = "TENANT")]
        id: TenantId,
        /// The setting (listed below).
        key: String,
        /// Its new value.
        value: String,
    },
    /// Asks Kombo for a connection link for the customer's admin and prints it.
    Connect {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        kombo: KomboArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// The HR system: personio, workday, hibob, …
        #[arg(long)]
        tool: String,
        /// The customer's admin who completes Kombo's connection flow.
        #[arg(long)]
        admin_email: String,
    },
    /// Asks Kombo for a relink link (the admin re-enters the credentials of the
    /// tenant's existing integration) and prints it.
    Relink(TenantKombo),
    /// Asks Kombo for a setup link (filters, field mapping) and prints it.
    SetupLink(TenantKombo),
    /// Pauses syncing: Kombo's (PUT /integrations/{id}/enabled false, credentials
    /// kept) and ours.
    Pause(TenantKombo),
    /// Resumes syncing: Kombo's and ours.
    Resume(TenantKombo),
    /// Stops syncing the tenant; its data is kept. Needs --yes.
    Disconnect {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// Required: webhooks and schedules of the tenant stop until it is connected again.
        #[arg(long)]
        yes: bool,
    },
    /// Blanks a deactivated user's personal data in every table (needs --yes;
    /// without it, says what it would change and exits 4).
    Anonymise(crate::commands::privacy::AnonymiseArgs),
    /// Deletes every row of a disconnected tenant (needs --yes).
    Purge(crate::commands::privacy::PurgeArgs),
    /// Per entity: last incremental and full sync, watermark, lag, last error;
    /// held changes and pending dead letters.
    Status {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Identity conflicts: HR records that could be more than one user, or
    /// whose email an active user of another record holds. Nobody was merged
    /// or changed; `resolve` decides one.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Identity {
        #[command(subcommand)]
        action: Option<IdentityAction>,
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: Option<TenantId>,
        /// Also the conflicts already resolved or ignored.
        #[arg(long)]
        all: bool,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Deactivations the mass-change guard holds for approval.
    Held {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Records a sync set aside (could not read or write) or stored altered
    /// (a field cut, a reference dropped); open ones unless --all. They close by
    /// themselves when Kombo serves the record again in a form that applies.
    Issues {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// Include resolved issues.
        #[arg(long)]
        all: bool,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 200)]
        limit: i64,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Applies every held change of the tenant: shows the count, reasons and
    /// a sample first; asks on a terminal, needs --yes otherwise.
    Approve {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        #[command(flatten)]
        guard: DecideArgs,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// Drops every held change of the tenant (the users stay active); asks
    /// like approve.
    Reject {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        #[command(flatten)]
        guard: DecideArgs,
        #[command(flatten)]
        actor: ActorArgs,
    },
}

/// How sure an approve or reject must be.
#[derive(clap::Args, Clone, Debug)]
pub struct DecideArgs {
    /// Act without asking (required when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Show what would be decided; change nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// The held changes and the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Decide only this person's held change (Kombo employee id); repeat for
    /// several. Without it, every held change of the tenant.
    #[arg(long = "user", value_name = "KOMBO_ID")]
    pub users: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum IdentityAction {
    /// Decides one open conflict: the record is an existing user (--link),
    /// a user of its own (--create), or not synced (--ignore). Recorded with
    /// who decided; the next sync of the record applies it.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["link", "create", "ignore"])))]
    Resolve {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// The conflict's id (from `tenant identity`).
        #[arg(long)]
        conflict: i64,
        /// The user (`users.id`) the record is.
        #[arg(long, value_name = "USER_ID")]
        link: Option<i64>,
        /// The record is applied on its own: its own user (a new one if it has none).
        #[arg(long)]
        create: bool,
        /// The record is never synced.
        #[arg(long)]
        ignore: bool,
        #[command(flatten)]
        actor: ActorArgs,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
}
