//! `trm users sync` against the simulated site: a file of 200 users lands
//! exactly, a rerun writes nothing, export then sync plans nothing, owners
//! are deleted only with an heir, bad rows and failed calls are reported
//! per row, and memberships use the bulk endpoints only where the API
//! version has them.
//!
//! Expectations come from the site's dataset model (read before and after)
//! and its call log; the expected number of calls is counted here from the
//! dataset and the file, not taken from the plan.

#[path = "support/site.rs"]
mod site;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use trm::admin::users::{self, Context, RemoveMissing, SyncOptions, SyncPlan, UserFile};
use trm::admin::{self, Options, Report, Status};
use trm::sim::dataset::Size;
use trm::sim::faults::{Fault, FaultKind, FaultPlan, MethodFilter, Trigger};
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::retry::RetryPolicy;
use trm::tableau::Client;

async fn start(size: Size, faults: FaultPlan) -> SimHandle {
    sim::start(
        SimConfig {
            size,
            faults,
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("site starts")
}

async fn connect(handle: &SimHandle, api_version: Option<&str>) -> Client {
    let mut settings = site::settings(handle, &site::scratch("users-sync"));
    settings.api_version = api_version.map(str::to_string);
    let policy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    Client::connect_with(&settings, policy)
        .await
        .expect("signs in")
}

/// Reads the site, plans, and (unless `dry`) applies.
async fn sync(
    client: &Client,
    text: &str,
    opts: &SyncOptions,
    dry: bool,
) -> (UserFile, SyncPlan, Option<Report>) {
    let file = UserFile::parse(text.as_bytes(), "users.csv").expect("a readable file");
    let ctx = Context::new(client.user_id(), &client.api_version());
    let state = users::read_for_sync(client, &file, opts, &ctx)
        .await
        .expect("reads the site");
    let plan = users::build(&file, &state, opts, &ctx).expect("plans");
    plan.plan.check().expect("a well-formed plan");
    let report = if dry {
        None
    } else {
        Some(
            admin::apply(
                client,
                &plan.plan,
                Options::skip_failed_units(4),
                &|_, _| {},
            )
            .await,
        )
    };
    (file, plan, report)
}

fn writes(handle: &SimHandle) -> Vec<(String, String, u16)> {
    handle
        .state
        .calls
        .snapshot()
        .into_iter()
        .map(|c| (c.method, c.path, c.status))
        .collect()
}

// --- the dataset, as the test reads it ---------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct U {
    id: String,
    name: String,
    role: String,
    email: String,
    full_name: String,
    /// Group names, lower case.
    groups: BTreeSet<String>,
}

#[derive(Clone, Debug)]
struct Snap {
    /// Lower-case name → user (live users only).
    users: HashMap<String, U>,
    /// Lower-case group name → members' lower-case names (live groups only).
    groups: HashMap<String, BTreeSet<String>>,
    admin: String,
}

fn snap(handle: &SimHandle) -> Snap {
    let d = handle.state.data();
    let mut users = HashMap::new();
    for u in d.users.iter().filter(|u| !u.deleted) {
        let groups = u
            .groups
            .iter()
            .map(|&g| d.groups[g as usize].name.to_lowercase())
            .collect();
        users.insert(
            u.name.to_lowercase(),
            U {
                id: u.id.clone(),
                name: u.name.clone(),
                role: u.site_role.as_str().to_string(),
                email: u.email.clone(),
                full_name: u.full_name.clone(),
                groups,
            },
        );
    }
    let groups = d
        .groups
        .iter()
        .filter(|g| !g.deleted)
        .map(|g| {
            (
                g.name.to_lowercase(),
                g.members
                    .iter()
                    .map(|&m| d.users[m as usize].name.to_lowercase())
                    .collect(),
            )
        })
        .collect();
    Snap {
        users,
        groups,
        admin: d.users[0].name.to_lowercase(),
    }
}

// --- files --------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Want {
    name: String,
    role: &'static str,
    email: String,
    full_name: String,
    groups: Vec<String>,
}

fn csv_text(rows: &[Want]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["username", "site_role", "email", "full_name", "groups"])
        .unwrap();
    for r in rows {
        w.write_record([
            r.name.as_str(),
            r.role,
            &r.email,
            &r.full_name,
            &r.groups.join(";"),
        ])
        .unwrap();
    }
    // With a byte order mark, as spreadsheets save UTF-8.
    format!(
        "\u{feff}{}",
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    )
}

/// A small deterministic generator.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const ROLES: [&str; 6] = [
    "Creator",
    "Explorer",
    "ExplorerCanPublish",
    "Viewer",
    "SiteAdministratorExplorer",
    "Unlicensed",
];

/// 200 rows on the small site (40 users, 8 groups): 30 of its users (a
/// third with a new role, some with a new email or full name), 170 new
/// ones; 9 of its users are absent. Groups: 4 of the site's and 3 new ones.
fn two_hundred(before: &Snap) -> (Vec<Want>, Vec<String>) {
    let mut rng = Lcg(7);
    let mut existing: Vec<&U> = before
        .users
        .values()
        .filter(|u| u.name.to_lowercase() != before.admin)
        .collect();
    existing.sort_by(|a, b| a.name.cmp(&b.name));
    let mut site_groups: Vec<&String> =
        before.groups.keys().filter(|g| *g != "all users").collect();
    site_groups.sort();
    let mut groups: Vec<String> = site_groups[..4].iter().map(|g| g.to_string()).collect();
    groups.extend(["Team New 1", "Team New 2", "Team, New 3"].map(String::from));
    let pick = |rng: &mut Lcg| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for _ in 0..rng.below(4) {
            let g = groups[rng.below(groups.len() as u64) as usize].clone();
            if !out.iter().any(|x| x.eq_ignore_ascii_case(&g)) {
                out.push(g);
            }
        }
        out
    };
    let mut rows = Vec::new();
    for (i, u) in existing.iter().take(30).enumerate() {
        let role = if i % 3 == 0 {
            *ROLES.iter().find(|r| **r != u.role).unwrap()
        } else {
            ROLES
                .iter()
                .copied()
                .find(|r| *r == u.role)
                .unwrap_or("Viewer")
        };
        let email = if i % 5 == 0 {
            format!("renamed.{}", u.email)
        } else {
            u.email.clone()
        };
        let full_name = if i % 7 == 0 {
            format!("Renamed, {i}")
        } else {
            u.full_name.clone()
        };
        rows.push(Want {
            name: u.name.clone(),
            role,
            email,
            full_name,
            groups: pick(&mut rng),
        });
    }
    for i in 0..170 {
        let name = format!("new.user{i:03}@example.com");
        let role = ROLES[rng.below(ROLES.len() as u64) as usize];
        let full_name = if i % 4 == 0 {
            String::new()
        } else {
            format!("New \"User\" {i}")
        };
        let email = if i % 6 == 0 {
            String::new()
        } else {
            format!("new.user{i:03}@example.org")
        };
        rows.push(Want {
            name,
            role,
            email,
            full_name,
            groups: pick(&mut rng),
        });
    }
    (rows, groups)
}

/// The calls a sync of `rows` should make, counted from the dataset before
/// it: the rules of docs/users.md.
fn expected_calls(
    before: &Snap,
    rows: &[Want],
    managed: &[String],
    unlicense_missing: bool,
    bulk: bool,
) -> usize {
    let managed: HashSet<String> = managed.iter().map(|g| g.to_lowercase()).collect();
    let per_group = |n: usize| {
        if n == 0 {
            0
        } else if bulk {
            n.div_ceil(1000)
        } else {
            n
        }
    };
    let mut calls = managed
        .iter()
        .filter(|g| !before.groups.contains_key(*g))
        .count();
    let mut adds: HashMap<String, usize> = HashMap::new();
    let mut removes: HashMap<String, usize> = HashMap::new();
    let in_file: HashSet<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
    for r in rows {
        let wanted: HashSet<String> = r.groups.iter().map(|g| g.to_lowercase()).collect();
        match before.users.get(&r.name.to_lowercase()) {
            None => {
                calls +=
                    1 + usize::from(!r.email.is_empty() || !r.full_name.is_empty()) + wanted.len();
            }
            Some(u) => {
                let differs = u.role != r.role
                    || (!r.email.is_empty() && r.email != u.email)
                    || (!r.full_name.is_empty() && r.full_name != u.full_name);
                calls += usize::from(differs);
                for g in &managed {
                    match (wanted.contains(g), u.groups.contains(g)) {
                        (true, false) => *adds.entry(g.clone()).or_default() += 1,
                        (false, true) => *removes.entry(g.clone()).or_default() += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    if unlicense_missing {
        for (name, u) in &before.users {
            if in_file.contains(name) || *name == before.admin {
                continue;
            }
            calls += usize::from(u.role != "Unlicensed");
            for g in managed.iter().filter(|g| u.groups.contains(*g)) {
                *removes.entry(g.clone()).or_default() += 1;
            }
        }
    }
    calls
        + adds.values().map(|&n| per_group(n)).sum::<usize>()
        + removes.values().map(|&n| per_group(n)).sum::<usize>()
}

/// The site holds what the rows say: users, roles, emails, full names, and
/// exactly the file's members in each managed group. The admin, never
/// touched, keeps their memberships, and so do users absent from the file
/// when `absent_keep` (no `--remove-missing`).
fn assert_site_matches(
    before: &Snap,
    after: &Snap,
    rows: &[Want],
    managed: &[String],
    absent_keep: bool,
) {
    for r in rows {
        let u = after
            .users
            .get(&r.name.to_lowercase())
            .unwrap_or_else(|| panic!("{} is on the site", r.name));
        assert_eq!(u.role, r.role, "{}", r.name);
        if !r.email.is_empty() {
            assert_eq!(u.email, r.email, "{}", r.name);
        }
        if !r.full_name.is_empty() {
            assert_eq!(u.full_name, r.full_name, "{}", r.name);
        }
    }
    for g in managed {
        let key = g.to_lowercase();
        let mut want: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.groups.iter().any(|x| x.eq_ignore_ascii_case(g)))
            .map(|r| r.name.to_lowercase())
            .collect();
        let in_file: HashSet<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
        for m in before.groups.get(&key).into_iter().flatten() {
            if *m == before.admin || (absent_keep && !in_file.contains(m)) {
                want.insert(m.clone());
            }
        }
        assert_eq!(after.groups.get(&key), Some(&want), "members of {g}");
    }
    assert_eq!(
        after.users[&before.admin], before.users[&before.admin],
        "the signed-in admin is untouched"
    );
}

#[tokio::test]
async fn two_hundred_users_land_exactly_and_a_rerun_writes_nothing() {
    let handle = start(Size::Small, FaultPlan::default()).await;
    let client = connect(&handle, None).await;
    let before = snap(&handle);
    let (rows, managed) = two_hundred(&before);
    let text = csv_text(&rows);
    let opts = SyncOptions {
        remove_missing: Some(RemoveMissing::Unlicense),
        ..SyncOptions::sync()
    };

    let (file, dry, _) = sync(&client, &text, &opts, true).await;
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    assert!(writes(&handle).is_empty(), "a dry run writes nothing");
    let expected = expected_calls(&before, &rows, &managed, true, true);
    assert_eq!(dry.plan.len(), expected, "{}", dry.plan.render(3));
    assert!(dry
        .plan
        .render(3)
        .contains(&format!("Plan: {expected} REST call(s).")));

    let (file, plan, report) = sync(&client, &text, &opts, false).await;
    let report = report.unwrap();
    assert!(report.is_complete(), "{}", report.render(&plan.plan, 10));
    let log = writes(&handle);
    assert_eq!(log.len(), expected, "calls the site received");
    assert!(log.iter().all(|(_, _, s)| *s < 300), "{log:?}");
    let after = snap(&handle);
    assert_site_matches(&before, &after, &rows, &managed, false);
    let in_file: HashSet<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
    let absent: Vec<&U> = after
        .users
        .values()
        .filter(|u| {
            !in_file.contains(&u.name.to_lowercase()) && u.name.to_lowercase() != before.admin
        })
        .collect();
    assert_eq!(absent.len(), 9);
    for u in absent {
        assert_eq!(u.role, "Unlicensed", "{} is not in the file", u.name);
        assert!(
            managed
                .iter()
                .all(|g| !u.groups.contains(&g.to_lowercase())),
            "{} left the managed groups",
            u.name
        );
    }
    let summary = plan.summary(&file, Some(&report));
    assert_eq!(summary.added, 170);
    assert_eq!(summary.errors, 0);
    assert_eq!(summary.groups_created, 3);

    handle.state.calls.clear();
    let (_, again, report) = sync(&client, &text, &opts, false).await;
    assert!(again.plan.is_empty(), "{}", again.plan.render(5));
    assert!(report.unwrap().results.is_empty());
    assert!(writes(&handle).is_empty(), "a rerun makes 0 write calls");
}

#[tokio::test]
async fn export_then_sync_plans_nothing() {
    let handle = start(Size::Medium, FaultPlan::default()).await;
    let client = connect(&handle, None).await;
    let (rows, _) = users::export(&client).await.expect("exports");
    let before = snap(&handle);
    assert_eq!(
        rows.len(),
        before.users.len(),
        "one row per user (more than a page of 1,000)"
    );
    let mut out = Vec::new();
    users::file::write_csv(&mut out, &rows).unwrap();
    // The export's groups column holds each user's groups but All Users.
    let text = String::from_utf8(out).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for rec in reader.records() {
        let rec = rec.unwrap();
        let u = &before.users[&rec[0].to_lowercase()];
        let listed: BTreeSet<String> = rec[5]
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
            .collect();
        let want: BTreeSet<String> = u
            .groups
            .iter()
            .filter(|g| *g != "all users")
            .cloned()
            .collect();
        assert_eq!(listed, want, "{}", u.name);
        assert_eq!(
            (&rec[1], &rec[2], &rec[3]),
            (u.role.as_str(), u.email.as_str(), u.full_name.as_str())
        );
    }
    let opts = SyncOptions {
        remove_missing: Some(RemoveMissing::Delete),
        ..SyncOptions::sync()
    };
    let (file, plan, _) = sync(&client, &text, &opts, true).await;
    assert!(
        file.errors.is_empty(),
        "{:?}",
        &file.errors[..file.errors.len().min(3)]
    );
    assert!(plan.plan.is_empty(), "{}", plan.plan.render(5));
}

/// The site's users but `leave_out`, as they are, with no groups column.
fn all_but(before: &Snap, leave_out: &[&str]) -> String {
    let mut text = String::from("username,site_role\n");
    let mut names: Vec<&U> = before
        .users
        .values()
        .filter(|u| !leave_out.contains(&u.name.as_str()))
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    for u in names {
        text.push_str(&format!("{},{}\n", u.name, u.role));
    }
    text
}

#[tokio::test]
async fn owners_are_removed_only_with_an_heir() {
    let handle = start(Size::Small, FaultPlan::default()).await;
    let (owner, idle, heir, owned_workbooks) = {
        let d = handle.state.data();
        let owner = (1..d.users.len() as u32)
            .find(|&u| d.workbooks.iter().any(|w| w.owner == u))
            .unwrap();
        let idle = (1..d.users.len() as u32)
            .find(|&u| d.owned_by(u) == 0)
            .unwrap();
        let heir = (1..d.users.len() as u32)
            .find(|&u| u != owner && u != idle)
            .unwrap();
        let wbs: BTreeSet<String> = d
            .workbooks
            .iter()
            .filter(|w| w.owner == owner)
            .map(|w| w.id.clone())
            .collect();
        let name = |u: u32| d.users[u as usize].name.clone();
        (name(owner), name(idle), name(heir), wbs)
    };
    let client = connect(&handle, None).await;
    let before = snap(&handle);
    let text = all_but(&before, &[&owner, &idle]);
    let delete = SyncOptions {
        remove_missing: Some(RemoveMissing::Delete),
        ..SyncOptions::sync()
    };

    let (_, plan, report) = sync(&client, &text, &delete, false).await;
    assert!(report.unwrap().is_complete());
    let after = snap(&handle);
    assert!(
        !after.users.contains_key(&idle.to_lowercase()),
        "a user who owns nothing is removed"
    );
    assert_eq!(
        after.users[&owner.to_lowercase()].role,
        "Unlicensed",
        "an owner without an heir is unlicensed"
    );
    let note = plan
        .plan
        .notes
        .iter()
        .find(|n| n.unit.as_deref().is_some_and(|u| u.contains(&owner)))
        .expect("a note on the owner");
    assert!(
        note.message.contains("workbook") && note.message.contains("--map-assets-to"),
        "{}",
        note.message
    );
    assert_eq!(writes(&handle).len(), 2, "one DELETE, one PUT");

    handle.state.calls.clear();
    let with_heir = SyncOptions {
        map_assets_to: Some(heir.clone()),
        ..delete
    };
    let (_, plan, report) = sync(&client, &text, &with_heir, false).await;
    assert!(report.unwrap().is_complete());
    assert_eq!(plan.plan.len(), 1, "{}", plan.plan.render(5));
    let after = snap(&handle);
    assert!(
        !after.users.contains_key(&owner.to_lowercase()),
        "removed with an heir"
    );
    let d = handle.state.data();
    let heir_idx = d.users.iter().position(|u| u.name == heir).unwrap() as u32;
    for w in d
        .workbooks
        .iter()
        .filter(|w| owned_workbooks.contains(&w.id))
    {
        assert_eq!(w.owner, heir_idx, "workbook {} went to the heir", w.name);
    }
    let log = writes(&handle);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, "DELETE");
}

#[tokio::test]
async fn five_bad_rows_are_named_and_the_rest_apply() {
    let handle = start(Size::Small, FaultPlan::default()).await;
    let client = connect(&handle, None).await;
    let long = "G".repeat(300);
    let text = format!(
        "username,site_role,email,groups\n\
         good1@example.com,Viewer,good1@example.com,Good Group\n\
         bad1@example.com,Wizard,,\n\
         good2@example.com,Publisher,,Good Group\n\
         bad2@example.com,Viewer,not an email,\n\
         good1@EXAMPLE.com,Viewer,,\n\
         \"bad, four@example.com\",Viewer,,{long}\n\
         ,Viewer,,\n\
         good3@example.com,Explorer,,\n"
    );
    let (file, plan, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    let report = report.unwrap();
    assert!(report.is_complete());
    let problems = plan.problems(&file, Some(&report));
    let lines: Vec<Option<u64>> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![Some(3), Some(5), Some(6), Some(7), Some(8)]);
    let cols: Vec<&str> = problems
        .iter()
        .map(|p| p.column.as_deref().unwrap())
        .collect();
    assert_eq!(
        cols,
        vec!["site_role", "email", "username", "groups", "username"]
    );
    assert_eq!(problems[0].value.as_deref(), Some("Wizard"));
    let text_out = plan.summary(&file, Some(&report)).render(&problems, false);
    for l in [3, 5, 6, 7, 8] {
        assert!(text_out.contains(&format!("line {l}")), "{text_out}");
    }
    let after = snap(&handle);
    for (name, role) in [
        ("good1@example.com", "Viewer"),
        ("good2@example.com", "ExplorerCanPublish"),
        ("good3@example.com", "Explorer"),
    ] {
        assert_eq!(after.users[name].role, role);
    }
    assert!(
        after.groups["good group"].contains("good1@example.com")
            && after.groups["good group"].contains("good2@example.com")
    );
    for bad in [
        "bad1@example.com",
        "bad2@example.com",
        "bad, four@example.com",
    ] {
        assert!(!after.users.contains_key(bad), "{bad} was not added");
    }
}

fn some_changes(before: &Snap) -> (String, String) {
    let mut names: Vec<&U> = before
        .users
        .values()
        .filter(|u| u.name.to_lowercase() != before.admin)
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let mut text = String::from("username,site_role,full_name,groups\n");
    for (i, u) in names.iter().take(12).enumerate() {
        text.push_str(&format!("{},{},Changed {i},Fault Group\n", u.name, u.role));
    }
    for i in 0..6 {
        text.push_str(&format!(
            "fault{i}@example.com,Viewer,New {i},Fault Group\n"
        ));
    }
    (text, names[3].id.clone())
}

#[tokio::test]
async fn a_failed_call_is_reported_on_its_row_and_a_rerun_completes_without_duplicates() {
    // Placeholder id: the fault's path is set once the site (and so the
    // user's LUID) exists; the small site is the same for a seed.
    let probe = start(Size::Small, FaultPlan::default()).await;
    let (text, target) = some_changes(&snap(&probe));
    probe.stop().await;
    let faults = FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status {
            status: 409,
            retry_after_secs: None,
        })
        .method(MethodFilter::Put)
        .path(format!("users/{target}"))
        .when(Trigger::First(1))],
    );
    let handle = start(Size::Small, faults).await;
    let client = connect(&handle, None).await;
    let target_name = snap(&handle)
        .users
        .values()
        .find(|u| u.id == target)
        .unwrap()
        .name
        .clone();

    let (file, plan, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    let report = report.unwrap();
    let problems = plan.problems(&file, Some(&report));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].unit.contains(&target_name) && problems[0].unit.starts_with("line 5"),
        "{:?}",
        problems[0]
    );
    assert!(
        problems[0].message.contains("409"),
        "{}",
        problems[0].message
    );
    assert_eq!(report.count(Status::Failed), 1);
    let first: Vec<_> = writes(&handle);
    assert_eq!(first.len(), plan.plan.len());

    handle.state.calls.clear();
    let (_, again, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    assert!(report.unwrap().is_complete());
    let second = writes(&handle);
    assert_eq!(
        second,
        vec![("PUT".to_string(), format!("/users/{target}"), 200)],
        "only the failed call again"
    );
    assert_eq!(again.plan.len(), 1);
    let (_, third, _) = sync(&client, &text, &SyncOptions::sync(), true).await;
    assert!(third.plan.is_empty());
}

#[tokio::test]
async fn a_new_users_failure_skips_only_their_calls() {
    // The first POST users fails for good: that row's details and
    // membership are skipped; the other new users go through.
    let faults = FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status {
            status: 409,
            retry_after_secs: None,
        })
        .method(MethodFilter::Post)
        .path("/users")
        .when(Trigger::First(1))],
    );
    let handle = start(Size::Small, faults).await;
    let client = connect(&handle, None).await;
    let (text, _) = some_changes(&snap(&handle));
    let (file, plan, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    let report = report.unwrap();
    let problems = plan.problems(&file, Some(&report));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(report.count(Status::Failed), 1);
    assert_eq!(
        report.count(Status::Skipped),
        2,
        "the new user's details and membership"
    );
    let failed_user = snap(&handle);
    let missing: Vec<String> = (0..6)
        .map(|i| format!("fault{i}@example.com"))
        .filter(|n| !failed_user.users.contains_key(n))
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(problems[0].unit.contains(&missing[0]));

    handle.state.calls.clear();
    let (_, again, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    assert!(report.unwrap().is_complete());
    assert_eq!(
        again.plan.len(),
        3,
        "add, details, membership: {}",
        again.plan.render(5)
    );
    assert_eq!(writes(&handle).len(), 3);
    assert!(snap(&handle).groups["fault group"].contains(&missing[0]));
}

#[tokio::test]
async fn a_transient_503_on_a_write_is_survived() {
    let faults = FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status {
            status: 503,
            retry_after_secs: None,
        })
        .method(MethodFilter::Write)
        .when(Trigger::At(vec![3]))],
    );
    let handle = start(Size::Small, faults).await;
    let client = connect(&handle, None).await;
    let before = snap(&handle);
    let (text, _) = some_changes(&before);
    let (_, plan, report) = sync(&client, &text, &SyncOptions::sync(), false).await;
    assert!(report.unwrap().is_complete());
    let log = writes(&handle);
    assert_eq!(log.len(), plan.plan.len() + 1, "one call was retried");
    assert_eq!(log.iter().filter(|c| c.2 == 503).count(), 1);
    let (_, again, _) = sync(&client, &text, &SyncOptions::sync(), true).await;
    assert!(again.plan.is_empty(), "{}", again.plan.render(5));
}

#[tokio::test]
async fn bulk_membership_calls_from_3_21_and_per_member_calls_before() {
    let mut results = Vec::new();
    for version in [None, Some("3.20")] {
        let handle = start(Size::Small, FaultPlan::default()).await;
        let client = connect(&handle, version).await;
        let before = snap(&handle);
        let (rows, managed) = two_hundred(&before);
        let (_, plan, report) = sync(&client, &csv_text(&rows), &SyncOptions::sync(), false).await;
        assert!(report.unwrap().is_complete());
        let bulk = version.is_none();
        let log = writes(&handle);
        assert_eq!(
            log.len(),
            expected_calls(&before, &rows, &managed, false, bulk),
            "{version:?}"
        );
        assert_eq!(log.len(), plan.plan.len());
        let removes_bulk = log
            .iter()
            .filter(|(m, p, _)| m == "PUT" && p.ends_with("/users/remove"))
            .count();
        let removes_single = log
            .iter()
            .filter(|(m, p, _)| m == "DELETE" && p.starts_with("/groups/"))
            .count();
        if bulk {
            assert!(
                removes_bulk > 0 && removes_single == 0,
                "{removes_bulk} {removes_single}"
            );
        } else {
            assert!(
                removes_bulk == 0 && removes_single > 0,
                "{removes_bulk} {removes_single}"
            );
        }
        assert_site_matches(&before, &snap(&handle), &rows, &managed, true);
        results.push(log.len());
    }
    assert!(results[0] < results[1], "bulk calls are fewer: {results:?}");
}

/// Runs the `trm` binary against the site, in a scratch directory.
async fn run_trm(handle: &SimHandle, args: &[&str]) -> std::process::Output {
    let c = &handle.state.config;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trm"));
    cmd.args(args)
        .current_dir(site::scratch("users-cli"))
        .env("TABLEAU_SERVER", handle.url())
        .env("TABLEAU_SITE", &c.site_content_url)
        .env("TABLEAU_TOKEN_NAME", &c.pat_name)
        .env("TABLEAU_TOKEN_SECRET", &c.pat_secret);
    // The site runs on this test's runtime: wait for the child off it.
    tokio::task::spawn_blocking(move || cmd.output().expect("trm runs"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_strict_and_json() {
    let handle = start(Size::Small, FaultPlan::default()).await;
    let dir = site::scratch("users-cli-files");
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "username,site_role,groups\ncli1@example.com,Viewer,CLI\ncli2@example.com,Wizard,\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();

    let strict = run_trm(&handle, &["users", "sync", "--csv", bad, "--strict"]).await;
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 3 (cli2@example.com), column site_role"),
        "{stderr}"
    );
    assert!(
        writes(&handle).is_empty(),
        "--strict refuses before any call"
    );

    let dry = run_trm(
        &handle,
        &["--json", "users", "sync", "--csv", bad, "--dry-run"],
    )
    .await;
    assert_eq!(
        dry.status.code(),
        Some(1),
        "an invalid row: exit 1 even on a dry run"
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&dry.stdout).expect("one JSON document on stdout");
    assert_eq!(
        doc["plan"]["rest_calls"], 3,
        "create group, add user, membership: {doc}"
    );
    assert_eq!(doc["summary"]["errors"], 1);
    assert_eq!(doc["errors"][0]["line"], 3);
    assert!(writes(&handle).is_empty());

    let applied = run_trm(&handle, &["users", "sync", "--csv", bad]).await;
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(applied.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("users added                   1"),
        "{stdout}"
    );
    assert_eq!(writes(&handle).len(), 3);
    assert!(snap(&handle).groups["cli"].contains("cli1@example.com"));

    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        "username,site_role,groups\ncli1@example.com,Viewer,CLI\n",
    )
    .unwrap();
    let ok = run_trm(&handle, &["users", "sync", "--csv", good.to_str().unwrap()]).await;
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("0 REST calls"));
    assert_eq!(writes(&handle).len(), 3, "nothing more");

    let missing = run_trm(
        &handle,
        &[
            "users",
            "sync",
            "--csv",
            dir.join("nope.csv").to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(missing.status.code(), Some(2));
    let heir = run_trm(
        &handle,
        &[
            "users",
            "sync",
            "--csv",
            good.to_str().unwrap(),
            "--map-assets-to",
            "x",
        ],
    )
    .await;
    assert_eq!(
        heir.status.code(),
        Some(2),
        "--map-assets-to needs --remove-missing delete"
    );
}

#[tokio::test]
async fn a_few_users_naming_many_groups_read_memberships_per_user() {
    let handle = start(Size::Medium, FaultPlan::default()).await;
    let client = connect(&handle, None).await;
    let before = snap(&handle);
    let mut names: Vec<&U> = before
        .users
        .values()
        .filter(|u| u.name.to_lowercase() != before.admin)
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let mut groups: Vec<&String> = before.groups.keys().filter(|g| *g != "all users").collect();
    groups.sort();
    // Two users and six groups each of them is or is not in.
    let six: Vec<String> = groups.iter().take(6).map(|g| g.to_string()).collect();
    let text = format!(
        "username,site_role,groups\n{},{},{}\n{},{},{}\n",
        names[0].name,
        names[0].role,
        six[..3].join(";"),
        names[1].name,
        names[1].role,
        six[3..].join(";")
    );
    let file = UserFile::parse(text.as_bytes(), "few.csv").unwrap();
    let opts = SyncOptions::sync();
    let ctx = Context::new(client.user_id(), &client.api_version());

    let start_requests = client.stats().requests;
    let state = users::read_for_sync(&client, &file, &opts, &ctx)
        .await
        .unwrap();
    let requests = client.stats().requests - start_requests;
    // 3 pages of users, 1 of groups, then 2 user reads instead of 6 group reads.
    assert_eq!(requests, 3 + 1 + 2, "per-user reads");
    let per_user = users::build(&file, &state, &opts, &ctx).unwrap();

    let mut full = users::SiteState::read(&client).await.unwrap();
    let managed: Vec<u32> = (0..full.groups.len() as u32)
        .filter(|&g| six.contains(&full.groups[g as usize].name.to_lowercase()))
        .collect();
    assert_eq!(managed.len(), 6);
    full.read_members(&client, &managed).await.unwrap();
    let per_group = users::build(&file, &full, &opts, &ctx).unwrap();

    let lines = |p: &SyncPlan| {
        p.plan
            .calls
            .iter()
            .map(|c| (c.line(), c.body.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lines(&per_user),
        lines(&per_group),
        "both ways of reading give the same plan"
    );
    // The independent count: each user joins the groups of theirs they are not in, and leaves the others.
    let mut expected = 0;
    for (u, theirs) in [(names[0], &six[..3]), (names[1], &six[3..])] {
        for g in &six {
            let member = u.groups.contains(g);
            expected += usize::from(theirs.contains(g) != member);
        }
    }
    assert_eq!(
        per_user.plan.len(),
        expected,
        "{}",
        per_user.plan.render(10)
    );
    let report = admin::apply(
        &client,
        &per_user.plan,
        Options::skip_failed_units(4),
        &|_, _| {},
    )
    .await;
    assert!(report.is_complete());
    let after = snap(&handle);
    for (u, theirs) in [(names[0], &six[..3]), (names[1], &six[3..])] {
        let got: BTreeSet<String> = after.users[&u.name.to_lowercase()]
            .groups
            .iter()
            .filter(|g| six.contains(g))
            .cloned()
            .collect();
        assert_eq!(
            got,
            theirs.iter().cloned().collect::<BTreeSet<_>>(),
            "{}",
            u.name
        );
    }
}
