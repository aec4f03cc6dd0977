//! Every queue the code consumes has a worker wherever it is deployed: a
//! service in `docker-compose.yml`, a Deployment in `deploy/k8s`, and a KEDA
//! ScaledObject on its queue; and nothing is deployed that the code does not
//! know. A new entity whose worker was forgotten in one place fails here.

use std::collections::BTreeSet;
use std::path::Path;

use hris_bus::Entity;

/// Every `--entity` role the binary accepts, as deployed (one worker each).
fn roles() -> BTreeSet<String> {
    Entity::ALL
        .iter()
        .map(|e| e.as_str().to_owned())
        .chain(["dead-letters".to_owned()])
        .collect()
}

fn read(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The values of `["worker", "--entity", "X"]` in a file.
fn entity_args(text: &str) -> BTreeSet<String> {
    text.match_indices(r#""worker", "--entity", ""#)
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest.split('"').next().map(str::to_owned)
        })
        .collect()
}

/// The values of `key: PREFIX…` lines in a file (YAML, one per line).
fn values_after(text: &str, key: &str, prefix: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key))
        .filter_map(|v| v.trim().strip_prefix(prefix))
        .map(|v| v.trim().to_owned())
        .collect()
}

#[test]
fn every_queue_has_a_worker_in_compose_kubernetes_and_keda() {
    let roles = roles();
    let compose = read("docker-compose.yml");
    assert_eq!(entity_args(&compose), roles, "docker-compose.yml workers");
    for role in &roles {
        assert!(
            compose.contains(&format!("\n  worker-{role}:")),
            "docker-compose.yml has no service worker-{role}"
        );
    }

    let workers = read("deploy/k8s/30-workers.yaml");
    assert_eq!(entity_args(&workers), roles, "deploy/k8s worker args");
    let deployments = values_after(&workers, "name:", "hris-sync-worker-");
    for role in &roles {
        assert!(
            deployments.contains(role),
            "deploy/k8s has no Deployment hris-sync-worker-{role}"
        );
    }

    let keda = read("deploy/k8s/40-keda.yaml");
    let scaled = values_after(&keda, "name:", "hris-sync-worker-");
    let queues = values_after(&keda, "queueName:", "hris.");
    assert_eq!(scaled, roles, "KEDA ScaledObjects (and their targets)");
    assert_eq!(queues, roles, "KEDA queues");
}

#[test]
fn the_check_sees_a_forgotten_worker() {
    // The same parsing on a file missing one worker must differ from the
    // registry, or the test above could not fail.
    let compose = read("docker-compose.yml").replace(
        r#"["worker", "--entity", "absences"]"#,
        r#"["worker", "--entity", "all"]"#,
    );
    assert_ne!(entity_args(&compose), roles());
}
