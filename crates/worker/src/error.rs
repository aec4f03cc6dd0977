//! Errors of the worker's background loops (sweeper, scheduler). Message
//! handlers return the bus's `Failure` instead, which every layer's error
//! converts into with `?` (its class decided where it was made).

use hris_bus::BusError;
use hris_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}
