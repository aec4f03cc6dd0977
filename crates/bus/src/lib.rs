//! RabbitMQ as hris-sync uses it: the topology (one exchange, a quorum queue per
//! entity, delay queues for retries, a dead-letter exchange and queue), the
//! versioned message envelope, a publisher that confirms every message and
//! reconnects by itself, and (for workers) the consumer runtime.

pub mod connection;
pub mod consumer;
pub mod envelope;
pub mod error;
pub mod failure;
pub mod incoming;
pub mod publisher;
pub mod retry;
pub mod topology;

pub use connection::{AmqpConfig, Connector};
pub use consumer::{Consumer, ConsumerConfig, Handler, OnFailure};
pub use envelope::{Entity, Envelope, FetchKind, SyncedEntity, Trigger};
pub use error::BusError;
pub use failure::{Failure, FailureClass, KomboSaid};
pub use incoming::Incoming;
pub use publisher::RawOutgoing;
pub use publisher::{Outgoing, Publisher};
pub use retry::{Decision, RetryPolicy};
pub use topology::Topology;
