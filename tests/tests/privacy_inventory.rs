//! deploy/PRIVACY.md lists every column that can hold text: a migration that
//! adds one fails here until the inventory says what it holds.

use hris_e2e::TestDb;
use hris_e2e::privacy::unlisted_columns;

const INVENTORY: &str = include_str!("../../deploy/PRIVACY.md");

#[tokio::test]
async fn every_text_json_and_bytea_column_is_in_the_inventory() -> anyhow::Result<()> {
    let db = TestDb::migrated().await?;
    assert_eq!(
        unlisted_columns(&db, INVENTORY).await?,
        Vec::<String>::new()
    );

    // The check can fail: a table the inventory does not know, with a text
    // and a JSON column (the number column is not personal by type).
    let (client, _driver) = hris_store::connect_one(&db.url, "hris-sync tests").await?;
    client
        .batch_execute("CREATE TABLE scratch_notes (id BIGINT, note TEXT, extra JSONB)")
        .await?;
    assert_eq!(
        unlisted_columns(&db, INVENTORY).await?,
        vec![
            "scratch_notes.extra".to_owned(),
            "scratch_notes.note".to_owned()
        ]
    );
    Ok(())
}
