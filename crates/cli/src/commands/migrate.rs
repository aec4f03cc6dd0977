use crate::args::DatabaseArgs;
use secrecy::ExposeSecret;

pub async fn run(db: DatabaseArgs) -> anyhow::Result<()> {
    let applied = hris_store::migrate(
        db.database_url.expose_secret(),
        &crate::args::application_name("migrate"),
    )
    .await?;
    println!("migrations applied: {applied}");
    Ok(())
}
