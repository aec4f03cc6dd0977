//! Dead letters grouped the way on-call triages them: by error class, Kombo
//! error code and entity (one cause, usually one fix), with how many, for how
//! many tenants, and since when.

use chrono::{DateTime, Utc};
use postgres_from_row::FromRow;

use crate::dead_letters::{NONE, WHERE};
use crate::row::read_all;
use crate::{DeadLetterFilter, Store, StoreError};

/// One kind of dead letter: class × code × entity.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct DeadLetterKind {
    pub error_class: String,
    pub error_code: Option<String>,
    pub entity: Option<String>,
    pub count: i64,
    pub tenants: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// One of its reasons, as an example.
    pub example_reason: String,
}

impl DeadLetterKind {
    /// The filter that selects exactly this group's letters in `state`.
    pub fn filter(&self, base: &DeadLetterFilter) -> DeadLetterFilter {
        DeadLetterFilter {
            error_class: Some(self.error_class.clone()),
            error_code: Some(self.error_code.clone().unwrap_or_else(|| NONE.to_owned())),
            entity: Some(self.entity.clone().unwrap_or_else(|| NONE.to_owned())),
            ..base.clone()
        }
    }
}

impl Store {
    /// The letters matching `f`, grouped by class × code × entity, biggest
    /// group first.
    pub async fn dead_letter_kinds(
        &self,
        f: &DeadLetterFilter,
    ) -> Result<Vec<DeadLetterKind>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT error_class, error_code, entity, count(*) AS count,
                            count(DISTINCT tenant_id) AS tenants, min(archived_at) AS first_seen,
                            max(archived_at) AS last_seen, min(reason) AS example_reason
                     FROM dead_letters WHERE {WHERE}
                     GROUP BY error_class, error_code, entity
                     ORDER BY count(*) DESC, error_class, error_code, entity"
                ),
                &f.params(),
            )
            .await?;
        read_all(&rows)
    }

    /// How many dead letters `f` selects (the count a replay or purge previews).
    pub async fn count_dead_letters(&self, f: &DeadLetterFilter) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!("SELECT count(*) FROM dead_letters WHERE {WHERE}"),
                &f.params(),
            )
            .await?;
        Ok(row.try_get(0)?)
    }
}
