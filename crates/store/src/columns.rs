//! The SQL side of `hris_mapping::columns`: a declared row's columns as
//! `UNNEST` arrays for a page write, and a stored row read back by name. The
//! column lists of those statements come from the declaration, so nothing
//! here names a field.

use chrono::{DateTime, NaiveDate, Utc};
use hris_mapping::columns::{ColumnKind, ColumnSource, ColumnValue, SyncedRow};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::StoreError;
use crate::row::RowExt;

/// One column's values for a page, in row order.
pub(crate) enum ColumnArray {
    Text(Vec<Option<String>>),
    Date(Vec<Option<NaiveDate>>),
    Timestamp(Vec<Option<DateTime<Utc>>>),
    Json(Vec<Option<Value>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<bool>),
}

impl ColumnArray {
    pub(crate) fn new(kind: ColumnKind) -> Self {
        match kind {
            ColumnKind::Text => ColumnArray::Text(Vec::new()),
            ColumnKind::Date => ColumnArray::Date(Vec::new()),
            ColumnKind::Timestamp => ColumnArray::Timestamp(Vec::new()),
            ColumnKind::Json => ColumnArray::Json(Vec::new()),
            ColumnKind::Float => ColumnArray::Float(Vec::new()),
            ColumnKind::Bool => ColumnArray::Bool(Vec::new()),
        }
    }

    /// The array type its `UNNEST` parameter is cast to.
    pub(crate) fn sql_type(kind: ColumnKind) -> &'static str {
        match kind {
            ColumnKind::Text => "text[]",
            ColumnKind::Date => "date[]",
            ColumnKind::Timestamp => "timestamptz[]",
            ColumnKind::Json => "jsonb[]",
            ColumnKind::Float => "float8[]",
            ColumnKind::Bool => "bool[]",
        }
    }

    /// Appends a value; a value of another kind than the column's is a
    /// declaration bug, caught by the first page any test writes.
    pub(crate) fn push(&mut self, value: ColumnValue<'_>) {
        match (self, value) {
            (ColumnArray::Text(a), ColumnValue::Text(v)) => a.push(v.map(str::to_owned)),
            (ColumnArray::Date(a), ColumnValue::Date(v)) => a.push(v),
            (ColumnArray::Timestamp(a), ColumnValue::Timestamp(v)) => a.push(v),
            (ColumnArray::Json(a), ColumnValue::Json(v)) => a.push(v.cloned()),
            (ColumnArray::Float(a), ColumnValue::Float(v)) => a.push(v),
            (ColumnArray::Bool(a), ColumnValue::Bool(v)) => a.push(v),
            (column, value) => unreachable!("a {value:?} pushed into a {} column", column.name()),
        }
    }

    pub(crate) fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            ColumnArray::Text(a) => a,
            ColumnArray::Date(a) => a,
            ColumnArray::Timestamp(a) => a,
            ColumnArray::Json(a) => a,
            ColumnArray::Float(a) => a,
            ColumnArray::Bool(a) => a,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ColumnArray::Text(_) => "text",
            ColumnArray::Date(_) => "date",
            ColumnArray::Timestamp(_) => "timestamp",
            ColumnArray::Json(_) => "json",
            ColumnArray::Float(_) => "float",
            ColumnArray::Bool(_) => "bool",
        }
    }
}

/// The arrays of a page's rows of one declared type, column by column.
pub(crate) fn arrays<'a, T: SyncedRow + 'a>(rows: impl Iterator<Item = &'a T>) -> Vec<ColumnArray> {
    let mut arrays: Vec<ColumnArray> = T::COLUMNS
        .iter()
        .map(|(_, k)| ColumnArray::new(*k))
        .collect();
    for values in rows.map(T::column_values) {
        for (array, value) in arrays.iter_mut().zip(values) {
            array.push(value);
        }
    }
    arrays
}

/// A stored row as a [`ColumnSource`]: each column read by its name, a
/// missing or mistyped one a permanent `StoreError::Row`.
pub(crate) struct RowColumns<'a>(pub &'a Row);

impl ColumnSource for RowColumns<'_> {
    type Error = StoreError;

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0.col(column)
    }
    fn date(&self, column: &str) -> Result<Option<NaiveDate>, StoreError> {
        self.0.col(column)
    }
    fn timestamp(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.0.col(column)
    }
    fn json(&self, column: &str) -> Result<Option<Value>, StoreError> {
        self.0.col(column)
    }
    fn float(&self, column: &str) -> Result<Option<f64>, StoreError> {
        self.0.col(column)
    }
    fn boolean(&self, column: &str) -> Result<bool, StoreError> {
        self.0.col(column)
    }
}

#[cfg(test)]
mod tests {
    use hris_mapping::UserFields;

    use super::*;

    #[test]
    fn the_key_comes_first_and_every_column_has_an_array_of_its_kind() {
        assert_eq!(UserFields::COLUMNS[0], ("kombo_id", ColumnKind::Text));
        let arrays = arrays::<UserFields>(std::iter::empty());
        assert_eq!(arrays.len(), UserFields::COLUMNS.len());
        for ((name, kind), array) in UserFields::COLUMNS.iter().zip(&arrays) {
            let same = matches!(
                (kind, array),
                (ColumnKind::Text, ColumnArray::Text(_))
                    | (ColumnKind::Date, ColumnArray::Date(_))
                    | (ColumnKind::Timestamp, ColumnArray::Timestamp(_))
                    | (ColumnKind::Json, ColumnArray::Json(_))
                    | (ColumnKind::Float, ColumnArray::Float(_))
                    | (ColumnKind::Bool, ColumnArray::Bool(_))
            );
            assert!(same, "{name}");
        }
    }
}
