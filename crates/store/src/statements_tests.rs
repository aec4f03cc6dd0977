//! The statements built from the row declarations (`synced_columns!`),
//! prepared against the migrated schema: PostgreSQL checks every column they
//! name, and their parameter and result types are compared with the declared
//! kinds, before any page is written. The check the rest of the SQL gets from
//! the end-to-end tests, done here for what is generated.

use hris_mapping::UserFields;
use hris_mapping::columns::{ColumnKind, SyncedRow};
use tokio_postgres::types::Type;

use crate::planned::Upsert;

/// A fresh migrated database, dropped by the returned guard's caller.
async fn migrated() -> (tokio_postgres::Client, String, String) {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("hris_statements_{}_{}", std::process::id(), rand_suffix());
    let (client, _driver) = crate::connect_one(&admin, "hris-store-statements")
        .await
        .expect("the test PostgreSQL");
    // A failed run panics before its own drop: clear what earlier ones left.
    let leftovers = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'hris\\_statements\\_%'",
            &[],
        )
        .await
        .expect("list databases");
    for row in leftovers {
        let old: String = row.get("datname");
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
            .await;
    }
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create");
    let url = admin
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/{name}"))
        .expect("a URL");
    crate::migrate(&url, "hris-store-statements")
        .await
        .expect("migrate");
    let (db, _driver) = crate::connect_one(&url, "hris-store-statements")
        .await
        .expect("connect");
    (db, admin, name)
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}

fn array_of(kind: ColumnKind) -> Type {
    match kind {
        ColumnKind::Text => Type::TEXT_ARRAY,
        ColumnKind::Date => Type::DATE_ARRAY,
        ColumnKind::Timestamp => Type::TIMESTAMPTZ_ARRAY,
        ColumnKind::Json => Type::JSONB_ARRAY,
        ColumnKind::Float => Type::FLOAT8_ARRAY,
        ColumnKind::Bool => Type::BOOL_ARRAY,
    }
}

fn scalar_of(kind: ColumnKind) -> Type {
    match kind {
        ColumnKind::Text => Type::TEXT,
        ColumnKind::Date => Type::DATE,
        ColumnKind::Timestamp => Type::TIMESTAMPTZ,
        ColumnKind::Json => Type::JSONB,
        ColumnKind::Float => Type::FLOAT8,
        ColumnKind::Bool => Type::BOOL,
    }
}

/// `sql` prepares; its parameters are the tenant, one array per declared
/// column of `T` of that column's kind, then `tail` more.
async fn check_upsert<T: SyncedRow>(
    db: &tokio_postgres::Client,
    what: &str,
    sql: &str,
    tail: usize,
) {
    let statement = db
        .prepare(sql)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}\n{sql}"));
    let params = statement.params();
    assert_eq!(params[0], Type::TEXT, "{what}: $1 is the tenant");
    for (i, (column, kind)) in T::COLUMNS.iter().enumerate() {
        assert_eq!(
            params[i + 1],
            array_of(*kind),
            "{what}: the array of {column}"
        );
    }
    assert_eq!(
        params.len(),
        1 + T::COLUMNS.len() + tail,
        "{what}: parameters"
    );
}

/// `SELECT <declared columns>` from `table` reads each with its kind.
async fn check_read<T: SyncedRow>(db: &tokio_postgres::Client, table: &str, columns: &str) {
    let sql = format!("SELECT {columns} FROM {table}");
    let statement = db
        .prepare(&sql)
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}\n{sql}"));
    for (column, kind) in T::COLUMNS {
        let read = statement
            .columns()
            .iter()
            .find(|c| c.name() == *column)
            .unwrap_or_else(|| panic!("{table}.{column} is not read"));
        assert_eq!(read.type_(), &scalar_of(*kind), "{table}.{column}");
    }
}

fn declared<T: SyncedRow>() -> String {
    T::COLUMNS
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn every_generated_statement_prepares_with_the_declared_types() {
    let (db, admin, name) = migrated().await;

    // Users: synced columns, then the plan's five arrays and three scalars.
    check_upsert::<UserFields>(&db, "users", crate::users::upsert_sql(), 8).await;
    check_read::<UserFields>(&db, "users", crate::users::user_columns()).await;

    // The planned tables: declared columns, then the fetch time.
    async fn planned<T: SyncedRow>(db: &tokio_postgres::Client, table: &str, upsert: &Upsert<T>) {
        check_upsert::<T>(db, table, upsert.sql(), 1).await;
        check_read::<T>(db, table, &declared::<T>()).await;
    }
    planned(&db, "teams", &crate::org::TEAMS).await;
    planned(&db, "locations", &crate::locations::LOCATIONS).await;
    planned(&db, "legal_entities", &crate::locations::LEGAL_ENTITIES).await;
    planned(&db, "absence_types", &crate::absences::ABSENCE_TYPES).await;
    planned(&db, "absences", &crate::absences::ABSENCES).await;

    drop(db);
    if let Ok((client, _driver)) = crate::connect_one(&admin, "hris-store-statements").await {
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}
