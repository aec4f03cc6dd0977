//! What the console shows of one tenant beyond `tenant status`: its recent
//! runs, its held changes with the people they concern, its directory, an
//! "Import all" in progress, and one user's team memberships.

use chrono::{DateTime, Utc};
use hris_types::TenantId;
use postgres_from_row::FromRow;
use uuid::Uuid;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// A sync run with its counters, as the tenant page lists them.
#[derive(Debug, Clone, FromRow)]
pub struct RecentRun {
    pub id: Uuid,
    pub entity: Option<String>,
    pub kind: String,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages: i32,
    pub created: i32,
    pub updated: i32,
    pub deactivated: i32,
    pub held: i32,
    pub failed: i32,
    pub error: Option<String>,
}

/// A held change with the person it would deactivate.
#[derive(Debug, Clone, FromRow)]
pub struct HeldPreview {
    pub id: i64,
    pub user_id: i64,
    pub user_kombo_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub status: String,
    pub reason: String,
    pub held_because: String,
    pub held_at: DateTime<Utc>,
}

/// A line of the people directory.
#[derive(Debug, Clone, FromRow)]
pub struct Person {
    pub id: i64,
    pub kombo_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub status: String,
}

impl Person {
    /// What `find_user` (and so `explain`) finds this person by: the Kombo
    /// id, or the email of a user the platform created itself.
    pub fn lookup_key(&self) -> Option<&str> {
        self.kombo_id.as_deref().or(self.email.as_deref())
    }
}

/// The latest "Import all" of a tenant and its per-entity runs.
#[derive(Debug, Clone)]
pub struct ImportProgress {
    pub umbrella: RecentRun,
    /// Kombo's own sync is done (or was not waited for) and the read began.
    pub reading: bool,
    pub entities: Vec<RecentRun>,
}

#[derive(Debug, Clone, serde::Serialize, FromRow)]
pub struct TeamMembership {
    pub team_kombo_id: Option<String>,
    pub team_name: Option<String>,
    /// `hris` (the sync's) or `manual` (the platform's; a sync never touches it).
    pub source: String,
    pub since: DateTime<Utc>,
}

const RUN_COLUMNS: &str = "id, entity, kind, trigger, status, started_at, finished_at, pages, created, \
    updated, deactivated, held, failed, error";

impl Store {
    /// The tenant's latest runs, newest first.
    pub async fn recent_runs(
        &self,
        tenant_id: &TenantId,
        limit: i64,
    ) -> Result<Vec<RecentRun>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1
                     ORDER BY started_at DESC LIMIT $2"
                ),
                &[&tenant_id, &limit],
            )
            .await?;
        read_all(&rows)
    }

    /// The tenant's pending held changes with the people they concern.
    pub async fn held_preview(&self, tenant_id: &TenantId) -> Result<Vec<HeldPreview>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT h.id, h.user_id, h.user_kombo_id, u.first_name, u.last_name, u.email, u.job_title,
                        u.status, h.reason, h.held_because, h.held_at
                 FROM held_changes h JOIN users u ON u.id = h.user_id
                 WHERE h.tenant_id = $1 AND h.state = 'pending' ORDER BY h.id",
                &[&tenant_id],
            )
            .await?;
        read_all(&rows)
    }

    /// People whose name, email or Kombo id contains `search` (all when
    /// empty), active first.
    pub async fn people(
        &self,
        tenant_id: &TenantId,
        search: &str,
        limit: i64,
    ) -> Result<Vec<Person>, StoreError> {
        let client = self.client().await?;
        let pattern = super::overview::like_pattern(search);
        let rows = client
            .query(
                "SELECT id, kombo_id, first_name, last_name, email, job_title, status FROM users
                 WHERE tenant_id = $1 AND ($2 = '%%' OR kombo_id ILIKE $2 OR email ILIKE $2
                    OR (COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')) ILIKE $2)
                 ORDER BY status = 'active' DESC, last_name, first_name, id LIMIT $3",
                &[&tenant_id, &pattern, &limit],
            )
            .await?;
        read_all(&rows)
    }

    /// The tenant's latest "Import all", if it had one.
    pub async fn import_progress(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<ImportProgress>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                &format!(
                    "SELECT {RUN_COLUMNS}, import_read_at IS NOT NULL AS reading FROM sync_runs
                     WHERE tenant_id = $1 AND entity IS NULL AND parent_id IS NULL AND kind = 'full'
                     ORDER BY started_at DESC LIMIT 1"
                ),
                &[&tenant_id],
            )
            .await?
        else {
            return Ok(None);
        };
        let umbrella: RecentRun = row.read()?;
        let reading: bool = row.col("reading")?;
        let rows = client
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM sync_runs WHERE parent_id = $1 ORDER BY entity"
                ),
                &[&umbrella.id],
            )
            .await?;
        let entities: Vec<RecentRun> = read_all(&rows)?;
        Ok(Some(ImportProgress {
            reading: reading || !entities.is_empty(),
            umbrella,
            entities,
        }))
    }

    /// A user's team memberships, the sync's and the platform's.
    pub async fn team_memberships(&self, user_id: i64) -> Result<Vec<TeamMembership>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT t.kombo_id AS team_kombo_id, t.name AS team_name, m.source, m.created_at AS since
                 FROM team_memberships m JOIN teams t ON t.id = m.team_id
                 WHERE m.user_id = $1 ORDER BY m.source, t.name",
                &[&user_id],
            )
            .await?;
        read_all(&rows)
    }
}
