use crate::args::DatabaseArgs;

pub async fn run(db: DatabaseArgs) -> anyhow::Result<()> {
    let applied =
        hris_store::migrate(&db.database_url, &crate::args::application_name("migrate")).await?;
    println!("migrations applied: {applied}");
    Ok(())
}
