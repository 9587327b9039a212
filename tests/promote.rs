//! `trm promote-content` between two simulated sites, the dev and prod
//! environments (`SimConfig.env`): dev's project `HR Dashboards` holds the
//! published datasource `HR Core` and three workbooks using it (one a
//! `.twbx` with an extract); prod has an older, clashing `Headcount
//! Overview` and an `HR Core` in another project.
//!
//! Ground truth comes from each site's dataset model (`state.data()`) and
//! its call log, never from TRM's own reads.

#[path = "support/site.rs"]
mod site;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use trm::admin::promote::mapping::{self, Mapping};
use trm::admin::promote::plan::{self, Decision, Kind, Options, Policy};
use trm::admin::promote::run;
use trm::sim::dataset::Target;
use trm::sim::documents::env::Env;
use trm::sim::faults::{Fault, FaultKind, FaultPlan, MethodFilter, Trigger};
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::Client;

const MAPPING: &str = "connections:
  - class: postgres
    server: {from: hr-db.dev.example.com, to: hr-db.prod.example.com}
    dbname: {from: hr_dev, to: hr}
    username: {from: hr_reader_dev, to: hr_reader}
    credentials:
      password_env: TRM_TEST_HR_PASSWORD
";
const PASSWORD: &str = "s3cret-hr-pw";

async fn start(env: Env, faults: FaultPlan) -> SimHandle {
    sim::start(
        SimConfig {
            env: Some(env),
            faults,
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("site starts")
}

async fn connect(handle: &SimHandle, name: &str) -> Client {
    let dir = site::scratch(name);
    Client::connect(&site::settings(handle, &dir))
        .await
        .expect("signs in")
}

fn mapping() -> Mapping {
    mapping::parse("promote.yaml", MAPPING, &|k| {
        (k == "TRM_TEST_HR_PASSWORD").then(|| PASSWORD.to_string())
    })
    .unwrap()
}

fn options(policy: Policy, chunk_threshold: usize) -> Options {
    Options {
        project: "HR Dashboards".into(),
        include_nested: false,
        policy,
        chunk_threshold,
        chunk_size: 4096,
    }
}

fn site_of(h: &SimHandle) -> String {
    h.state.config.site_content_url.clone()
}

async fn plan_now(
    dev: &Client,
    devh: &SimHandle,
    prod: &Client,
    prodh: &SimHandle,
    o: &Options,
) -> (plan::State, plan::Promotion) {
    let state = plan::read(dev, &site_of(devh), prod, &site_of(prodh), o)
        .await
        .unwrap();
    let m = mapping();
    m.check_classes(&plan::classes(&state).unwrap()).unwrap();
    let p = plan::build(&state, &m, o).unwrap();
    (state, p)
}

/// The writes in the call log whose method is `method` and whose path
/// (below the site) satisfies `f`.
fn count(h: &SimHandle, method: &str, f: impl Fn(&str) -> bool) -> usize {
    h.state
        .calls
        .snapshot()
        .iter()
        .filter(|c| c.method == method && f(&c.path))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_is_promoted_remapped_bound_verified_and_then_left_alone() {
    let devh = start(Env::Dev, FaultPlan::default()).await;
    let prodh = start(Env::Prod, FaultPlan::default()).await;
    let dev = connect(&devh, "promote-dev").await;
    let prod = connect(&prodh, "promote-prod").await;

    // The chunk threshold sits between the plain documents and the .twbx.
    let probe = plan::read(
        &dev,
        &site_of(&devh),
        &prod,
        &site_of(&prodh),
        &options(Policy::Overwrite, usize::MAX),
    )
    .await
    .unwrap();
    let plain = probe
        .source
        .items
        .iter()
        .filter(|i| !i.document.starts_with(b"PK"))
        .map(|i| i.document.len())
        .max()
        .unwrap();
    let packaged: Vec<&plan::Listed> = probe
        .source
        .items
        .iter()
        .filter(|i| i.document.starts_with(b"PK"))
        .collect();
    assert_eq!(packaged.len(), 1, "one .twbx in the project");
    assert!(
        packaged[0].document.len() > plain + 1 + 4096,
        "the .twbx is the large one"
    );
    let o = options(Policy::Overwrite, plain + 1);

    // Without --overwrite the clashing workbook is a conflict, and nothing is applied.
    let (mut st, ask) =
        plan_now(&dev, &devh, &prod, &prodh, &options(Policy::Ask, plain + 1)).await;
    assert_eq!(ask.conflicts().len(), 1);
    assert_eq!(ask.conflicts()[0].name, "Headcount Overview");
    prodh.state.calls.clear();
    assert!(
        run::execute(&prod, &mut st, &ask, &mapping(), &o, &|_, _| {})
            .await
            .is_err()
    );
    assert_eq!(
        prodh.state.calls.snapshot().len(),
        0,
        "a refused promotion writes nothing"
    );

    let (mut state, promotion) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    let decisions: Vec<(Kind, &str, Decision)> = promotion
        .items
        .iter()
        .map(|i| (i.kind, i.name.as_str(), i.decision))
        .collect();
    assert_eq!(
        decisions,
        vec![
            (Kind::Datasource, "HR Core", Decision::Create),
            (Kind::Workbook, "Attrition Analysis", Decision::Create),
            (Kind::Workbook, "Compensation Review", Decision::Create),
            (Kind::Workbook, "Headcount Overview", Decision::Replace),
        ]
    );
    let text = plan::render(&promotion, 10);
    assert!(
        text.contains("\"hr-db.dev.example.com\" -> \"hr-db.prod.example.com\""),
        "{text}"
    );
    assert!(
        text.contains("credentials embedded from $TRM_TEST_HR_PASSWORD"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD) && !format!("{:?}", promotion.phase_a).contains(PASSWORD));
    assert!(!serde_json::to_string(&promotion)
        .unwrap()
        .contains(PASSWORD));

    prodh.state.calls.clear();
    let executed = run::execute(&prod, &mut state, &promotion, &mapping(), &o, &|_, _| {})
        .await
        .unwrap();
    assert!(executed.is_complete());
    assert_eq!(executed.published(&promotion.phase_a), 4);
    // Publishes and the chunked upload, from the site's call log.
    assert_eq!(count(&prodh, "POST", |p| p == "/datasources"), 1);
    assert_eq!(count(&prodh, "POST", |p| p == "/workbooks"), 3);
    assert_eq!(
        count(&prodh, "POST", |p| p == "/fileUploads"),
        1,
        "one chunked upload: the .twbx"
    );
    let pieces = packaged[0].document.len().div_ceil(4096);
    assert!(count(&prodh, "PUT", |p| p.starts_with("/fileUploads/")) >= pieces - 1);
    assert_eq!(
        count(&prodh, "POST", |p| p == "/projects"),
        0,
        "the project exists on prod"
    );

    // Ground truth: prod's model.
    {
        let d = devh.state.data();
        let p = prodh.state.data();
        let hr = p
            .projects
            .iter()
            .position(|x| x.name == "HR Dashboards" && x.parent.is_none())
            .unwrap() as u32;
        let dev_hr = d
            .projects
            .iter()
            .position(|x| x.name == "HR Dashboards" && x.parent.is_none())
            .unwrap() as u32;
        let wbs: BTreeSet<&str> = p
            .workbooks
            .iter()
            .filter(|w| w.project == hr)
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(
            wbs,
            BTreeSet::from([
                "Attrition Analysis",
                "Compensation Review",
                "Headcount Overview"
            ])
        );
        let core = p
            .datasources
            .iter()
            .position(|x| x.name == "HR Core" && x.project == hr)
            .expect("HR Core on prod") as u32;
        let legacy = p
            .datasources
            .iter()
            .position(|x| x.name == "HR Core" && x.project != hr)
            .unwrap() as u32;
        // Same tags as dev, item by item.
        for w in p.workbooks.iter().filter(|w| w.project == hr) {
            let dw = d
                .workbooks
                .iter()
                .find(|x| x.name == w.name && x.project == dev_hr)
                .unwrap();
            let (a, b): (BTreeSet<&String>, BTreeSet<&String>) =
                (w.tags.iter().collect(), dw.tags.iter().collect());
            assert!(!b.is_empty());
            assert_eq!(a, b, "tags of {}", w.name);
            assert_eq!(w.show_tabs, dw.show_tabs, "show-tabs of {}", w.name);
            // Bound to the target's HR Core, not dev's and not HR Legacy's.
            let bound: Vec<Option<u32>> = w
                .embedded_datasources
                .clone()
                .map(|e| p.embedded_datasources[e as usize].published)
                .collect();
            assert!(
                bound.contains(&Some(core)),
                "{} reads prod's HR Core: {bound:?}",
                w.name
            );
            assert!(!bound.contains(&Some(legacy)), "{}", w.name);
        }
        let dcore = d
            .datasources
            .iter()
            .find(|x| x.name == "HR Core" && x.project == dev_hr)
            .unwrap();
        let pcore = &p.datasources[core as usize];
        assert_eq!(
            pcore.tags.iter().collect::<BTreeSet<_>>(),
            dcore.tags.iter().collect::<BTreeSet<_>>()
        );
        // Connections remapped to the prod server, with the credentials.
        let mut postgres = 0;
        let targets = std::iter::once(Target::Datasource(core)).chain(
            p.workbooks
                .iter()
                .enumerate()
                .filter(|(_, w)| w.project == hr)
                .map(|(i, _)| Target::Workbook(i as u32)),
        );
        for t in targets {
            let stored = p.docs.stored.get(&t).expect("a published document");
            for c in &stored.original {
                assert!(!c.server.contains(".dev."), "{t:?}: {c:?}");
                if c.class == "postgres" {
                    postgres += 1;
                    assert_eq!(
                        (c.server.as_str(), c.dbname.as_str(), c.username.as_str()),
                        ("hr-db.prod.example.com", "hr", "hr_reader")
                    );
                }
                if c.class == "sqlproxy" {
                    assert_eq!(c.published, Some(core), "{t:?}");
                }
            }
        }
        assert!(
            postgres >= 2,
            "HR Core and the .twbx's own source are postgres"
        );
        assert!(
            p.docs.passwords.values().any(|v| v == PASSWORD),
            "the password was embedded"
        );
    }

    // The lineage check, and its record.
    let verdict = run::check(&dev, &prod, &mut state, &mapping())
        .await
        .unwrap();
    assert!(verdict.passed, "{:?}", verdict.differences);
    assert_eq!(verdict.checked, 4);
    let dir = site::scratch("promote-db");
    let db = dir.join("trm.duckdb");
    let facts = run::RunFacts {
        promotion_id: "p1".into(),
        started_at: 1,
        ended_at: 2,
        source_server: devh.url(),
        source_site: site_of(&devh),
        target_server: prodh.url(),
        target_site: site_of(&prodh),
        project_path: "HR Dashboards".into(),
    };
    let published = run::published_items(&promotion, &executed);
    assert_eq!(
        run::record(&db, &facts, &executed.items, &published, Some(&verdict)).unwrap(),
        4
    );
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        let (n, passed, pub_n): (i64, i64, i64) = conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE verdict = 'passed'), count(*) FILTER (WHERE published) FROM promotion_runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((n, passed, pub_n), (4, 4, 4));
    }

    // Promoting again plans 0 publishes and 0 calls.
    let (_, again) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    assert_eq!(again.publishes(), 0, "{}", plan::render(&again, 10));
    assert_eq!(
        again.phase_a.len() + again.phase_b.len(),
        0,
        "{}",
        plan::render(&again, 10)
    );

    // Changing one dev workbook (a connection edit on dev) plans exactly one.
    let wid = devh
        .state
        .data()
        .workbooks
        .iter()
        .find(|w| w.name == "Attrition Analysis")
        .unwrap()
        .id
        .clone();
    let conns = trm::tableau::publish::connections(&dev, "workbook", &wid)
        .await
        .unwrap();
    let cid = conns
        .iter()
        .find(|c| {
            c["type"].as_str() != Some("sqlproxy")
                && c["serverAddress"].as_str() == Some("hr-db.dev.example.com")
        })
        .map(|c| c["id"].as_str().unwrap().to_string());
    let cid = cid.unwrap_or_else(|| panic!("a postgres connection on the .twbx: {conns:?}"));
    dev.write_json(
        trm::admin::WriteMethod::Put,
        &dev.site_path(&format!("workbooks/{wid}/connections/{cid}")),
        &[],
        Some(&serde_json::json!({"connection": {"userName": "hr_reader_dev2"}})),
    )
    .await
    .unwrap();
    let (_, one) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    let publishing: Vec<(&str, Decision)> = one
        .items
        .iter()
        .filter(|i| i.decision.publishes())
        .map(|i| (i.name.as_str(), i.decision))
        .collect();
    assert_eq!(publishing, vec![("Attrition Analysis", Decision::Replace)]);
    assert_eq!(one.phase_a.len() + one.phase_b.len(), 1);

    devh.stop().await;
    prodh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_the_third_publish_fails_the_run_and_a_rerun_publishes_the_rest() {
    // Publishes: HR Core (POST /datasources), then the workbooks in name
    // order; the 2nd POST to /workbooks is the 3rd publish.
    let fault = Fault::new(FaultKind::Status {
        status: 400,
        retry_after_secs: None,
    })
    .method(MethodFilter::Post)
    .path("/workbooks")
    .when(Trigger::At(vec![2]));
    let devh = start(Env::Dev, FaultPlan::default()).await;
    let prodh = start(Env::Prod, FaultPlan::new(0, vec![fault])).await;
    let dev = connect(&devh, "fault-dev").await;
    let prod = connect(&prodh, "fault-prod").await;
    let o = options(
        Policy::Overwrite,
        trm::tableau::publish::DEFAULT_CHUNK_THRESHOLD,
    );

    let (mut state, promotion) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    assert_eq!(promotion.publishes(), 4);
    prodh.state.calls.clear();
    let executed = run::execute(&prod, &mut state, &promotion, &mapping(), &o, &|_, _| {})
        .await
        .unwrap();
    assert!(!executed.is_complete());
    assert_eq!(
        executed.published(&promotion.phase_a),
        2,
        "HR Core and Attrition Analysis went in"
    );
    let (plan_b, report_b) = executed.phase_b.as_ref().unwrap();
    let text = report_b.render(plan_b, 10);
    assert!(
        text.contains("FAILED") && text.contains("Compensation Review"),
        "{text}"
    );
    let failed_publishes = prodh
        .state
        .calls
        .snapshot()
        .iter()
        .filter(|c| c.method == "POST" && c.path == "/workbooks" && c.status == 400)
        .count();
    assert_eq!(failed_publishes, 1);
    {
        let p = prodh.state.data();
        let hr = p
            .projects
            .iter()
            .position(|x| x.name == "HR Dashboards" && x.parent.is_none())
            .unwrap() as u32;
        let wbs: BTreeSet<&str> = p
            .workbooks
            .iter()
            .filter(|w| w.project == hr)
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(
            wbs,
            BTreeSet::from(["Attrition Analysis", "Headcount Overview"]),
            "Headcount Overview is prod's old one"
        );
    }

    // The rerun publishes only the rest.
    let (mut state, rerun) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    let publishing: BTreeSet<&str> = rerun
        .items
        .iter()
        .filter(|i| i.decision.publishes())
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        publishing,
        BTreeSet::from(["Compensation Review", "Headcount Overview"])
    );
    prodh.state.calls.clear();
    let executed = run::execute(&prod, &mut state, &rerun, &mapping(), &o, &|_, _| {})
        .await
        .unwrap();
    assert!(executed.is_complete());
    assert_eq!(
        count(&prodh, "POST", |p| p == "/workbooks" || p == "/datasources"),
        2
    );
    let verdict = run::check(&dev, &prod, &mut state, &mapping())
        .await
        .unwrap();
    assert!(verdict.passed, "{:?}", verdict.differences);
    let (_, done) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    assert_eq!(
        done.phase_a.len() + done.phase_b.len(),
        0,
        "{}",
        plan::render(&done, 10)
    );

    devh.stop().await;
    prodh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_write() {
    let devh = start(Env::Dev, FaultPlan::default()).await;
    let prodh = start(Env::Prod, FaultPlan::default()).await;
    let dev = connect(&devh, "bad-dev").await;
    let prod = connect(&prodh, "bad-prod").await;
    prodh.state.calls.clear();
    let mut o = options(Policy::Overwrite, usize::MAX);
    o.project = "HR Dashbords".into();
    let e = plan::read(&dev, &site_of(&devh), &prod, &site_of(&prodh), &o)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no project \"HR Dashbords\" on the source site")
            && e.contains("HR Dashboards"),
        "{e}"
    );
    o.project = "HR Dashboards".into();
    let state = plan::read(&dev, &site_of(&devh), &prod, &site_of(&prodh), &o)
        .await
        .unwrap();
    let m = mapping::parse("promote.yaml", "connections:\n  - class: postgres\n    server: {from: a, to: b}\n  - class: oracle\n    server: {from: a, to: b}\n", &|_| None).unwrap();
    let e = m
        .check_classes(&plan::classes(&state).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("promote.yaml:4: connections[1].class: no connection of class \"oracle\""),
        "{e}"
    );
    assert_eq!(prodh.state.calls.snapshot().len(), 0);
    devh.stop().await;
    prodh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_projects_are_created_on_the_target() {
    let devh = start(Env::Dev, FaultPlan::default()).await;
    let prodh = start(Env::Prod, FaultPlan::default()).await;
    let dev = connect(&devh, "nested-dev").await;
    let prod = connect(&prodh, "nested-prod").await;
    let mut o = options(Policy::Overwrite, usize::MAX);
    o.include_nested = true;
    let (mut state, promotion) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    assert_eq!(
        promotion.create_projects,
        vec!["HR Dashboards/Archive".to_string()]
    );
    assert_eq!(promotion.publishes(), 5);
    prodh.state.calls.clear();
    let executed = run::execute(&prod, &mut state, &promotion, &mapping(), &o, &|_, _| {})
        .await
        .unwrap();
    assert!(executed.is_complete());
    assert_eq!(count(&prodh, "POST", |p| p == "/projects"), 1);
    {
        let p = prodh.state.data();
        let hr = p
            .projects
            .iter()
            .position(|x| x.name == "HR Dashboards" && x.parent.is_none())
            .unwrap() as u32;
        let archive = p
            .projects
            .iter()
            .position(|x| x.name == "Archive" && x.parent == Some(hr))
            .expect("Archive under HR Dashboards") as u32;
        let names: Vec<&str> = p
            .workbooks
            .iter()
            .filter(|w| w.project == archive)
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(names, ["Benefits Survey"]);
    }
    let verdict = run::check(&dev, &prod, &mut state, &mapping())
        .await
        .unwrap();
    assert!(verdict.passed, "{:?}", verdict.differences);
    assert_eq!(verdict.checked, 5);
    let (_, again) = plan_now(&dev, &devh, &prod, &prodh, &o).await;
    assert_eq!(again.combined().len(), 0, "{}", plan::render(&again, 10));
    devh.stop().await;
    prodh.stop().await;
}

#[test]
fn the_command_refuses_the_same_site_twice_before_signing_in() {
    let dir = site::scratch("promote-cli");
    std::fs::write(
        dir.join("tableau.yaml"),
        "profiles:\n  dev:\n    server: http://127.0.0.1:9\n    site: a\n    token_name: t\n  dev2:\n    server: http://127.0.0.1:9/\n    site: a\n    token_name: t\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trm"))
            .arg("promote-content")
            .args(args)
            .args(["--project", "HR Dashboards", "--config"])
            .arg(dir.join("tableau.yaml"))
            .env("TABLEAU_TOKEN_SECRET", "x")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["--source", "dev", "--target", "dev"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--source and --target are the same profile"), "{err}");
    let (code, err) = run(&["--source", "dev", "--target", "dev2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("are the same site"), "{err}");
    let (code, err) = run(&["--source", "dev", "--target", "prod"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no profile \"prod\""), "{err}");
    let (code, err) = run(&["--source", "dev", "--target", "dev2", "--overwrite", "--skip-existing"]);
    assert_eq!(code, Some(2), "{err}");
}
