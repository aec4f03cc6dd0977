//! `hris-sync admin`: the admin API (the platform's "Import all" button,
//! tenant status, connection links, the mass-change guard's decisions) behind
//! a bearer token, and the operations console (`/console`), on its own
//! internal address. It needs the database and
//! Kombo; the public receiver needs neither, so the two are separate roles.

pub mod api;
pub mod console;
pub mod links;
pub mod redact;
pub mod server;
pub mod token;

pub use api::Admin;
pub use server::{app, serve};
pub use token::{AdminToken, MIN_TOKEN_LEN, TokenError};
