//! Reading rows by column name, never by position: a SELECT whose columns are
//! reordered or added to cannot feed one column into another field. A read
//! that fails is `StoreError::Row` (not retryable), never a panic.

use postgres_from_row::FromRow;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::StoreError;

pub(crate) trait RowExt {
    /// One column by name.
    fn col<'a, T: FromSql<'a>>(&'a self, name: &str) -> Result<T, StoreError>;
    /// The whole row as a `FromRow` struct (fields matched by column name).
    fn read<T: FromRow>(&self) -> Result<T, StoreError>;
}

impl RowExt for Row {
    fn col<'a, T: FromSql<'a>>(&'a self, name: &str) -> Result<T, StoreError> {
        self.try_get(name).map_err(StoreError::Row)
    }

    fn read<T: FromRow>(&self) -> Result<T, StoreError> {
        T::try_from_row(self).map_err(StoreError::Row)
    }
}

/// Every row as a `FromRow` struct; the first that fails to read is the error.
pub(crate) fn read_all<T: FromRow>(rows: &[Row]) -> Result<Vec<T>, StoreError> {
    rows.iter().map(RowExt::read).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row from the PostgreSQL the end-to-end tests use (no schema needed).
    async fn row() -> Row {
        let url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let (client, _driver) = crate::connect_one(&url, "hris-store-row-test")
            .await
            .expect("the test database");
        client
            .query_one("SELECT 1::int AS n, NULL::text AS nothing", &[])
            .await
            .expect("a row")
    }

    fn is_row_error<T>(read: Result<T, StoreError>) -> bool {
        matches!(&read, Err(e @ StoreError::Row(_)) if !e.is_retryable() && !e.is_data_error())
    }

    /// `Row::get` panics on each of these; a worker must get an error it can
    /// dead-letter instead, and not one it retries forever.
    #[tokio::test]
    async fn a_bad_read_is_a_permanent_row_error() {
        let row = row().await;
        assert!(matches!(row.col::<i32>("n"), Ok(1)));
        assert!(is_row_error(row.col::<String>("n")), "another type");
        assert!(is_row_error(row.col::<i32>("absent")), "no such column");
        assert!(is_row_error(row.col::<String>("nothing")), "NULL");
        assert!(matches!(row.col::<Option<String>>("nothing"), Ok(None)));
    }
}
