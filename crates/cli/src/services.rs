//! The roles' settings, as the composition root (`hris_worker::Services`)
//! takes them: every role that reads the database, calls Kombo or publishes
//! is built through [`build`].

use hris_bus::{AmqpConfig, Topology};
use hris_worker::{DatabaseConfig, Services, ServicesConfig, SyncSettings};
use secrecy::ExposeSecret;

use crate::args::{AmqpArgs, DatabaseArgs, KomboArgs, application_name};

/// The services of `role` (its name in `pg_stat_activity` and on the broker's
/// connection list). The broker connection is not started yet.
pub fn build(
    role: &str,
    db: &DatabaseArgs,
    amqp: &AmqpArgs,
    kombo: &KomboArgs,
    topology: Topology,
    settings: SyncSettings,
) -> anyhow::Result<Services> {
    let database = DatabaseConfig {
        url: db.database_url.clone(),
        pool_size: db.database_pool_size,
        application_name: application_name(role),
    };
    Ok(Services::build(
        &database,
        ServicesConfig {
            amqp: AmqpConfig::new(amqp.amqp_url.expose_secret(), format!("hris-sync {role}")),
            topology,
            kombo: kombo.client_config(),
            settings,
        },
    )?)
}
