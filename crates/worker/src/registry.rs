//! The registry of synced entities: for each [`SyncedEntity`], the Kombo
//! listings one fetch reads, in order, and for each listing how a record maps
//! to a row and how a page of rows is applied. `fetch.rs` is one generic page
//! loop over a [`Listing`]; the queues, the webhook routing and the full-sync
//! tables come from [`SyncedEntity`] itself. Adding an entity is a variant
//! there, a row type and mapping, a store `apply_…`, and one arm here.

use std::future::Future;

use chrono::Utc;
use hris_bus::{Failure, SyncedEntity};
use hris_kombo::Endpoint;
use hris_kombo::records::{self, Record};
use hris_mapping::absence::{AbsenceFields, AbsenceTypeFields};
use hris_mapping::employee::MappedUser;
use hris_mapping::org::{LegalEntityFields, LocationFields, TeamFields};
use hris_mapping::{Scope, TenantPolicy, map_employee};
use hris_store::{ApplyContext, PageStats, Store, StoreError};

use crate::fetch::Fetch;

/// One Kombo listing and how its records land in our tables.
pub trait Listing {
    /// The record Kombo lists.
    type Record: Record;
    /// What a record becomes before it is written.
    type Row: Clone + Send + Sync + 'static;
    const ENDPOINT: Endpoint;

    fn map(record: &Self::Record, policy: &TenantPolicy) -> Self::Row;

    /// Writes one page of rows in one transaction.
    fn apply<'a>(
        store: &'a Store,
        ctx: &'a ApplyContext,
        rows: Vec<Self::Row>,
    ) -> impl Future<Output = Result<PageStats, StoreError>> + Send + 'a;
}

/// Reads every listing of `entity` in order: what its records refer to first
/// (legal entities before employees, absence types before absences), then its
/// own listing, whose completeness a full sync checks.
pub(crate) async fn fetch(fetch: &Fetch<'_>, entity: SyncedEntity) -> Result<(), Failure> {
    match entity {
        SyncedEntity::Employees => {
            if fetch.policy.has(Scope::LegalEntity) {
                fetch.pages::<LegalEntities>().await?;
            }
            fetch.listing::<Employees>(entity).await?;
            fetch.recheck_conflicts::<Employees>().await
        }
        SyncedEntity::Teams => fetch.listing::<Groups>(entity).await,
        SyncedEntity::Locations => fetch.listing::<Locations>(entity).await,
        SyncedEntity::Absences => {
            fetch.pages::<AbsenceTypes>().await?;
            fetch.listing::<Absences>(entity).await
        }
    }
}

pub struct Employees;

impl Listing for Employees {
    type Record = records::Employee;
    type Row = MappedUser;
    const ENDPOINT: Endpoint = Endpoint::Employees;

    fn map(record: &Self::Record, policy: &TenantPolicy) -> Self::Row {
        // One `now` per page would do; per record it costs nothing and keeps
        // the mapping a plain function.
        map_employee(record, policy, Utc::now())
    }

    fn apply<'a>(
        store: &'a Store,
        ctx: &'a ApplyContext,
        rows: Vec<Self::Row>,
    ) -> impl Future<Output = Result<PageStats, StoreError>> + Send + 'a {
        store.apply_users(ctx, rows)
    }
}

/// A listing whose records map on their own (no tenant policy).
macro_rules! listing {
    (
        $(#[$doc:meta])*
        $name:ident: $record:ty => $row:ty, $endpoint:expr, $map:path,
        |$store:ident, $ctx:ident, $rows:ident| $apply:expr
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl Listing for $name {
            type Record = $record;
            type Row = $row;
            const ENDPOINT: Endpoint = $endpoint;

            fn map(record: &Self::Record, _: &TenantPolicy) -> Self::Row {
                $map(record)
            }

            async fn apply(
                $store: &Store,
                $ctx: &ApplyContext,
                $rows: Vec<Self::Row>,
            ) -> Result<PageStats, StoreError> {
                $apply
            }
        }
    };
}

listing!(
    /// Referred to by employees; counted with them.
    LegalEntities: records::LegalEntity => LegalEntityFields,
    Endpoint::LegalEntities, LegalEntityFields::from_legal_entity,
    |store, ctx, rows| {
        store.apply_legal_entities(ctx, rows).await?;
        Ok(PageStats::default())
    }
);

listing!(
    Groups: records::Group => TeamFields, Endpoint::Groups, TeamFields::from_group,
    |store, ctx, rows| store.apply_teams(ctx, rows).await
);

listing!(
    Locations: records::Location => LocationFields,
    Endpoint::Locations, LocationFields::from_location,
    |store, ctx, rows| store.apply_locations(ctx, rows).await
);

listing!(
    /// Referred to by absences; counted with them.
    AbsenceTypes: records::AbsenceType => AbsenceTypeFields,
    Endpoint::AbsenceTypes, AbsenceTypeFields::from_type,
    |store, ctx, rows| {
        store.apply_absence_types(ctx, rows).await?;
        Ok(PageStats::default())
    }
);

listing!(
    Absences: records::Absence => AbsenceFields, Endpoint::Absences, AbsenceFields::from_absence,
    |store, ctx, rows| store.apply_absences(ctx, rows).await
);
