//! What to list and how: the endpoint and the filters every page repeats.

use std::fmt;

/// The list endpoints hris-sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Employees,
    Groups,
    Locations,
    Absences,
    AbsenceTypes,
    LegalEntities,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Employees,
        Endpoint::Groups,
        Endpoint::Locations,
        Endpoint::Absences,
        Endpoint::AbsenceTypes,
        Endpoint::LegalEntities,
    ];

    /// Path below the base URL (which already ends in `/v1`).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Employees => "/hris/employees",
            Endpoint::Groups => "/hris/groups",
            Endpoint::Locations => "/hris/locations",
            Endpoint::Absences => "/hris/absences",
            Endpoint::AbsenceTypes => "/hris/absence-types",
            Endpoint::LegalEntities => "/hris/legal-entities",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Maximum `page_size` Kombo accepts.
pub const MAX_PAGE_SIZE: u32 = 250;

/// Filters of a listing. Kombo wants the same filters resent with every cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub page_size: Option<u32>,
    /// Sent as `YYYY-MM-DDTHH:mm:ss.sssZ`.
    pub updated_after: Option<chrono::DateTime<chrono::Utc>>,
    pub include_deleted: bool,
    pub ids: Vec<String>,
    pub remote_ids: Vec<String>,
}

impl ListQuery {
    /// Query-string pairs for one page (the cursor is added by the client).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(size) = self.page_size {
            pairs.push(("page_size", size.clamp(1, MAX_PAGE_SIZE).to_string()));
        }
        if let Some(after) = self.updated_after {
            pairs.push((
                "updated_after",
                after.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            ));
        }
        if self.include_deleted {
            pairs.push(("include_deleted", "true".to_owned()));
        }
        if !self.ids.is_empty() {
            pairs.push(("ids", self.ids.join(",")));
        }
        if !self.remote_ids.is_empty() {
            pairs.push(("remote_ids", self.remote_ids.join(",")));
        }
        pairs
    }
}
