//! The machine's raw limits, with no application logic: confirmed persistent
//! publishes to a quorum queue, and batched upserts of user-shaped rows.

use std::collections::VecDeque;
use std::time::Instant;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// Persistent publishes per second with `window` confirms in flight, of
/// envelope-sized messages to a fresh quorum queue.
pub async fn publish_rate(amqp_url: &str, messages: usize, window: usize) -> anyhow::Result<f64> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let queue = format!("bench-raw-{}", uuid::Uuid::new_v4().simple());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(b"quorum".to_vec())),
    );
    channel
        .queue_declare(
            queue.clone().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    // The same shape as a webhook's envelope.
    let payload = serde_json::to_vec(&hris_bus::Envelope::new(
        "0196e0b6-1d1e-7c55-a2f4-6f1c4f0d3c11",
        Some("personio:8d1hpnq8sx6kpb3u3kuzyxc9".into()),
        hris_bus::Entity::Employees,
        hris_bus::FetchKind::Incremental,
        hris_bus::Trigger::Webhook,
    ))?;
    let started = Instant::now();
    let mut in_flight = VecDeque::with_capacity(window);
    for _ in 0..messages {
        if in_flight.len() >= window
            && let Some(confirm) = in_flight.pop_front()
        {
            confirm.await?;
        }
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        in_flight.push_back(confirm);
    }
    for confirm in in_flight {
        confirm.await?;
    }
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(rate)
}

/// Rows per second of a 250-row multi-row upsert into a bare table with the
/// users table's columns and unique key, one transaction per batch.
pub async fn upsert_rate(database_url: &str, rows: usize) -> anyhow::Result<f64> {
    let (mut client, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS raw_users;
             CREATE TABLE raw_users (LIKE users INCLUDING DEFAULTS);
             ALTER TABLE raw_users ADD PRIMARY KEY (id);
             ALTER TABLE raw_users ADD UNIQUE (tenant_id, kombo_id);
             CREATE SEQUENCE raw_users_id; ALTER TABLE raw_users ALTER id SET DEFAULT nextval('raw_users_id');",
        )
        .await?;
    let started = Instant::now();
    for batch in 0..rows.div_ceil(250) {
        let ids: Vec<String> = (0..250)
            .map(|i| format!("K{batch:06}{i:03}xxxxxxxxxx"))
            .collect();
        let names: Vec<String> = (0..250).map(|i| format!("Name{i}")).collect();
        let emails: Vec<String> = (0..250)
            .map(|i| format!("person{batch}.{i}@example.com"))
            .collect();
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO raw_users (tenant_id, kombo_id, remote_id, first_name, last_name, email, job_title,
                status, employment_status, manager_kombo_id, primary_team_kombo_id, location_kombo_id,
                hire_date, fetched_at, kombo_changed_at)
             SELECT 'bench', r.id, r.id, r.name, r.name, r.email, 'Engineer', 'active', 'ACTIVE', r.id, r.id, r.id,
                    DATE '2020-01-01', now(), now()
             FROM UNNEST($1::text[], $2::text[], $3::text[]) AS r(id, name, email)
             ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET first_name = EXCLUDED.first_name,
                email = EXCLUDED.email, updated_at = now()",
            &[&ids, &names, &emails],
        )
        .await?;
        tx.commit().await?;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    client
        .batch_execute("DROP TABLE raw_users; DROP SEQUENCE raw_users_id;")
        .await?;
    Ok(rate)
}
