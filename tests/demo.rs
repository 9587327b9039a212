//! `trm demo` tells the whole story: four snapshots across 90 simulated
//! days, each dated by the site's clock and holding that day's view counts;
//! the audit counts usage over the window against the day-0 snapshot, so
//! content viewed once and then abandoned is found as unused; the report's
//! trend has one point per snapshot. A second demo replaces the first; a
//! warehouse that is not the demo's is left alone. Ground truth comes from
//! the dataset model (`sim::dataset`, `sim::manifest`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use trm::sim::dataset::{self, Size};
use trm::sim::manifest::Manifest;
use trm::warehouse::{read, RunInfo, Writer};

#[path = "support/site.rs"]
mod site;
use site::scratch;

const DAYS: [i64; 4] = [0, 30, 60, 90];

fn demo(out: &Path) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_trm"))
        .args(["demo", "--size", "small", "--seed", "42", "--out"])
        .arg(out)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

/// `YYYY-MM-DD` of simulated day `day`, computed here rather than by TRM.
fn date_of(day: i64) -> String {
    chrono::DateTime::from_timestamp(dataset::day_start(day), 0).unwrap().date_naive().to_string()
}

#[test]
fn the_demo_extracts_four_snapshots_and_audits_over_the_window() {
    let out = scratch("demo");
    let started = Instant::now();
    let (code, stdout, stderr) = demo(&out);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    println!("trm demo took {:.1} s", took.as_secs_f64());

    let data = dataset::generate(Size::Small, 42, "analytics");
    let manifests: Vec<Manifest> = DAYS.iter().map(|&d| Manifest::build(&data, d)).collect();

    // One succeeded run per day, dated by the site's clock, holding that
    // day's view counts.
    let db = out.join("trm.duckdb");
    let conn = read::open(&db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT r.run_id, CAST(r.snapshot_date AS VARCHAR), \
             (SELECT sum(total_view_count) FROM hist_views v WHERE v.run_id = r.run_id) \
             FROM runs r WHERE status = 'succeeded' ORDER BY as_of",
        )
        .unwrap();
    let runs: Vec<(String, String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let dates: Vec<String> = runs.iter().map(|r| r.1.clone()).collect();
    assert_eq!(dates, DAYS.map(date_of).to_vec(), "one snapshot per simulated day");
    let views: Vec<i64> = runs.iter().map(|r| r.2).collect();
    let expected: Vec<i64> = manifests.iter().map(|m| m.counts.total_view_count as i64).collect();
    assert_eq!(views, expected, "each snapshot holds its day's view counts");
    assert!(views.windows(2).all(|w| w[0] < w[1]), "views grow over the days: {views:?}");
    let total_runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(total_runs, 4, "no failed runs");

    // The audit of the last snapshot counts usage against the first.
    let last = manifests.last().unwrap();
    assert!(
        stdout.contains(&format!("Usage over the last 90 days: snapshot {} against {}.", date_of(90), date_of(0))),
        "{stdout}"
    );
    let mut stmt = conn
        .prepare(
            "SELECT asset_luid, evidence FROM hist_findings WHERE detector = 'unused_dashboard' AND run_id = ? ORDER BY asset_luid",
        )
        .unwrap();
    let found: Vec<(String, String)> =
        stmt.query_map([&runs[3].0], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let found_ids: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    let mut planted: Vec<&str> = last.planted.unused_dashboards.iter().map(|u| u.id.as_str()).collect();
    planted.sort();
    assert_eq!(found_ids, planted, "the unused dashboards on day 90");
    // Dashboards viewed before the window but not within it: found only
    // because the demo has a snapshot a window old.
    let abandoned: BTreeSet<&str> =
        last.planted.unused_dashboards.iter().filter(|u| u.total_view_count > 0).map(|u| u.id.as_str()).collect();
    assert!(!abandoned.is_empty(), "the site has dashboards that fell out of use");
    for (id, evidence) in &found {
        let e: serde_json::Value = serde_json::from_str(evidence).unwrap();
        assert_eq!(e["method"], "snapshot_delta", "{id}: {e}");
        assert_eq!(e["baseline_snapshot_date"], date_of(0), "{id}: {e}");
        if abandoned.contains(id.as_str()) {
            assert_eq!(e["views_in_window"], 0, "{id}: {e}");
            assert!(e["lifetime_views"].as_i64().unwrap() > 0, "{id}: {e}");
        }
    }

    // The report's usage trend has one point per snapshot.
    let html = std::fs::read_to_string(out.join("report").join("index.html")).unwrap();
    for d in DAYS {
        assert!(html.contains(&date_of(d)), "the report does not mention snapshot {}", date_of(d));
    }
    drop(stmt);
    drop(conn);

    // A second demo into the same directory replaces the first.
    let (code, stdout, stderr) = demo(&out);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let conn = read::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 4, "the second demo's snapshots only");
}

#[test]
fn the_demo_leaves_a_warehouse_of_another_profile_alone() {
    let out = scratch("demo-foreign");
    let db = out.join("trm.duckdb");
    let run = RunInfo {
        run_id: "20260101T000000Z-0001".into(),
        profile: "prod".into(),
        server: "https://tableau.example.com".into(),
        site: "analytics".into(),
        api_version: "3.27".into(),
        started_at: 1_767_225_600,
        as_of: 1_767_225_600,
    };
    Writer::start(&db, None, run).unwrap().commit(&[]).unwrap();
    let (code, stdout, stderr) = demo(&out);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("not the demo's"), "{stderr}");
    let conn = read::open(&db).unwrap();
    let profiles: Vec<String> = conn
        .prepare("SELECT profile FROM runs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(profiles, vec!["prod".to_string()], "the other warehouse is untouched");
}
