//! One fetch: list the entity from Kombo page by page (incremental from the
//! watermark, or everything), map each page and apply it in one transaction.
//! A heartbeat renews the lease meanwhile; if the lease is lost the fetch stops.

use chrono::Utc;
use futures::{StreamExt, pin_mut};
use hris_bus::{Failure, SyncedEntity};
use hris_kombo::records::Record;
use hris_kombo::{Endpoint, ListQuery};
use hris_mapping::TenantPolicy;
use hris_mapping::lifecycle::InvitePolicy;
use hris_store::{
    ApplyContext, FetchKind, Lease, NewRecordIssue, PageStats, Severity, Stage, StoreError, Tenant,
};
use uuid::Uuid;

use crate::context::WorkerContext;
use crate::registry::{self, Listing};

pub async fn run(
    ctx: &WorkerContext,
    entity: SyncedEntity,
    tenant: &Tenant,
    lease: &Lease,
    event_id: &str,
    run_id: Uuid,
) -> Result<(), Failure> {
    let Some(integration) = tenant.kombo_integration_id.as_deref() else {
        return Err(Failure::permanent("tenant has no Kombo integration"));
    };
    let apply = ApplyContext {
        tenant_id: tenant.id.clone(),
        lease: Some(lease.clone()),
        lease_ttl: ctx.settings.lease_ttl,
        cause_event_id: Some(event_id.to_owned()),
        sync_run_id: Some(run_id),
        fetched_at: Utc::now(),
        track_seen: lease.kind == FetchKind::Full,
    };
    let query = ListQuery {
        updated_after: match lease.kind {
            FetchKind::Incremental => lease.watermark,
            FetchKind::Full => None,
        },
        include_deleted: true,
        ..ListQuery::default()
    };
    let fetch = Fetch {
        ctx,
        integration,
        query,
        apply,
        policy: policy_of(tenant),
    };
    if entity == SyncedEntity::Employees {
        // Before people are read: whether their deletions can be trusted.
        crate::health::refresh(ctx, &tenant.id, integration).await;
    }
    let work = registry::fetch(&fetch, entity);
    let deadline = ctx.settings.fetch_deadline;
    // The heartbeat lives only as long as the work: when the deadline ends a
    // runaway listing, its lease stops being renewed with it.
    let result = tokio::select! {
        result = work => result,
        lost = heartbeat(ctx, lease) => Err(lost),
        () = tokio::time::sleep(deadline) => Err(Failure::retryable(format!(
            "the fetch passed its deadline of {} s (FETCH_DEADLINE_SECS)",
            deadline.as_secs()
        ))),
    };
    if result.is_err() && lease.kind == FetchKind::Full {
        // A partial listing marks nothing as vanished.
        if let Err(e) = ctx.store.forget_full_listing(run_id).await {
            tracing::warn!(error = %e, "could not drop a failed full sync's seen ids");
        }
    }
    result
}

/// Renews the lease every third of its life; returns only when it was lost.
async fn heartbeat(ctx: &WorkerContext, lease: &Lease) -> Failure {
    let every = ctx.settings.lease_ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        match ctx.store.renew_lease(lease, ctx.settings.lease_ttl).await {
            Ok(true) => {}
            Ok(false) => return StoreError::LeaseLost.into(),
            // A database blip: the page writes will tell if it lasts.
            Err(e) => tracing::warn!(error = %e, "could not renew the fetch lease"),
        }
    }
}

pub fn policy_of(tenant: &Tenant) -> TenantPolicy {
    let s = &tenant.settings;
    TenantPolicy::from_settings(
        &s.enabled_scopes,
        &s.primary_team_group_types,
        &s.custom_field_mapping,
        &s.time_zone,
    )
    .with_invite(InvitePolicy::from_settings(
        s.invite_policy,
        s.invite_days_before,
    ))
    .with_identity(&s.scope_filter, &s.first_name_source)
}

/// One fetch's reading of Kombo and writing of pages; [`registry::fetch`]
/// says which listings it reads.
pub(crate) struct Fetch<'a> {
    ctx: &'a WorkerContext,
    integration: &'a str,
    query: ListQuery,
    apply: ApplyContext,
    pub(crate) policy: TenantPolicy,
}

/// What a listing showed besides its records.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listed {
    /// A record without a readable id was set aside: nobody can be told
    /// missing from this listing.
    unkeyed: bool,
}

impl Fetch<'_> {
    /// Reads the entity's own listing, then, after a complete full listing,
    /// decides its deactivations and marks what it did not contain.
    pub(crate) async fn listing<L: Listing>(&self, entity: SyncedEntity) -> Result<(), Failure> {
        let listed = self.pages::<L>().await?;
        if !self.apply.track_seen {
            return Ok(());
        }
        if listed.unkeyed {
            tracing::warn!(tenant_id = %self.apply.tenant_id, %entity, "a record without a readable id was set aside; nothing is marked missing from this listing");
        }
        self.ctx
            .store
            .finish_full_listing(&self.apply, entity, !listed.unkeyed)
            .await
            .map(|_| ())
            .map_err(Failure::from)
    }

    /// Reads again, by id, the records of open identity conflicts this
    /// incremental fetch may have settled without listing them (the other
    /// record of a shared mailbox got its own address): a fix in the HR system
    /// resolves both sides now, not at the next full sync. A full listing read
    /// every record already.
    pub(crate) async fn recheck_conflicts<L: Listing>(&self) -> Result<(), Failure> {
        if self.apply.track_seen {
            return Ok(());
        }
        let ids = self
            .ctx
            .store
            .conflicts_to_recheck(&self.apply.tenant_id, self.apply.fetched_at)
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        tracing::info!(tenant_id = %self.apply.tenant_id, records = ids.len(), "reading identity conflicts again");
        let again = Fetch {
            ctx: self.ctx,
            integration: self.integration,
            query: ListQuery {
                ids,
                include_deleted: true,
                ..ListQuery::default()
            },
            apply: self.apply.clone(),
            policy: self.policy.clone(),
        };
        again.pages::<L>().await.map(|_| ())
    }

    /// Feeds each page, in order, to `apply`, stamping when it was read. The
    /// next page is read from Kombo while this one is written (at most
    /// `PREFETCH` ahead, so memory stays bounded whatever the company's size).
    ///
    /// A record is the unit of failure: one that cannot be decoded, or whose
    /// write fails for a reason in its data, is set aside as a record issue
    /// and the rest of its page applies (see [`Self::apply_resilient`]).
    pub(crate) async fn pages<L: Listing>(&self) -> Result<Listed, Failure> {
        const PREFETCH: usize = 2;
        let endpoint = L::ENDPOINT;
        let entity = entity_name(endpoint);
        let pages =
            self.ctx
                .kombo
                .list::<L::Record>(self.integration, endpoint, self.query.clone());
        let (sender, mut received) = tokio::sync::mpsc::channel(PREFETCH);
        let reader = tokio::spawn(async move {
            pin_mut!(pages);
            while let Some(page) = pages.next().await {
                let failed = page.is_err();
                if sender.send(page).await.is_err() || failed {
                    break;
                }
            }
        });
        // Stops the reader when this fetch ends early (an error, a lost lease).
        let _reader = AbortOnDrop(reader);
        let mut listed = Listed::default();
        while let Some(page) = received.recv().await {
            let page = page?;
            let ctx = ApplyContext {
                fetched_at: Utc::now(),
                ..self.apply.clone()
            };
            let mut issues: Vec<NewRecordIssue> = page
                .bad
                .iter()
                .map(|bad| NewRecordIssue {
                    kombo_id: bad.kombo_id.clone(),
                    severity: Severity::Skipped,
                    stage: Stage::Decode,
                    reason: bad.error.to_string(),
                    sqlstate: None,
                })
                .collect();
            listed.unkeyed |= page.bad.iter().any(|b| b.kombo_id.is_none());
            let rows: Vec<(String, L::Row)> = page
                .records
                .iter()
                .map(|r| (r.kombo_id().to_owned(), L::map(r, &self.policy)))
                .collect();
            let stats = self.apply_resilient::<L>(&ctx, rows, &mut issues).await?;
            if !issues.is_empty() {
                metrics::counter!("records_set_aside_total", "entity" => entity)
                    .increment(issues.len() as u64);
                self.ctx.store.record_issues(&ctx, entity, &issues).await?;
            }
            record(endpoint, &stats);
        }
        Ok(listed)
    }

    /// Applies `rows`; when the write fails for a reason in the data (a value
    /// PostgreSQL refuses, a constraint), splits the page in halves until the
    /// failing records are alone, sets those aside as issues and applies the
    /// rest. Any other failure (the database is down, the lease was lost) is
    /// the fetch's.
    async fn apply_resilient<L: Listing>(
        &self,
        ctx: &ApplyContext,
        rows: Vec<(String, L::Row)>,
        issues: &mut Vec<NewRecordIssue>,
    ) -> Result<PageStats, Failure> {
        let mut stats = PageStats::default();
        let mut work = vec![rows];
        while let Some(mut chunk) = work.pop() {
            if chunk.is_empty() {
                continue;
            }
            let batch: Vec<L::Row> = chunk.iter().map(|(_, r)| r.clone()).collect();
            match L::apply(&self.ctx.store, ctx, batch).await {
                Ok(page) => stats.add(&page),
                Err(e) if e.is_data_error() && chunk.len() == 1 => {
                    let (kombo_id, _) = chunk.remove(0);
                    issues.push(NewRecordIssue {
                        kombo_id: Some(kombo_id),
                        severity: Severity::Skipped,
                        stage: Stage::Write,
                        reason: e.to_string(),
                        sqlstate: e.sqlstate().map(str::to_owned),
                    });
                }
                Err(e) if e.is_data_error() => {
                    metrics::counter!("page_splits_total").increment(1);
                    let right = chunk.split_off(chunk.len() / 2);
                    // Left half first: pages keep their order.
                    work.push(right);
                    work.push(chunk);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stats)
    }
}

/// The Kombo model a record issue belongs to (`employees`, `groups`, …).
fn entity_name(endpoint: Endpoint) -> &'static str {
    endpoint.path().trim_start_matches("/hris/")
}

/// Records applied, by endpoint and what happened to them.
fn record(endpoint: Endpoint, stats: &PageStats) {
    let path = endpoint.path();
    for (kind, n) in [
        ("created", stats.created),
        ("updated", stats.updated),
        ("deactivated", stats.deactivated),
        ("unchanged", stats.unchanged),
        ("held", stats.held),
        ("conflict", stats.conflicts),
    ] {
        if n > 0 {
            metrics::counter!("records_applied_total", "endpoint" => path, "kind" => kind)
                .increment(u64::from(n));
        }
    }
    metrics::counter!("pages_applied_total", "endpoint" => path).increment(1);
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
