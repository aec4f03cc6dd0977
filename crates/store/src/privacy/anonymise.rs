//! `tenant anonymise`: a leaver's personal fields blanked in `users` and in
//! every place that repeats them (change log, earlier emails, dead letters,
//! run errors). `users.id`, the Kombo ids, dates and status stay, so learning
//! history and the reason of the deactivation still hang together.

use deadpool_postgres::GenericClient;
use hris_types::TenantId;
use serde::Serialize;

use super::{Mode, PERSONAL_FIELDS, needles};
use crate::row::RowExt;
use crate::{Store, StoreError};

/// What anonymising one user changed (or, in a dry run, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Anonymised {
    pub user_id: i64,
    /// Anonymised before: this run found only what came since.
    pub already: bool,
    pub emails_deleted: u64,
    pub change_log_entries: u64,
    pub dead_letters: u64,
    pub run_errors: u64,
}

/// `COL` contains one of the texts in array parameter `$P`, in any case.
/// Both sides go through `encode(…, 'escape')` for bytea, so a payload that
/// is not UTF-8 is still searched rather than failing the statement.
fn mentions(column: &str, param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM UNNEST({param}::text[]) AS n(t) WHERE strpos(lower({column}), lower(n.t)) > 0)"
    )
}

fn mentions_bytes(column: &str, param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM UNNEST({param}::text[]) AS n(t) \
         WHERE strpos(lower(encode({column}, 'escape')), lower(encode(convert_to(n.t, 'UTF8'), 'escape'))) > 0)"
    )
}

impl Store {
    /// Anonymises a deactivated user of `tenant_id`; refuses an active one
    /// (`Conflict`, nothing changed). A dry run does the same work in a
    /// transaction it rolls back, so its counts are what `Apply` would do.
    pub async fn anonymise_user(
        &self,
        tenant_id: &TenantId,
        user_id: i64,
        actor: &str,
        mode: Mode,
    ) -> Result<Anonymised, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let done = anonymise(&tx, tenant_id, user_id, actor).await?;
        match mode {
            Mode::Apply => tx.commit().await?,
            Mode::DryRun => tx.rollback().await?,
        }
        Ok(done)
    }
}

async fn anonymise(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    user_id: i64,
    actor: &str,
) -> Result<Anonymised, StoreError> {
    let row = tx
        .query_opt(
            "SELECT status, kombo_id, first_name, last_name, email, anonymised_at IS NOT NULL AS already,
                    ARRAY(SELECT e.email FROM user_emails e WHERE e.user_id = users.id) AS emails,
                    ARRAY(SELECT l.kombo_id FROM user_links l WHERE l.tenant_id = users.tenant_id
                          AND l.user_id = users.id) AS linked
             FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant_id, &user_id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user_id} of tenant {tenant_id}")))?;
    if row.col::<String>("status")? != "deactivated" {
        return Err(StoreError::Conflict(format!(
            "user {user_id} is active: only a deactivated user is anonymised \
             (deactivate them in the HR system first)"
        )));
    }
    let mut emails: Vec<String> = row.col("emails")?;
    emails.extend(row.col::<Option<String>>("email")?);
    let texts = needles(
        row.col::<Option<String>>("first_name")?.as_deref(),
        row.col::<Option<String>>("last_name")?.as_deref(),
        &emails,
    );
    let mut records: Vec<String> = row.col("linked")?;
    records.extend(row.col::<Option<String>>("kombo_id")?);
    let personal: Vec<&str> = PERSONAL_FIELDS.to_vec();

    let change_log_entries = tx
        .execute(
            "UPDATE change_log SET
                old_value = CASE WHEN field = ANY($3) THEN NULL
                                 WHEN jsonb_typeof(old_value) = 'object' THEN old_value - $3::text[]
                                 ELSE old_value END,
                new_value = CASE WHEN field = ANY($3) THEN NULL
                                 WHEN jsonb_typeof(new_value) = 'object' THEN new_value - $3::text[]
                                 ELSE new_value END
             WHERE tenant_id = $1 AND record_type = 'user' AND record_kombo_id = ANY($2)
               AND ((field = ANY($3) AND (old_value IS NOT NULL OR new_value IS NOT NULL))
                    OR (jsonb_typeof(old_value) = 'object' AND old_value ?| $3::text[])
                    OR (jsonb_typeof(new_value) = 'object' AND new_value ?| $3::text[]))",
            &[&tenant_id, &records, &personal],
        )
        .await?;
    // A dead letter without a tenant (an unreadable message) may still name
    // the person; one that does loses what names them, keeps its reason.
    let dead_letters = tx
        .execute(
            &format!(
                "UPDATE dead_letters SET
                    payload = CASE WHEN {in_payload} THEN ''::bytea ELSE payload END,
                    headers = CASE WHEN {in_headers} THEN jsonb_build_object('x-hris-anonymised', true)
                                   ELSE headers END,
                    error_message = CASE WHEN {in_message} THEN NULL ELSE error_message END
                 WHERE (tenant_id = $1 OR tenant_id IS NULL) AND ({in_payload} OR {in_headers} OR {in_message})",
                in_payload = mentions_bytes("payload", "$2"),
                in_headers = mentions("headers::text", "$2"),
                in_message = mentions("coalesce(error_message, '')", "$2"),
            ),
            &[&tenant_id, &texts],
        )
        .await?;
    let run_errors = tx
        .execute(
            &format!(
                "UPDATE sync_runs SET error = 'removed: it named an anonymised person'
                 WHERE tenant_id = $1 AND error IS NOT NULL AND {}",
                mentions("error", "$2")
            ),
            &[&tenant_id, &texts],
        )
        .await?
        + tx.execute(
            &format!(
                "UPDATE sync_state SET last_error = 'removed: it named an anonymised person'
                 WHERE tenant_id = $1 AND last_error IS NOT NULL AND {}",
                mentions("last_error", "$2")
            ),
            &[&tenant_id, &texts],
        )
        .await?;
    let emails_deleted = tx
        .execute("DELETE FROM user_emails WHERE user_id = $1", &[&user_id])
        .await?;
    tx.execute(
        "UPDATE users SET first_name = NULL, last_name = NULL, email = NULL, email_status = 'missing',
            job_title = NULL, avatar_url = NULL, custom_fields = NULL, employee_number = NULL,
            remote_id = NULL, anonymised_at = now(), updated_at = now()
         WHERE id = $1",
        &[&user_id],
    )
    .await?;
    let done = Anonymised {
        user_id,
        already: row.col("already")?,
        emails_deleted,
        change_log_entries,
        dead_letters,
        run_errors,
    };
    tx.execute(
        "INSERT INTO privacy_audit (action, actor, tenant_id, user_id, detail)
         VALUES ('anonymise', $1, $2, $3, $4)",
        &[
            &actor,
            &tenant_id,
            &user_id,
            &serde_json::to_value(&done).unwrap_or_default(),
        ],
    )
    .await?;
    Ok(done)
}
