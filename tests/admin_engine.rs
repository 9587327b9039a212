//! The admin engine against the simulated site: a plan's calls reach the
//! site in steps, ids created in one step fill the next step's
//! placeholders, the first error stops the apply with an exact report, a
//! failed unit skips only its own calls, and a transient fault is
//! survived. What changed is read from the site's dataset and its call log,
//! not from the engine's report.

#[path = "support/site.rs"]
mod site;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use trm::admin::{self, Call, Options, Plan, Status, WriteMethod};
use trm::sim::faults::{Fault, FaultKind, FaultPlan, MethodFilter, Trigger};
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::retry::RetryPolicy;
use trm::tableau::Client;

async fn start(faults: FaultPlan) -> (SimHandle, Client) {
    let handle = sim::start(SimConfig { faults, ..SimConfig::default() }, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("site starts");
    let dir = site::scratch("admin-engine");
    let policy = RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(100), ..RetryPolicy::default() };
    let client = Client::connect_with(&site::settings(&handle, &dir), policy)
        .await
        .expect("signs in");
    (handle, client)
}

fn permanent_write_fault(at: Vec<u64>) -> FaultPlan {
    FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status { status: 409, retry_after_secs: None })
            .method(MethodFilter::Write)
            .when(Trigger::At(at))],
    )
}

fn tag_call(workbook_luid: &str, label: &str) -> Call {
    Call::site(WriteMethod::Put, format!("workbooks/{workbook_luid}/tags"), "tag workbook", format!("tag {workbook_luid}"))
        .body(json!({"tags": {"tag": [{"label": label}]}}))
}

fn workbooks_tagged(handle: &SimHandle, label: &str) -> Vec<String> {
    let d = handle.state.data();
    d.workbooks.iter().filter(|w| w.tags.iter().any(|t| t == label)).map(|w| w.id.clone()).collect()
}

fn no_progress(_: usize, _: usize) {}

#[tokio::test]
async fn created_ids_fill_later_steps() {
    let (handle, client) = start(FaultPlan::default()).await;
    let mut plan = Plan::new();
    plan.push(
        Call::site(WriteMethod::Post, "groups", "add group", "add group Engine")
            .body(json!({"group": {"name": "Engine"}}))
            .creates("group:Engine", "group"),
    );
    for name in ["eng-a@example.com", "eng-b@example.com"] {
        plan.push(
            Call::site(WriteMethod::Post, "users", "add user", format!("add {name}"))
                .body(json!({"user": {"name": name, "siteRole": "Viewer"}}))
                .creates(format!("user:{name}"), "user"),
        );
        plan.push(
            Call::site(WriteMethod::Post, "groups/{new:group:Engine}/users", "add membership", format!("{name} to Engine"))
                .body(json!({"user": {"id": admin::plan::placeholder(&format!("user:{name}"))}}))
                .step(2),
        );
    }
    plan.check().expect("a well-formed plan");
    let report = admin::apply(&client, &plan, Options::stop_at_first_error(4), &no_progress).await;
    assert!(report.is_complete(), "{}", report.render(&plan, 10));

    let d = handle.state.data();
    let group = d.groups.iter().find(|g| g.name == "Engine" && !g.deleted).expect("the group exists");
    let mut members: Vec<&str> = group.members.iter().map(|&u| d.users[u as usize].name.as_str()).collect();
    members.sort();
    assert_eq!(members, vec!["eng-a@example.com", "eng-b@example.com"]);
    drop(d);
    let calls = handle.state.calls.snapshot();
    assert_eq!(calls.len(), plan.len(), "one request per planned call");
    assert!(calls.iter().all(|c| c.status < 300), "{calls:?}");
}

#[tokio::test]
async fn the_first_error_stops_the_apply_and_the_report_is_exact() {
    let (handle, client) = start(permanent_write_fault(vec![3])).await;
    let targets: Vec<String> = handle.state.data().workbooks.iter().take(6).map(|w| w.id.clone()).collect();
    let mut plan = Plan::new();
    for id in &targets {
        plan.push(tag_call(id, "engine-stop"));
    }
    let report = admin::apply(&client, &plan, Options::stop_at_first_error(1), &no_progress).await;

    let statuses: Vec<Status> = report.results.iter().map(|r| r.status.clone()).collect();
    use Status::*;
    assert_eq!(statuses, vec![Applied, Applied, Failed, NotStarted, NotStarted, NotStarted]);
    let failure = report.failures().next().unwrap();
    assert_eq!(failure.http_status, Some(409));
    assert!(failure.error.as_deref().unwrap().contains(&targets[2]), "{:?}", failure.error);
    // The site holds exactly what the report says was applied.
    let mut tagged = workbooks_tagged(&handle, "engine-stop");
    tagged.sort();
    let mut applied = targets[..2].to_vec();
    applied.sort();
    assert_eq!(tagged, applied);
    assert_eq!(handle.state.calls.snapshot().len(), 3, "nothing was sent after the failure");
    let text = report.render(&plan, 10);
    assert!(text.contains("Applied 2 of 6") && text.contains("FAILED") && text.contains("3 not started"), "{text}");
    let j = report.to_json(&plan);
    assert_eq!((j["applied"].as_u64(), j["failed"].as_u64(), j["not_started"].as_u64()), (Some(2), Some(1), Some(3)));
}

#[tokio::test]
async fn a_failed_unit_skips_only_its_own_calls() {
    // The 1st write (unit "line 2"'s create) fails; its membership is skipped,
    // line 3 goes through.
    let (handle, client) = start(permanent_write_fault(vec![1])).await;
    // Not "All Users": Tableau manages its members itself.
    let group = handle.state.data().groups.iter().position(|g| g.name != "All Users").unwrap();
    let group_luid = handle.state.data().groups[group].id.clone();
    let mut plan = Plan::new();
    for (line, name) in [(2, "skip-a@example.com"), (3, "skip-b@example.com")] {
        let unit = format!("line {line} ({name})");
        plan.push(
            Call::site(WriteMethod::Post, "users", "add user", format!("add {name}"))
                .body(json!({"user": {"name": name, "siteRole": "Explorer"}}))
                .creates(format!("user:{name}"), "user")
                .unit(&unit),
        );
        plan.push(
            Call::site(WriteMethod::Post, format!("groups/{group_luid}/users"), "add membership", format!("{name} to group"))
                .body(json!({"user": {"id": admin::plan::placeholder(&format!("user:{name}"))}}))
                .unit(&unit)
                .step(2),
        );
    }
    let report = admin::apply(&client, &plan, Options::skip_failed_units(1), &no_progress).await;
    let statuses: Vec<Status> = report.results.iter().map(|r| r.status.clone()).collect();
    assert_eq!(statuses, vec![Status::Failed, Status::Skipped, Status::Applied, Status::Applied]);
    assert_eq!(report.failed_units(&plan).into_iter().collect::<Vec<_>>(), vec!["line 2 (skip-a@example.com)"]);

    let d = handle.state.data();
    assert!(d.users.iter().all(|u| u.name != "skip-a@example.com"));
    let b = d.users.iter().position(|u| u.name == "skip-b@example.com").expect("line 3 was added") as u32;
    assert!(d.groups[group].members.contains(&b));
}

#[tokio::test]
async fn a_transient_fault_on_a_write_is_survived() {
    let transient = FaultPlan::new(
        0,
        vec![Fault::new(FaultKind::Status { status: 503, retry_after_secs: None })
            .method(MethodFilter::Write)
            .when(Trigger::At(vec![2]))],
    );
    let (handle, client) = start(transient).await;
    let targets: Vec<String> = handle.state.data().workbooks.iter().take(4).map(|w| w.id.clone()).collect();
    let mut plan = Plan::new();
    for id in &targets {
        plan.push(tag_call(id, "engine-retry"));
    }
    let report = admin::apply(&client, &plan, Options::stop_at_first_error(1), &no_progress).await;
    assert!(report.is_complete(), "{}", report.render(&plan, 10));
    assert_eq!(workbooks_tagged(&handle, "engine-retry").len(), 4);
    let statuses: Vec<u16> = handle.state.calls.snapshot().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![200, 503, 200, 200, 200], "the 503 was retried once");
}
