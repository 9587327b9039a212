//! Latency-bound extraction on the simulated site: the latency model and
//! its parser, Metadata API connections read in concurrent offset pages
//! (exactly the model's rows, also when pages are split at the node limit),
//! a site that changes mid-read (exactly the rows of one moment, or a clean
//! failure naming the stream), and adaptive concurrency backing off under
//! 429 bursts while the run still ends with every row.
//!
//! Ground truth is the site's dataset model (and its churn state), never
//! TRM's own output.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use trm::config::Settings;
use trm::extract::{self, Options, Quiet};
use trm::sim::churn::Churn;
use trm::sim::dataset::Size;
use trm::sim::faults::FaultPlan;
use trm::sim::latency::{Dist, LatencyModel};
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

async fn site(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("site starts")
}

async fn extract_only(settings: &Settings, streams: &[&str]) -> anyhow::Result<extract::Outcome> {
    let only = streams.iter().map(|s| s.to_string()).collect();
    extract::run(
        settings,
        &Options {
            only,
            parquet: false,
        },
        Arc::new(Quiet),
    )
    .await
}

fn ids(db: &Path, sql: &str) -> Vec<String> {
    let conn = duckdb::Connection::open(db).expect("warehouse opens");
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// The field ids the site lists now, from its model.
fn listed_field_ids(h: &SimHandle) -> BTreeSet<String> {
    let d = h.state.data();
    h.state
        .churn
        .listed_fields(&d)
        .into_iter()
        .map(|f| d.lineage.fields[f as usize].id.clone())
        .collect()
}

/// Every id once, and the set.
fn exactly_once(found: Vec<String>) -> BTreeSet<String> {
    let n = found.len();
    let set: BTreeSet<String> = found.into_iter().collect();
    assert_eq!(set.len(), n, "{} ids repeat", n - set.len());
    set
}

/// Equal sets, or a short message: how many are missing or extra, and a few.
#[track_caller]
fn assert_same(found: &BTreeSet<String>, expected: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = expected.difference(found).collect();
    let extra: Vec<&String> = found.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} missing (e.g. {:?}), {} extra (e.g. {:?})",
        missing.len(),
        &missing[..missing.len().min(3)],
        extra.len(),
        &extra[..extra.len().min(3)]
    );
}

#[test]
fn latency_specs_parse_or_say_what_is_wrong() {
    let m = LatencyModel::parse("rest=200ms,metadata=1s").unwrap();
    assert_eq!(m.rest, Some(Dist::fixed(Duration::from_millis(200))));
    assert_eq!(m.metadata, Some(Dist::fixed(Duration::from_secs(1))));
    let j = LatencyModel::parse("rest=150ms..250ms,metadata=0.5s..1.5s").unwrap();
    assert_eq!(
        j.rest,
        Some(Dist {
            lo: Duration::from_millis(150),
            hi: Duration::from_millis(250)
        })
    );
    for (spec, says) in [
        ("rest=200", "'200' is not a latency"),
        ("rest=200ms,graphql=1s", "unknown API 'graphql'"),
        ("metadata=2s..1s", "runs backwards"),
        ("rest=1s,rest=1s", "given twice"),
        ("rest:200ms", "not API=LATENCY"),
    ] {
        let e = LatencyModel::parse(spec).unwrap_err();
        assert!(e.contains(says), "{spec}: {e}");
    }
}

/// The site applies and records the latencies: the sum matches the model,
/// and Metadata pages of fewer nodes are faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_applies_and_records_its_latencies() {
    let latency_model = LatencyModel::parse("rest=20ms,metadata=80ms").unwrap();
    let h = site(SimConfig {
        latency_model,
        ..SimConfig::default()
    })
    .await;
    let dir = scratch("latency-record");
    let started = std::time::Instant::now();
    let outcome = extract_only(&settings(&h, &dir), &["users", "fields"])
        .await
        .expect("run succeeds");
    let wall = started.elapsed();
    let s = h.state.latency_log.summary();
    // The client counts sign-out too, sent after the summary of the streams.
    assert_eq!(s.requests as u64, outcome.stats.requests);
    // 2,018 fields: pages of 1,000, 999 and 19 new nodes (+1 overlap).
    let fields = h.state.data().lineage.fields.len();
    assert_eq!(fields, 2018);
    assert_eq!(s.metadata_requests, 3);
    let expected_md = 80.0 * (2.0 * (0.25 + 0.75)) + 80.0 * (0.25 + 0.75 * 20.0 / 1000.0);
    assert!(
        (s.metadata_ms - expected_md).abs() < 1.0,
        "{} vs {expected_md}",
        s.metadata_ms
    );
    assert!((s.rest_ms - 20.0 * s.rest_requests as f64).abs() < 1.0);
    // Fields: the first page, then both offset pages at once.
    assert!((s.chains["Fields"] - 160.0).abs() < 1.0, "{:?}", s.chains);
    assert!(wall.as_secs_f64() * 1000.0 >= s.longest_chain_ms);
    h.stop().await;
}

/// A connection read in concurrent offset pages holds exactly the model's
/// nodes, each once; with a node limit that splits pages, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_pages_read_exactly_the_models_rows() {
    let h = site(SimConfig {
        size: Size::Medium,
        ..SimConfig::default()
    })
    .await;
    let dir = scratch("latency-offset");
    let mut s = settings(&h, &dir);
    s.concurrency = 6;
    let outcome = extract_only(&s, &["fields", "columns"])
        .await
        .expect("run succeeds");
    let found = exactly_once(ids(&s.db, "SELECT field_metadata_id FROM fields"));
    assert_same(&found, &listed_field_ids(&h), "fields");
    let d = h.state.data();
    let columns: usize = (0..d.lineage.tables.len() as u32)
        .map(|t| d.lineage.live_columns(t).count())
        .sum();
    drop(d);
    let found_columns = exactly_once(ids(&s.db, "SELECT column_metadata_id FROM columns"));
    assert_eq!(found_columns.len(), columns);
    // No request beyond what paging needs: 101,122 fields in pages of 1,000
    // (then 999 new nodes each, after the overlap).
    let fields = h.state.data().lineage.fields.len();
    let fields_pages = 1 + (fields - 1000).div_ceil(999);
    let f = outcome
        .streams
        .iter()
        .find(|r| r.stream == "fields")
        .unwrap();
    assert_eq!(f.requests as usize, fields_pages);
    h.stop().await;

    // Pages over a node limit of 1,200 nodes split, down to what fits.
    let faults = FaultPlan::from_yaml(
        "faults:\n  - kind: node_limit\n    operations: [Fields]\n    limit: 1200\n",
        "test",
    )
    .unwrap();
    let h = site(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let dir = scratch("latency-split");
    let s = settings(&h, &dir);
    let outcome = extract_only(&s, &["fields"]).await.expect("run succeeds");
    let found = exactly_once(ids(&s.db, "SELECT field_metadata_id FROM fields"));
    assert_same(&found, &listed_field_ids(&h), "fields");
    let f = outcome
        .streams
        .iter()
        .find(|r| r.stream == "fields")
        .unwrap();
    assert!(
        f.requests > 3,
        "pages were halved and split: {} requests",
        f.requests
    );
    h.stop().await;
}

/// Fields move while the connection is read: the read that saw the change
/// is thrown away and the next one holds exactly the fields listed after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_mid_read_ends_in_the_rows_of_one_moment() {
    let churn = Churn {
        operation: "Fields".into(),
        at: vec![2],
        moved: 7,
    };
    let h = site(SimConfig {
        churn: Some(churn),
        ..SimConfig::default()
    })
    .await;
    let before = listed_field_ids(&h);
    let dir = scratch("latency-churn");
    let s = settings(&h, &dir);
    let outcome = extract_only(&s, &["fields"])
        .await
        .expect("a second read is consistent");
    assert_eq!(h.state.churn.changes(), 1);
    let after = listed_field_ids(&h);
    assert_eq!(
        after.len(),
        before.len(),
        "as many fields hidden as revealed: totalCount stays"
    );
    assert_ne!(after, before);
    let found = exactly_once(ids(&s.db, "SELECT field_metadata_id FROM fields"));
    assert_same(&found, &after, "exactly the fields listed after the change");
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.starts_with("fields:") && w.contains("changed while it was read")),
        "{:?}",
        outcome.warnings
    );
    h.stop().await;
}

/// A connection that changes on every read fails the run, naming the
/// stream, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_holds_still_fails_cleanly() {
    // Each read is 3 requests (a first page, two offset pages): the 2nd of
    // each read changes the site.
    let churn = Churn {
        operation: "Fields".into(),
        at: vec![2, 5, 8],
        moved: 3,
    };
    let h = site(SimConfig {
        churn: Some(churn),
        ..SimConfig::default()
    })
    .await;
    let dir = scratch("latency-churn-fail");
    let s = settings(&h, &dir);
    let err = extract_only(&s, &["fields"])
        .await
        .expect_err("no read is consistent");
    let text = format!("{err:#}");
    assert!(text.contains("stream fields failed"), "{text}");
    assert!(text.contains("changed while it was read"), "{text}");
    assert_eq!(h.state.churn.changes(), 3);
    let conn = duckdb::Connection::open(&s.db).unwrap();
    let status: Vec<String> = ids(&s.db, "SELECT status FROM runs");
    assert_eq!(status, vec!["failed".to_string()]);
    assert_eq!(
        conn.query_row("SELECT count(*) FROM hist_fields", [], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        0
    );
    let failed: Vec<String> = ids(
        &s.db,
        "SELECT stream FROM run_streams WHERE outcome = 'failed'",
    );
    assert_eq!(failed, vec!["fields".to_string()]);
    h.stop().await;
}

/// 429 bursts: the limit halves, the run still ends with every row the
/// model holds, and the per-stream figures count the throttling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_concurrency_backs_off_under_429s_and_completes() {
    let yaml = "seed: 3\nfaults:\n  - kind: status\n    status: 429\n    rate: 0.15\n    retry_after_secs: 0\n";
    let faults = FaultPlan::from_yaml(yaml, "test").unwrap();
    let h = site(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let dir = scratch("latency-429");
    let mut s = settings(&h, &dir);
    s.concurrency = 8;
    let outcome = extract_only(
        &s,
        &["workbooks", "views", "users", "fields", "permissions"],
    )
    .await
    .expect("the run survives 429s");
    assert!(outcome.stats.throttled > 0);
    let c = &outcome.concurrency;
    assert!(c.decreases > 0 && c.min < 8, "{c:?}");
    assert!(c.max <= 8, "never above the ceiling: {c:?}");
    let m = h.state.manifest();
    let count = |t: &str| {
        ids(&s.db, &format!("SELECT count(*)::VARCHAR FROM {t}"))[0]
            .parse::<usize>()
            .unwrap()
    };
    assert_eq!(count("workbooks"), m.counts.workbooks);
    assert_eq!(count("views"), m.counts.views);
    assert_eq!(count("users"), m.counts.users);
    let found = exactly_once(ids(&s.db, "SELECT field_metadata_id FROM fields"));
    assert_same(&found, &listed_field_ids(&h), "fields");
    // Sign-in's requests belong to no stream.
    let throttled: u64 = outcome.streams.iter().map(|r| r.throttled).sum();
    assert!(throttled > 0 && throttled <= outcome.stats.throttled);
    let recorded: Vec<String> = ids(&s.db, "SELECT sum(throttled)::VARCHAR FROM run_streams");
    assert_eq!(recorded[0].parse::<u64>().unwrap(), throttled);
    h.stop().await;
}
