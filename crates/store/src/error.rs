//! Every database failure, classified where it is made, and described without
//! any value it touched: PostgreSQL's messages and details quote rows
//! (`Key (email)=(ann@…) already exists`), so what is logged and stored is the
//! SQLSTATE, its condition, and the table, column and constraint it names.

use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(deadpool_postgres::PoolError),
    #[error("database: {}", describe(.0))]
    Db(tokio_postgres::Error),
    /// `sslmode=verify-full` and the server's certificate does not name the host
    /// in `DATABASE_URL`.
    #[error(
        "TLS to PostgreSQL: the server's certificate is not valid for host name {host:?} \
         (it is for {}); connect by a name the certificate lists, or use sslmode=verify-ca \
         to check the chain only",
        if presented.is_empty() { "no name".to_owned() } else { presented.join(", ") }
    )]
    TlsHostMismatch {
        host: String,
        presented: Vec<String>,
    },
    /// Any other TLS failure: an untrusted chain, an expired certificate, a
    /// server without TLS under `require`.
    #[error("TLS to PostgreSQL: {0}")]
    Tls(String),
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error("invalid database configuration: {0}")]
    Config(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Another worker took over this fetch: stop writing, retry later.
    #[error("the fetch lease was lost")]
    LeaseLost,
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A row that does not read as the code expects (a column missing, of
    /// another type, or NULL where a value is required): the schema and the
    /// code disagree, which no retry fixes and no record split isolates.
    #[error("reading a row: {}", describe(.0))]
    Row(tokio_postgres::Error),
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        crate::tls::classify(&e).unwrap_or(StoreError::Pool(e))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        crate::tls::classify(&e).unwrap_or(StoreError::Db(e))
    }
}

impl StoreError {
    /// Whether the same call may succeed later: lost connections, a database
    /// restarting, serialization failures and deadlocks are blips; constraint
    /// violations and bad values are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            // A TLS failure is a deployment problem (a certificate, a URL), like a
            // refused password is: the message that met it is fine, so it waits in
            // the delay queues for the fix instead of being dead-lettered as bad.
            StoreError::Pool(_)
            | StoreError::LeaseLost
            | StoreError::TlsHostMismatch { .. }
            | StoreError::Tls(_) => true,
            StoreError::Db(e) => {
                if e.is_closed() {
                    return true;
                }
                match e.code() {
                    None => true, // I/O error talking to the server
                    Some(code) => {
                        let c = code.code();
                        *code == SqlState::T_R_SERIALIZATION_FAILURE
                            || *code == SqlState::T_R_DEADLOCK_DETECTED
                            || *code == SqlState::LOCK_NOT_AVAILABLE
                            || *code == SqlState::QUERY_CANCELED
                            || c.starts_with("08") // connection exception
                            || c.starts_with("57") // operator intervention (shutdown, terminated)
                            || c.starts_with("53") // insufficient resources
                    }
                }
            }
            StoreError::Migration(_)
            | StoreError::Config(_)
            | StoreError::NotFound(_)
            | StoreError::Conflict(_)
            | StoreError::Invalid(_)
            | StoreError::Row(_) => false,
        }
    }

    /// Whether the data written caused the failure (a value PostgreSQL cannot
    /// store, a constraint, a value too large for an index): the same rows fail
    /// the same way every time, so a page is split to find the record instead.
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::Db(e) => e.code().is_some_and(|code| {
                let c = code.code();
                c.starts_with("22") // data exception
                    || c.starts_with("23") // integrity constraint violation
                    || c.starts_with("54") // program limit exceeded (index row size)
            }),
            _ => false,
        }
    }

    /// The SQLSTATE of a database error, for storing beside the text.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Db(e) => e.code().map(SqlState::code),
            _ => None,
        }
    }
}

impl hris_types::Classified for StoreError {
    fn class(&self) -> hris_types::ErrorClass {
        hris_types::ErrorClass::retryable_if(self.is_retryable())
    }

    fn code(&self) -> Option<String> {
        self.sqlstate().map(|state| format!("SQLSTATE {state}"))
    }
}

/// A database error as on-call can act on it, with no value from any row.
fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        if e.is_closed() {
            return "the connection was closed".to_owned();
        }
        // Client-side errors (I/O, protocol, conversion) name no row values.
        return match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
    };
    // Only these fields: the message, detail, hint and where quote rows.
    describe_fields(
        db.code().code(),
        &[
            ("table", db.table()),
            ("column", db.column()),
            ("constraint", db.constraint()),
            ("type", db.datatype()),
        ],
    )
}

/// The SQLSTATE, its condition and the schema objects a server error names.
fn describe_fields(code: &str, names: &[(&str, Option<&str>)]) -> String {
    let mut text = format!("SQLSTATE {code} ({})", condition(code));
    for (what, name) in names {
        if let Some(name) = name {
            text.push_str(&format!(", {what} {name}"));
        }
    }
    text
}

/// PostgreSQL's condition name for the codes we meet (Appendix A of its manual).
fn condition(code: &str) -> &'static str {
    match code {
        "22001" => "string_data_right_truncation",
        "22007" => "invalid_datetime_format",
        "22008" => "datetime_field_overflow",
        "22021" => "character_not_in_repertoire",
        "22P02" => "invalid_text_representation",
        "22P05" => "untranslatable_character",
        "23502" => "not_null_violation",
        "23503" => "foreign_key_violation",
        "23505" => "unique_violation",
        "23514" => "check_violation",
        "40001" => "serialization_failure",
        "40P01" => "deadlock_detected",
        "42P01" => "undefined_table",
        "54000" => "program_limit_exceeded",
        "55P03" => "lock_not_available",
        "57014" => "query_canceled",
        "57P01" => "admin_shutdown",
        c if c.starts_with("08") => "connection_exception",
        c if c.starts_with("22") => "data_exception",
        c if c.starts_with("23") => "integrity_constraint_violation",
        c if c.starts_with("53") => "insufficient_resources",
        c if c.starts_with("54") => "program_limit_exceeded",
        c if c.starts_with("57") => "operator_intervention",
        _ => "see PostgreSQL's error codes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_not_null_violation_names_its_table_and_column() {
        let text = describe_fields(
            "23502",
            &[
                ("table", Some("users")),
                ("column", Some("job_title")),
                ("constraint", None),
                ("type", None),
            ],
        );
        assert_eq!(
            text,
            "SQLSTATE 23502 (not_null_violation), table users, column job_title"
        );
    }

    #[test]
    fn a_constraint_violation_names_its_constraint() {
        let text = describe_fields(
            "23505",
            &[
                ("table", Some("users")),
                ("column", None),
                ("constraint", Some("users_email")),
                ("type", None),
            ],
        );
        assert_eq!(
            text,
            "SQLSTATE 23505 (unique_violation), table users, constraint users_email"
        );
    }

    #[test]
    fn an_unknown_code_keeps_its_class_or_points_to_the_manual() {
        assert!(describe_fields("23P01", &[]).contains("integrity_constraint_violation"));
        assert!(describe_fields("XX000", &[]).contains("see PostgreSQL's error codes"));
    }
}
