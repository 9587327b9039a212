//! `trm tag` against the simulated site: tagging every planted unused
//! dashboard from the audit's findings takes ceil(n / batch) batch calls
//! (counted in the site's call log), a rerun plans and makes 0, the next
//! extract holds the tags (and search finds them by tag); removing takes
//! them off the same way; before REST API 3.9 it is one call per item; and
//! bad input is refused before any write.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trm::admin::tags::{self, Kind, Op, Target};
use trm::admin::{self, Options, Plan};
use trm::audit::{self, Thresholds};
use trm::config::Settings;
use trm::extract::{self, Quiet};
use trm::sim::dataset::{SheetType, Size};
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::Client;

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

const TAG: &str = "unused-review";

async fn extract(s: &Settings) {
    extract::run(s, &extract::Options { only: Vec::new(), parquet: false }, Arc::new(Quiet)).await.expect("extract");
}

/// The site, extracted a usage window apart (so the audit's unused
/// dashboards are exactly the planted ones) and audited.
async fn audited(size: Size, name: &str) -> (SimHandle, PathBuf, Settings) {
    let dir = scratch(name);
    let handle =
        sim::start(SimConfig { size, day: -90, ..SimConfig::default() }, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("site starts");
    let s = settings(&handle, &dir);
    for day in [-90, 0] {
        handle.state.set_day(day);
        extract(&s).await;
    }
    let db = dir.join("trm.duckdb");
    tokio::task::block_in_place(|| audit::run(&db, None, None, &Thresholds::default())).expect("audit");
    (handle, dir, s)
}

fn planted_unused(handle: &SimHandle) -> BTreeSet<String> {
    handle.state.manifest().planted.unused_dashboards.iter().map(|u| u.id.clone()).collect()
}

/// The tags of a view, as the site's dataset holds them.
fn view_tags(handle: &SimHandle, id: &str) -> Vec<String> {
    let d = handle.state.data();
    d.views.iter().find(|v| v.id == id).map(|v| v.tags.clone()).unwrap_or_else(|| panic!("no view {id}"))
}

/// What `trm tag` does after resolving targets: read the site's tags,
/// plan, apply.
async fn tag(
    client: &Client,
    op: Op,
    labels: &[String],
    targets: &mut [Target],
    batch: Option<usize>,
) -> (Plan, admin::Report) {
    let current = tags::current_tags(client, targets).await.expect("current tags");
    let plan = tags::plan(op, labels, targets, &current, batch);
    plan.check().expect("a valid plan");
    let report = admin::apply(client, &plan, Options::stop_at_first_error(4), &|_, _| {}).await;
    assert!(report.is_complete(), "{}", report.render(&plan, 10));
    (plan, report)
}

/// Write calls in the site's log since it was last cleared, as (method, path).
fn writes(handle: &SimHandle) -> Vec<(String, String)> {
    handle.state.calls.snapshot().into_iter().map(|c| (c.method, c.path)).collect()
}

fn findings_targets(db: &Path) -> Vec<Target> {
    tags::targets_from_findings(db, &["unused_dashboard".to_string()], None).expect("targets from findings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_dashboards_are_tagged_in_batches_and_a_rerun_makes_no_call() {
    let (handle, dir, s) = audited(Size::Small, "tag-findings").await;
    let db = dir.join("trm.duckdb");
    let planted = planted_unused(&handle);
    let n = planted.len();
    assert!(n >= 3, "the small site plants {n} unused dashboards");

    let mut targets = findings_targets(&db);
    let ids: BTreeSet<String> = targets.iter().map(|t| t.luid.clone()).collect();
    assert_eq!(ids, planted, "the findings are the planted unused dashboards");
    assert!(targets.iter().all(|t| t.kind == Kind::View), "dashboards are tagged as views");

    let client = Client::connect(&s).await.expect("sign in");
    assert!(tags::batch_supported(&client.api_version()));
    let labels = vec![TAG.to_string()];
    let batch = 2;
    handle.state.calls.clear();
    let (plan, _) = tag(&client, Op::Add, &labels, &mut targets, Some(batch)).await;
    let calls = writes(&handle);
    assert_eq!(calls.len(), n.div_ceil(batch), "{calls:?}");
    assert_eq!(plan.len(), calls.len());
    assert!(calls.iter().all(|(m, p)| m == "PUT" && p == "/tags:batchCreate"), "{calls:?}");
    assert!(handle.state.calls.snapshot().iter().all(|c| c.status == 200), "every batch call succeeded");
    for id in &planted {
        assert!(view_tags(&handle, id).iter().any(|t| t == TAG), "view {id} is tagged");
    }
    // Only the flagged dashboards.
    let tagged_views: BTreeSet<String> =
        handle.state.data().views.iter().filter(|v| v.tags.iter().any(|t| t == TAG)).map(|v| v.id.clone()).collect();
    assert_eq!(tagged_views, planted);

    // A rerun reads the site's tags and plans nothing.
    handle.state.calls.clear();
    let mut again = findings_targets(&db);
    let (plan, _) = tag(&client, Op::Add, &labels, &mut again, Some(batch)).await;
    assert!(plan.is_empty(), "{}", plan.render(10));
    assert!(writes(&handle).is_empty(), "a rerun makes 0 calls");
    // The same, spelled in another case: Tableau's tags ignore case.
    let (plan, _) = tag(&client, Op::Add, &[TAG.to_uppercase()], &mut again, Some(batch)).await;
    assert!(plan.is_empty());

    // The next extract holds them, and search finds them by tag.
    handle.state.set_day(1);
    extract(&s).await;
    let conn = trm::warehouse::read::open(&db).unwrap();
    let mut stmt = conn.prepare("SELECT asset_type, asset_luid FROM tags WHERE tag = ?").unwrap();
    let rows: Vec<(String, String)> =
        stmt.query_map([TAG], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    drop(stmt);
    drop(conn);
    assert!(rows.iter().all(|(t, _)| t == "view"), "{rows:?}");
    assert_eq!(rows.into_iter().map(|(_, id)| id).collect::<BTreeSet<_>>(), planted);
    let found = tokio::task::block_in_place(|| {
        trm::search::search(
            &db,
            None,
            &trm::search::Request { tag: Some(TAG.into()), limit: 1000, ..Default::default() },
        )
    })
    .unwrap();
    assert_eq!(found.hits.iter().map(|h| h.id.clone()).collect::<BTreeSet<_>>(), planted);
    assert!(found.hits.iter().all(|h| h.kind == "dashboard"));

    // Removing takes the same number of batch calls, and then none. (The
    // latest run is not audited, so the flagged items are the ones above.)
    handle.state.calls.clear();
    tag(&client, Op::Remove, &labels, &mut targets, Some(batch)).await;
    let calls = writes(&handle);
    assert_eq!(calls.len(), n.div_ceil(batch));
    assert!(calls.iter().all(|(m, p)| m == "PUT" && p == "/tags:batchDelete"), "{calls:?}");
    assert!(handle.state.data().views.iter().all(|v| !v.tags.iter().any(|t| t == TAG)));
    handle.state.calls.clear();
    let (plan, _) = tag(&client, Op::Remove, &labels, &mut targets, Some(batch)).await;
    assert!(plan.is_empty() && writes(&handle).is_empty());
    client.sign_out().await;
    handle.stop().await;
}

/// Before 3.9 there are no batch calls: one PUT per item to add, one
/// DELETE per item and tag to remove; tags already there are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_api_3_9_each_item_gets_its_own_call() {
    let dir = scratch("tag-per-item");
    let handle = sim::start(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let s = Settings { api_version: Some("3.8".into()), ..settings(&handle, &dir) };
    let client = Client::connect(&s).await.expect("sign in");
    assert!(!tags::batch_supported(&client.api_version()));

    // Two workbooks, a datasource and a dashboard; the first workbook
    // already has one of the two tags.
    let (mut targets, had) = {
        let mut d = handle.state.write();
        d.workbooks[0].tags = vec!["Keep".into()];
        let dash = d.views.iter().find(|v| v.sheet_type == SheetType::Dashboard).unwrap().id.clone();
        let t = vec![
            Target { kind: Kind::Workbook, luid: d.workbooks[0].id.clone(), name: String::new() },
            Target { kind: Kind::Workbook, luid: d.workbooks[1].id.clone(), name: String::new() },
            Target { kind: Kind::Datasource, luid: d.datasources[0].id.clone(), name: String::new() },
            Target { kind: Kind::View, luid: dash, name: String::new() },
        ];
        let had: Vec<Vec<String>> = vec![
            d.workbooks[0].tags.clone(),
            d.workbooks[1].tags.clone(),
            d.datasources[0].tags.clone(),
            d.views.iter().find(|v| v.id == t[3].luid).unwrap().tags.clone(),
        ];
        (t, had)
    };
    let labels = tags::check_tags(&["keep".into(), "Sales review".into()]).unwrap();
    let lacks = |have: &[String], tag: &str| !have.iter().any(|h| h.eq_ignore_ascii_case(tag));
    let needing = had.iter().filter(|h| labels.iter().any(|l| lacks(h, l))).count();
    handle.state.calls.clear();
    tag(&client, Op::Add, &labels, &mut targets, None).await;
    let calls = writes(&handle);
    assert_eq!(calls.len(), needing, "{calls:?}");
    assert!(calls.iter().all(|(m, p)| m == "PUT" && p.ends_with("/tags")), "{calls:?}");
    assert!(targets.iter().all(|t| !t.name.is_empty()), "names come from the site");
    {
        let d = handle.state.data();
        assert_eq!(d.workbooks[0].tags.iter().filter(|t| t.eq_ignore_ascii_case("keep")).count(), 1, "not added twice");
        assert!(d.workbooks[1].tags.iter().any(|t| t == "Sales review"));
        assert!(d.datasources[0].tags.iter().any(|t| t == "Sales review"));
    }

    // Removing: one DELETE per item and tag the item has.
    handle.state.calls.clear();
    tag(&client, Op::Remove, &labels, &mut targets, None).await;
    let calls = writes(&handle);
    assert_eq!(calls.len(), targets.len() * 2, "{calls:?}");
    assert!(calls.iter().all(|(m, _)| m == "DELETE"));
    assert!(
        calls.iter().any(|(_, p)| p.ends_with("/tags/Sales%20review") || p.ends_with("/tags/Sales review")),
        "{calls:?}"
    );
    assert!(handle.state.data().workbooks[0].tags.is_empty());
    client.sign_out().await;
    handle.stop().await;
}

/// Unknown assets, failing or wrong SQL, bad tags and kinds Tableau cannot
/// tag are refused with a clear error, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_write() {
    let (handle, dir, s) = audited(Size::Small, "tag-errors").await;
    let db = dir.join("trm.duckdb");
    handle.state.calls.clear();
    let err = |r: anyhow::Result<Vec<Target>>| format!("{:#}", r.err().expect("an error"));

    let e = err(tags::targets_from_sql(&db, "SELECT * FROM no_such_table"));
    assert!(e.contains("--where: the SQL fails") && e.contains("no_such_table"), "{e}");
    let e = err(tags::targets_from_sql(&db, "SELECT 'workbook' AS kind, workbook_luid AS id, name FROM workbooks"));
    assert!(e.contains("exactly the columns kind and id") && e.contains("name"), "{e}");
    let e = err(tags::targets_from_sql(&db, "SELECT 'project' AS kind, project_luid AS id FROM projects"));
    assert!(e.contains("cannot tag a project"), "{e}");
    let e = err(tags::targets_from_findings(&db, &["missing_field".into()], None));
    assert!(e.contains("cannot tag"), "{e}");
    let e = err(tags::targets_from_findings(&db, &["unused_dashbord".into()], None));
    assert!(e.contains("unknown detector"), "{e}");
    let e = err(tags::targets_from_findings(&db, &["unused_dashboard".into()], Some("urgent")));
    assert!(e.contains("--severity"), "{e}");

    // --where picks exactly what the SQL returns.
    let sql = "SELECT 'workbook' AS kind, workbook_luid AS id FROM workbooks ORDER BY name LIMIT 3";
    let picked = tags::targets_from_sql(&db, sql).unwrap();
    assert_eq!(picked.len(), 3);
    assert!(picked.iter().all(|t| t.kind == Kind::Workbook));

    assert!(tags::check_tags(&["".into()]).is_err());
    assert!(tags::check_tags(&["x".repeat(tags::MAX_TAG_CHARS + 1)]).is_err());
    assert!(tags::parse_asset("user:alice").is_err());

    let client = Client::connect(&s).await.expect("sign in");
    let e = format!(
        "{:#}",
        tags::resolve_assets(&client, &[(Kind::Workbook, "No Such Workbook".into())], None).await.unwrap_err()
    );
    assert!(e.contains("no workbook named \"No Such Workbook\""), "{e}");
    let mut ghost =
        vec![Target { kind: Kind::View, luid: "00000000-0000-0000-0000-000000000000".into(), name: String::new() }];
    let e = format!("{:#}", tags::current_tags(&client, &mut ghost).await.unwrap_err());
    assert!(e.contains("not on the site") && e.contains("view 00000000"), "{e}");
    // A named workbook resolves to its id.
    let (name, id) = {
        let d = handle.state.data();
        let w = d.workbooks.iter().find(|w| d.workbooks.iter().filter(|x| x.name == w.name).count() == 1).unwrap();
        (w.name.clone(), w.id.clone())
    };
    let found = tags::resolve_assets(&client, &[(Kind::Workbook, name)], None).await.unwrap();
    assert_eq!(found[0].luid, id);
    assert!(writes(&handle).is_empty(), "no write before a valid plan: {:?}", writes(&handle));
    client.sign_out().await;
    handle.stop().await;
}
