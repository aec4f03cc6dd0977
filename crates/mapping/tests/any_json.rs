//! Any JSON Kombo could send, in any field of any record type we read
//! (employees, groups, locations, legal entities, absence types, absences;
//! top-level fields and those of embedded objects), never stops the page: the
//! value sits in the field itself (a number, an object, a bool, null, a
//! string with NUL or a lone surrogate, an array), the page decodes, the record
//! is mapped or set aside under its own id, and a set-aside reason quotes
//! nothing of the value.

mod common;

use common::all_scopes;
use hris_kombo::decode::decode_page;
use hris_kombo::records::{
    Absence, AbsenceType, Address, EmbeddedGroup, EmbeddedLegalEntity, EmbeddedManager, Employee,
    Employment, Group, LegalEntity, Location, Record,
};
use hris_kombo::repair::repair_lone_surrogates;
use hris_mapping::absence::{AbsenceFields, AbsenceTypeFields};
use hris_mapping::map_employee;
use hris_mapping::org::{LegalEntityFields, LocationFields, TeamFields};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

/// Stands for a lone surrogate, which no Rust string can hold: replaced by
/// the JSON escape `\ud800` in the served text.
const LONE: &str = "\u{e000}lone-surrogate\u{e000}";

#[derive(Debug, Clone, Copy)]
enum Kind {
    Employee,
    Group,
    Location,
    LegalEntity,
    AbsenceType,
    Absence,
}

const KINDS: [Kind; 6] = [
    Kind::Employee,
    Kind::Group,
    Kind::Location,
    Kind::LegalEntity,
    Kind::AbsenceType,
    Kind::Absence,
];

/// Every field a type serialises (its schema: each one is decoded).
fn fields_of<T: Serialize + Default>() -> Value {
    serde_json::to_value(T::default()).unwrap_or_default()
}

fn with_id(mut v: Value, id: &str) -> Value {
    v["id"] = json!(id);
    v
}

/// A record of `kind` with every field present and its embedded objects filled.
fn base(kind: Kind) -> Value {
    let mut record = match kind {
        Kind::Employee => {
            let mut e = fields_of::<Employee>();
            e["groups"] = json!([with_id(fields_of::<EmbeddedGroup>(), "G1")]);
            e["teams"] = json!([with_id(fields_of::<EmbeddedGroup>(), "T1")]);
            e["manager"] = with_id(fields_of::<EmbeddedManager>(), "M1");
            e["legal_entity"] = with_id(fields_of::<EmbeddedLegalEntity>(), "LE1");
            e["employments"] = json!([with_id(fields_of::<Employment>(), "EM1")]);
            let mut location = with_id(fields_of::<Location>(), "L1");
            location["address"] = fields_of::<Address>();
            e["work_location"] = location;
            e
        }
        Kind::Group => fields_of::<Group>(),
        Kind::Location | Kind::LegalEntity => {
            let mut l = match kind {
                Kind::Location => fields_of::<Location>(),
                _ => fields_of::<LegalEntity>(),
            };
            l["address"] = fields_of::<Address>();
            l
        }
        Kind::AbsenceType => fields_of::<AbsenceType>(),
        Kind::Absence => {
            let mut a = fields_of::<Absence>();
            a["type"] = with_id(fields_of::<AbsenceType>(), "AT1");
            a
        }
    };
    record["changed_at"] = json!("2026-01-01T00:00:00.000Z");
    record
}

/// Every field of every kind: top level, and one level into embedded
/// objects (the first element of an embedded list).
fn all_fields() -> Vec<(Kind, Vec<String>)> {
    let mut out = Vec::new();
    for kind in KINDS {
        let Value::Object(record) = base(kind) else {
            continue;
        };
        for (field, value) in &record {
            out.push((kind, vec![field.clone()]));
            let (inner, index) = match value {
                Value::Array(items) => (items.first(), Some("0")),
                other => (Some(other), None),
            };
            if let Some(Value::Object(inner)) = inner {
                for key in inner.keys() {
                    let path = [Some(field.as_str()), index, Some(key.as_str())];
                    out.push((
                        kind,
                        path.into_iter().flatten().map(str::to_owned).collect(),
                    ));
                }
            }
        }
    }
    out
}

fn set(record: &mut Value, path: &[String], value: Value) {
    let mut at = record;
    for key in path {
        at = match key.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[key.as_str()],
        };
    }
    *at = value;
}

/// Any JSON value, a few levels deep, with strings an HR system can hold
/// (NUL, control characters, a lone surrogate, identifiable text).
fn any_json() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        "[A-Z]{4}[0-9]{6}",
        "[a-z\u{0}-\u{1f}]{0,8}\u{0}[A-Z0-9]{6,10}",
        Just(LONE.to_owned()),
        Just(format!("Ann{LONE}MARKER1234")),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings of `v` (values and keys) distinctive enough to recognise in an
/// error text, as they would appear there.
fn distinctive(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => runs_of(s, out),
        Value::Number(n) => runs_of(&n.to_string(), out),
        Value::Array(items) => items.iter().for_each(|i| distinctive(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                runs_of(k, out);
                distinctive(v, out);
            }
        }
        _ => {}
    }
}

/// The runs of six or more characters between control characters (cleaning
/// drops those) and lone surrogates (repairing replaces them).
fn runs_of(s: &str, out: &mut Vec<String>) {
    for part in s.replace(LONE, "\0").split(char::is_control) {
        if part.chars().count() >= 6 {
            out.push(part.to_owned());
        }
    }
}

/// The page as Kombo would serve it, lone surrogates included.
fn served(record: Value) -> Vec<u8> {
    let page = json!({"status": "success", "data": {"next": null, "results": [record]}});
    let text = serde_json::to_string(&page).unwrap_or_default();
    text.replace(LONE, "\\ud800").into_bytes()
}

/// Decodes the page as the client does and maps what decoded; the record's
/// id (if it decoded or was readable) and the set-aside reasons.
fn decode_and_map<T: Record>(
    body: &[u8],
    map: impl Fn(&T) -> String,
) -> Result<(Option<String>, Vec<String>), TestCaseError> {
    let page = decode_page::<T>(&repair_lone_surrogates(body))
        .map_err(|e| TestCaseError::fail(format!("the envelope always decodes: {e}")))?;
    prop_assert_eq!(page.records.len() + page.bad.len(), 1);
    for record in &page.records {
        let mapped = map(record);
        // `Debug` escapes NUL as `\0`: none may reach a mapped value.
        prop_assert!(!mapped.contains("\\0"), "NUL mapped: {}", mapped);
    }
    let id = page
        .records
        .first()
        .map(|r| r.kombo_id().to_owned())
        .or_else(|| page.bad.first().and_then(|b| b.kombo_id.clone()));
    Ok((id, page.bad.iter().map(|b| b.error.to_string()).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_json_in_any_field_never_stops_the_page(
        (kind, path) in prop::sample::select(all_fields()),
        value in any_json(),
        marker in "[A-Z]{4}[0-9]{6}",
    ) {
        let id = format!("ID-{marker}");
        let mut record = base(kind);
        record["id"] = json!(id);
        let mut secrets = Vec::new();
        distinctive(&value, &mut secrets);
        set(&mut record, &path, value);
        let body = served(record);
        let now = chrono::Utc::now();
        let (found, reasons) = match kind {
            Kind::Employee => decode_and_map::<Employee>(&body, |e| format!("{:?}", map_employee(e, &all_scopes(), now)))?,
            Kind::Group => decode_and_map::<Group>(&body, |g| format!("{:?}", TeamFields::from_group(g)))?,
            Kind::Location => decode_and_map::<Location>(&body, |l| format!("{:?}", LocationFields::from_location(l)))?,
            Kind::LegalEntity => decode_and_map::<LegalEntity>(&body, |l| format!("{:?}", LegalEntityFields::from_legal_entity(l)))?,
            Kind::AbsenceType => decode_and_map::<AbsenceType>(&body, |t| format!("{:?}", AbsenceTypeFields::from_type(t)))?,
            Kind::Absence => decode_and_map::<Absence>(&body, |a| format!("{:?}", AbsenceFields::from_absence(a)))?,
        };
        if path != ["id"] {
            prop_assert_eq!(found.as_deref(), Some(id.as_str()), "the record is known by its id");
        }
        for reason in &reasons {
            for secret in &secrets {
                prop_assert!(!reason.contains(secret.as_str()), "{} quotes {:?}", reason, secret);
            }
        }
    }
}
