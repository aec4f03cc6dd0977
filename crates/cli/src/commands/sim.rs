use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hris_sim::control::{CreateIntegration, add_integration};
use hris_sim::{CompanySpec, SimConfig, SimState};

use crate::args::SimArgs;

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::new(SimConfig {
        api_key: args.api_key,
        webhook_url: args.webhook_url,
        webhook_secret: args.webhook_secret,
        debounce: Duration::from_millis(args.debounce_ms),
        public_url: format!("http://{addr}"),
    }));
    for spec in &args.integrations {
        let request = parse_integration(spec)?;
        let id = add_integration(&state, request);
        tracing::info!(integration_id = %id, "simulated integration created");
    }
    tracing::info!(%addr, "Kombo simulator listening; API at /v1, control at /_sim");
    hris_sim::serve(listener, state, hris_telemetry::shutdown_signal()).await?;
    Ok(())
}

/// `ID=EMPLOYEES[:ORIGIN_ID]`
fn parse_integration(spec: &str) -> anyhow::Result<CreateIntegration> {
    let (id, rest) = spec
        .split_once('=')
        .context("--integration takes ID=EMPLOYEES[:ORIGIN_ID]")?;
    let (size, origin) = match rest.split_once(':') {
        Some((s, o)) => (s, Some(o.to_owned())),
        None => (rest, None),
    };
    let employees: usize = size.parse().context("EMPLOYEES must be a number")?;
    Ok(CreateIntegration {
        integration_id: Some(id.to_owned()),
        tool: id.split(':').next().unwrap_or("personio").to_owned(),
        origin_id: origin,
        organization_name: None,
        company: CompanySpec {
            employees,
            ..CompanySpec::default()
        },
    })
}
