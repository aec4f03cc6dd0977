//! Kombo's OpenAPI document as the reference for what the simulator serves.

use serde_json::Value;

/// `shared/kombo/openapi.json`, beside the repository (or `KOMBO_OPENAPI`).
pub fn document() -> Value {
    let path = std::env::var("KOMBO_OPENAPI").unwrap_or_else(|_| {
        format!(
            "{}/../../shared/kombo/openapi.json",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// A JSON-Schema validator for `pointer` inside the document (e.g.
/// `/components/schemas/GetHrisEmployeesPositiveResponse`), with the document's
/// components available to `$ref`.
///
/// One adjustment, documented in `shared/kombo/README.md`: a few date and time
/// fields are typed `"null"` by a generator slip; they are read as optional strings.
pub fn validator(doc: &Value, pointer: &str) -> jsonschema::Validator {
    let mut components = doc.get("components").cloned().unwrap_or(Value::Null);
    fix_null_typed_fields(&mut components);
    let mut target = doc
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the document"))
        .clone();
    fix_null_typed_fields(&mut target);
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [target],
        "components": components,
    });
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("schema {pointer}: {e}"))
}

fn fix_null_typed_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let null_typed = map.get("type") == Some(&Value::String("null".to_owned()))
                && map
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| {
                        d.contains("format") || d.contains("date") || d.contains("time")
                    });
            if null_typed {
                map.insert("type".to_owned(), serde_json::json!(["string", "null"]));
            }
            for v in map.values_mut() {
                fix_null_typed_fields(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_null_typed_fields),
        _ => {}
    }
}

/// Every validation error, one per line, for a readable assertion message.
pub fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
