//! The enums the code reads columns as (`hris-types`) and the schema's CHECK
//! constraints accept the same spellings: every variant is stored and read
//! back, and a spelling no variant has is refused by PostgreSQL when written,
//! not discovered later by a sync that cannot read its tenant.

use hris_e2e::TestDb;
use hris_types::{
    FetchKind, IdentityMatch, IntegrationState, InviteWhen, RehireInvite, RunStatus, Scope, Trigger,
};
use tokio_postgres::error::SqlState;

/// Every spelling of an enum.
fn spellings<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

/// A migrated database with tenant `t1` (the database lives as long as `TestDb`).
async fn with_tenant() -> (TestDb, hris_store::Store) {
    let db = TestDb::migrated().await.expect("db");
    let store = db.store();
    store
        .add_tenant(&"t1".into(), "Acme", None)
        .await
        .expect("tenant");
    (db, store)
}

#[tokio::test]
async fn every_setting_spelling_is_accepted_by_the_schema_and_read_back_and_no_other() {
    let (_db, store) = with_tenant().await;
    let client = store.client().await.expect("client");
    for (column, values) in [
        ("integration_state", spellings(IntegrationState::ALL)),
        ("invite_policy", spellings(InviteWhen::ALL)),
        ("identity_match", spellings(IdentityMatch::ALL)),
        ("rehire_invite", spellings(RehireInvite::ALL)),
    ] {
        for value in &values {
            client
                .execute(
                    &format!("UPDATE tenants SET {column} = $1 WHERE id = 't1'"),
                    &[value],
                )
                .await
                .unwrap_or_else(|e| panic!("{column} = {value}: {e}"));
            let tenant = store.tenant(&"t1".into()).await.expect("read back");
            let read = match column {
                "integration_state" => tenant.integration_state.to_string(),
                "invite_policy" => tenant.settings.invite_policy.to_string(),
                "identity_match" => tenant.settings.identity_match.to_string(),
                _ => tenant.settings.rehire_invite.to_string(),
            };
            assert_eq!(&read, value, "{column}");
        }
        let refused = client
            .execute(
                &format!("UPDATE tenants SET {column} = 'bogus' WHERE id = 't1'"),
                &[],
            )
            .await
            .expect_err(column);
        assert_eq!(refused.code(), Some(&SqlState::CHECK_VIOLATION), "{column}");
    }

    let scopes = spellings(Scope::ALL);
    client
        .execute(
            "UPDATE tenants SET enabled_scopes = $1 WHERE id = 't1'",
            &[&scopes],
        )
        .await
        .expect("every scope");
    let read = store
        .tenant(&"t1".into())
        .await
        .expect("read back")
        .settings
        .enabled_scopes;
    assert_eq!(read, Scope::ALL.to_vec());
    let refused = client
        .execute(
            "UPDATE tenants SET enabled_scopes = ARRAY['avatar', 'telepathy'] WHERE id = 't1'",
            &[],
        )
        .await
        .expect_err("an unknown scope");
    assert_eq!(refused.code(), Some(&SqlState::CHECK_VIOLATION));
}

#[tokio::test]
async fn every_run_spelling_is_accepted_by_the_schema_and_no_other() {
    let (_db, store) = with_tenant().await;
    let client = store.client().await.expect("client");
    let insert = |kind: &str, trigger: &str, status: &str| {
        let (kind, trigger, status) = (kind.to_owned(), trigger.to_owned(), status.to_owned());
        let client = &client;
        async move {
            client
                .query_one(
                    "INSERT INTO sync_runs (id, tenant_id, entity, kind, trigger, status)
                     VALUES (gen_random_uuid(), 't1', 'employees', $1, $2, $3) RETURNING id",
                    &[&kind, &trigger, &status],
                )
                .await
                .map(|row| row.get::<_, uuid::Uuid>("id"))
        }
    };
    for kind in spellings(FetchKind::ALL) {
        for trigger in spellings(Trigger::ALL) {
            for status in spellings(RunStatus::ALL) {
                let id = insert(&kind, &trigger, &status)
                    .await
                    .unwrap_or_else(|e| panic!("{kind}/{trigger}/{status}: {e}"));
                let run = store.run(id).await.expect("read back");
                assert_eq!(
                    (
                        run.kind.to_string(),
                        run.trigger.to_string(),
                        run.status.to_string()
                    ),
                    (kind.clone(), trigger.clone(), status.clone())
                );
            }
        }
    }
    for (kind, trigger, status) in [
        ("partial", "webhook", "running"),
        ("full", "manual", "running"),
        ("full", "webhook", "done"),
    ] {
        let refused = insert(kind, trigger, status).await.expect_err(kind);
        assert_eq!(
            refused.code(),
            Some(&SqlState::CHECK_VIOLATION),
            "{kind}/{trigger}/{status}"
        );
    }
}
