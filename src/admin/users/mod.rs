//! Users and groups from a CSV file: `trm users sync`, `trm add-users` and
//! `trm users export`.
//!
//! [`file`] reads the CSV into the users the site should have, [`state`]
//! reads what it has (with as few requests as the change needs), and
//! [`plan`] computes the minimal plan between the two, which the admin
//! engine applies. This module ties them together and sums up the outcome
//! per kind of change and per row.

pub mod file;
pub mod plan;
pub mod state;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub use file::{RowError, UserFile};
pub use plan::{build, Change, Context, RemoveMissing, SyncOptions, SyncPlan};
pub use state::SiteState;

use crate::admin::{Report, Status};
use crate::tableau::{Client, TableauError};

/// Reads what a sync of `file` needs: users and groups, the memberships of
/// the groups it manages, and content ownership when users may be deleted
/// without an heir.
///
/// Memberships are read whichever way takes fewer requests: per managed
/// group (`groups/{id}/users`, one page per 1,000 members) or per user the
/// sync may change (`users/{id}/groups`). A full file on a large site reads
/// per group; a few users naming big groups read per user.
pub async fn read_for_sync(
    client: &Client,
    file: &UserFile,
    opts: &SyncOptions,
    ctx: &Context,
) -> Result<SiteState, TableauError> {
    let mut state = SiteState::read(client).await?;
    let (managed, _) = plan::managed_groups(file, &state, opts);
    let groups: Vec<u32> = managed.iter().filter_map(|m| m.site).collect();
    if !groups.is_empty() {
        let scope = membership_scope(file, &state, opts, ctx);
        let per_group: u64 = groups
            .iter()
            .map(|&g| match state.groups[g as usize].user_count {
                0 => 0,
                u64::MAX => 1,
                n => n.div_ceil(crate::tableau::rest::PAGE_SIZE),
            })
            .sum();
        if (scope.len() as u64) < per_group {
            state.read_groups_of(client, &scope, &groups).await?;
        } else {
            state.read_members(client, &groups).await?;
        }
    }
    if opts.remove_missing == Some(RemoveMissing::Delete) && opts.map_assets_to.is_none() {
        if !plan::missing_users(file, &state, ctx, None).is_empty() {
            state.read_ownership(client).await?;
        }
    }
    Ok(state)
}

/// The existing users whose memberships a sync may change or compare: the
/// file's users (and the signed-in user, whose row is only compared), and
/// the users absent from the file who stay on the site with
/// `--remove-missing`.
fn membership_scope(
    file: &UserFile,
    state: &SiteState,
    opts: &SyncOptions,
    ctx: &Context,
) -> Vec<u32> {
    let mut scope: Vec<u32> = file
        .rows
        .iter()
        .filter_map(|r| state.user(&r.username))
        .collect();
    let staying = match opts.remove_missing {
        Some(RemoveMissing::Unlicense) => true,
        // Owners stay (unlicensed) unless their content has an heir.
        Some(RemoveMissing::Delete) => opts.map_assets_to.is_none(),
        None => false,
    };
    if staying {
        let heir = opts.map_assets_to.as_deref().and_then(|n| state.user(n));
        scope.extend(plan::missing_users(file, state, ctx, heir));
    }
    scope.sort_unstable();
    scope.dedup();
    scope
}

/// Today's users and their groups (All Users left out: Tableau manages it),
/// sorted by user name, in the file format. Groups whose name has a `;`
/// cannot be written in the `groups` column: they are left out and named
/// in the returned warnings (a sync then leaves them alone).
pub async fn export(client: &Client) -> Result<(Vec<file::ExportRow>, Vec<String>), TableauError> {
    let mut state = SiteState::read(client).await?;
    let mut warnings = Vec::new();
    let groups: Vec<u32> = (0..state.groups.len() as u32)
        .filter(|&g| {
            let name = &state.groups[g as usize].name;
            if name.contains(';') {
                warnings.push(format!("group '{name}' has a ';' in its name, which the groups column cannot hold: left out"));
            }
            !name.eq_ignore_ascii_case(file::ALL_USERS) && !name.contains(';')
        })
        .collect();
    state.read_members(client, &groups).await?;
    let mut of_user: Vec<Vec<String>> = vec![Vec::new(); state.users.len()];
    for &g in &groups {
        let group = &state.groups[g as usize];
        for &u in group.members.as_deref().unwrap_or_default() {
            of_user[u as usize].push(group.name.clone());
        }
    }
    let mut rows: Vec<file::ExportRow> = state
        .users
        .iter()
        .zip(of_user)
        .map(|(u, mut groups)| {
            groups.sort_by_key(|g| g.to_lowercase());
            file::ExportRow {
                username: u.name.clone(),
                site_role: u.site_role.clone(),
                email: u.email.clone(),
                full_name: u.full_name.clone(),
                auth_setting: u.auth_setting.clone(),
                groups,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.username.to_lowercase());
    Ok((rows, warnings))
}

/// The outcome per kind of change: planned (before applying) or applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unlicensed: usize,
    pub groups_created: usize,
    pub memberships_added: usize,
    pub memberships_removed: usize,
    /// Rows (and users absent from the file) that were not applied.
    pub errors: usize,
}

/// One row, or one user absent from the file, that was not applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// `line N (user)` or `user X (not in the file)` or a group.
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

impl SyncPlan {
    /// Counts per kind of change: of the calls the report says were applied,
    /// or of every planned call without a report.
    pub fn summary(&self, file: &UserFile, report: Option<&Report>) -> Summary {
        let mut s = Summary::default();
        for (i, change) in self.changes.iter().enumerate() {
            if let Some(r) = report {
                if r.results[i].status != Status::Applied {
                    continue;
                }
            }
            match *change {
                Change::CreateGroup => s.groups_created += 1,
                Change::AddUser => s.added += 1,
                Change::CompleteNewUser => {}
                Change::UpdateUser => s.updated += 1,
                Change::Unlicense => s.unlicensed += 1,
                Change::RemoveUser => s.removed += 1,
                Change::AddMembers(n) => s.memberships_added += n,
                Change::RemoveMembers(n) => s.memberships_removed += n,
            }
        }
        s.errors = self.problems(file, report).len();
        s
    }

    /// The file's bad rows, then every row or user with a call that failed
    /// or was skipped, with the call and its error.
    pub fn problems(&self, file: &UserFile, report: Option<&Report>) -> Vec<Problem> {
        let mut out: Vec<Problem> = file
            .errors
            .iter()
            .map(|e| Problem {
                unit: if e.username.is_empty() {
                    format!("line {}", e.line)
                } else {
                    format!("line {} ({})", e.line, e.username)
                },
                line: Some(e.line),
                column: Some(e.column.clone()),
                value: Some(e.value.clone()),
                message: e.message.clone(),
            })
            .collect();
        let Some(report) = report else { return out };
        let unit_of_line: BTreeMap<u64, String> =
            file.rows.iter().map(|r| (r.line, r.unit())).collect();
        // One problem per unit: its first failure, else its first skip.
        let mut by_unit: BTreeMap<(u64, String), Problem> = BTreeMap::new();
        let mut ordered: Vec<_> = report
            .results
            .iter()
            .filter(|r| matches!(r.status, Status::Failed | Status::Skipped))
            .collect();
        ordered.sort_by_key(|r| r.status != Status::Failed);
        for r in ordered {
            let call = &self.plan.calls[r.index];
            let message = format!(
                "{} [{}]: {}",
                call.summary,
                call.line(),
                r.error.as_deref().unwrap_or("failed")
            );
            let mut units: Vec<(u64, String)> = self.lines[r.index]
                .iter()
                .map(|l| {
                    (
                        *l,
                        unit_of_line
                            .get(l)
                            .cloned()
                            .unwrap_or_else(|| format!("line {l}")),
                    )
                })
                .collect();
            if units.is_empty() {
                units.push((
                    u64::MAX,
                    call.unit.clone().unwrap_or_else(|| call.summary.clone()),
                ));
            }
            for (line, unit) in units {
                by_unit
                    .entry((line, unit.clone()))
                    .or_insert_with(|| Problem {
                        unit,
                        line: (line != u64::MAX).then_some(line),
                        column: None,
                        value: None,
                        message: message.clone(),
                    });
            }
        }
        out.extend(by_unit.into_values());
        out
    }
}

impl Summary {
    /// The closing table, then the problems.
    pub fn render(&self, problems: &[Problem], planned: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            if planned {
                "Summary (planned):"
            } else {
                "Summary:"
            }
        );
        for (label, n) in [
            ("users added", self.added),
            ("users updated", self.updated),
            ("users removed", self.removed),
            ("users unlicensed", self.unlicensed),
            ("groups created", self.groups_created),
            ("memberships added", self.memberships_added),
            ("memberships removed", self.memberships_removed),
            ("errors", self.errors),
        ] {
            let _ = writeln!(out, "  {label:<22} {n:>8}");
        }
        if !problems.is_empty() {
            let _ = writeln!(out, "Errors:");
            for p in problems {
                match (&p.column, &p.value) {
                    (Some(c), Some(v)) if !v.is_empty() => {
                        let _ =
                            writeln!(out, "  {}, column {c}, value {v:?}: {}", p.unit, p.message);
                    }
                    (Some(c), _) => {
                        let _ = writeln!(out, "  {}, column {c}: {}", p.unit, p.message);
                    }
                    _ => {
                        let _ = writeln!(out, "  {}: {}", p.unit, p.message);
                    }
                }
            }
        }
        out
    }
}
