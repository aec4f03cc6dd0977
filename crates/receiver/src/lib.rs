//! The thin webhook receiver: verify the signature on the raw bytes, parse, split
//! into one message per affected entity, publish with confirms, and answer 200
//! only once every message is durable. No Kombo call and no database round trip on
//! this path, so a database outage never costs an event.

pub mod app;
pub mod body;
pub mod nofile;
pub mod redact;
pub mod routing;
pub mod server;

pub use app::{
    AppState, ReceiverConfig, ops_router, router, router_with, serve, serve_ops, serve_with,
};
pub use server::HttpLimits;
