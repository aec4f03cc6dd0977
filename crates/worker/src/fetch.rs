//! One fetch: list the entity from Kombo page by page (incremental from the
//! watermark, or everything), map each page and apply it in one transaction.
//! A heartbeat renews the lease meanwhile; if the lease is lost the fetch stops.

use chrono::Utc;
use futures::{Stream, StreamExt, pin_mut};
use hris_bus::{Entity, Failure};
use hris_kombo::records::{Absence, AbsenceType, Employee, Group, LegalEntity, Location, Record};
use hris_kombo::{Endpoint, KomboError, ListQuery};
use hris_mapping::absence::{AbsenceFields, AbsenceTypeFields};
use hris_mapping::lifecycle::InvitePolicy;
use hris_mapping::org::{LegalEntityFields, LocationFields, TeamFields};
use hris_mapping::{Scope, TenantPolicy, map_employee};
use hris_store::{ApplyContext, FetchKind, Lease, PageStats, StoreError, Tenant};
use uuid::Uuid;

use crate::context::WorkerContext;
use crate::failure::{from_kombo, from_store};

pub async fn run(
    ctx: &WorkerContext,
    entity: Entity,
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
    let work = async {
        match entity {
            Entity::Employees => fetch.employees().await,
            Entity::Teams => fetch.teams().await,
            Entity::Locations => fetch.locations().await,
            Entity::Absences => fetch.absences().await,
            Entity::Integrations => Err(Failure::poison("integrations are not fetched")),
        }
    };
    let result = tokio::select! {
        result = work => result,
        lost = heartbeat(ctx, lease) => Err(lost),
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
            Ok(false) => return Failure::retryable("the fetch lease was lost"),
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
        &s.invite_policy,
        s.invite_days_before,
    ))
}

struct Fetch<'a> {
    ctx: &'a WorkerContext,
    integration: &'a str,
    query: ListQuery,
    apply: ApplyContext,
    policy: TenantPolicy,
}

impl Fetch<'_> {
    fn list<T: Record>(
        &self,
        endpoint: Endpoint,
    ) -> impl Stream<Item = Result<Vec<T>, KomboError>> + Send + 'static {
        self.ctx
            .kombo
            .list::<T>(self.integration, endpoint, self.query.clone())
    }

    /// After a complete full listing: mark what it did not contain.
    async fn finish(&self, table: &str) -> Result<(), Failure> {
        if !self.apply.track_seen {
            return Ok(());
        }
        self.ctx
            .store
            .finish_full_listing(&self.apply, table)
            .await
            .map(|_| ())
            .map_err(|e| from_store(&e))
    }

    /// Feeds each page, in order, to `apply`, stamping when it was read. The
    /// next page is read from Kombo while this one is written (at most
    /// `PREFETCH` ahead, so memory stays bounded whatever the company's size).
    async fn pages<T, F, Fut>(&self, endpoint: Endpoint, mut apply: F) -> Result<(), Failure>
    where
        T: Record,
        F: FnMut(ApplyContext, Vec<T>) -> Fut,
        Fut: std::future::Future<Output = Result<PageStats, StoreError>>,
    {
        const PREFETCH: usize = 2;
        let pages = self.list::<T>(endpoint);
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
        while let Some(page) = received.recv().await {
            let page = page.map_err(|e| from_kombo(&e))?;
            let ctx = ApplyContext {
                fetched_at: Utc::now(),
                ..self.apply.clone()
            };
            let stats = apply(ctx, page).await.map_err(|e| from_store(&e))?;
            record(endpoint, &stats);
        }
        Ok(())
    }

    async fn employees(&self) -> Result<(), Failure> {
        let store = &self.ctx.store;
        if self.policy.has(Scope::LegalEntity) {
            self.pages(
                Endpoint::LegalEntities,
                |ctx, page: Vec<LegalEntity>| async move {
                    let rows = page
                        .iter()
                        .map(LegalEntityFields::from_legal_entity)
                        .collect();
                    store
                        .apply_legal_entities(&ctx, rows)
                        .await
                        .map(|()| PageStats::default())
                },
            )
            .await?;
        }
        let policy = &self.policy;
        self.pages(Endpoint::Employees, |ctx, page: Vec<Employee>| async move {
            let rows = page
                .iter()
                .map(|e| map_employee(e, policy, Utc::now()))
                .collect();
            store.apply_users(&ctx, rows).await
        })
        .await?;
        self.finish("users").await
    }

    async fn teams(&self) -> Result<(), Failure> {
        let store = &self.ctx.store;
        self.pages(Endpoint::Groups, |ctx, page: Vec<Group>| async move {
            let rows = page.iter().map(TeamFields::from_group).collect();
            store.apply_teams(&ctx, rows).await
        })
        .await?;
        self.finish("teams").await
    }

    async fn locations(&self) -> Result<(), Failure> {
        let store = &self.ctx.store;
        self.pages(Endpoint::Locations, |ctx, page: Vec<Location>| async move {
            let rows = page.iter().map(LocationFields::from_location).collect();
            store.apply_locations(&ctx, rows).await
        })
        .await?;
        self.finish("locations").await
    }

    async fn absences(&self) -> Result<(), Failure> {
        let store = &self.ctx.store;
        // Types first, so that absences resolve their type at once.
        self.pages(
            Endpoint::AbsenceTypes,
            |ctx, page: Vec<AbsenceType>| async move {
                let rows = page.iter().map(AbsenceTypeFields::from_type).collect();
                store
                    .apply_absence_types(&ctx, rows)
                    .await
                    .map(|()| PageStats::default())
            },
        )
        .await?;
        self.pages(Endpoint::Absences, |ctx, page: Vec<Absence>| async move {
            let rows = page.iter().map(AbsenceFields::from_absence).collect();
            store.apply_absences(&ctx, rows).await
        })
        .await?;
        self.finish("absences").await
    }
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
