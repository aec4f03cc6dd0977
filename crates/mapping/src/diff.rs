//! Field-level comparison of a stored row with a freshly mapped one: decides
//! whether a row is written at all, and what the change log records.

use serde_json::Value;

/// A row as named fields, in a fixed order, for comparison and the change log.
pub trait Fields {
    fn fields(&self) -> Vec<(&'static str, Value)>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

/// The fields that differ; for a new row (`old` is `None`), every field that has
/// a value. Empty means "unchanged: do not write".
pub fn diff<T: Fields>(old: Option<&T>, new: &T) -> Vec<FieldChange> {
    let new_fields = new.fields();
    match old {
        None => new_fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(field, new)| FieldChange {
                field,
                old: Value::Null,
                new,
            })
            .collect(),
        Some(old) => old
            .fields()
            .into_iter()
            .zip(new_fields)
            .filter(|((_, a), (_, b))| a != b)
            .map(|((field, old), (_, new))| FieldChange { field, old, new })
            .collect(),
    }
}

/// `Option<impl Serialize>` as a JSON value (null when absent).
pub fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
