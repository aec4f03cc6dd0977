//! What the mapping's property tests share.

use hris_mapping::{Scope, TenantPolicy};

/// A tenant that syncs every optional field (the most the mapping writes).
pub fn all_scopes() -> TenantPolicy {
    TenantPolicy {
        scopes: vec![
            Scope::WorkLocation,
            Scope::Avatar,
            Scope::LegalEntity,
            Scope::EmploymentType,
            Scope::CustomFields,
        ],
        ..TenantPolicy::default()
    }
}
