//! Permissions as code against the simulated site (small): a declared
//! state that changes a lock, project, default and item rules for users
//! and groups is reached with exactly the planned calls, whose number is
//! the minimum counted here from the dataset; a second plan is empty; an
//! export plans nothing; an error mid-apply leaves an exact report and a
//! rerun finishes without repeating a call; bad files are refused with
//! their line before any write.
//!
//! Current rules come from the site's dataset (`handle.state.data()`),
//! desired capabilities are spelled out here, and counts are computed here,
//! never from the planner.

#[path = "support/site.rs"]
mod site;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use trm::admin::permissions::{self, export};
use trm::admin::{self, Options, Status};
use trm::sim::dataset::{Dataset, Grantee, Mode, Rule};
use trm::sim::faults::{Fault, FaultKind, FaultPlan, MethodFilter, Trigger};
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::retry::RetryPolicy;
use trm::tableau::Client;

async fn start(faults: FaultPlan) -> (SimHandle, Client) {
    let handle = sim::start(
        SimConfig {
            faults,
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("site starts");
    let dir = site::scratch("permissions-code");
    let policy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let client = Client::connect_with(&site::settings(&handle, &dir), policy)
        .await
        .expect("signs in");
    (handle, client)
}

fn no_progress(_: usize, _: usize) {}

/// Capabilities by name, as the test declares them.
type Caps = BTreeMap<&'static str, Mode>;

fn allow(list: &[&'static str]) -> Caps {
    list.iter().map(|c| (*c, Mode::Allow)).collect()
}

const WB_VIEW: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
];
const WB_EXPLORE_EXTRA: &[&str] = &[
    "ShareView",
    "ViewUnderlyingData",
    "WebAuthoring",
    "RunExplainData",
];

fn path_of(d: &Dataset, p: u32) -> String {
    let mut names = vec![d.projects[p as usize].name.clone()];
    let mut cur = d.projects[p as usize].parent;
    while let Some(q) = cur {
        names.push(d.projects[q as usize].name.clone());
        cur = d.projects[q as usize].parent;
    }
    names.reverse();
    names.join("/")
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn caps_of(rules: &[Rule], who: Grantee) -> Caps {
    let mut out = Caps::new();
    for r in rules.iter().filter(|r| r.grantee == who) {
        for (c, m) in &r.capabilities {
            out.insert(c, *m);
        }
    }
    out
}

/// One object the scenario changes: its current rules (from the dataset)
/// and the grantees it declares.
struct Change {
    current: Vec<Rule>,
    desired: Vec<(Grantee, Caps)>,
}

impl Change {
    /// Calls of the minimal algorithm: a DELETE per current capability
    /// whose mode differs or that is not desired, one PUT per object when
    /// anything is missing.
    fn minimal(&self) -> usize {
        let mut deletes = 0;
        let mut missing = false;
        for (who, want) in &self.desired {
            let have = caps_of(&self.current, *who);
            deletes += have
                .iter()
                .filter(|(c, m)| want.get(*c) != Some(*m))
                .count();
            missing |= want.iter().any(|(c, m)| have.get(c) != Some(m));
        }
        deletes + missing as usize
    }

    /// Calls of the seed's algorithm: per changed grantee, a DELETE per
    /// capability it has, then a PUT of its full set.
    fn seed(&self) -> usize {
        self.desired
            .iter()
            .filter(|(who, want)| caps_of(&self.current, *who) != *want)
            .map(|(who, _)| caps_of(&self.current, *who).len() + 1)
            .sum()
    }
}

/// The scenario: its file, the objects it changes, and how to check the
/// site reached it.
struct Scenario {
    yaml: String,
    changes: Vec<Change>,
    locks: usize,
    lock_project: u32,
    project: u32,
    workbook: u32,
    dept: Grantee,
    user: Grantee,
}

fn scenario(d: &Dataset) -> Scenario {
    let live = |i: usize| !d.projects[i].deleted && !d.projects[i].locked;
    let a = (0..d.projects.len())
        .find(|&i| {
            live(i)
                && d.workbooks.iter().any(|w| w.project as usize == i)
                && d.datasources.iter().any(|x| x.project as usize == i)
        })
        .expect("an unlocked project with workbooks and data sources") as u32;
    let b = (0..d.projects.len())
        .find(|&i| live(i) && i as u32 != a)
        .expect("a second unlocked project") as u32;
    let pa = &d.projects[a as usize];
    let dept = pa
        .rules
        .iter()
        .find(|r| {
            matches!(r.grantee, Grantee::Group(_))
                && r.capabilities.iter().any(|(c, _)| *c == "Write")
        })
        .expect("the department group publishes")
        .grantee;
    let Grantee::Group(dept_i) = dept else {
        unreachable!()
    };
    let w = d.workbooks.iter().position(|w| w.project == a).unwrap() as u32;
    let wb_rules = &d.workbooks[w as usize].rules;
    let user_i = (0..d.users.len() as u32)
        .find(|&u| {
            !d.users[u as usize].deleted
                && pa
                    .rules
                    .iter()
                    .chain(wb_rules)
                    .all(|r| r.grantee != Grantee::User(u))
        })
        .expect("a user without rules there");
    let user = Grantee::User(user_i);
    let (dept_name, user_name) = (
        d.groups[dept_i as usize].name.clone(),
        d.users[user_i as usize].name.clone(),
    );

    let mut wb_explore_deny = allow(WB_VIEW);
    wb_explore_deny.extend(allow(WB_EXPLORE_EXTRA));
    wb_explore_deny.insert("ExportData", Mode::Deny);
    let mut ds = allow(&["Read", "ExportXml", "Write", "SaveAs"]);
    ds.insert("Connect", Mode::Deny);

    let changes = vec![
        // Project rules: the department only views; a user publishes.
        Change {
            current: pa.rules.clone(),
            desired: vec![(dept, allow(&["Read"])), (user, allow(&["Read", "Write"]))],
        },
        // Default workbook rules: the department drops to View.
        Change {
            current: pa.default_workbook_rules.clone(),
            desired: vec![(dept, allow(WB_VIEW))],
        },
        // Default data source rules: no Connect for the department.
        Change {
            current: pa.default_datasource_rules.clone(),
            desired: vec![(dept, ds)],
        },
        // A workbook: Explore without ExportData; the user may read and filter.
        Change {
            current: d.workbooks[w as usize].rules.clone(),
            desired: vec![(dept, wb_explore_deny), (user, allow(&["Read", "Filter"]))],
        },
    ];
    let yaml = format!(
        "# declared by tests/permissions_code.rs\n\
         projects:\n\
         \x20 {b}:\n\
         \x20   content_permissions: LockedToProject\n\
         \x20 {a}:\n\
         \x20   rules:\n\
         \x20     - group: {dept}\n\
         \x20       template: View\n\
         \x20     - user: {user}\n\
         \x20       template: Publish\n\
         \x20   defaults:\n\
         \x20     workbooks:\n\
         \x20       - group: {dept}\n\
         \x20         template: View\n\
         \x20     datasources:\n\
         \x20       - group: {dept}\n\
         \x20         template: Publish\n\
         \x20         deny: [Connect]\n\
         \x20   workbooks:\n\
         \x20     {wb}:\n\
         \x20       - group: {dept}\n\
         \x20         template: Explore\n\
         \x20         deny: [ExportData]\n\
         \x20       - user: {user}\n\
         \x20         allow: [Read, Filter]\n",
        a = q(&path_of(d, a)),
        b = q(&path_of(d, b)),
        dept = q(&dept_name),
        user = q(&user_name),
        wb = q(&d.workbooks[w as usize].name),
    );
    Scenario {
        yaml,
        changes,
        locks: 1,
        lock_project: b,
        project: a,
        workbook: w,
        dept,
        user,
    }
}

fn counts(s: &Scenario) -> (usize, usize) {
    let minimal = s.locks + s.changes.iter().map(Change::minimal).sum::<usize>();
    let seed = s.locks + s.changes.iter().map(Change::seed).sum::<usize>();
    (minimal, seed)
}

fn write_file(text: &str) -> String {
    let dir = site::scratch("permissions-file");
    let path = dir.join("permissions.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn successful(handle: &SimHandle) -> Vec<(String, String)> {
    handle
        .state
        .calls
        .snapshot()
        .into_iter()
        .filter(|c| c.status < 300)
        .map(|c| (c.method, c.path))
        .collect()
}

fn planned_lines(plan: &admin::Plan) -> Vec<(String, String)> {
    plan.calls
        .iter()
        .map(|c| (c.method.as_str().to_string(), format!("/{}", c.path)))
        .collect()
}

#[tokio::test]
async fn apply_reaches_the_declared_state_with_the_minimal_calls() {
    let (handle, client) = start(FaultPlan::default()).await;
    let s = scenario(&handle.state.data());
    let (minimal, seed) = counts(&s);
    let file = write_file(&s.yaml);

    let planned = permissions::plan_file(&client, &s.yaml, &file, false)
        .await
        .expect("the file plans");
    let plan = planned.plan;
    println!("permissions apply: {} REST calls planned; minimal (counted in the test) {minimal}; seed's delete-all-then-add algorithm {seed}", plan.len());
    assert_eq!(plan.len(), minimal, "{}", plan.render(100));
    assert!(minimal < seed, "ours {minimal} must beat the seed's {seed}");
    // Every kind of change is in the plan.
    for action in [
        "change project lock",
        "delete project rule",
        "add project rules",
        "delete default rule",
        "add default rules",
        "delete item rule",
        "add item rules",
    ] {
        assert!(
            plan.calls.iter().any(|c| c.action == action),
            "no {action}: {}",
            plan.render(100)
        );
    }
    assert!(
        plan.calls.iter().any(|c| c.path.contains("/users/"))
            || plan.calls.iter().any(|c| c
                .body
                .as_ref()
                .is_some_and(|b| b.to_string().contains("\"user\"")))
    );
    assert!(
        plan.notes.len() >= 2,
        "a line per project: {:?}",
        plan.notes
    );

    let report = admin::apply(
        &client,
        &plan,
        Options::stop_at_first_error(4),
        &no_progress,
    )
    .await;
    assert!(report.is_complete(), "{}", report.render(&plan, 20));
    // The site saw exactly the planned calls (same multiset; within a step
    // calls run concurrently).
    let mut seen = successful(&handle);
    let mut want = planned_lines(&plan);
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(
        handle.state.calls.snapshot().len(),
        minimal,
        "no failed or extra writes"
    );

    // The dataset holds the declared rules.
    {
        let d = handle.state.data();
        assert!(d.projects[s.lock_project as usize].locked);
        let pa = &d.projects[s.project as usize];
        let objects = [
            &pa.rules,
            &pa.default_workbook_rules,
            &pa.default_datasource_rules,
            &d.workbooks[s.workbook as usize].rules,
        ];
        for (change, now) in s.changes.iter().zip(objects) {
            for (who, want) in &change.desired {
                assert_eq!(&caps_of(now, *who), want, "{who:?}");
            }
        }
        let _ = (s.dept, s.user);
    }

    // A second run plans nothing.
    let again = permissions::plan_file(&client, &s.yaml, &file, false)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan.render(50));

    // Export, then plan the export: nothing to do.
    let exported = export::export(&client, None).await.unwrap();
    let text = export::to_yaml(&exported, "sim", "analytics").unwrap();
    let round = permissions::plan_file(&client, &text, "export.yaml", false)
        .await
        .expect("an export plans");
    assert!(round.plan.is_empty(), "{}", round.plan.render(50));
    assert!(exported.rules > 0 && exported.items > 0);
}

#[tokio::test]
async fn an_export_of_an_untouched_site_plans_nothing_even_with_prune() {
    let (handle, client) = start(FaultPlan::default()).await;
    let exported = export::export(&client, None).await.unwrap();
    let text = export::to_yaml(&exported, "sim", "analytics").unwrap();
    let round = permissions::plan_file(&client, &text, "export.yaml", true)
        .await
        .expect("an export plans");
    assert!(round.plan.is_empty(), "{}", round.plan.render(50));
    // Every project is in the file; locked projects list no items.
    let d = handle.state.data();
    let live = d.projects.iter().filter(|p| !p.deleted).count();
    assert_eq!(exported.file.projects.len(), live);
    for (i, p) in d.projects.iter().enumerate() {
        if p.deleted {
            continue;
        }
        let spec = &exported.file.projects[&path_of(&d, i as u32)];
        assert_eq!(
            spec.content_permissions.unwrap().as_str(),
            p.content_permissions()
        );
        if p.locked {
            assert!(
                spec.workbooks.is_empty() && spec.datasources.is_empty(),
                "{}",
                p.name
            );
        }
    }
    // Unlocked workbooks with rules are all there.
    let expected = d
        .workbooks
        .iter()
        .filter(|w| !d.projects[w.project as usize].locked && !w.rules.is_empty())
        .count();
    let got: usize = exported
        .file
        .projects
        .values()
        .map(|s| s.workbooks.len())
        .sum();
    assert_eq!(got, expected);
    assert!(
        handle.state.calls.snapshot().is_empty(),
        "export and plan write nothing"
    );
}

#[tokio::test]
async fn an_error_mid_apply_is_reported_and_a_rerun_finishes_without_repeats() {
    // The plan from an identical site without faults: the single-run plan.
    let (clean, clean_client) = start(FaultPlan::default()).await;
    let s = scenario(&clean.state.data());
    let single = permissions::plan_file(&clean_client, &s.yaml, "p.yaml", false)
        .await
        .unwrap()
        .plan;
    assert!(single.len() > 5, "the scenario needs more than 5 calls");

    let fault = FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status {
            status: 409,
            retry_after_secs: None,
        })
        .method(MethodFilter::Write)
        .when(Trigger::At(vec![5]))],
    );
    let (handle, client) = start(fault).await;
    let first = permissions::plan_file(&client, &s.yaml, "p.yaml", false)
        .await
        .unwrap()
        .plan;
    assert_eq!(planned_lines(&first), planned_lines(&single));
    let report = admin::apply(
        &client,
        &first,
        Options::stop_at_first_error(1),
        &no_progress,
    )
    .await;
    assert_eq!(
        report.count(Status::Applied),
        4,
        "{}",
        report.render(&first, 20)
    );
    assert_eq!(report.count(Status::Failed), 1);
    assert_eq!(report.count(Status::NotStarted), first.len() - 5);
    let text = report.render(&first, 50);
    assert!(
        text.contains("Applied 4 of") && text.contains("FAILED"),
        "{text}"
    );
    let run1 = successful(&handle);
    assert_eq!(run1, planned_lines(&first)[..4].to_vec());

    handle.state.calls.clear();
    let second = permissions::plan_file(&client, &s.yaml, "p.yaml", false)
        .await
        .unwrap()
        .plan;
    let report = admin::apply(
        &client,
        &second,
        Options::stop_at_first_error(1),
        &no_progress,
    )
    .await;
    assert!(report.is_complete(), "{}", report.render(&second, 20));
    let run2 = successful(&handle);
    let mut union: Vec<(String, String)> = run1.into_iter().chain(run2).collect();
    union.sort();
    let mut want = planned_lines(&single);
    want.sort();
    assert_eq!(
        union, want,
        "both runs together made the single-run plan's calls, none twice"
    );
    assert!(permissions::plan_file(&client, &s.yaml, "p.yaml", false)
        .await
        .unwrap()
        .plan
        .is_empty());
}

#[tokio::test]
async fn bad_files_are_refused_with_their_line_before_any_write() {
    let (handle, client) = start(FaultPlan::default()).await;
    let s = scenario(&handle.state.data());
    let (a, wb, dept) = {
        let d = handle.state.data();
        let Grantee::Group(g) = s.dept else {
            unreachable!()
        };
        (
            path_of(&d, s.project),
            d.workbooks[s.workbook as usize].name.clone(),
            d.groups[g as usize].name.clone(),
        )
    };
    let locked = {
        let d = handle.state.data();
        let i = d
            .projects
            .iter()
            .position(|p| {
                p.locked
                    && !p.deleted
                    && d.workbooks
                        .iter()
                        .any(|w| d.projects[w.project as usize].id == p.id)
            })
            .unwrap();
        let w = d
            .workbooks
            .iter()
            .find(|w| w.project as usize == i)
            .unwrap()
            .name
            .clone();
        (path_of(&d, i as u32), w)
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("projects:\n  \"No/Such\":\n    rules: []\n".into(), "p.yaml:2: projects.\"No/Such\"", "no project at path"),
        (format!("projects:\n  {}:\n    rules:\n      - group: Nobody\n        template: View\n", q(&a)), ":4: ", "no group named \"Nobody\""),
        (format!("projects:\n  {}:\n    rules:\n      - user: nobody@example.com\n", q(&a)), ":4: ", "no user named"),
        (format!("projects:\n  {}:\n    rules:\n      - group: {}\n        template: Explore\n", q(&a), q(&dept)), ":5: ", "project rules have no template \"Explore\""),
        (
            format!("projects:\n  {}:\n    workbooks:\n      {}:\n        - group: {}\n          allow: [Connect]\n", q(&a), q(&wb), q(&dept)),
            ":6: ",
            "\"Connect\" is not a workbook capability",
        ),
        (
            format!("projects:\n  {}:\n    workbooks:\n      {}:\n        - group: {}\n          template: View\n", q(&locked.0), q(&locked.1), q(&dept)),
            ":4: ",
            "can have no rules of its own",
        ),
        (
            format!("projects:\n  {}:\n    content_permissions: LockedToProject\n    workbooks:\n      {}:\n        - group: {}\n", q(&a), q(&wb), q(&dept)),
            ":5: ",
            "LockedToProject",
        ),
        ("projects:\n  A:\n    rules:\n      - group: x\n     template: View\n".into(), "p.yaml:5", "not a valid permissions file"),
        ("projects:\n  A:\n    locked: true\n".into(), "p.yaml:3", "unknown field `locked`"),
    ];
    for (text, place, message) in cases {
        let err = permissions::plan_file(&client, &text, "p.yaml", false)
            .await
            .expect_err(&text)
            .to_string();
        assert!(
            err.starts_with("p.yaml:") && err.contains(place) && err.contains(message),
            "{err}\nfor:\n{text}"
        );
    }
    assert!(
        handle.state.calls.snapshot().is_empty(),
        "no write was sent"
    );
}

/// Views of workbooks that hide their tabs keep rules of their own: the
/// export lists exactly those (in projects that are not locked), a view
/// rule plans and applies as one call, and a rule on a view of a tabbed
/// workbook is refused before any write.
#[tokio::test]
async fn view_rules_are_exported_planned_and_applied() {
    let (handle, client) = start(FaultPlan::default()).await;
    // Ground truth from the dataset model: the views the server gives rules
    // of their own, each as `workbook/view` in its project.
    let (own, tabbed, group) = {
        let d = handle.state.data();
        let key = |v: &trm::sim::dataset::View| format!("{}/{}", d.workbooks[v.workbook as usize].name, v.name);
        let mut own: Vec<(String, String, u32)> = d
            .views
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                let w = &d.workbooks[v.workbook as usize];
                !w.show_tabs && !d.projects[w.project as usize].locked && !d.view_rules(*i as u32).is_empty()
            })
            .map(|(i, v)| (path_of(&d, d.workbooks[v.workbook as usize].project), key(v), i as u32))
            .collect();
        own.sort();
        let tabbed = d
            .views
            .iter()
            .find(|v| {
                let w = &d.workbooks[v.workbook as usize];
                w.show_tabs && !d.projects[w.project as usize].locked
            })
            .map(|v| (path_of(&d, d.workbooks[v.workbook as usize].project), key(v)))
            .expect("a tabbed workbook in an unlocked project");
        // A group with no rule on the first such view yet.
        let first = own[0].2;
        let group = (0..d.groups.len() as u32)
            .find(|g| {
                !d.groups[*g as usize].deleted && !d.view_rules(first).iter().any(|r| r.grantee == Grantee::Group(*g))
            })
            .expect("a group without a rule on the view");
        (own, tabbed, group)
    };
    assert!(!own.is_empty(), "the small site has views with rules of their own");

    let exported = export::export(&client, None).await.unwrap();
    let mut listed: Vec<(String, String)> = exported
        .file
        .projects
        .iter()
        .flat_map(|(path, spec)| spec.views.keys().map(move |k| (path.clone(), k.clone())))
        .collect();
    listed.sort();
    assert_eq!(listed, own.iter().map(|(p, k, _)| (p.clone(), k.clone())).collect::<Vec<_>>());
    let text = export::to_yaml(&exported, "sim", "analytics").unwrap();
    let round = permissions::plan_file(&client, &text, "export.yaml", false).await.expect("an export plans");
    assert!(round.plan.is_empty(), "{}", round.plan.render(50));

    // A group gets View on one such view, if it has no rule there yet.
    let (path, key, view) = own[0].clone();
    let (group_name, view_luid) = {
        let d = handle.state.data();
        (d.groups[group as usize].name.clone(), d.views[view as usize].id.clone())
    };
    let file = format!(
        "projects:\n  {}:\n    views:\n      {}:\n        - group: {}\n          template: View\n",
        q(&path),
        q(&key),
        q(&group_name)
    );
    let planned = permissions::plan_file(&client, &file, "views.yaml", false).await.expect("the view rule plans");
    let view_caps = ["Read", "Filter", "ViewComments", "AddComment", "ExportImage", "ExportData"];
    // One additive PUT on the view, nothing else.
    let lines = planned_lines(&planned.plan);
    assert!(
        lines.len() == 1 && lines[0].0 == "PUT" && lines[0].1.ends_with(&format!("/views/{view_luid}/permissions")),
        "{}",
        planned.plan.render(20)
    );
    let report = admin::apply(&client, &planned.plan, Options::stop_at_first_error(4), &no_progress).await;
    assert!(report.is_complete(), "{}", report.render(&planned.plan, 20));
    assert_eq!(successful(&handle), planned_lines(&planned.plan));
    {
        let d = handle.state.data();
        assert_eq!(caps_of(&d.view_rules(view), Grantee::Group(group)), allow(&view_caps));
    }
    let again = permissions::plan_file(&client, &file, "views.yaml", false).await.unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan.render(20));

    // A tabbed workbook's view: refused, naming the line, before any write.
    let before = handle.state.calls.snapshot().len();
    let bad = format!(
        "projects:\n  {}:\n    views:\n      {}:\n        - group: {}\n          template: View\n",
        q(&tabbed.0),
        q(&tabbed.1),
        q(&group_name)
    );
    let err = permissions::plan_file(&client, &bad, "p.yaml", false).await.expect_err("a tabbed view").to_string();
    assert!(err.starts_with("p.yaml:4") && err.contains("takes its workbook's rules"), "{err}");
    assert_eq!(handle.state.calls.snapshot().len(), before, "no write was sent");
}
