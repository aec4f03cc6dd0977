//! RabbitMQ as hris-sync uses it: the topology (one exchange, a quorum queue per
//! entity, delay queues for retries, a dead-letter exchange and queue), the
//! versioned message envelope, a publisher that confirms every message and
//! reconnects by itself, and (for workers) the consumer runtime.

pub mod connection;
pub mod envelope;
pub mod error;
pub mod publisher;
pub mod topology;

pub use connection::{AmqpConfig, Connector};
pub use envelope::{Entity, Envelope, SyncKind, Trigger};
pub use error::BusError;
pub use publisher::{Outgoing, Publisher};
pub use topology::Topology;
