//! The audit against the simulated site's ground truth: for every detector
//! the flagged asset ids equal the manifest's planted ones (precision and
//! recall 1.0), with the same reasons, missing references and impact; no
//! decoy is flagged; findings land in DuckDB and Parquet and re-auditing
//! replaces them. Also the lineage walks on a hand-built chain, and the
//! `trm lineage` command's lookups.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trm::audit::{self, Finding, Severity, Thresholds};
use trm::config::Settings;
use trm::extract::{self, Options, Quiet};
use trm::lineage::{self, Direction};
use trm::sim::dataset::Size;
use trm::sim::manifest::{BrokenExtract, Manifest};
use trm::sim::{self, SimConfig, SimHandle};
use trm::warehouse::{self, read, Rows, RunInfo, Writer};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

async fn extract(settings: &Settings) {
    extract::run(settings, &Options { only: Vec::new(), parquet: true }, Arc::new(Quiet)).await.expect("extract");
}

/// Extracts `size` at each of `days` (in order) and returns the site and
/// the warehouse directory.
async fn warehouse_over(size: Size, days: &[i64], name: &str) -> (SimHandle, PathBuf) {
    let dir = scratch(name);
    let config = SimConfig { size, day: days[0], ..SimConfig::default() };
    let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let s = settings(&handle, &dir);
    for &day in days {
        handle.state.set_day(day);
        extract(&s).await;
    }
    (handle, dir)
}

/// The asset ids `detector` flagged, sorted, one entry per finding: an
/// asset flagged twice shows twice.
fn ids<'a>(findings: &'a [Finding], detector: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> = findings.iter().filter(|f| f.detector == detector).map(|f| f.asset_id.as_str()).collect();
    v.sort_unstable();
    v
}

/// `ids` sorted, one entry each.
fn sorted<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = ids.into_iter().collect();
    v.sort_unstable();
    v
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
}

/// The one finding of `detector` on `asset`.
fn finding<'a>(findings: &'a [Finding], detector: &str, asset: &str) -> &'a Finding {
    let mut on = findings.iter().filter(|f| f.detector == detector && f.asset_id == asset);
    let f = on.next().unwrap_or_else(|| panic!("no {detector} finding on {asset}"));
    assert!(on.next().is_none(), "two {detector} findings on {asset}");
    f
}

/// The severity the README gives a broken extract with these planted facts.
fn broken_extract_severity(b: &BrokenExtract, m: &Manifest, t: &Thresholds) -> Severity {
    let elevated_warning = m
        .planted
        .data_quality_warnings
        .iter()
        .any(|w| b.target_type == "datasource" && w.datasource_id == b.target_id && w.is_active && w.is_elevated);
    let mut severity = Severity::Low;
    for reason in &b.reasons {
        let s = match *reason {
            "last_refresh_failed" => Severity::Low,
            "consecutive_failures" if b.consecutive_failed_count as i64 >= t.failures_high => Severity::High,
            "consecutive_failures" | "stale" => Severity::Medium,
            "active_quality_warning" if elevated_warning => Severity::High,
            "active_quality_warning" => Severity::Medium,
            "upstream_table_gone" => Severity::High,
            other => panic!("unknown planted reason {other}"),
        };
        severity = severity.max(s);
    }
    severity
}

/// Every detector against the manifest: exactly one finding per planted
/// asset (or task) and none elsewhere, with the severity, reasons, missing
/// references and impact the site planted.
fn check_against_manifest(findings: &[Finding], m: &Manifest) {
    let p = &m.planted;
    let t = Thresholds::default();

    let unused = sorted(p.unused_dashboards.iter().map(|u| u.id.as_str()));
    assert!(!unused.is_empty(), "the site plants unused dashboards");
    assert_eq!(ids(findings, "unused_dashboard"), unused, "unused dashboards");
    for young in &p.young_dashboards_without_views {
        assert!(!ids(findings, "unused_dashboard").contains(&young.id.as_str()), "young dashboard {} flagged", young.id);
    }
    let mut severities = BTreeSet::new();
    for u in &p.unused_dashboards {
        let f = finding(findings, "unused_dashboard", &u.id);
        let want = if u.total_view_count == 0 { Severity::Medium } else { Severity::Low };
        assert_eq!(f.severity, want, "unused dashboard {} ({} views in all)", u.id, u.total_view_count);
        severities.insert(want);
    }
    assert_eq!(severities.len(), 2, "the site plants never-viewed and once-viewed unused dashboards");

    let unused_ds = sorted(p.unused_datasources.iter().map(|u| u.id.as_str()));
    assert!(!unused_ds.is_empty(), "the site plants unused datasources");
    assert_eq!(ids(findings, "unused_datasource"), unused_ds, "unused datasources");
    let reasons: BTreeSet<&str> = p.unused_datasources.iter().map(|u| u.reason).collect();
    assert_eq!(
        reasons,
        BTreeSet::from(["no_downstream_workbook", "no_views"]),
        "the site plants datasources unused for both reasons"
    );
    for u in &p.unused_datasources {
        let f = finding(findings, "unused_datasource", &u.id);
        let workbooks = f.evidence["downstream_workbooks"].as_array().map_or(0, Vec::len);
        let (severity, connected) = match u.reason {
            "no_downstream_workbook" => (Severity::Medium, false),
            "no_views" => (Severity::Low, true),
            other => panic!("unknown planted reason {other}"),
        };
        assert_eq!(f.severity, severity, "unused datasource {} ({})", u.id, u.reason);
        assert_eq!(workbooks > 0, connected, "unused datasource {} ({}): {workbooks} downstream workbooks", u.id, u.reason);
        let said = if connected { "None of the " } else { "No workbook connects to it." };
        assert!(f.reason.starts_with(said), "unused datasource {} ({}): {}", u.id, u.reason, f.reason);
    }

    let broken: Vec<(String, BTreeSet<String>)> = p
        .broken_extracts
        .iter()
        .map(|b| (b.task_id.clone(), b.reasons.iter().map(|r| r.to_string()).collect()))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let mut found: Vec<(String, BTreeSet<String>)> = findings
        .iter()
        .filter(|f| f.detector == "broken_extract")
        .map(|f| (f.evidence["task_id"].as_str().unwrap().to_string(), strings(&f.evidence["reasons"])))
        .collect();
    found.sort();
    assert!(broken.len() >= 3, "the site plants broken extracts");
    assert_eq!(
        found.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        broken.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        "broken extract tasks, one finding each"
    );
    assert_eq!(found, broken, "broken extract reasons");
    let mut severities = BTreeSet::new();
    for b in &p.broken_extracts {
        let f = findings.iter().find(|f| f.evidence["task_id"] == b.task_id.as_str()).unwrap();
        assert_eq!(f.asset_id, b.target_id);
        assert_eq!(strings(&f.evidence["gone_tables"]), b.gone_tables.iter().cloned().collect(), "gone tables of {}", b.task_id);
        assert_eq!(f.evidence["consecutive_failed_count"], b.consecutive_failed_count as i64);
        let want = broken_extract_severity(b, m, &t);
        assert_eq!(f.severity, want, "broken extract {} ({:?}, {} failures)", b.task_id, b.reasons, b.consecutive_failed_count);
        severities.insert(want);
    }
    assert!(severities.len() >= 2, "the site plants broken extracts of several severities: {severities:?}");
    let flagged_tasks: BTreeSet<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
    for t in &p.transient_failures {
        assert!(!flagged_tasks.contains(t.as_str()), "transient failure {t} flagged");
    }

    let missing = sorted(p.missing_fields.iter().map(|f| f.field_id.as_str()));
    assert!(!missing.is_empty());
    assert_eq!(ids(findings, "missing_field"), missing, "missing fields");
    let mut severities = BTreeSet::new();
    for mf in &p.missing_fields {
        let f = finding(findings, "missing_field", &mf.field_id);
        assert_eq!(f.evidence["kind"], mf.kind, "{}", mf.field_id);
        assert_eq!(f.evidence["datasource_id"], mf.datasource_id.as_str());
        assert_eq!(strings(&f.evidence["missing_references"]), mf.missing_references.iter().cloned().collect());
        assert_eq!(strings(&f.evidence["sheets"]), mf.sheets.iter().cloned().collect(), "sheets of {}", mf.field_id);
        assert_eq!(strings(&f.evidence["dashboards"]), mf.dashboards.iter().cloned().collect(), "dashboards of {}", mf.field_id);
        let want = if !mf.dashboards.is_empty() {
            Severity::High
        } else if !mf.sheets.is_empty() {
            Severity::Medium
        } else {
            Severity::Low
        };
        assert_eq!(f.severity, want, "missing field {} ({} sheets, {} dashboards)", mf.field_id, mf.sheets.len(), mf.dashboards.len());
        severities.insert(want);
    }
    assert!(severities.len() >= 2, "the site plants missing fields of several severities: {severities:?}");
    let flagged: BTreeSet<&str> = findings.iter().map(|f| f.asset_id.as_str()).collect();
    let decoys = &p.decoys;
    for id in decoys.parameter_calculations.iter().chain(&decoys.escaped_bracket_calculations).chain(&decoys.renamed_fields) {
        assert!(!flagged.contains(id.as_str()), "decoy {id} flagged");
    }
    assert!(!decoys.parameter_calculations.is_empty() && !decoys.escaped_bracket_calculations.is_empty());

    // Nothing else: every finding is one of the above.
    let planted = unused.len() + unused_ds.len() + broken.len() + missing.len();
    assert_eq!(findings.len(), planted, "findings beyond the planted ones");
    for f in findings {
        assert!(!f.reason.is_empty() && f.reason.ends_with('.'), "{f:?}");
    }
}

fn audit_warehouse(dir: &Path, t: &Thresholds) -> audit::AuditRun {
    audit::run(&dir.join("trm.duckdb"), Some(&dir.join("parquet")), None, t).expect("audit")
}

async fn ground_truth(size: Size, name: &str) {
    // Two snapshots exactly one window apart: usage in the window is exact.
    let (handle, dir) = warehouse_over(size, &[-90, 0], name).await;
    let m = handle.state.manifest();
    assert_eq!(m.day, 0);
    let r = audit_warehouse(&dir, &Thresholds::default());
    assert!(r.baseline.is_some(), "the day -90 snapshot is the baseline");
    check_against_manifest(&r.findings, &m);

    // Stored: the view, the hist table and the Parquet partition hold them.
    let db = dir.join("trm.duckdb");
    let conn = read::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM findings", [], |x| x.get(0)).unwrap();
    assert_eq!(n as usize, r.findings.len());
    let run: String = conn.query_row("SELECT DISTINCT run_id FROM findings", [], |x| x.get(0)).unwrap();
    assert_eq!(run, r.run.run_id);
    drop(conn);
    let parquet_rows = parquet_rows(&dir.join("parquet").join("findings"));
    assert_eq!(parquet_rows, r.findings.len());

    // Re-auditing replaces, never duplicates.
    let again = audit_warehouse(&dir, &Thresholds::default());
    assert_eq!(again.findings.len(), r.findings.len());
    let conn = read::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM hist_findings", [], |x| x.get(0)).unwrap();
    assert_eq!(n as usize, r.findings.len());
    drop(conn);
    assert_eq!(parquet_rows_in(&dir.join("parquet").join("findings")), (1, r.findings.len()));
    handle.stop().await;
}

fn parquet_rows(dir: &Path) -> usize {
    parquet_rows_in(dir).1
}

/// (files, rows) under a table's Parquet directory.
fn parquet_rows_in(dir: &Path) -> (usize, usize) {
    let mut files = 0;
    let mut rows = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let file = std::fs::File::open(&p).unwrap();
                let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
                rows += reader.map(|b| b.unwrap().num_rows()).sum::<usize>();
                files += 1;
            }
        }
    }
    (files, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn small_site_findings_equal_ground_truth() {
    ground_truth(Size::Small, "small").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn medium_site_findings_equal_ground_truth() {
    ground_truth(Size::Medium, "medium").await;
}

/// One snapshot: only content never viewed can be proven unused; young
/// content is still never flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_snapshot_flags_only_never_viewed_dashboards() {
    let (handle, dir) = warehouse_over(Size::Small, &[0], "single").await;
    let m = handle.state.manifest();
    let r = audit_warehouse(&dir, &Thresholds::default());
    assert!(r.baseline.is_none());
    let expected = sorted(m.planted.unused_dashboards.iter().filter(|u| u.total_view_count == 0).map(|u| u.id.as_str()));
    assert!(!expected.is_empty());
    assert!(expected.len() < m.planted.unused_dashboards.len(), "some unused dashboards were viewed once");
    assert_eq!(ids(&r.findings, "unused_dashboard"), expected);
    for young in &m.planted.young_dashboards_without_views {
        assert!(!ids(&r.findings, "unused_dashboard").contains(&young.id.as_str()));
    }
    for f in r.findings.iter().filter(|f| f.detector == "unused_dashboard") {
        assert_eq!(f.severity, Severity::Medium, "never viewed: {}", f.asset_id);
    }
    handle.stop().await;
}

// --- Lineage on a hand-built chain ---------------------------------------------------------

/// Writes one run holding a small, fully known lineage:
///
/// ```text
/// srv → orders → orders.amount → Amount → Sales sheet → Exec dashboard → Sales wb → Finance
///       orders → Orders DS (published) → Orders (embedded) → Sales wb
///       orders.amount → Amount;  Amount → Amount x2 (calc) → Trend sheet → Sales wb
///       Orders DS ⊃ Amount, Amount x2 ;  Orders DS field Amount → stand-in Amount (embedded) → Sales sheet
///       srv → customers → customers.name → Name (field of Other DS) → Other sheet → Other wb → Finance
/// ```
fn chain_warehouse(dir: &Path) -> PathBuf {
    let db = dir.join("chain.duckdb");
    let run = RunInfo {
        run_id: "20260101T000000Z-0001".into(),
        profile: "t".into(),
        server: "https://example".into(),
        site: "s".into(),
        api_version: "3.27".into(),
        started_at: 1_767_225_600,
        as_of: 1_767_225_600,
    };
    let w = Writer::start(&db, None, run).unwrap();
    let put = |table: &'static str, rows: &[&[&str]]| {
        let mut r = Rows::new(table);
        let schema = warehouse::schema::table(table).unwrap();
        for row in rows {
            let values: Vec<warehouse::V> = schema
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| match row.get(i).filter(|v| !v.is_empty() || !c.nullable) {
                    Some(v) if c.kind == warehouse::schema::Kind::Int => v.parse::<i64>().unwrap().into(),
                    Some(v) if c.kind == warehouse::schema::Kind::Bool => (*v == "true").into(),
                    Some(v) => (*v).into(),
                    None if c.kind == warehouse::schema::Kind::Int && !c.nullable => 0i64.into(),
                    None if c.kind == warehouse::schema::Kind::Bool && !c.nullable => false.into(),
                    None => warehouse::V::Null,
                })
                .collect();
            r.push(&values).unwrap();
        }
        w.write(table, r.finish()).unwrap();
    };
    put("projects", &[&["p-fin", "Finance", "", "", "", "ManagedByOwner"]]);
    put("workbooks", &[&["wb-sales", "Sales", "", "", "", "p-fin"], &["wb-other", "Other", "", "", "", "p-fin"]]);
    put("database_servers", &[&["srv", "", "warehouse"]]);
    put("database_tables", &[
        &["t-orders", "", "database", "orders", "public", "[public].[orders]", "", "srv"],
        &["t-customers", "", "database", "customers", "public", "[public].[customers]", "", "srv"],
    ]);
    put("columns", &[&["c-amount", "", "amount", "", "", "t-orders"], &["c-name", "", "name", "", "", "t-customers"]]);
    put("published_datasources", &[&["pds-orders", "luid-orders", "Orders DS"]]);
    put("datasources", &[&["luid-orders", "Orders DS", "", "", "", "", "p-fin"]]);
    put("embedded_datasources", &[&["eds-orders", "Orders", "wb-sales"], &["eds-other", "Other DS", "wb-other"]]);
    put("fields", &[
        &["f-amount", "Amount", "ColumnField", "pds-orders", "published"],
        &["f-amount2", "Amount x2", "CalculatedField", "pds-orders", "published", "", "", "[Amount] * 2"],
        &["f-standin", "Amount", "DatasourceField", "eds-orders", "embedded"],
        &["f-name", "Name", "ColumnField", "eds-other", "embedded"],
    ]);
    put("sheets", &[&["s-sales", "", "Sales sheet", "", "wb-sales"], &["s-trend", "", "Trend sheet", "", "wb-sales"], &["s-other", "", "Other sheet", "", "wb-other"]]);
    put("dashboards", &[&["d-exec", "", "Exec", "", "wb-sales"]]);
    put("workbook_contents", &[
        &["wb-sales", "s-sales", "sheet"],
        &["wb-sales", "s-trend", "sheet"],
        &["wb-sales", "d-exec", "dashboard"],
        &["wb-other", "s-other", "sheet"],
    ]);
    put("dashboard_sheets", &[&["d-exec", "s-sales"]]);
    put("sheet_fields", &[&["s-sales", "f-standin"], &["s-trend", "f-amount2"], &["s-other", "f-name"]]);
    put("field_columns", &[&["f-amount", "c-amount"], &["f-name", "c-name"]]);
    put("field_fields", &[&["f-amount2", "f-amount", "reference"], &["f-standin", "f-amount", "remote"]]);
    put("embedded_published_datasources", &[&["eds-orders", "pds-orders"]]);
    put("datasource_tables", &[&["pds-orders", "published", "t-orders"], &["eds-other", "embedded", "t-customers"]]);
    w.commit(&[]).unwrap();
    db
}

fn walk_ids(db: &Path, asset: &str, direction: Direction) -> BTreeSet<String> {
    let conn = read::open(db).unwrap();
    let run = read::resolve_run(&conn, db, None).unwrap();
    let (g, stats) = lineage::load(&conn, db, &run).unwrap();
    assert_eq!(stats.dangling_edges, 0);
    let root = g.find(asset).unwrap();
    lineage::walk(&g, root, direction, None).nodes.into_iter().skip(1).map(|n| n.id).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn lineage_walks_return_exactly_the_chain() {
    let dir = scratch("chain");
    let db = chain_warehouse(&dir);
    assert_eq!(
        walk_ids(&db, "table:orders", Direction::Downstream),
        set(&[
            "c-amount", "f-amount", "f-amount2", "f-standin", "pds-orders", "eds-orders", "s-sales", "s-trend", "d-exec",
            "wb-sales", "p-fin"
        ])
    );
    assert_eq!(walk_ids(&db, "column:amount", Direction::Downstream), set(&["f-amount", "f-amount2", "f-standin", "s-sales", "s-trend", "d-exec", "wb-sales", "p-fin"]));
    assert_eq!(
        walk_ids(&db, "dashboard:\"Exec\"", Direction::Upstream),
        set(&["s-sales", "f-standin", "eds-orders", "f-amount", "pds-orders", "c-amount", "t-orders", "srv"])
    );
    // By REST LUID as well as Metadata id.
    assert_eq!(walk_ids(&db, "luid-orders", Direction::Downstream), walk_ids(&db, "pds-orders", Direction::Downstream));
    assert_eq!(walk_ids(&db, "t-customers", Direction::Downstream), set(&["c-name", "eds-other", "f-name", "s-other", "wb-other", "p-fin"]));
}

#[test]
fn lineage_command_resolves_names_and_reports_ambiguity() {
    let dir = scratch("chain-cli");
    let db = chain_warehouse(&dir);
    let trm = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trm")).args(args).arg("--db").arg(&db).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, out, err) = trm(&["lineage", "--downstream", "table:orders"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("table \"orders\" (t-orders)\n"), "{out}");
    assert!(out.contains("\n  column \"amount\" (c-amount)\n"), "{out}");
    assert!(out.contains("dashboard \"Exec\" (d-exec)"), "{out}");

    let (code, out, err) = trm(&["--json", "lineage", "--upstream", "sheet:Sales sheet"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: BTreeSet<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["f-standin", "eds-orders", "f-amount", "pds-orders", "c-amount", "t-orders", "srv"].into_iter().collect());

    // Two fields are named Amount: the error lists both, with their datasources.
    let (code, _, err) = trm(&["lineage", "--downstream", "field:Amount"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("names 2 assets"), "{err}");
    assert!(err.contains("(f-amount) in published_datasource \"Orders DS\""), "{err}");
    assert!(err.contains("(f-standin) in embedded_datasource \"Orders\""), "{err}");

    let (code, _, err) = trm(&["lineage", "--downstream", "table:nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no table is named 'nope'"), "{err}");
    let (code, _, err) = trm(&["lineage", "--downstream", "gadget:x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("'gadget' is not an asset kind"), "{err}");
}

#[test]
fn audit_on_a_missing_warehouse_says_what_to_do() {
    let dir = scratch("none");
    let e = audit::run(&dir.join("absent.duckdb"), None, None, &Thresholds::default()).err().unwrap().to_string();
    assert!(e.contains("absent.duckdb") && e.contains("trm extract"), "{e}");
}
