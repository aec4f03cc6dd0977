//! Every error a worker meets, turned into a classified `Failure` where it is
//! made: the class decides between a later retry and the dead-letter queue.

use hris_bus::{BusError, Failure, FailureClass};
use hris_kombo::{ErrorClass, KomboError};
use hris_store::StoreError;

pub fn from_kombo(e: &KomboError) -> Failure {
    let (class, retry_after) = match e.class() {
        ErrorClass::Retryable { retry_after } => (FailureClass::Retryable, retry_after),
        ErrorClass::NotReady => (FailureClass::NotReady, None),
        ErrorClass::Permanent => (FailureClass::Permanent, None),
    };
    Failure {
        class,
        reason: e.to_string(),
        code: e.code().map(str::to_owned),
        log_url: e.log_url().map(str::to_owned),
        retry_after,
        tenant_id: None,
    }
}

pub fn from_store(e: &StoreError) -> Failure {
    let failure = if e.is_retryable() {
        Failure::retryable(e.to_string())
    } else {
        Failure::permanent(e.to_string())
    };
    match e.sqlstate() {
        Some(state) => failure.with_code(format!("SQLSTATE {state}")),
        None => failure,
    }
}

pub fn from_bus(e: &BusError) -> Failure {
    if e.is_retryable() {
        Failure::retryable(e.to_string())
    } else {
        Failure::permanent(e.to_string())
    }
}
