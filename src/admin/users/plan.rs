//! From a file and the site's state to the minimal plan of REST calls.
//!
//! Steps:
//! 1. create the missing groups and add the new users; both `creates` an
//!    id (`group:<name>`, `user:<name>`) the next step uses;
//! 2. everything else: user updates (and a new user's email and full name,
//!    which `POST users` does not take), unlicensing and removals, and the
//!    memberships.
//!
//! Memberships of existing users go one call per group and direction where
//! the server has the bulk endpoints (REST API 3.21: `POST groups/{id}/users`
//! with a list, `PUT groups/{id}/users/remove`), else one call per member.
//! A new user's memberships are always one call each, tied to their row:
//! if adding the user fails, only their own calls are skipped, where a bulk
//! call naming them would be skipped for everyone in it.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::file::{Row, UserFile, ALL_USERS};
use super::state::SiteState;
use crate::admin::plan::{placeholder, Call, Plan, WriteMethod};

/// Users on the site but not in the file, with `--remove-missing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveMissing {
    /// Site role Unlicensed: they keep their content and can be licensed again.
    Unlicense,
    /// `DELETE users/{id}`; owners only with `--map-assets-to`.
    Delete,
}

#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    pub remove_missing: Option<RemoveMissing>,
    /// The user (name) who gets deleted users' content.
    pub map_assets_to: Option<String>,
    /// Manage these groups only (default: every group the file names).
    pub only_groups: Option<Vec<String>>,
    /// Remove memberships the file does not list (`trm add-users` only adds).
    pub remove_memberships: bool,
}

impl SyncOptions {
    /// `trm users sync` without removals of users.
    pub fn sync() -> SyncOptions {
        SyncOptions {
            remove_memberships: true,
            ..SyncOptions::default()
        }
    }

    /// `trm add-users`: adds and updates, never removes.
    pub fn add_only() -> SyncOptions {
        SyncOptions::default()
    }
}

/// What the server can do and who is signed in.
#[derive(Clone, Debug)]
pub struct Context {
    /// The signed-in user's LUID: never changed.
    pub admin_id: String,
    /// The server has the bulk membership endpoints (REST API 3.21+).
    pub bulk: bool,
}

impl Context {
    pub fn new(admin_id: String, api_version: &str) -> Context {
        Context {
            admin_id,
            bulk: version_at_least(api_version, 3, 21),
        }
    }
}

/// `"3.21"` ≥ 3.21.
pub fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .trim()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// Users per bulk membership call: large lists go in several calls.
pub const BULK_CHUNK: usize = 1000;

/// What one call changes, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    CreateGroup,
    AddUser,
    /// The follow-up `PUT` that sets a new user's email and full name.
    CompleteNewUser,
    UpdateUser,
    Unlicense,
    RemoveUser,
    AddMembers(usize),
    RemoveMembers(usize),
}

/// A plan with, per call, what it changes and the file lines it serves.
#[derive(Clone, Debug, Default)]
pub struct SyncPlan {
    pub plan: Plan,
    pub changes: Vec<Change>,
    /// Per call, the lines it applies (several for a bulk call; none for a
    /// group creation or a user absent from the file).
    pub lines: Vec<Vec<u64>>,
}

impl SyncPlan {
    fn push(&mut self, call: Call, change: Change, lines: Vec<u64>) {
        self.plan.push(call);
        self.changes.push(change);
        self.lines.push(lines);
    }
}

/// A problem with the options against this site: nothing is applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("--map-assets-to {0}: no such user on the site")]
    UnknownHeir(String),
    #[error("--map-assets-to {0}: that is a user the plan removes")]
    HeirRemoved(String),
    #[error("--only-groups needs a 'groups' column in the file")]
    OnlyGroupsWithoutColumn,
    #[error(
        "content ownership was not read; it is needed to delete users without --map-assets-to"
    )]
    OwnershipNotRead,
}

/// A group the file manages.
#[derive(Clone, Debug)]
pub struct Managed {
    /// As the site spells it, or as the file first does for a new group.
    pub name: String,
    pub site: Option<u32>,
}

/// The groups the file manages: `--only-groups`, or every group the file
/// names; never All Users. Also the notes about names left out.
pub fn managed_groups(
    file: &UserFile,
    state: &SiteState,
    opts: &SyncOptions,
) -> (Vec<Managed>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out: Vec<Managed> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    if !file.has_groups {
        return (out, notes);
    }
    let named: Vec<&str> = file
        .rows
        .iter()
        .flat_map(|r| r.groups.iter().map(String::as_str))
        .collect();
    let named_set: HashSet<String> = named.iter().map(|n| n.to_lowercase()).collect();
    let wanted: Vec<&str> = match &opts.only_groups {
        Some(only) => only.iter().map(String::as_str).collect(),
        None => named,
    };
    for name in wanted {
        let key = name.trim().to_lowercase();
        if key.is_empty() || !seen.insert(key.clone()) {
            continue;
        }
        if key == ALL_USERS.to_lowercase() {
            notes.push(format!(
                "'{ALL_USERS}' holds every user and Tableau manages it: left as it is"
            ));
            continue;
        }
        match state.group(name.trim()) {
            Some(g) => out.push(Managed {
                name: state.groups[g as usize].name.clone(),
                site: Some(g),
            }),
            None if named_set.contains(&key) => out.push(Managed {
                name: name.trim().to_string(),
                site: None,
            }),
            None => notes.push(format!(
                "--only-groups {}: no such group on the site and no row names it",
                name.trim()
            )),
        }
    }
    (out, notes)
}

/// The site users `--remove-missing` applies to: not named in the file, not
/// the signed-in user, not the heir of deleted users' content.
pub fn missing_users(
    file: &UserFile,
    state: &SiteState,
    ctx: &Context,
    heir: Option<u32>,
) -> Vec<u32> {
    (0..state.users.len() as u32)
        .filter(|&u| {
            let user = &state.users[u as usize];
            user.id != ctx.admin_id
                && Some(u) != heir
                && !file.named.contains(&user.name.to_lowercase())
        })
        .collect()
}

fn user_body(fields: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    json!({ "user": map })
}

fn users_body(ids: &[String]) -> Value {
    json!({ "users": { "user": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>() } })
}

/// The minimal plan that makes the site match the file.
pub fn build(
    file: &UserFile,
    state: &SiteState,
    opts: &SyncOptions,
    ctx: &Context,
) -> Result<SyncPlan, PlanError> {
    if opts.only_groups.is_some() && !file.has_groups {
        return Err(PlanError::OnlyGroupsWithoutColumn);
    }
    let mut out = SyncPlan::default();
    let heir = match &opts.map_assets_to {
        Some(name) => Some(
            state
                .user(name)
                .ok_or_else(|| PlanError::UnknownHeir(name.clone()))?,
        ),
        None => None,
    };
    let (managed, notes) = managed_groups(file, state, opts);
    for n in notes {
        out.plan.note(None, n);
    }
    let managed_at: HashMap<String, usize> = managed
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.to_lowercase(), i))
        .collect();
    let group_path = |m: usize| -> String {
        match managed[m].site {
            Some(g) => format!("groups/{}/users", state.groups[g as usize].id),
            None => format!("groups/{}/users", placeholder(&group_key(&managed[m].name))),
        }
    };

    // Step 1: groups, then users.
    for m in &managed {
        if m.site.is_none() {
            out.push(
                Call::site(
                    WriteMethod::Post,
                    "groups",
                    "create group",
                    format!("create group {}", m.name),
                )
                .body(json!({"group": {"name": m.name}}))
                .creates(group_key(&m.name), "group"),
                Change::CreateGroup,
                Vec::new(),
            );
        }
    }
    let admin = state.user_by_id.get(&ctx.admin_id).copied();
    // Existing users the file speaks for: their memberships are managed.
    let mut in_file: HashMap<u32, &Row> = HashMap::new();
    let mut new_rows: Vec<&Row> = Vec::new();
    for row in &file.rows {
        match state.user(&row.username) {
            Some(u) if Some(u) == admin => {
                if row_differs(row, state, u, &managed_at) {
                    out.plan.note(
                        Some(row.unit()),
                        "the signed-in user is never changed by a sync: row left out",
                    );
                }
            }
            Some(u) => {
                in_file.insert(u, row);
            }
            None => {
                new_rows.push(row);
                let mut fields: Vec<(&str, &str)> =
                    vec![("name", row.username.as_str()), ("siteRole", row.site_role)];
                if let Some(a) = &row.auth_setting {
                    fields.push(("authSetting", a.as_str()));
                }
                out.push(
                    Call::site(
                        WriteMethod::Post,
                        "users",
                        "add user",
                        format!("add {} as {}", row.username, row.site_role),
                    )
                    .body(user_body(&fields))
                    .creates(user_key(&row.username), "user")
                    .unit(row.unit()),
                    Change::AddUser,
                    vec![row.line],
                );
            }
        }
    }

    // Step 2: users' settings.
    for row in &new_rows {
        let mut fields: Vec<(&str, &str)> = Vec::new();
        if let Some(e) = &row.email {
            fields.push(("email", e.as_str()));
        }
        if let Some(n) = &row.full_name {
            fields.push(("fullName", n.as_str()));
        }
        if !fields.is_empty() {
            let what: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
            out.push(
                Call::site(
                    WriteMethod::Put,
                    format!("users/{}", placeholder(&user_key(&row.username))),
                    "set new user's details",
                    format!("set {} of {}", what.join(", "), row.username),
                )
                .body(user_body(&fields))
                .step(2)
                .unit(row.unit()),
                Change::CompleteNewUser,
                vec![row.line],
            );
        }
    }
    for row in &file.rows {
        let Some(u) = state
            .user(&row.username)
            .filter(|u| in_file.contains_key(u))
        else {
            continue;
        };
        let fields = changed_fields(row, &state.users[u as usize]);
        if fields.is_empty() {
            continue;
        }
        let user = &state.users[u as usize];
        let what: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.push(
            Call::site(
                WriteMethod::Put,
                format!("users/{}", user.id),
                "update user",
                format!("update {}: {}", row.username, what.join(", ")),
            )
            .body(user_body(&pairs))
            .step(2)
            .unit(row.unit()),
            Change::UpdateUser,
            vec![row.line],
        );
    }

    // Users absent from the file. Those who stay (unlicensed) leave the
    // managed groups; deleted users leave every group with their account.
    let mut absent_staying: HashSet<u32> = HashSet::new();
    if let Some(mode) = opts.remove_missing {
        let missing = missing_users(file, state, ctx, heir);
        if let (Some(name), Some(h)) = (&opts.map_assets_to, heir) {
            if !file
                .named
                .contains(&state.users[h as usize].name.to_lowercase())
                && state.users[h as usize].id != ctx.admin_id
            {
                out.plan.note(
                    None,
                    format!("{name} is not in the file but gets deleted users' content: kept"),
                );
            }
        }
        for u in missing {
            let user = &state.users[u as usize];
            let unit = format!("user {} (not in the file)", user.name);
            let owned = match (mode, heir) {
                (RemoveMissing::Delete, None) => {
                    let owned = state.owned.as_ref().ok_or(PlanError::OwnershipNotRead)?;
                    owned.get(&u).copied().unwrap_or_default()
                }
                _ => Default::default(),
            };
            let delete = mode == RemoveMissing::Delete && (heir.is_some() || owned.total() == 0);
            if delete {
                let (path, summary) = match heir {
                    Some(h) => {
                        let heir = &state.users[h as usize];
                        (
                            format!("users/{}?mapAssetsTo={}", user.id, heir.id),
                            format!("remove {}; their content goes to {}", user.name, heir.name),
                        )
                    }
                    None => (
                        format!("users/{}", user.id),
                        format!("remove {}", user.name),
                    ),
                };
                out.push(
                    Call::site(WriteMethod::Delete, path, "remove user", summary)
                        .step(2)
                        .unit(unit),
                    Change::RemoveUser,
                    Vec::new(),
                );
                continue;
            }
            absent_staying.insert(u);
            if mode == RemoveMissing::Delete {
                out.plan.note(
                    Some(unit.clone()),
                    format!("owns {}: unlicensed, not removed (give --map-assets-to USER to remove them and hand their content over)", owned.describe()),
                );
            }
            if user.site_role != "Unlicensed" {
                out.push(
                    Call::site(
                        WriteMethod::Put,
                        format!("users/{}", user.id),
                        "unlicense user",
                        format!("unlicense {} (was {})", user.name, user.site_role),
                    )
                    .body(user_body(&[("siteRole", "Unlicensed")]))
                    .step(2)
                    .unit(unit),
                    Change::Unlicense,
                    Vec::new(),
                );
            }
        }
    }

    // Memberships.
    let mut adds: Vec<Vec<(u32, u64)>> = vec![Vec::new(); managed.len()];
    for row in &file.rows {
        let Some(u) = state
            .user(&row.username)
            .filter(|u| in_file.contains_key(u))
        else {
            continue;
        };
        for name in &row.groups {
            let Some(&m) = managed_at.get(&name.to_lowercase()) else {
                continue;
            };
            let member = managed[m].site.is_some_and(|g| is_member(state, g, u));
            if !member {
                adds[m].push((u, row.line));
            }
        }
    }
    for row in &new_rows {
        for name in &row.groups {
            let Some(&m) = managed_at.get(&name.to_lowercase()) else {
                continue;
            };
            out.push(
                Call::site(
                    WriteMethod::Post,
                    group_path(m),
                    "add to group",
                    format!("add {} to {}", row.username, managed[m].name),
                )
                .body(json!({"user": {"id": placeholder(&user_key(&row.username))}}))
                .step(2)
                .unit(row.unit()),
                Change::AddMembers(1),
                vec![row.line],
            );
        }
    }
    for (m, list) in adds.iter().enumerate() {
        membership_calls(
            &mut out,
            ctx,
            state,
            &in_file,
            &managed[m].name,
            &group_path(m),
            list,
            true,
        );
    }
    if opts.remove_memberships {
        for (m, group) in managed.iter().enumerate() {
            let Some(g) = group.site else { continue };
            let members = state.groups[g as usize]
                .members
                .as_deref()
                .unwrap_or_default();
            let key = group.name.to_lowercase();
            let mut removes: Vec<(u32, u64)> = Vec::new();
            for &u in members {
                let leave = match in_file.get(&u) {
                    Some(row) => !row.groups.iter().any(|n| n.to_lowercase() == key),
                    None => absent_staying.contains(&u),
                };
                if leave {
                    removes.push((u, in_file.get(&u).map_or(0, |r| r.line)));
                }
            }
            membership_calls(
                &mut out,
                ctx,
                state,
                &in_file,
                &group.name,
                &group_path(m),
                &removes,
                false,
            );
        }
    }
    Ok(out)
}

/// Adds (or removes) `members` of one group: one bulk call per chunk where
/// the server has them and more than one member changes, else one call each.
#[allow(clippy::too_many_arguments)]
fn membership_calls(
    out: &mut SyncPlan,
    ctx: &Context,
    state: &SiteState,
    in_file: &HashMap<u32, &Row>,
    group: &str,
    members_path: &str,
    members: &[(u32, u64)],
    add: bool,
) {
    if members.is_empty() {
        return;
    }
    let unit_of = |u: u32| match in_file.get(&u) {
        Some(row) => row.unit(),
        None => format!("user {} (not in the file)", state.users[u as usize].name),
    };
    let name = |u: u32| state.users[u as usize].name.as_str();
    if ctx.bulk && members.len() > 1 {
        for chunk in members.chunks(BULK_CHUNK) {
            let ids: Vec<String> = chunk
                .iter()
                .map(|(u, _)| state.users[*u as usize].id.clone())
                .collect();
            let lines: Vec<u64> = chunk.iter().map(|(_, l)| *l).filter(|l| *l > 0).collect();
            let (call, change) = if add {
                (
                    Call::site(
                        WriteMethod::Post,
                        members_path,
                        "add to group",
                        format!("add {} users to {group}", ids.len()),
                    ),
                    Change::AddMembers(ids.len()),
                )
            } else {
                (
                    Call::site(
                        WriteMethod::Put,
                        format!("{members_path}/remove"),
                        "remove from group",
                        format!("remove {} users from {group}", ids.len()),
                    ),
                    Change::RemoveMembers(ids.len()),
                )
            };
            out.push(call.body(users_body(&ids)).step(2), change, lines);
        }
        return;
    }
    for &(u, line) in members {
        let id = &state.users[u as usize].id;
        let lines = if line > 0 { vec![line] } else { Vec::new() };
        let call = if add {
            Call::site(
                WriteMethod::Post,
                members_path,
                "add to group",
                format!("add {} to {group}", name(u)),
            )
            .body(json!({"user": {"id": id}}))
        } else {
            Call::site(
                WriteMethod::Delete,
                format!("{members_path}/{id}"),
                "remove from group",
                format!("remove {} from {group}", name(u)),
            )
        };
        let change = if add {
            Change::AddMembers(1)
        } else {
            Change::RemoveMembers(1)
        };
        out.push(call.step(2).unit(unit_of(u)), change, lines);
    }
}

fn group_key(name: &str) -> String {
    format!("group:{}", name.to_lowercase())
}

fn user_key(name: &str) -> String {
    format!("user:{}", name.to_lowercase())
}

fn is_member(state: &SiteState, g: u32, u: u32) -> bool {
    state.groups[g as usize]
        .members
        .as_deref()
        .is_some_and(|m| m.binary_search(&u).is_ok())
}

/// The settings of an existing user the row changes, as (REST field, value).
fn changed_fields(row: &Row, user: &super::state::SiteUser) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let current_role =
        super::file::canonical_role(&user.site_role).unwrap_or(user.site_role.as_str());
    if row.site_role != current_role {
        out.push(("siteRole", row.site_role.to_string()));
    }
    if let Some(e) = row.email.as_ref().filter(|e| **e != user.email) {
        out.push(("email", e.clone()));
    }
    if let Some(n) = row.full_name.as_ref().filter(|n| **n != user.full_name) {
        out.push(("fullName", n.clone()));
    }
    if let Some(a) = row
        .auth_setting
        .as_ref()
        .filter(|a| **a != user.auth_setting)
    {
        out.push(("authSetting", a.clone()));
    }
    out
}

/// Whether a row asks for any change to an existing user (for the note on
/// the signed-in user's row).
fn row_differs(row: &Row, state: &SiteState, u: u32, managed_at: &HashMap<String, usize>) -> bool {
    if !changed_fields(row, &state.users[u as usize]).is_empty() {
        return true;
    }
    let wanted: HashSet<String> = row
        .groups
        .iter()
        .map(|g| g.to_lowercase())
        .filter(|g| managed_at.contains_key(g))
        .collect();
    state.groups.iter().enumerate().any(|(g, group)| {
        let key = group.name.to_lowercase();
        managed_at.contains_key(&key) && is_member(state, g as u32, u) != wanted.contains(&key)
    }) || wanted.iter().any(|k| state.group(k).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::users::state::{SiteGroup, SiteUser};

    fn state() -> SiteState {
        let mut s = SiteState::default();
        for (i, (name, role)) in [
            ("admin@x.com", "SiteAdministratorCreator"),
            ("a@x.com", "Viewer"),
            ("b@x.com", "Explorer"),
            ("c@x.com", "Viewer"),
        ]
        .iter()
        .enumerate()
        {
            s.users.push(SiteUser {
                id: format!("u{i}"),
                name: name.to_string(),
                site_role: role.to_string(),
                email: name.to_string(),
                full_name: String::new(),
                auth_setting: "ServerDefault".into(),
            });
            s.user_by_name.insert(name.to_string(), i as u32);
            s.user_by_id.insert(format!("u{i}"), i as u32);
        }
        for (i, (name, members)) in [
            ("All Users", vec![0, 1, 2, 3]),
            ("Sales", vec![1, 2]),
            ("Ops", vec![3]),
        ]
        .into_iter()
        .enumerate()
        {
            s.groups.push(SiteGroup {
                id: format!("g{i}"),
                name: name.into(),
                user_count: members.len() as u64,
                members: Some(members),
            });
            s.group_by_name.insert(name.to_lowercase(), i as u32);
        }
        s
    }

    fn file(text: &str) -> UserFile {
        UserFile::parse(text.as_bytes(), "t.csv").unwrap()
    }

    fn ctx(bulk: bool) -> Context {
        Context {
            admin_id: "u0".into(),
            bulk,
        }
    }

    fn lines(p: &SyncPlan) -> Vec<String> {
        p.plan.calls.iter().map(|c| c.line()).collect()
    }

    #[test]
    fn a_matching_file_plans_nothing() {
        let f = file("username,site_role,groups\nadmin@x.com,SiteAdministratorCreator,\na@x.com,Viewer,Sales\nb@x.com,Explorer,Sales\nc@x.com,Viewer,Ops\n");
        let p = build(&f, &state(), &SyncOptions::sync(), &ctx(true)).unwrap();
        assert!(p.plan.is_empty(), "{:?}", lines(&p));
    }

    #[test]
    fn adds_updates_and_memberships() {
        let f = file("username,site_role,email,groups\nA@x.com,Creator,,Ops\nb@x.com,Explorer,,\nn@x.com,Viewer,n@x.com,Sales;New\n");
        let p = build(&f, &state(), &SyncOptions::sync(), &ctx(true)).unwrap();
        p.plan.check().unwrap();
        assert_eq!(
            lines(&p),
            vec![
                "POST groups",
                "POST users",
                "PUT users/{new:user:n@x.com}",
                "PUT users/u1",
                "POST groups/g1/users",
                "POST groups/{new:group:new}/users",
                "POST groups/g2/users",
                // a and b both leave Sales: one bulk call.
                "PUT groups/g1/users/remove",
            ]
        );
        assert_eq!(p.changes[7], Change::RemoveMembers(2));
        assert_eq!(p.lines[7], vec![2, 3]);
        // c is not in the file: untouched without --remove-missing.
        assert!(!lines(&p).iter().any(|l| l.contains("u3")));
        let per_member = build(&f, &state(), &SyncOptions::sync(), &ctx(false)).unwrap();
        assert!(lines(&per_member).contains(&"DELETE groups/g1/users/u1".to_string()));
        assert_eq!(per_member.plan.len(), p.plan.len() + 1);
        let add_only = build(&f, &state(), &SyncOptions::add_only(), &ctx(true)).unwrap();
        assert!(!lines(&add_only).iter().any(|l| l.contains("remove")));
    }

    #[test]
    fn missing_users_are_unlicensed_or_removed_but_owners_need_an_heir() {
        let f = file("username,site_role,groups\na@x.com,Viewer,Sales;Ops\n");
        let mut s = state();
        s.owned = Some(HashMap::from([(
            2,
            crate::admin::users::state::Owned {
                workbooks: 2,
                ..Default::default()
            },
        )]));
        let opts = SyncOptions {
            remove_missing: Some(RemoveMissing::Delete),
            ..SyncOptions::sync()
        };
        let p = build(&f, &s, &opts, &ctx(true)).unwrap();
        let l = lines(&p);
        assert!(l.contains(&"DELETE users/u3".to_string()), "{l:?}");
        assert!(
            l.contains(&"PUT users/u2".to_string()),
            "b owns content: unlicensed"
        );
        assert!(
            l.contains(&"DELETE groups/g1/users/u2".to_string()),
            "and leaves the managed group"
        );
        assert!(!l.iter().any(|x| x.contains("u0")), "never the admin");
        assert!(p
            .plan
            .notes
            .iter()
            .any(|n| n.message.contains("owns 2 workbooks")));

        let heir = SyncOptions {
            map_assets_to: Some("a@x.com".into()),
            ..opts.clone()
        };
        let p = build(&f, &state(), &heir, &ctx(true)).unwrap();
        assert!(lines(&p).contains(&"DELETE users/u2?mapAssetsTo=u1".to_string()));
        assert!(matches!(
            build(&f, &state(), &opts, &ctx(true)),
            Err(PlanError::OwnershipNotRead)
        ));
        let bad = SyncOptions {
            map_assets_to: Some("zz".into()),
            ..opts
        };
        assert!(matches!(
            build(&f, &state(), &bad, &ctx(true)),
            Err(PlanError::UnknownHeir(_))
        ));
    }

    #[test]
    fn only_groups_limits_what_is_managed() {
        let f = file("username,site_role,groups\na@x.com,Viewer,Other\nb@x.com,Explorer,\n");
        let opts = SyncOptions {
            only_groups: Some(vec!["sales".into()]),
            ..SyncOptions::sync()
        };
        let p = build(&f, &state(), &opts, &ctx(true)).unwrap();
        assert_eq!(lines(&p), vec!["PUT groups/g1/users/remove"]);
    }

    #[test]
    fn versions() {
        assert!(
            version_at_least("3.21", 3, 21)
                && version_at_least("3.27", 3, 21)
                && version_at_least("4.0", 3, 21)
        );
        assert!(!version_at_least("3.20", 3, 21) && !version_at_least("2.8", 3, 21));
    }
}
