use hris_store::Tenant;
use hris_worker::links::LinkKind;

use crate::args::TenantCommand;

pub async fn run(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Add {
            db,
            id,
            name,
            integration_id,
        } => {
            let store = db.store()?;
            let tenant = store
                .add_tenant(&id, &name, integration_id.as_deref())
                .await?;
            // Kombo may have announced the integration before the tenant existed.
            if tenant.kombo_integration_id.is_none()
                && let Some(integration) = store.apply_parked_events(&id).await?
            {
                println!("linked integration {integration} that Kombo announced earlier");
            }
            println!(
                "tenant {} registered ({})",
                tenant.id, tenant.integration_state
            );
        }
        TenantCommand::List { db, json } => {
            let tenants = db.store()?.tenants().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                let mut rows = crate::output::table(&["TENANT", "STATE", "INTEGRATION", "NAME"]);
                for t in tenants {
                    rows.add_row(vec![
                        t.id.to_string(),
                        t.integration_state.to_string(),
                        t.kombo_integration_id.unwrap_or_else(|| "-".into()),
                        t.name,
                    ]);
                }
                println!("{rows}");
            }
        }
        TenantCommand::Show { db, id } => print(&db.store()?.tenant(&id).await?)?,
        TenantCommand::Connect {
            db,
            kombo,
            tenant,
            tool,
            admin_email,
        } => super::tenant_ops::connect(&db.store()?, &kombo, &tenant, &tool, &admin_email).await?,
        TenantCommand::Relink(t) => super::tenant_health::link(&t, LinkKind::Relink).await?,
        TenantCommand::SetupLink(t) => super::tenant_health::link(&t, LinkKind::Setup).await?,
        TenantCommand::Pause(t) => super::tenant_health::set_paused(&t, true).await?,
        TenantCommand::Resume(t) => super::tenant_health::set_paused(&t, false).await?,
        TenantCommand::Disconnect { db, tenant, yes } => {
            super::tenant_ops::disconnect(&db.store()?, &tenant, yes).await?
        }
        TenantCommand::Anonymise(args) => super::privacy::anonymise(&args).await?,
        TenantCommand::Purge(args) => super::privacy::purge(&args).await?,
        TenantCommand::Status { db, tenant, json } => {
            super::tenant_ops::status(&db.store()?, &tenant, json).await?
        }
        TenantCommand::Held { db, tenant, json } => {
            super::tenant_ops::held(&db.store()?, &tenant, json).await?
        }
        TenantCommand::Issues {
            db,
            tenant,
            all,
            limit,
            json,
        } => super::tenant_ops::issues(&db.store()?, &tenant, all, limit, json).await?,
        TenantCommand::Approve {
            db,
            tenant,
            guard,
            actor,
        } => super::tenant_ops::decide(&db.store()?, &tenant, true, &guard, &actor.actor).await?,
        TenantCommand::Reject {
            db,
            tenant,
            guard,
            actor,
        } => super::tenant_ops::decide(&db.store()?, &tenant, false, &guard, &actor.actor).await?,
        TenantCommand::Identity {
            action,
            db,
            tenant,
            all,
            json,
        } => super::identity::run(action, db, tenant, all, json).await?,
        TenantCommand::Set { db, id, key, value } => {
            print(&db.store()?.set_tenant_setting(&id, &key, &value).await?)?
        }
    }
    Ok(())
}

fn print(tenant: &Tenant) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(tenant)?);
    Ok(())
}
