//! Personal data checks: what a database dump still says about a person, and
//! whether deploy/PRIVACY.md lists every column that can hold text.

use std::time::Duration;

use crate::TestDb;

/// The whole database as `pg_dump` writes it (schema and data), bounded.
pub async fn pg_dump(db: &TestDb) -> anyhow::Result<String> {
    let run = tokio::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(&db.url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run).await??;
    anyhow::ensure!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The texts of `needles` a dump still holds, in any case, as text or as
/// the hex of a bytea column (a dead letter's payload).
pub fn found_in(dump: &str, needles: &[&str]) -> Vec<String> {
    let dump = dump.to_lowercase();
    needles
        .iter()
        .filter(|n| {
            let text = n.to_lowercase();
            let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
            dump.contains(&text) || dump.contains(&hex)
        })
        .map(|n| (*n).to_owned())
        .collect()
}

/// Text-like columns (`table.column`) of the public schema that `inventory`
/// does not name as `` `table.column` ``.
pub async fn unlisted_columns(db: &TestDb, inventory: &str) -> anyhow::Result<Vec<String>> {
    let (client, _driver) = hris_store::connect_one(&db.url, "hris-sync tests").await?;
    let rows = client
        .query(
            "SELECT table_name::text || '.' || column_name::text AS col
             FROM information_schema.columns
             WHERE table_schema = 'public'
               AND (data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea')
                    OR (data_type = 'ARRAY' AND udt_name IN ('_text', '_varchar')))
             ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>("col"))
        .filter(|col| !inventory.contains(&format!("`{col}`")))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn found_in_sees_text_in_any_case_and_bytea_hex() {
        let dump = "COPY users … Ada\tLOVELACE\n … \\x6164614078 …";
        assert_eq!(
            super::found_in(dump, &["lovelace", "ada@x", "babbage"]),
            vec!["lovelace".to_owned(), "ada@x".to_owned()]
        );
    }
}
