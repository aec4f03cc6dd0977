pub mod dlq;
pub mod explain;
pub mod migrate;
pub mod receiver;
pub mod sim;
pub mod tenant;
pub mod worker;
