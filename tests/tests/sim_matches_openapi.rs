//! The simulator's answers validate against Kombo's OpenAPI document (every
//! endpoint, first and later pages, errors), and our types parse the document's
//! own examples.

use hris_e2e::{Sim, openapi};
use hris_kombo::envelope::{Page, SuccessEnvelope};
use hris_kombo::records::{Absence, AbsenceType, Employee, Group, LegalEntity, Location};
use hris_sim::SimConfig;
use serde_json::Value;

const ENDPOINTS: &[(&str, &str)] = &[
    ("/hris/employees", "GetHrisEmployeesPositiveResponse"),
    ("/hris/groups", "GetHrisGroupsPositiveResponse"),
    ("/hris/locations", "GetHrisLocationsPositiveResponse"),
    (
        "/hris/legal-entities",
        "GetHrisLegalEntitiesPositiveResponse",
    ),
    ("/hris/absence-types", "GetHrisAbsenceTypesPositiveResponse"),
    ("/hris/absences", "GetHrisAbsencesPositiveResponse"),
];

/// Sends `request` with the simulator's API key: its status and JSON body.
async fn send(sim: &Sim, request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request
        .header("Authorization", format!("Bearer {}", sim.api_key()))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

async fn get(sim: &Sim, path: &str, query: &[(&str, &str)], integration: &str) -> (u16, Value) {
    let request = sim
        .http
        .get(format!("{}{path}", sim.api_url()))
        .query(query)
        .header("X-Integration-Id", integration);
    send(sim, request).await
}

#[tokio::test]
async fn every_endpoint_first_and_later_pages_match_the_schema() {
    let doc = openapi::document();
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:schema", 600, 7)
        .await
        .expect("integration");
    for (path, schema) in ENDPOINTS {
        let validator = openapi::validator(&doc, &format!("/components/schemas/{schema}"));
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![("page_size", "1"), ("include_deleted", "true")];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let (status, body) = get(&sim, path, &query, "personio:schema").await;
            assert_eq!(status, 200, "{path}: {body}");
            let errors = openapi::errors(&validator, &body);
            assert!(
                errors.is_empty(),
                "{path} page {pages} does not match {schema}:\n{}",
                errors.join("\n")
            );
            pages += 1;
            cursor = body["data"]["next"].as_str().map(str::to_owned);
            if cursor.is_none() || pages == 3 {
                break;
            }
        }
        assert!(pages >= 2, "{path}: expected a later page to validate too");
    }
}

#[tokio::test]
async fn errors_match_the_error_schema() {
    let doc = openapi::document();
    let validator = openapi::validator(
        &doc,
        "/components/responses/ErrorResponseHRIS/content/application~1json/schema",
    );
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:errors", 20, 1)
        .await
        .expect("integration");

    let (status, body) = get(
        &sim,
        "/hris/employees",
        &[("page_size", "999")],
        "personio:errors",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "PLATFORM.INPUT_INVALID");
    assert!(openapi::errors(&validator, &body).is_empty(), "{body}");

    let (status, body) = get(&sim, "/hris/employees", &[], "personio:nobody").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "PLATFORM.INTEGRATION_NOT_FOUND");
    assert!(openapi::errors(&validator, &body).is_empty(), "{body}");

    let r = sim
        .http
        .get(format!("{}/hris/groups", sim.api_url()))
        .header("X-Integration-Id", "personio:errors")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "PLATFORM.AUTHENTICATION_INVALID");
    assert!(openapi::errors(&validator, &body).is_empty(), "{body}");

    for (faults, code, expected_status) in [
        (
            serde_json::json!({"rate_429": 1.0, "retry_after_secs": 2}),
            "PLATFORM.RATE_LIMIT_EXCEEDED",
            429,
        ),
        (
            serde_json::json!({"rate_503": 1.0}),
            "REMOTE.SERVICE_UNAVAILABLE",
            503,
        ),
        (
            serde_json::json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID"}),
            "INTEGRATION.AUTHENTICATION_INVALID",
            403,
        ),
        (
            serde_json::json!({"error_code": "INTEGRATION.SETUP_SYNC_PENDING"}),
            "INTEGRATION.SETUP_SYNC_PENDING",
            409,
        ),
    ] {
        sim.set_faults("personio:errors", faults)
            .await
            .expect("faults");
        let (status, body) = get(&sim, "/hris/absences", &[], "personio:errors").await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(body["error"]["code"], code);
        assert!(openapi::errors(&validator, &body).is_empty(), "{body}");
    }
}

fn example(doc: &Value, path: &str) -> Value {
    let examples =
        &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["examples"];
    examples
        .as_object()
        .and_then(|m| m.values().next())
        .map(|e| e["value"].clone())
        .unwrap_or_else(|| panic!("no example for {path}"))
}

#[test]
fn the_client_types_parse_the_documents_own_examples() {
    let doc = openapi::document();
    fn parse<T: serde::de::DeserializeOwned>(v: Value, path: &str) -> usize {
        let page: SuccessEnvelope<Page<T>> =
            serde_json::from_value(v).unwrap_or_else(|e| panic!("{path}: {e}"));
        page.data.results.len()
    }
    assert!(parse::<Employee>(example(&doc, "/hris/employees"), "employees") > 0);
    assert!(parse::<Group>(example(&doc, "/hris/groups"), "groups") > 0);
    assert!(parse::<Location>(example(&doc, "/hris/locations"), "locations") > 0);
    assert!(parse::<LegalEntity>(example(&doc, "/hris/legal-entities"), "legal entities") > 0);
    assert!(parse::<AbsenceType>(example(&doc, "/hris/absence-types"), "absence types") > 0);
    assert!(parse::<Absence>(example(&doc, "/hris/absences"), "absences") > 0);
}

#[test]
fn the_webhook_parser_reads_every_documented_hris_webhook_example() {
    let doc = openapi::document();
    let webhooks = doc["webhooks"].as_object().expect("webhooks");
    let mut parsed = 0;
    for (name, hook) in webhooks {
        let content = &hook["post"]["requestBody"]["content"]["application/json"];
        let example = content.get("example").cloned().or_else(|| {
            content["examples"]
                .as_object()
                .and_then(|m| m.values().next())
                .map(|e| e["value"].clone())
        });
        let Some(example) = example else { continue };
        let body = serde_json::to_vec(&example).expect("bytes");
        let event =
            hris_kombo::WebhookEvent::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.event_type, *name);
        parsed += 1;
    }
    assert!(parsed >= 5, "only {parsed} webhook examples found");
}

/// A request the client sends validates against the document's request body.
fn request_matches(doc: &Value, schema: &str, body: &impl serde::Serialize) {
    let validator = openapi::validator(doc, &format!("/components/schemas/{schema}"));
    let body = serde_json::to_value(body).expect("request body");
    let errors = openapi::errors(&validator, &body);
    assert!(errors.is_empty(), "{schema}: {body}\n{}", errors.join("\n"));
}

/// The answer of one management call, checked against its schema.
async fn call(sim: &Sim, request: reqwest::RequestBuilder, doc: &Value, schema: &str) -> Value {
    let (status, body) = send(sim, request).await;
    assert_eq!(status, 200, "{schema}: {body}");
    let validator = openapi::validator(doc, &format!("/components/schemas/{schema}"));
    let errors = openapi::errors(&validator, &body);
    assert!(errors.is_empty(), "{schema}: {body}\n{}", errors.join("\n"));
    body
}

#[tokio::test]
async fn integration_management_endpoints_match_the_schema() {
    use hris_kombo::envelope::{EnabledRequest, ForceSyncRequest, LinkRequest};
    let doc = openapi::document();
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:manage", 10, 3)
        .await
        .expect("integration");
    request_matches(
        &doc,
        "PostForceSyncRequestBody",
        &ForceSyncRequest {
            sync_type: "FULL".into(),
        },
    );
    request_matches(
        &doc,
        "PostIntegrationsIntegrationIdRelinkRequestBody",
        &LinkRequest::default(),
    );
    request_matches(
        &doc,
        "PostIntegrationsIntegrationIdSetupLinkRequestBody",
        &LinkRequest::default(),
    );
    request_matches(
        &doc,
        "PutIntegrationsIntegrationIdEnabledRequestBody",
        &EnabledRequest { value: false },
    );

    let base = format!("{}/integrations/personio:manage", sim.api_url());
    let body = call(
        &sim,
        sim.http.get(&base),
        &doc,
        "GetIntegrationsIntegrationIdPositiveResponse",
    )
    .await;
    assert_eq!(body["data"]["status"], "ACTIVE");
    assert_eq!(body["data"]["setup_status"], "COMPLETED");
    assert_eq!(body["data"]["data_expired_at"], Value::Null);
    // With data_expired_at set, the answer still validates (a date-time).
    sim.control_call(
        reqwest::Method::PUT,
        "/_sim/integrations/personio:manage/health",
        serde_json::json!({ "data_expired": true, "setup_status": "FINAL_SYNC_PENDING" }),
    )
    .await
    .expect("health");
    let body = call(
        &sim,
        sim.http.get(&base),
        &doc,
        "GetIntegrationsIntegrationIdPositiveResponse",
    )
    .await;
    assert!(body["data"]["data_expired_at"].is_string(), "{body}");
    assert_eq!(body["data"]["setup_status"], "FINAL_SYNC_PENDING");

    for (path, schema) in [
        (
            "relink",
            "PostIntegrationsIntegrationIdRelinkPositiveResponse",
        ),
        (
            "setup-link",
            "PostIntegrationsIntegrationIdSetupLinkPositiveResponse",
        ),
    ] {
        let body = call(
            &sim,
            sim.http
                .post(format!("{base}/{path}"))
                .json(&LinkRequest::default()),
            &doc,
            schema,
        )
        .await;
        assert!(
            body["data"]["link"]
                .as_str()
                .is_some_and(|l| l.starts_with("http"))
        );
    }
    call(
        &sim,
        sim.http
            .put(format!("{base}/enabled"))
            .json(&EnabledRequest { value: false }),
        &doc,
        "PutIntegrationsIntegrationIdEnabledPositiveResponse",
    )
    .await;
    let force = || {
        sim.http
            .post(format!("{}/force-sync", sim.api_url()))
            .header("X-Integration-Id", "personio:manage")
            .json(&ForceSyncRequest {
                sync_type: "FULL".into(),
            })
    };
    let first = call(&sim, force(), &doc, "PostForceSyncPositiveResponse").await;
    let again = call(&sim, force(), &doc, "PostForceSyncPositiveResponse").await;
    assert_eq!(first["data"]["already_queued"], false);
    assert_eq!(again["data"]["already_queued"], true);
    assert_eq!(again["data"]["sync_id"], first["data"]["sync_id"]);
    let actions = sim.actions().await.expect("actions");
    assert_eq!(
        actions,
        serde_json::json!({ "integration": 2, "relink": 1, "setup-link": 1, "enabled": 1, "force-sync": 2 })
    );
}
