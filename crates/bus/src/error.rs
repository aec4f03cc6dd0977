#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("not connected to RabbitMQ")]
    NotConnected,
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the message could not be routed to any queue ({0})")]
    Unroutable(String),
    #[error("no publisher confirm within {0:?}")]
    ConfirmTimeout(std::time::Duration),
    #[error("message could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

impl hris_types::Classified for BusError {
    fn class(&self) -> hris_types::ErrorClass {
        hris_types::ErrorClass::retryable_if(self.is_retryable())
    }
}

impl BusError {
    /// Publishing failures are all worth another try later (the broker comes back,
    /// the queue is re-declared); none of them means the message is bad.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, BusError::Encode(_))
    }

    /// A short label for metrics.
    /// Every [`BusError::label`]: the publisher registers each at zero, so
    /// that a failure rate is a series from the start (an alert on a series
    /// that appears only with the first failure misses that failure).
    pub const LABELS: [&'static str; 6] = [
        "not_connected",
        "amqp",
        "nack",
        "unroutable",
        "timeout",
        "encode",
    ];

    pub fn label(&self) -> &'static str {
        match self {
            BusError::NotConnected => "not_connected",
            BusError::Amqp(_) => "amqp",
            BusError::Nacked => "nack",
            BusError::Unroutable(_) => "unroutable",
            BusError::ConfirmTimeout(_) => "timeout",
            BusError::Encode(_) => "encode",
        }
    }
}
