//! Every queue the code consumes has a worker wherever it is deployed: a
//! service in `docker-compose.yml`, a Deployment in `deploy/k8s`, and a KEDA
//! ScaledObject on its queue; and nothing is deployed that the code does not
//! know. A new entity whose worker was forgotten in one place fails here. The
//! other roles (receiver, admin, scheduler) are deployed in both places too,
//! and the admin API stays internal.

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

/// The roles besides the workers that run for good, each with its own
/// Kubernetes file.
const ROLES: [(&str, &str); 3] = [
    ("receiver", "deploy/k8s/20-receiver.yaml"),
    ("admin", "deploy/k8s/25-admin.yaml"),
    ("scheduler", "deploy/k8s/30-workers.yaml"),
];

/// The text of `docker-compose.yml`'s service `name`: its lines up to the
/// next one indented by less than a property's.
fn compose_service<'a>(compose: &'a str, name: &str) -> &'a str {
    let header = format!("\n  {name}:\n");
    let start = compose
        .find(&header)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
        + header.len();
    let body = &compose[start..];
    let end = body
        .match_indices('\n')
        .map(|(at, _)| at + 1)
        .find(|&at| {
            let line = &body[at..];
            !line.starts_with("   ") && !line.starts_with('\n') && !line.is_empty()
        })
        .unwrap_or(body.len());
    &body[..end]
}

#[test]
fn every_role_is_deployed_and_the_admin_api_stays_internal() {
    let compose = read("docker-compose.yml");
    for (role, file) in ROLES {
        let service = compose_service(&compose, role);
        assert!(
            service.contains(&format!(r#"command: ["{role}"]"#)),
            "docker-compose.yml service {role} runs `hris-sync {role}`"
        );
        let k8s = read(file);
        assert!(
            k8s.contains(&format!("name: hris-sync-{role}\n")),
            "{file} has a Deployment hris-sync-{role}"
        );
        assert!(
            k8s.contains(&format!(r#"args: ["{role}"]"#)),
            "{file} runs `hris-sync {role}`"
        );
    }
    // The admin API: a ClusterIP Service, nothing that exposes it, probes on
    // its own port, its token from the Secret.
    let admin = read("deploy/k8s/25-admin.yaml");
    assert!(admin.contains("type: ClusterIP"));
    for exposed in ["LoadBalancer", "NodePort", "kind: Ingress", "hostPort"] {
        assert!(
            !admin.contains(exposed),
            "the admin API is exposed: {exposed}"
        );
    }
    for probe in ["/healthz", "/readyz"] {
        assert!(admin.contains(&format!("path: {probe}, port: admin")));
    }
    assert!(admin.contains("secretKeyRef: {name: hris-sync, key: ADMIN_TOKEN}"));
    assert!(read("deploy/k8s/01-config.yaml").contains("ADMIN_ADDR: 0.0.0.0:8082"));
    let compose_admin = compose_service(&compose, "admin");
    assert!(compose_admin.contains("ADMIN_TOKEN:"));
    assert!(compose_admin.contains(r#""127.0.0.1:8082:8082""#));
    // The receiver is public: no admin configuration and no whole Secret.
    let receiver: String = read("deploy/k8s/20-receiver.yaml")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect();
    for leaked in ["ADMIN", "DATABASE_URL", "secretRef:"] {
        assert!(!receiver.contains(leaked), "20-receiver.yaml: {leaked}");
    }
    assert!(!compose_service(&compose, "receiver").contains("ADMIN"));
}
