//! Every metric the code records is in the catalogue (so it has a `# HELP`),
//! every catalogued metric is recorded somewhere, and the alert rules and the
//! dashboard name only catalogued metrics: an alert on a name nobody records
//! would never fire. (That every such name is really served, by some role,
//! after a sync: `metrics_scrape.rs`.)

use std::collections::BTreeSet;

use hris_e2e::metrics::{MONITORING_FILES, named_in, workspace_root};
use hris_telemetry::catalogue::METRICS;

/// Names in `metrics::counter!("…"`, `gauge!`, `histogram!` of every crate.
fn recorded() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![workspace_root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("utf-8");
                for macro_name in ["counter!(\"", "gauge!(\"", "histogram!(\""] {
                    for piece in text.split(macro_name).skip(1) {
                        if let Some(name) = piece.split('"').next() {
                            names.insert(name.to_owned());
                        }
                    }
                }
            }
        }
    }
    names
}

#[test]
fn the_catalogue_the_code_the_alerts_and_the_dashboard_agree() {
    let catalogued: BTreeSet<String> = METRICS.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    let recorded = recorded();
    let undescribed: Vec<&String> = recorded.difference(&catalogued).collect();
    assert!(
        undescribed.is_empty(),
        "recorded but not in the catalogue: {undescribed:?}"
    );
    let unrecorded: Vec<&String> = catalogued.difference(&recorded).collect();
    assert!(
        unrecorded.is_empty(),
        "catalogued but never recorded: {unrecorded:?}"
    );
    for file in MONITORING_FILES {
        let named = named_in(file);
        assert!(!named.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = named.difference(&catalogued).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics nobody records: {unknown:?}"
        );
    }
}
