//! `migrate` is idempotent and safe from several processes at once.

use hris_e2e::TestDb;

#[tokio::test]
async fn migrate_twice_applies_once() {
    let db = TestDb::create().await.expect("db");
    let first = hris_store::migrate(&db.url, "test")
        .await
        .expect("first migrate");
    assert!(first >= 1);
    assert_eq!(
        hris_store::migrate(&db.url, "test")
            .await
            .expect("second migrate"),
        0
    );
}

#[tokio::test]
async fn concurrent_migrations_do_not_collide() {
    let db = TestDb::create().await.expect("db");
    let runs =
        futures::future::join_all((0..4).map(|_| hris_store::migrate(&db.url, "test"))).await;
    let applied: usize = runs
        .into_iter()
        .map(|r| r.expect("every concurrent migrate succeeds"))
        .sum();
    assert_eq!(
        applied,
        hris_store::migrate(&db.url, "test")
            .await
            .map(|_| applied)
            .expect("again")
    );
    let store = db.store();
    let count: i64 = store
        .client()
        .await
        .expect("client")
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .expect("history")
        .get(0);
    assert_eq!(count as usize, applied, "each migration recorded once");
}

#[tokio::test]
async fn two_migrate_processes_at_once() {
    let db = TestDb::create().await.expect("db");
    let bin = hris_e2e::hris_sync_bin();
    let spawn = || {
        tokio::process::Command::new(&bin)
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .output()
    };
    let (a, b) = tokio::join!(spawn(), spawn());
    for out in [a.expect("run"), b.expect("run")] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn tenants_are_registered_and_settings_validated() {
    let db = TestDb::migrated().await.expect("db");
    let store = db.store();
    let t = store
        .add_tenant(&"t1".into(), "Acme", Some("personio:abc"))
        .await
        .expect("add");
    assert_eq!(t.integration_state, hris_store::IntegrationState::Active);
    assert_eq!(
        t.settings,
        hris_store::TenantSettings::default(),
        "TenantSettings::default() is the schema's"
    );
    // Same values again: fine. Another integration for the same tenant: conflict.
    store
        .add_tenant(&"t1".into(), "Acme", Some("personio:abc"))
        .await
        .expect("idempotent");
    assert!(
        store
            .add_tenant(&"t1".into(), "Acme", Some("personio:other"))
            .await
            .is_err()
    );
    assert!(
        store
            .add_tenant(&"t2".into(), "Other", Some("personio:abc"))
            .await
            .is_err(),
        "one integration, one tenant"
    );
    assert!(
        store
            .set_tenant_setting(&"t1".into(), "time_zone", "Mars/Olympus")
            .await
            .is_err()
    );
    let t = store
        .set_tenant_setting(&"t1".into(), "time_zone", "Europe/Berlin")
        .await
        .expect("tz");
    assert_eq!(t.settings.time_zone, "Europe/Berlin");
    assert!(
        store
            .set_tenant_setting(&"t1".into(), "mass_change_threshold", "1.5")
            .await
            .is_err()
    );
    assert!(
        store
            .set_tenant_setting(&"t1".into(), "enabled_scopes", "avatar,telepathy")
            .await
            .is_err()
    );
    assert_eq!(
        store
            .tenant_by_integration("personio:abc")
            .await
            .expect("lookup")
            .map(|t| t.id),
        Some("t1".into())
    );
}
