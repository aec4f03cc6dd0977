//! TLS to PostgreSQL (issue 17), against the local server, which runs with
//! `ssl = on` and Debian's snakeoil certificate (self-signed, issued for the
//! machine's host name, never for 127.0.0.1). Every managed PostgreSQL enforces
//! TLS, so `sslmode` must reach every connection the roles open: `migrate`, the
//! workers, the CLI. `pg_stat_ssl` is the server's own word on which of them are
//! encrypted; `application_name` tells them apart.

use std::time::Duration;

use hris_e2e::TestDb;
use hris_store::StoreError;

/// The local server's certificate: also the root that signs it.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// A plain connection of the test itself, to watch the others from.
async fn observer(url: &str) -> tokio_postgres::Client {
    let (client, _driver) = hris_store::connect_one(
        &with_params(url, "sslmode=disable"),
        "hris-sync tests observer",
    )
    .await
    .unwrap_or_else(|e| panic!("observer connection: {e}"));
    client
}

/// One backend as `pg_stat_activity` and `pg_stat_ssl` see it.
#[derive(Debug)]
struct Seen {
    application_name: String,
    ssl: bool,
    version: Option<String>,
    cipher: Option<String>,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<28} ssl={:<5} {} {}",
            self.application_name,
            self.ssl,
            self.version.as_deref().unwrap_or("-"),
            self.cipher.as_deref().unwrap_or("-")
        )
    }
}

/// The connections to `database` named `application_name`, waiting up to 20 s
/// for at least one to show up.
async fn wait_for_backend(
    observer: &tokio_postgres::Client,
    database: &str,
    application_name: &str,
) -> Vec<Seen> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = observer
            .query(
                "SELECT a.application_name, s.ssl, s.version, s.cipher
                   FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                  WHERE a.datname = $1 AND a.application_name = $2",
                &[&database, &application_name],
            )
            .await
            .unwrap_or_else(|e| panic!("pg_stat_ssl: {e}"));
        if !rows.is_empty() {
            return rows
                .iter()
                .map(|r| Seen {
                    application_name: r.get(0),
                    ssl: r.get(1),
                    version: r.get(2),
                    cipher: r.get(3),
                })
                .collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no connection named {application_name:?} to {database} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_encrypted(seen: &[Seen], who: &str) {
    for s in seen {
        println!("{s}");
        assert!(s.ssl, "{who}'s connection is not encrypted: {s}");
        assert!(s.version.is_some(), "{who}: no TLS version in pg_stat_ssl");
    }
}

/// `migrate`, a worker and the CLI, all with `sslmode=require` as a managed
/// database demands; each is caught while connected and shown encrypted, under
/// its own `application_name`. `migrate` and `tenant list` are quick, so the test
/// holds what they need (the migration lock, the tenants table) while it looks.
#[tokio::test]
async fn migrate_worker_and_cli_connect_encrypted_under_require() {
    let test_db = TestDb::migrated().await.expect("db");
    let url = with_params(&test_db.url, "sslmode=require");
    let watch = observer(&test_db.url).await;
    let db = test_db.name.clone();

    // migrate: waits on the migration lock the test holds.
    watch
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&hris_store::migrate::MIGRATION_LOCK_KEY],
        )
        .await
        .expect("lock");
    let migrate = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let migrate = tokio::spawn(migrate);
    let seen = wait_for_backend(&watch, &db, "hris-sync migrate").await;
    assert_encrypted(&seen, "migrate");
    watch
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&hris_store::migrate::MIGRATION_LOCK_KEY],
        )
        .await
        .expect("unlock");
    let out = migrate.await.expect("join").expect("run migrate");
    assert!(
        out.status.success(),
        "migrate over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A worker process: its pool pings the database at start (before it needs
    // the broker or Kombo) and keeps the connection.
    let prefix = hris_e2e::amqp_prefix();
    let _queues = hris_e2e::bus::TestQueues::new(&prefix);
    let worker = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(["worker", "--entity", "employees"])
        .env("DATABASE_URL", &url)
        .env("AMQP_URL", hris_e2e::amqp_url())
        .env("AMQP_PREFIX", &prefix)
        .env("KOMBO_API_URL", "http://127.0.0.1:9/v1")
        .env("KOMBO_API_KEY", "unused")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("worker");
    let seen = wait_for_backend(&watch, &db, "hris-sync worker employees").await;
    assert_encrypted(&seen, "the employees worker");

    // The CLI: `tenant list` waits on the tenants table the test has locked.
    test_db
        .store()
        .add_tenant(&"tls-tenant".into(), "TLS Tenant", None)
        .await
        .expect("tenant");
    // From a connection of its own: inside a transaction, pg_stat_activity is a
    // snapshot taken at its first read, so the watcher must stay outside one.
    let locker = observer(&test_db.url).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock tenants");
    let cli = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(["tenant", "list"])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let cli = tokio::spawn(cli);
    let seen = wait_for_backend(&watch, &db, "hris-sync cli").await;
    assert_encrypted(&seen, "the CLI");
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let out = cli.await.expect("join").expect("run tenant list");
    assert!(
        out.status.success(),
        "tenant list over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tls-tenant"),
        "tenant list printed {}",
        String::from_utf8_lossy(&out.stdout)
    );

    drop(worker);
}

/// Whether this process's own connection through `url` is encrypted.
async fn own_ssl(url: &str) -> Result<bool, StoreError> {
    let store = hris_store::connect(url, 1, "hris-sync tests sslmode")?;
    let client = store.client().await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// `verify-full` checks the host name: the snakeoil certificate is a valid root
/// for itself but names the machine, not 127.0.0.1, so the connection fails and
/// says so. `verify-ca` with the same root checks the chain only and connects;
/// connecting by the certificate's own name (hostaddr 127.0.0.1) passes
/// `verify-full` too; `disable` is plain and `require`/`prefer` encrypted.
#[tokio::test]
async fn verify_full_names_the_host_mismatch_and_verify_ca_trusts_the_chain() {
    let db = TestDb::migrated().await.expect("db");
    assert!(
        db.url.contains("@127.0.0.1:"),
        "this test needs the local server by address, not {}",
        db.url
    );
    let root = format!("sslrootcert={SNAKEOIL}");

    // verify-full by address: a typed error naming the host.
    let verify_full = with_params(&db.url, &format!("sslmode=verify-full&{root}"));
    let err = own_ssl(&verify_full)
        .await
        .expect_err("verify-full against a certificate for another host");
    println!("verify-full, host 127.0.0.1: {err}");
    let StoreError::TlsHostMismatch { host, presented } = &err else {
        panic!("expected a host-name mismatch, got {err:?}");
    };
    assert_eq!(host, "127.0.0.1");
    assert!(!presented.is_empty(), "the certificate's names are listed");
    assert!(
        err.to_string()
            .contains("not valid for host name \"127.0.0.1\""),
        "{err}"
    );
    // migrate and the CLI say the same.
    let err = hris_store::migrate(&verify_full, "hris-sync migrate")
        .await
        .expect_err("migrate under verify-full");
    assert!(
        matches!(err, StoreError::TlsHostMismatch { .. }),
        "migrate: {err:?}"
    );
    let out = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(["tenant", "list"])
        .env("DATABASE_URL", &verify_full)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run tenant list");
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("hris-sync tenant list, verify-full: {}", stderr.trim());
    assert!(!out.status.success());
    assert!(
        stderr.contains("not valid for host name \"127.0.0.1\""),
        "{stderr}"
    );

    // verify-full by the certificate's own name, reaching the same server.
    let name = &presented[0];
    let by_name = with_params(
        &db.url.replacen("@127.0.0.1:", &format!("@{name}:"), 1),
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&{root}"),
    );
    let ssl = own_ssl(&by_name)
        .await
        .unwrap_or_else(|e| panic!("verify-full with host {name} (the certificate's name): {e}"));
    println!("verify-full, host {name}: ssl={ssl}");
    assert!(ssl);

    // verify-ca: the chain is valid, the name is not checked.
    let ssl = own_ssl(&with_params(&db.url, &format!("sslmode=verify-ca&{root}")))
        .await
        .unwrap_or_else(|e| panic!("verify-ca with the snakeoil root: {e}"));
    println!("verify-ca, host 127.0.0.1: ssl={ssl}");
    assert!(ssl);

    // verify-ca against roots that did not sign it (the public CAs' bundle;
    // not the platform's store: Debian's /etc/ssl/certs holds the snakeoil too).
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(bundle).exists() {
        let err = own_ssl(&with_params(
            &db.url,
            &format!("sslmode=verify-ca&sslrootcert={bundle}"),
        ))
        .await
        .expect_err("the snakeoil certificate is signed by no public CA");
        println!("verify-ca, public CAs as roots: {err}");
        assert!(matches!(err, StoreError::Tls(_)), "{err:?}");
    }

    for (mode, encrypted) in [("require", true), ("prefer", true), ("disable", false)] {
        let ssl = own_ssl(&with_params(&db.url, &format!("sslmode={mode}")))
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        println!("{mode}: ssl={ssl}");
        assert_eq!(ssl, encrypted, "sslmode={mode}");
    }
}
