//! Exit codes a script can tell apart (documented in `hris-sync --help`).

/// A command that would change things it was not clearly asked to: it
/// changed nothing. Exit code [`REFUSED`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Something failed (the database or broker unreachable, a bad id, …).
pub const FAILURE: u8 = 1;
/// Refused: a destructive command without `--yes`, `--all` or a filter.
pub const REFUSED: u8 = 4;

/// The help text's section on exit codes.
pub const HELP: &str = "Exit codes:\n  0  done\n  1  failed (a service unreachable, a record not found, …)\n  2  usage error (unknown option or value)\n  4  refused: a destructive command needs --yes, --all or a filter; nothing was changed";

/// The exit code of a command's error.
pub fn code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Refused>().is_some() {
        REFUSED
    } else {
        FAILURE
    }
}
