//! Planning for records without a lifecycle (teams, locations, absences).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{PageStats, created_entry};
use crate::{FieldChange, Fields, diff};

/// One record's changes, for the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChanges<'a> {
    pub kombo_id: &'a str,
    pub changes: Vec<FieldChange>,
}

/// Whether a stored snapshot is newer than the incoming one: only when both
/// carry Kombo's `changed_at` and the stored one is later.
pub fn is_stale(stored: Option<DateTime<Utc>>, incoming: Option<DateTime<Utc>>) -> bool {
    matches!((stored, incoming), (Some(s), Some(i)) if s > i)
}

/// Keeps, per Kombo id, the newest snapshot of a page; then drops those older
/// than what is stored. Returns what to write, with its changes.
pub fn plan_writes<'a, T: Fields>(
    page: &'a [T],
    key: impl Fn(&T) -> &str,
    changed_at: impl Fn(&T) -> Option<DateTime<Utc>>,
    stored: &HashMap<String, (T, Option<DateTime<Utc>>)>,
    stats: &mut PageStats,
) -> Vec<(&'a T, RecordChanges<'a>)> {
    let mut newest: BTreeMap<&str, &T> = BTreeMap::new();
    for record in page {
        match newest.get(key(record)) {
            Some(existing) if is_stale(changed_at(existing), changed_at(record)) => {}
            _ => {
                newest.insert(key(record), record);
            }
        }
    }
    let mut writes = Vec::new();
    for (id, record) in newest {
        let old = stored.get(id);
        if old.is_some_and(|(_, at)| is_stale(*at, changed_at(record))) {
            stats.unchanged += 1;
            continue;
        }
        let mut changes = diff(old.map(|(f, _)| f), record);
        if old.is_none() {
            changes = vec![created_entry(&changes)];
        }
        match old {
            None => stats.created += 1,
            Some(_) if changes.is_empty() => {
                stats.unchanged += 1;
                continue;
            }
            Some(_) => stats.updated += 1,
        }
        writes.push((
            record,
            RecordChanges {
                kombo_id: key(record),
                changes,
            },
        ));
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::LocationFields;
    use proptest::prelude::*;

    fn location(id: &str, name: &str, at: i64) -> LocationFields {
        LocationFields {
            kombo_id: id.to_owned(),
            remote_id: None,
            name: Some(name.to_owned()),
            location_type: None,
            city: None,
            country: None,
            remote_deleted_at: None,
            changed_at: DateTime::from_timestamp(1_700_000_000 + at, 0),
        }
    }

    fn store(
        writes: &[(&LocationFields, RecordChanges<'_>)],
        stored: &mut HashMap<String, (LocationFields, Option<DateTime<Utc>>)>,
    ) {
        for (record, _) in writes {
            stored.insert(
                record.kombo_id.clone(),
                ((*record).clone(), record.changed_at),
            );
        }
    }

    proptest! {
        /// Applying a page, then the same page again, writes nothing the
        /// second time; and within a page the newest snapshot of an id wins.
        #[test]
        fn replaying_a_page_is_a_no_op(records in prop::collection::vec((0u8..6, "[a-c]{1,2}", 0i64..5), 0..20)) {
            let page: Vec<LocationFields> = records
                .iter()
                .map(|(id, name, at)| location(&format!("L{id}"), name, *at))
                .collect();
            let mut stored = HashMap::new();
            let mut stats = PageStats::default();
            let first = plan_writes(&page, |l| &l.kombo_id, |l| l.changed_at, &stored, &mut stats);
            store(&first, &mut stored);
            for (record, _) in &first {
                let newest = page.iter().filter(|l| l.kombo_id == record.kombo_id).map(|l| l.changed_at).max().flatten();
                prop_assert_eq!(record.changed_at, newest);
            }
            let mut again = PageStats::default();
            let second = plan_writes(&page, |l| &l.kombo_id, |l| l.changed_at, &stored, &mut again);
            prop_assert!(second.is_empty(), "{:?}", second);
            prop_assert_eq!(again.created + again.updated, 0);
        }

        /// A snapshot older than the stored one is never written.
        #[test]
        fn an_older_snapshot_never_wins(stored_at in 1i64..100, older in 0i64..100) {
            prop_assume!(older < stored_at);
            let mut stored = HashMap::new();
            let kept = location("L1", "new", stored_at);
            stored.insert("L1".to_owned(), (kept.clone(), kept.changed_at));
            let page = vec![location("L1", "old", older)];
            let mut stats = PageStats::default();
            let writes = plan_writes(&page, |l| &l.kombo_id, |l| l.changed_at, &stored, &mut stats);
            prop_assert!(writes.is_empty());
            prop_assert_eq!(stats.unchanged, 1);
        }
    }
}
