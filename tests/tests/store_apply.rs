//! Page writes on a real database, without a broker: snapshot order, late
//! references, manual memberships, and how a refused write is described.

use chrono::Utc;
use hris_e2e::TestDb;
use hris_kombo::records::{EmbeddedGroup, Employee};
use hris_mapping::{TenantPolicy, map_employee};
use hris_store::{ApplyContext, Store};

fn ctx() -> ApplyContext {
    ApplyContext {
        tenant_id: "acme".into(),
        lease: None,
        lease_ttl: std::time::Duration::from_secs(30),
        cause_event_id: Some("E".into()),
        sync_run_id: None,
        fetched_at: Utc::now(),
        track_seen: false,
    }
}

fn employee(id: &str, title: &str, changed_at: &str) -> Employee {
    Employee {
        id: id.into(),
        first_name: Some("A".into()),
        job_title: Some(title.into()),
        work_email: Some(format!("{id}@example.com")),
        employment_status: Some("ACTIVE".into()),
        changed_at: changed_at.into(),
        groups: vec![EmbeddedGroup {
            id: "G1".into(),
            name: Some("Team".into()),
            group_type: Some("TEAM".into()),
            ..EmbeddedGroup::default()
        }],
        ..Employee::default()
    }
}

async fn apply(store: &Store, employees: &[Employee]) -> anyhow::Result<hris_store::PageStats> {
    let now = Utc::now();
    let page = employees
        .iter()
        .map(|e| map_employee(e, &TenantPolicy::default(), now))
        .collect();
    Ok(store.apply_users(&ctx(), page).await?)
}

async fn setup() -> anyhow::Result<(TestDb, Store)> {
    let db = TestDb::migrated().await?;
    let store = db.store();
    store
        .add_tenant(&"acme".into(), "Acme", Some("personio:acme"))
        .await?;
    Ok((db, store))
}

#[tokio::test]
async fn an_older_snapshot_never_overwrites_a_newer_one() -> anyhow::Result<()> {
    let (_db, store) = setup().await?;
    let created = apply(&store, &[employee("E1", "New", "2026-05-02T00:00:00Z")]).await?;
    assert_eq!(created.created, 1);
    let stale = apply(&store, &[employee("E1", "Old", "2026-05-01T00:00:00Z")]).await?;
    assert_eq!((stale.updated, stale.unchanged), (0, 1));
    let same = apply(&store, &[employee("E1", "New", "2026-05-02T00:00:00Z")]).await?;
    assert_eq!(
        (same.updated, same.unchanged),
        (0, 1),
        "an unchanged row is not written"
    );
    let client = store.client().await?;
    let title: String = client
        .query_one("SELECT job_title FROM users WHERE kombo_id = 'E1'", &[])
        .await?
        .get(0);
    assert_eq!(title, "New");
    // One history entry, the creation: the stale and unchanged writes add none.
    let logged: i64 = client
        .query_one(
            "SELECT count(*) FROM change_log WHERE record_kombo_id = 'E1'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(logged, 1);
    Ok(())
}

#[tokio::test]
async fn a_manager_seen_after_the_report_resolves_when_it_arrives() -> anyhow::Result<()> {
    let (_db, store) = setup().await?;
    let mut report = employee("E2", "Dev", "2026-05-01T00:00:00Z");
    report.manager_id = Some("M1".into());
    apply(&store, &[report]).await?;
    let client = store.client().await?;
    assert_eq!(manager_of_e2(&client).await?, None);
    apply(&store, &[employee("M1", "Boss", "2026-05-01T00:00:00Z")]).await?;
    assert_eq!(manager_of_e2(&client).await?.as_deref(), Some("M1"));
    Ok(())
}

#[tokio::test]
async fn manual_memberships_survive_every_sync() -> anyhow::Result<()> {
    let (_db, store) = setup().await?;
    apply(&store, &[employee("E3", "Dev", "2026-05-01T00:00:00Z")]).await?;
    let client = store.client().await?;
    client
        .batch_execute(
            "INSERT INTO teams (tenant_id, kombo_id, name, fetched_at) VALUES ('acme', 'manual-team', 'Book club', now());
             INSERT INTO team_memberships (user_id, team_id, source)
             SELECT u.id, t.id, 'manual' FROM users u, teams t WHERE u.kombo_id = 'E3' AND t.kombo_id = 'manual-team'",
        )
        .await?;
    // The HR system moves the person to another group.
    let mut moved = employee("E3", "Dev", "2026-05-03T00:00:00Z");
    moved.groups[0].id = "G2".into();
    apply(&store, &[moved]).await?;
    let rows = client
        .query(
            "SELECT t.kombo_id, tm.source FROM team_memberships tm JOIN teams t ON t.id = tm.team_id
             JOIN users u ON u.id = tm.user_id WHERE u.kombo_id = 'E3' ORDER BY 1",
            &[],
        )
        .await?;
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            ("G2".to_owned(), "hris".to_owned()),
            ("manual-team".to_owned(), "manual".to_owned())
        ]
    );
    Ok(())
}

async fn manager_of_e2(client: &deadpool_postgres::Object) -> anyhow::Result<Option<String>> {
    let row = client
        .query_one(
            "SELECT (SELECT m.kombo_id FROM users m WHERE m.id = u.manager_user_id) FROM users u WHERE u.kombo_id = 'E2'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// What a refused write says, on a real server whose message and detail
/// quote the row (`Key (email)=(…) already exists`): the SQLSTATE, its
/// condition and the names of table, column and constraint, never a value.
#[tokio::test]
async fn a_refused_write_is_described_by_names_never_by_values() -> anyhow::Result<()> {
    let (_db, store) = setup().await?;
    let client = store.client().await?;
    client
        .batch_execute(
            "CREATE TABLE refusals (id int PRIMARY KEY, email text NOT NULL,
                 CONSTRAINT refusals_email UNIQUE (email),
                 CONSTRAINT refusals_no_iban CHECK (email NOT LIKE 'DE89%'));
             INSERT INTO refusals VALUES (1, 'ann.private@example.org')",
        )
        .await?;
    let value = "ann.private@example.org";
    for (sql, quoted, expected) in [
        (
            "INSERT INTO refusals VALUES (2, 'ann.private@example.org')",
            value,
            "SQLSTATE 23505 (unique_violation), table refusals, constraint refusals_email",
        ),
        (
            "INSERT INTO refusals VALUES (3, NULL)",
            "(3, null)",
            "SQLSTATE 23502 (not_null_violation), table refusals, column email",
        ),
        (
            "INSERT INTO refusals VALUES (4, 'DE89370400440532013000')",
            "DE89370400440532013000",
            "SQLSTATE 23514 (check_violation), table refusals, constraint refusals_no_iban",
        ),
    ] {
        let refused = client.batch_execute(sql).await.err();
        let raw = refused
            .as_ref()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default();
        let error = hris_store::StoreError::from(
            refused.ok_or_else(|| anyhow::anyhow!("{sql} was accepted"))?,
        );
        let text = error.to_string();
        assert_eq!(text, format!("database: {expected}"), "{sql}");
        // The server did quote the row; the description does not.
        assert!(raw.contains(quoted), "{raw}");
        assert!(!text.contains(quoted), "{text}");
        assert!(error.is_data_error(), "{text}");
    }
    Ok(())
}
