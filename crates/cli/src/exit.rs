//! Exit codes a script can tell apart (documented in `hris-sync --help`).

use hris_store::StoreError;

/// A command that would change things it was not clearly asked to: it
/// changed nothing. Exit code [`REFUSED`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Something failed for a reason not listed below.
pub const FAILURE: u8 = 1;
/// The tenant, user or dead letter named does not exist.
pub const NOT_FOUND: u8 = 3;
/// Refused: a destructive command without `--yes`, `--all` or a filter.
pub const REFUSED: u8 = 4;
/// A service it needs did not answer (PostgreSQL, RabbitMQ): try again later.
pub const UNAVAILABLE: u8 = 5;

/// The help text's section on exit codes.
pub const HELP: &str = "Exit codes:
  0  done
  1  failed
  2  usage error (unknown option or value)
  3  not found (the tenant, user or dead letter named does not exist)
  4  refused: a destructive command needs --yes, --all or a filter; nothing was changed
  5  unavailable: PostgreSQL or RabbitMQ did not answer; try again later";

/// The exit code of a command's error.
pub fn code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Refused>().is_some() {
        return REFUSED;
    }
    match error.downcast_ref::<StoreError>() {
        Some(StoreError::NotFound(_)) => NOT_FOUND,
        // The change would contradict what is stored; nothing was changed.
        Some(StoreError::Conflict(_)) => REFUSED,
        // A blip or an unreachable database: the same call may work later.
        Some(e) if e.is_retryable() => UNAVAILABLE,
        _ if error.downcast_ref::<hris_bus::BusError>().is_some() => UNAVAILABLE,
        _ => FAILURE,
    }
}
