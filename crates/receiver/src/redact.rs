//! Error texts without the values that caused them.
//!
//! serde's messages quote the offending input (`invalid type: string
//! "DE89 3704 …", expected u64`), and a webhook can carry personal data (an
//! IBAN, a birth date, an email) in any field. What the receiver logs or
//! answers keeps the category, the position and what was expected (all from
//! our own schema), never the value.

use hris_kombo::webhook::WebhookParseError;

/// A webhook parse error without values from the body (its `Display` names
/// fields and kinds of problem only).
pub fn webhook_error(e: &WebhookParseError) -> String {
    e.to_string()
}
