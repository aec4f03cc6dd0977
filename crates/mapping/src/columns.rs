//! A synced row's fields as columns. One declaration ([`synced_columns!`])
//! gives the struct, the names the change log records, and the typed column
//! list the store writes (one `UNNEST` array a column) and reads back by
//! name; so a new field is declared once, beside its mapping, and the page
//! writer and the stored read follow without an edit. Still pure: the store
//! turns [`ColumnValue`]s into SQL parameters; no SQL type lives here beyond
//! the kind of each column.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The PostgreSQL kind of a column, which decides its array's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Date,
    Timestamp,
    Json,
    Float,
    Bool,
}

/// One field's value, borrowed, as the column takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnValue<'a> {
    Text(Option<&'a str>),
    Date(Option<NaiveDate>),
    Timestamp(Option<DateTime<Utc>>),
    Json(Option<&'a Value>),
    Float(Option<f64>),
    Bool(bool),
}

/// Where a stored row's columns are read from, by name (the store's rows).
pub trait ColumnSource {
    type Error;
    fn text(&self, column: &str) -> Result<Option<String>, Self::Error>;
    fn date(&self, column: &str) -> Result<Option<NaiveDate>, Self::Error>;
    fn timestamp(&self, column: &str) -> Result<Option<DateTime<Utc>>, Self::Error>;
    fn json(&self, column: &str) -> Result<Option<Value>, Self::Error>;
    fn float(&self, column: &str) -> Result<Option<f64>, Self::Error>;
    fn boolean(&self, column: &str) -> Result<bool, Self::Error>;
}

/// A declared row ([`synced_columns!`]): its columns, their values, and the
/// row read back from them.
pub trait SyncedRow: Sized {
    /// Every column (the key first) and its kind, in declaration order.
    const COLUMNS: &'static [(&'static str, ColumnKind)];
    /// The values of [`Self::COLUMNS`], in their order.
    fn column_values(&self) -> Vec<ColumnValue<'_>>;
    /// The row read back from its columns, by name.
    fn from_columns<S: ColumnSource>(source: &S) -> Result<Self, S::Error>;
}

/// A type a synced field may have: its column kind, its value, what the
/// change log records of it, and how it is read back.
pub trait Column: Sized {
    const KIND: ColumnKind;
    fn value(&self) -> ColumnValue<'_>;
    fn log(&self) -> Value;
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error>;
}

impl Column for String {
    const KIND: ColumnKind = ColumnKind::Text;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Text(Some(self))
    }
    fn log(&self) -> Value {
        Value::from(self.as_str())
    }
    /// A row without one (a platform user's Kombo id) reads as empty.
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        Ok(source.text(column)?.unwrap_or_default())
    }
}

impl Column for Option<String> {
    const KIND: ColumnKind = ColumnKind::Text;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Text(self.as_deref())
    }
    fn log(&self) -> Value {
        self.as_deref().map_or(Value::Null, Value::from)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.text(column)
    }
}

impl Column for Option<NaiveDate> {
    const KIND: ColumnKind = ColumnKind::Date;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Date(*self)
    }
    fn log(&self) -> Value {
        crate::diff::json(self)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.date(column)
    }
}

impl Column for Option<DateTime<Utc>> {
    const KIND: ColumnKind = ColumnKind::Timestamp;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Timestamp(*self)
    }
    fn log(&self) -> Value {
        crate::diff::json(self)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.timestamp(column)
    }
}

impl Column for Option<Value> {
    const KIND: ColumnKind = ColumnKind::Json;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Json(self.as_ref())
    }
    fn log(&self) -> Value {
        self.clone().unwrap_or(Value::Null)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.json(column)
    }
}

impl Column for Option<f64> {
    const KIND: ColumnKind = ColumnKind::Float;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Float(*self)
    }
    fn log(&self) -> Value {
        crate::diff::json(self)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.float(column)
    }
}

impl Column for bool {
    const KIND: ColumnKind = ColumnKind::Bool;
    fn value(&self) -> ColumnValue<'_> {
        ColumnValue::Bool(*self)
    }
    fn log(&self) -> Value {
        Value::Bool(*self)
    }
    fn read<S: ColumnSource>(source: &S, column: &str) -> Result<Self, S::Error> {
        source.boolean(column)
    }
}

/// A text column read as one of an enum's spellings (`as_str` and `parse`).
#[macro_export]
macro_rules! text_column {
    ($ty:ty) => {
        impl $crate::columns::Column for $ty {
            const KIND: $crate::columns::ColumnKind = $crate::columns::ColumnKind::Text;
            fn value(&self) -> $crate::columns::ColumnValue<'_> {
                $crate::columns::ColumnValue::Text(Some(self.as_str()))
            }
            fn log(&self) -> serde_json::Value {
                serde_json::Value::from(self.as_str())
            }
            fn read<S: $crate::columns::ColumnSource>(
                source: &S,
                column: &str,
            ) -> Result<Self, S::Error> {
                Ok(<$ty>::parse(
                    source.text(column)?.as_deref().unwrap_or_default(),
                ))
            }
        }
    };
}

/// Declares a synced row: its key field, then each field with the name the
/// change log records it under (its column has the field's name), then,
/// after a `;`, fields the change log leaves out, each with its column.
#[macro_export]
macro_rules! synced_columns {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(#[$kmeta:meta])*
            key $key:ident: $kty:ty,
            $( $(#[$fmeta:meta])* $field:ident: $fty:ty => $log:literal ),+
            $( ; $( $(#[$umeta:meta])* $ufield:ident: $uty:ty as $ucol:literal ),+ )?
            $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(#[$kmeta])*
            pub $key: $kty,
            $( $(#[$fmeta])* pub $field: $fty, )+
            $( $( $(#[$umeta])* pub $ufield: $uty, )+ )?
        }

        impl $crate::columns::SyncedRow for $name {
            const COLUMNS: &'static [(&'static str, $crate::columns::ColumnKind)] = &[
                (stringify!($key), <$kty as $crate::columns::Column>::KIND),
                $( (stringify!($field), <$fty as $crate::columns::Column>::KIND), )+
                $( $( ($ucol, <$uty as $crate::columns::Column>::KIND), )+ )?
            ];

            fn column_values(&self) -> Vec<$crate::columns::ColumnValue<'_>> {
                use $crate::columns::Column;
                vec![
                    self.$key.value(),
                    $( self.$field.value(), )+
                    $( $( self.$ufield.value(), )+ )?
                ]
            }

            fn from_columns<S: $crate::columns::ColumnSource>(
                source: &S,
            ) -> Result<Self, S::Error> {
                use $crate::columns::Column;
                Ok(Self {
                    $key: Column::read(source, stringify!($key))?,
                    $( $field: Column::read(source, stringify!($field))?, )+
                    $( $( $ufield: Column::read(source, $ucol)?, )+ )?
                })
            }
        }

        impl $crate::diff::Fields for $name {
            fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
                use $crate::columns::Column;
                vec![$( ($log, self.$field.log()) ),+]
            }
        }
    };
}
