//! The options of `hris-sync dlq …`: which dead letters a command concerns.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use hris_store::DeadLetterFilter;
use hris_types::TenantId;

use crate::args::{ActorArgs, AmqpArgs, DatabaseArgs};
use crate::output::parse_time;

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// What failed, grouped by error class and tenant (`--messages` for one row each).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// One row per message instead of the grouped summary.
        #[arg(long)]
        messages: bool,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
        /// At most this many rows.
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
    /// Everything about one dead letter, and what replaying it would do.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The dead letter's id (from `dlq list`).
        id: i64,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Publishes dead letters again through the normal path (trigger replay, attempts reset).
    Replay {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Say what would be replayed; publish nothing, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replay every pending dead letter: needed when neither ids nor a
        /// filter narrow the replay.
        #[arg(long)]
        all: bool,
        /// Messages per second at most (at least 0.1).
        #[arg(long, default_value_t = 50.0, value_parser = crate::args::at_least(0.1))]
        rate: f64,
        /// The result as JSON on stdout (ids replayed and skipped).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// Drops dead letters' payloads for good, leaving an audit record.
    Purge {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Required: purging cannot be undone.
        #[arg(long)]
        yes: bool,
        /// The result as JSON on stdout (ids purged).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: ActorArgs,
    },
}

#[derive(Args, Debug, Clone)]
pub struct FilterArgs {
    /// Dead-letter ids (replay and purge: these only).
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
    /// The tenant (the platform's customer id).
    #[arg(long)]
    pub tenant: Option<TenantId>,
    /// The queue it failed on.
    #[arg(long, value_parser = PossibleValuesParser::new(["employees", "teams", "locations", "absences", "integrations"]))]
    pub entity: Option<String>,
    /// How it failed: retryable, not_ready, permanent or poison.
    #[arg(long, value_parser = PossibleValuesParser::new(["retryable", "not_ready", "permanent", "poison"]))]
    pub error_class: Option<String>,
    /// Replay and purge default to pending.
    #[arg(long, value_parser = PossibleValuesParser::new(["pending", "replayed", "purged"]))]
    pub state: Option<String>,
    /// Archived at or after: RFC 3339 or a span back from now (90m, 24h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Archived before: RFC 3339 or a span back from now (90m, 24h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

impl FilterArgs {
    /// Whether anything narrows the selection (ids or a filter).
    pub(super) fn narrows(&self) -> bool {
        !self.ids.is_empty()
            || self.tenant.is_some()
            || self.entity.is_some()
            || self.error_class.is_some()
            || self.state.is_some()
            || self.since.is_some()
            || self.until.is_some()
    }

    /// The pending dead letters it selects (what replay and purge act on).
    pub(super) async fn pending(
        &self,
        store: &hris_store::Store,
    ) -> Result<Vec<hris_store::DeadLetter>, hris_store::StoreError> {
        store
            .dead_letters(&self.filter(Some("pending")), 100_000)
            .await
    }

    pub(super) fn filter(&self, default_state: Option<&str>) -> DeadLetterFilter {
        DeadLetterFilter {
            ids: self.ids.clone(),
            tenant_id: self.tenant.clone(),
            entity: self.entity.clone(),
            error_class: self.error_class.clone(),
            error_code: None,
            // Named ids are taken in whatever state; a filter defaults to pending.
            state: self.state.clone().or_else(|| {
                default_state
                    .filter(|_| self.ids.is_empty())
                    .map(str::to_owned)
            }),
            since: self.since,
            until: self.until,
        }
    }
}
