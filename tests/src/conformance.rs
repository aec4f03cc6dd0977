//! "Lands exactly as the mapping says": the database compared, user by user,
//! with the mapping applied to what the simulator serves right now.

use std::collections::{BTreeSet, HashMap};

use chrono::{NaiveDate, Utc};
use futures::TryStreamExt;
use hris_kombo::records::Employee;
use hris_kombo::{Endpoint, ListQuery};
use hris_mapping::map_employee;

use crate::stack::Stack;

/// A user row as stored, with its references resolved back to Kombo ids.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub email_status: String,
    pub job_title: Option<String>,
    pub hire_date: Option<NaiveDate>,
    pub leave_date: Option<NaiveDate>,
    pub status: String,
    pub manager_kombo_id: Option<String>,
    pub primary_team_kombo_id: Option<String>,
    pub location_kombo_id: Option<String>,
    pub manager_resolved: Option<String>,
    pub team_resolved: Option<String>,
    pub location_resolved: Option<String>,
    pub hris_teams: Vec<String>,
    pub manual_teams: Vec<String>,
}

pub async fn users(stack: &Stack, tenant_id: &str) -> anyhow::Result<HashMap<String, UserRow>> {
    let client = stack.store.client().await?;
    let rows = client
        .query(
            "SELECT u.kombo_id, u.first_name, u.last_name, u.email, u.email_status, u.job_title, u.hire_date,
                    u.leave_date, u.status, u.manager_kombo_id, u.primary_team_kombo_id, u.location_kombo_id,
                    (SELECT m.kombo_id FROM users m WHERE m.id = u.manager_user_id),
                    (SELECT t.kombo_id FROM teams t WHERE t.id = u.primary_team_id),
                    (SELECT l.kombo_id FROM locations l WHERE l.id = u.primary_location_id),
                    COALESCE((SELECT array_agg(t.kombo_id ORDER BY t.kombo_id) FROM team_memberships tm
                              JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = u.id AND tm.source = 'hris'), '{}'),
                    COALESCE((SELECT array_agg(t.kombo_id ORDER BY t.kombo_id) FROM team_memberships tm
                              JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = u.id AND tm.source = 'manual'), '{}')
             FROM users u WHERE u.tenant_id = $1",
            &[&tenant_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                UserRow {
                    first_name: r.get(1),
                    last_name: r.get(2),
                    email: r.get(3),
                    email_status: r.get(4),
                    job_title: r.get(5),
                    hire_date: r.get(6),
                    leave_date: r.get(7),
                    status: r.get(8),
                    manager_kombo_id: r.get(9),
                    primary_team_kombo_id: r.get(10),
                    location_kombo_id: r.get(11),
                    manager_resolved: r.get(12),
                    team_resolved: r.get(13),
                    location_resolved: r.get(14),
                    hris_teams: r.get(15),
                    manual_teams: r.get(16),
                },
            )
        })
        .collect())
}

/// Every employee Kombo serves (deleted ones too).
pub async fn employees(stack: &Stack, integration: &str) -> anyhow::Result<Vec<Employee>> {
    let pages: Vec<Vec<Employee>> = stack
        .sim
        .client()
        .list::<Employee>(
            integration,
            Endpoint::Employees,
            ListQuery {
                include_deleted: true,
                ..ListQuery::default()
            },
        )
        .map_ok(|page| page.records)
        .try_collect()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}

/// Ids of employees who are active with no leave date: safe targets for a
/// change whose effect a test wants to see on an active user.
pub fn still_employed(employees: &[Employee]) -> Vec<&str> {
    employees
        .iter()
        .filter(|e| {
            e.termination_date.is_none() && e.employment_status.as_deref() == Some("ACTIVE")
        })
        .map(|e| e.id.as_str())
        .collect()
}

/// Differences between the database and the mapping of Kombo's records
/// (empty when they agree), at most `limit` of them.
pub async fn mismatches(
    stack: &Stack,
    tenant_id: &str,
    integration: &str,
    limit: usize,
) -> anyhow::Result<Vec<String>> {
    let tenant = stack.store.tenant(&tenant_id.into()).await?;
    let policy = hris_worker::fetch::policy_of(&tenant);
    let now = Utc::now();
    let stored = users(stack, tenant_id).await?;
    let employees = employees(stack, integration).await?;
    let mut out = Vec::new();
    if stored.len() != employees.len() {
        out.push(format!(
            "{} users stored, Kombo has {}",
            stored.len(),
            employees.len()
        ));
    }
    for e in &employees {
        if out.len() >= limit {
            break;
        }
        let m = map_employee(e, &policy, now);
        let u = &m.user;
        let Some(row) = stored.get(&u.kombo_id) else {
            out.push(format!("{} missing", u.kombo_id));
            continue;
        };
        let mut groups = m.team_kombo_ids.clone();
        groups.sort();
        let expected = UserRow {
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
            email_status: u.email_status.as_str().to_owned(),
            job_title: u.job_title.clone(),
            hire_date: u.hire_date,
            leave_date: u.leave_date,
            status: u.status.as_str().to_owned(),
            manager_kombo_id: u.manager_kombo_id.clone(),
            primary_team_kombo_id: u.primary_team_kombo_id.clone(),
            location_kombo_id: u.location_kombo_id.clone(),
            // References resolve whenever the referenced record exists here.
            manager_resolved: u
                .manager_kombo_id
                .clone()
                .filter(|id| stored.contains_key(id)),
            team_resolved: u.primary_team_kombo_id.clone(),
            location_resolved: u.location_kombo_id.clone(),
            hris_teams: groups,
            manual_teams: row.manual_teams.clone(),
        };
        if *row != expected {
            out.push(format!(
                "{}: stored {row:?}\n  expected {expected:?}",
                u.kombo_id
            ));
        }
    }
    Ok(out)
}

/// Fails with the differences when the tenant's data is not what the mapping
/// makes of the simulator's current data (the convergence oracle).
pub async fn assert_converged(
    stack: &Stack,
    tenant_id: &str,
    integration: &str,
) -> anyhow::Result<()> {
    let diffs = full_mismatches(stack, tenant_id, integration, 10).await?;
    assert!(
        diffs.is_empty(),
        "{tenant_id} differs from the simulator:\n{}",
        diffs.join("\n")
    );
    Ok(())
}

/// The convergence oracle: every difference between the database and what the
/// mapping makes of the simulator's current data, for users (with references
/// and memberships), teams, locations and absences of one tenant.
pub async fn full_mismatches(
    stack: &Stack,
    tenant_id: &str,
    integration: &str,
    limit: usize,
) -> anyhow::Result<Vec<String>> {
    use hris_kombo::records::{Absence, Group, Location};
    use hris_mapping::absence::AbsenceFields;
    use hris_mapping::org::{LocationFields, TeamFields};

    let mut out = mismatches(stack, tenant_id, integration, limit).await?;
    let client = stack.sim.client();
    let all = ListQuery {
        include_deleted: true,
        ..ListQuery::default()
    };
    let db = stack.store.client().await?;

    let groups: Vec<Vec<Group>> = client
        .list(integration, Endpoint::Groups, all.clone())
        .map_ok(|page| page.records)
        .try_collect()
        .await?;
    let mut listed = BTreeSet::new();
    for g in groups.iter().flatten().map(TeamFields::from_group) {
        listed.insert(g.kombo_id.clone());
        let row = db
            .query_opt(
                "SELECT remote_id, name, group_type, parent_kombo_id, remote_deleted_at IS NOT NULL,
                        (SELECT p.kombo_id FROM teams p WHERE p.id = t.parent_team_id)
                 FROM teams t WHERE tenant_id = $1 AND kombo_id = $2",
                &[&tenant_id, &g.kombo_id],
            )
            .await?;
        let Some(row) = row else {
            out.push(format!("team {} missing", g.kombo_id));
            continue;
        };
        let got = (
            row.get::<_, Option<String>>(0),
            row.get::<_, Option<String>>(1),
            row.get::<_, Option<String>>(2),
            row.get::<_, Option<String>>(3),
            row.get::<_, bool>(4),
            row.get::<_, Option<String>>(5),
        );
        let want = (
            g.remote_id.clone(),
            g.name.clone(),
            g.group_type.clone(),
            g.parent_kombo_id.clone(),
            g.remote_deleted_at.is_some(),
            g.parent_kombo_id.clone(),
        );
        if got != want {
            out.push(format!(
                "team {}: stored {got:?}, expected {want:?}",
                g.kombo_id
            ));
        }
    }

    out.extend(extra_rows(&db, "teams", tenant_id, &listed).await?);

    let locations: Vec<Vec<Location>> = client
        .list(integration, Endpoint::Locations, all.clone())
        .map_ok(|page| page.records)
        .try_collect()
        .await?;
    let mut listed = BTreeSet::new();
    for l in locations
        .iter()
        .flatten()
        .map(LocationFields::from_location)
    {
        listed.insert(l.kombo_id.clone());
        let row = db
            .query_opt(
                "SELECT remote_id, name, location_type, city, country, archived_at IS NOT NULL
                 FROM locations WHERE tenant_id = $1 AND kombo_id = $2",
                &[&tenant_id, &l.kombo_id],
            )
            .await?;
        let got = row.map(|r| {
            (
                r.get::<_, Option<String>>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, Option<String>>(2),
                r.get::<_, Option<String>>(3),
                r.get::<_, Option<String>>(4),
                r.get::<_, bool>(5),
            )
        });
        let want = Some((
            l.remote_id.clone(),
            l.name.clone(),
            l.location_type.clone(),
            l.city.clone(),
            l.country.clone(),
            l.remote_deleted_at.is_some(),
        ));
        if got != want {
            out.push(format!(
                "location {}: stored {got:?}, expected {want:?}",
                l.kombo_id
            ));
        }
    }

    out.extend(extra_rows(&db, "locations", tenant_id, &listed).await?);

    let absences: Vec<Vec<Absence>> = client
        .list(integration, Endpoint::Absences, all)
        .map_ok(|page| page.records)
        .try_collect()
        .await?;
    let mut seen = 0;
    for a in absences.iter().flatten().map(AbsenceFields::from_absence) {
        seen += 1;
        let row = db
            .query_opt(
                "SELECT start_date, end_date, status, counts, (SELECT u.kombo_id FROM users u WHERE u.id = a.user_id),
                        remote_id, type_kombo_id, start_time, end_time, amount, unit
                 FROM absences a WHERE tenant_id = $1 AND kombo_id = $2",
                &[&tenant_id, &a.kombo_id],
            )
            .await?;
        let got = row.map(|r| {
            (
                (
                    r.get::<_, Option<NaiveDate>>(0),
                    r.get::<_, Option<NaiveDate>>(1),
                    r.get::<_, Option<String>>(2),
                    r.get::<_, bool>(3),
                    r.get::<_, Option<String>>(4),
                ),
                (
                    r.get::<_, Option<String>>(5),
                    r.get::<_, Option<String>>(6),
                    r.get::<_, Option<String>>(7),
                    r.get::<_, Option<String>>(8),
                    r.get::<_, Option<f64>>(9),
                    r.get::<_, Option<String>>(10),
                ),
            )
        });
        let want = Some((
            (
                a.start_date,
                a.end_date,
                a.status.clone(),
                a.counts,
                Some(a.employee_kombo_id.clone()),
            ),
            (
                a.remote_id.clone(),
                a.type_kombo_id.clone(),
                a.start_time.clone(),
                a.end_time.clone(),
                a.amount,
                a.unit.clone(),
            ),
        ));
        if got != want {
            out.push(format!(
                "absence {}: stored {got:?}, expected {want:?}",
                a.kombo_id
            ));
        }
    }
    let stored: i64 = db
        .query_one(
            "SELECT count(*) FROM absences WHERE tenant_id = $1 AND dropped_at IS NULL",
            &[&tenant_id],
        )
        .await?
        .get(0);
    if stored as usize != seen {
        out.push(format!("{stored} absences stored, Kombo has {seen}"));
    }
    out.truncate(limit.max(1));
    Ok(out)
}

/// Rows of `table` (teams or locations) this tenant has that Kombo does not list:
/// an import is exact only if nothing was made up beside what matches.
async fn extra_rows(
    db: &deadpool_postgres::Object,
    table: &str,
    tenant_id: &str,
    listed: &BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    let stored: Vec<String> = db
        .query(
            &format!("SELECT kombo_id FROM {table} WHERE tenant_id = $1 ORDER BY kombo_id"),
            &[&tenant_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(stored
        .into_iter()
        .filter(|id| !listed.contains(id))
        .map(|id| format!("{table}: {id} stored, Kombo does not list it"))
        .collect())
}
