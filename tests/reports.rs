//! The SQL reports and their CSV files, over a warehouse extracted from the
//! simulated site (two snapshots 30 days apart) and audited by TRM:
//!
//! - every report's CSV, read back, equals its SQL file run directly on a
//!   fresh read-only connection, cell by cell;
//! - names built to attack spreadsheets arrive neutralised;
//! - usage, ranking, staleness, group and lineage counts agree with the
//!   simulated site's ground truth;
//! - definition errors name the file and line; CSV edge cases round-trip.
//!
//! CSV files are read back with the `csv` crate, not TRM's own code.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use duckdb::types::{TimeUnit, Value as Duck};
use duckdb::{AccessMode, Config, Connection};
use serde_json::{json, Value};
use trm::audit::{self, Thresholds};
use trm::config::Settings;
use trm::extract::{self, Options, Quiet};
use trm::report::definitions::{self, Definition};
use trm::report::model::{ReportColumn, ReportTable};
use trm::report::{csv as report_csv, sql, write_all};
use trm::sim::dataset::{day_start, Dataset, Entity, DAY};
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

const HOSTILE_DASHBOARD: &str = "=cmd|' /C calc'!A0";
const HOSTILE_OWNER: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const HOSTILE_PROJECT: &str = "-2+3,\"Q4\"\r\nnext line";
const HOSTILE_REASON: &str = "+1 <script>alert(1)</script>";

async fn extract(settings: &Settings) -> extract::Outcome {
    extract::run(settings, &Options { only: Vec::new(), parquet: true }, Arc::new(Quiet))
        .await
        .expect("the extraction succeeds")
}

fn read_only(db: &Path) -> Connection {
    let config = Config::default().access_mode(AccessMode::ReadOnly).unwrap().enable_autoload_extension(false).unwrap();
    Connection::open_with_flags(db, config).expect("the warehouse opens read-only")
}

fn vars(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn has_permissions(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM duckdb_views() WHERE view_name = 'permissions' AND NOT temporary", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        > 0
}

// --- Findings --------------------------------------------------------------------------

/// The audit's own findings of the latest run over a 30-day window, plus a
/// copy of one of them given text built to attack a spreadsheet, put on a
/// dashboard the audit did not flag (so each asset keeps one finding); all
/// stored as the run's findings.
fn audit_findings(handle: &SimHandle, db: &Path, parquet: &Path) -> Vec<audit::Finding> {
    let t = Thresholds { unused_days: 30, ..Thresholds::default() };
    let audited = audit::run(db, Some(parquet), None, &t).expect("the audit runs");
    let mut all = audited.findings;
    for detector in ["unused_dashboard", "broken_extract", "missing_field"] {
        assert!(all.iter().any(|f| f.detector == detector), "the audit finds no {detector}: its report would prove little");
    }
    let d = &handle.state.data();
    let flagged: BTreeSet<&str> = all.iter().map(|f| f.asset_id.as_str()).collect();
    let dashboard = d
        .views
        .iter()
        .find(|v| v.sheet_type.as_str() == "dashboard" && !flagged.contains(v.id.as_str()))
        .expect("the site has a dashboard the audit did not flag");
    let w = &d.workbooks[dashboard.workbook as usize];
    let mut hostile = all.iter().find(|f| f.detector == "unused_dashboard").unwrap().clone();
    hostile.finding_id = format!("unused_dashboard:{}", dashboard.id);
    hostile.asset_id = dashboard.id.clone();
    hostile.asset_name = Some(HOSTILE_DASHBOARD.into());
    hostile.workbook_id = Some(w.id.clone());
    hostile.project_name = Some(HOSTILE_PROJECT.into());
    hostile.owner_id = Some(d.users[w.owner as usize].id.clone());
    hostile.owner_name = Some(HOSTILE_OWNER.into());
    hostile.reason = HOSTILE_REASON.into();
    all.push(hostile);
    audit::write(db, Some(parquet), &audited.run, &all, &[]).expect("the findings are stored");
    all
}

// --- CSV reading and independent cell rendering ------------------------------------------

/// A CSV file's records, header first, read by the `csv` crate (not TRM's
/// code): RFC 4180, CRLF line ends, every record as wide as the header. The
/// crate reads NULL (an unquoted empty field) and an empty string (`""`)
/// alike; `csv_edge_cases_round_trip` checks the bytes that tell them apart.
fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(bytes);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.expect("a well-formed CSV record");
        out.push(record.iter().map(String::from).collect());
    }
    out
}

/// The test's own reading of the neutralisation rule.
fn neutralised(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// What a CSV cell must read as for one DuckDB value, rendered through the
/// row API rather than Arrow, so the CSV path is checked against another.
#[derive(Debug)]
enum Want {
    Null,
    Text(String),
    Int(i128),
    Float(f64),
}

fn want(v: Duck) -> Want {
    let time = |unit: TimeUnit, t: i64| {
        let micros = match unit {
            TimeUnit::Second => t * 1_000_000,
            TimeUnit::Millisecond => t * 1_000,
            TimeUnit::Microsecond => t,
            TimeUnit::Nanosecond => t / 1_000,
        };
        let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let text = if micros % 1_000_000 == 0 {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        };
        Want::Text(text)
    };
    match v {
        Duck::Null => Want::Null,
        Duck::Boolean(b) => Want::Text(b.to_string()),
        Duck::TinyInt(i) => Want::Int(i.into()),
        Duck::SmallInt(i) => Want::Int(i.into()),
        Duck::Int(i) => Want::Int(i.into()),
        Duck::BigInt(i) => Want::Int(i.into()),
        Duck::HugeInt(i) => Want::Int(i),
        Duck::UTinyInt(i) => Want::Int(i.into()),
        Duck::USmallInt(i) => Want::Int(i.into()),
        Duck::UInt(i) => Want::Int(i.into()),
        Duck::UBigInt(i) => Want::Int(i.into()),
        Duck::Float(f) => Want::Float(f.into()),
        Duck::Double(f) => Want::Float(f),
        Duck::Text(s) => Want::Text(neutralised(&s)),
        Duck::Timestamp(unit, t) => time(unit, t),
        Duck::Date32(days) => Want::Text(
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap()
                .checked_add_signed(chrono::TimeDelta::days(days.into()))
                .unwrap()
                .to_string(),
        ),
        other => panic!("a report returned {other:?}; the test does not know how a CSV shows it"),
    }
}

fn matches(cell: &str, want: &Want) -> bool {
    match want {
        Want::Null => cell.is_empty(),
        Want::Text(t) => cell == t,
        Want::Int(i) => cell == i.to_string(),
        Want::Float(f) => cell.parse::<f64>().is_ok_and(|x| x == *f),
    }
}

/// Runs a SQL file as the `duckdb` CLI would, after `SET VARIABLE`s.
fn run_directly(db: &Path, text: &str, vars: &BTreeMap<String, i64>) -> (Vec<String>, Vec<Vec<Want>>) {
    let conn = read_only(db);
    for (k, v) in vars {
        conn.execute_batch(&format!("SET VARIABLE {k} = {v}")).unwrap();
    }
    let mut stmt = conn.prepare(text).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    let names = rows.as_ref().expect("a statement").column_names();
    while let Some(row) = rows.next().unwrap() {
        out.push((0..names.len()).map(|i| want(row.get::<_, Duck>(i).unwrap())).collect());
    }
    (names, out)
}

// --- The warehouse tests -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_a_two_snapshot_warehouse() {
    let handle = sim::start(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let dir = scratch("two-snapshots");
    let settings = settings(&handle, &dir);
    let db = settings.db.clone();
    let defs = definitions::built_in().expect("the built-in reports parse");
    let usage_def = defs.iter().find(|d| d.slug == "usage").expect("a usage report").clone();

    // One snapshot: no window can be measured yet.
    extract(&settings).await;
    let table = sql::run(&read_only(&db), &usage_def, &vars(&[("unused_days", 30)])).unwrap();
    assert!(!table.rows.is_empty());
    let window = column(&table, "window_views");
    assert!(table.rows.iter().all(|r| r[window].is_null()), "one snapshot gives no window counts");

    // A second snapshot 30 days later, then the audit's findings.
    handle.state.set_day(30);
    extract(&settings).await;
    let findings = audit_findings(&handle, &db, &settings.parquet);

    let conn = read_only(&db);
    assert!(has_permissions(&conn), "the extract wrote the permissions table");
    let runnable: Vec<Definition> = defs.to_vec();
    let vars = vars(&[("unused_days", 30), ("stale_days", 60), ("top_n", 10)]);
    let out = dir.join("csv");
    let tables = write_all(&conn, &runnable, &vars, &out).expect("every report runs");
    drop(conn);
    let by_slug: HashMap<&str, &ReportTable> = tables.iter().map(|t| (t.slug.as_str(), t)).collect();

    every_csv_equals_its_sql_run_directly(&db, &runnable, &vars, &out);
    hostile_names_are_neutralised(&out, &by_slug);
    usage_counts_match_the_site(&handle, &by_slug);
    other_reports_match_the_site(&handle, &by_slug, &findings);
    window_edges(&db, &usage_def, &handle);
    permissions_match_the_site(&handle, &by_slug);
    handle.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

fn column(t: &ReportTable, name: &str) -> usize {
    t.columns.iter().position(|c| c.name == name).unwrap_or_else(|| panic!("{} has no column {name}", t.slug))
}

fn text<'a>(t: &ReportTable, row: &'a [Value], name: &str) -> &'a str {
    row[column(t, name)].as_str().unwrap_or_else(|| panic!("{}.{name} is {:?}", t.slug, row[column(t, name)]))
}

fn int(t: &ReportTable, row: &[Value], name: &str) -> Option<i64> {
    let v = &row[column(t, name)];
    if v.is_null() {
        None
    } else {
        Some(v.as_i64().unwrap_or_else(|| panic!("{}.{name} is {v:?}", t.slug)))
    }
}

/// (a) The CSV written by TRM, read back, is the SQL file's result run
/// directly, cell by cell; the embedded SQL is the file's text.
fn every_csv_equals_its_sql_run_directly(db: &Path, defs: &[Definition], vars: &BTreeMap<String, i64>, out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for def in defs {
        let file = std::fs::read_to_string(root.join(&def.file)).unwrap();
        assert_eq!(def.sql, file, "{}: the binary's copy differs from the file", def.file);
        let (names, want_rows) = run_directly(db, &file, vars);
        let declared: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, declared, "{}", def.file);

        let bytes = std::fs::read(out.join(format!("{}.csv", def.slug))).unwrap();
        assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "{}: a BOM", def.slug);
        assert!(std::str::from_utf8(&bytes).is_ok(), "{}: not UTF-8", def.slug);
        let csv = read_csv(&bytes);
        assert_eq!(csv[0], names, "{}: header row", def.slug);
        assert_eq!(csv.len() - 1, want_rows.len(), "{}: row count", def.slug);
        for (r, (got, want)) in csv[1..].iter().zip(&want_rows).enumerate() {
            assert_eq!(got.len(), want.len(), "{} row {r}: fields", def.slug);
            for (c, (cell, w)) in got.iter().zip(want).enumerate() {
                assert!(matches(cell, w), "{} row {r} column {}: CSV has {cell:?}, DuckDB {w:?}", def.slug, names[c]);
            }
        }
        let expect_rows = !matches!(def.slug.as_str(), "permissions");
        assert!(!expect_rows || !want_rows.is_empty(), "{}: no rows, so the comparison proves little", def.slug);
    }
}

/// (b) Names built to run as spreadsheet formulas arrive with a leading `'`.
fn hostile_names_are_neutralised(out: &Path, by_slug: &HashMap<&str, &ReportTable>) {
    let read = |slug: &str| std::fs::read_to_string(out.join(format!("{slug}.csv"))).unwrap();
    let unused = read("unused_dashboards");
    assert!(unused.contains("'=cmd|' /C calc'!A0"), "{unused}");
    // The project needs quoting (comma, quote, CRLF) as well as neutralising.
    assert!(unused.contains("\"'-2+3,\"\"Q4\"\"\r\nnext line\""), "{unused}");
    assert!(unused.contains("'+1 <script>alert(1)</script>"), "{unused}");
    let owners = read("flagged_content_owners");
    assert!(owners.contains("'@SUM(1+1)*cmd|' /C calc'!A0"), "{owners}");
    // The site's own planted names, in the usage report.
    let usage = read("usage");
    assert!(usage.contains("\"'=HYPERLINK(\"\"x\"\")\""), "the hostile view name");
    assert!(usage.contains(trm::sim::dataset::names::HOSTILE_WORKBOOK), "markup is CSV-inert and left as it is");

    // Nowhere does a text field start a formula; the only such fields are
    // numbers. And numbers are numbers: the CSV cell of each number of the
    // report (read by the csv crate, rows in the report's order) parses back
    // to it, with no `'` before a negative one.
    for (slug, table) in by_slug {
        let records = read_csv(read(slug).as_bytes());
        assert_eq!(records.len(), table.rows.len() + 1, "{slug}: records");
        for (line, row) in records[1..].iter().zip(&table.rows) {
            for (cell, v) in line.iter().zip(row) {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    assert!(cell.parse::<f64>().is_ok(), "{slug}: formula-like field {cell:?}");
                }
                if let Some(n) = v.as_f64() {
                    assert_eq!(cell.parse::<f64>().ok(), Some(n), "{slug}: number {v} reads as {cell:?}");
                }
            }
        }
    }
}

/// (c) Views in the window are the lifetime count at day 30 minus the count
/// at day 0, from the site's own usage model.
fn usage_counts_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>) {
    let d = &handle.state.data();
    let t = by_slug["usage"];
    assert_eq!(t.rows.len(), d.views.len());
    let mut workbook_window: HashMap<&str, i64> = HashMap::new();
    let mut workbook_lifetime: HashMap<&str, i64> = HashMap::new();
    for v in &d.views {
        let w = d.workbooks[v.workbook as usize].id.as_str();
        *workbook_window.entry(w).or_default() += v.usage.total_at(30) as i64 - v.usage.total_at(0) as i64;
        *workbook_lifetime.entry(w).or_default() += v.usage.total_at(30) as i64;
    }
    let mut nonzero = 0;
    for row in &t.rows {
        let id = text(t, row, "view_luid");
        let Some(Entity::View(i)) = d.lookup(id) else { panic!("{id} is not a view") };
        let v = &d.views[i as usize];
        let window = v.usage.total_at(30) as i64 - v.usage.total_at(0) as i64;
        assert_eq!(int(t, row, "window_views"), Some(window), "view {id}");
        assert_eq!(int(t, row, "lifetime_views"), Some(v.usage.total_at(30) as i64), "view {id}");
        let w = text(t, row, "workbook_luid");
        assert_eq!(int(t, row, "workbook_window_views"), Some(workbook_window[w]), "workbook {w}");
        assert_eq!(int(t, row, "workbook_lifetime_views"), Some(workbook_lifetime[w]), "workbook {w}");
        assert_eq!(int(t, row, "window_days"), Some(30));
        assert_eq!(text(t, row, "baseline_date"), "2026-01-01");
        nonzero += (window > 0) as usize;
    }
    assert!(nonzero > 0, "some views were used in the window");
    // Grouped by workbook: each workbook's rows are together.
    let mut seen = BTreeSet::new();
    let mut last = "";
    for row in &t.rows {
        let w = text(t, row, "workbook_luid");
        if w != last {
            assert!(seen.insert(w.to_string()), "workbook {w} appears in two places");
            last = w;
        }
    }
}

/// Ground truth for the other reports: ranks, staleness, groups, downstream
/// workbooks, findings per owner, impacted sheets.
fn other_reports_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>, findings: &[audit::Finding]) {
    let d = &handle.state.data();
    let now = day_start(30);

    // Top content: the views in the top 10 of either ranking, ranks as counted here.
    let t = by_slug["top_content"];
    let lifetime: Vec<i64> = d.views.iter().map(|v| v.usage.total_at(30) as i64).collect();
    let window: Vec<i64> = d.views.iter().map(|v| (v.usage.total_at(30) - v.usage.total_at(0)) as i64).collect();
    let rank = |all: &[i64], x: i64| 1 + all.iter().filter(|&&y| y > x).count() as i64;
    let expected: BTreeSet<&str> = d
        .views
        .iter()
        .enumerate()
        .filter(|(i, _)| rank(&lifetime, lifetime[*i]) <= 10 || rank(&window, window[*i]) <= 10)
        .map(|(_, v)| v.id.as_str())
        .collect();
    let listed: BTreeSet<&str> = t.rows.iter().map(|r| text(t, r, "view_luid")).collect();
    assert_eq!(listed, expected, "top_content lists the top 10 by either ranking");
    for row in &t.rows {
        let Some(Entity::View(i)) = d.lookup(text(t, row, "view_luid")) else { panic!() };
        let i = i as usize;
        assert_eq!(int(t, row, "lifetime_rank"), Some(rank(&lifetime, lifetime[i])));
        assert_eq!(int(t, row, "window_rank"), Some(rank(&window, window[i])));
    }
    let ranks: Vec<(i64, i64)> =
        t.rows.iter().map(|r| (int(t, r, "window_rank").unwrap(), int(t, r, "lifetime_rank").unwrap())).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "ordered by window rank, then lifetime rank");

    // Stale content: everything last published 60 days or more before day 30.
    let t = by_slug["stale_content"];
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for w in &d.workbooks {
        if w.updated_at <= now - 60 * DAY {
            expected.insert(w.id.clone(), (now - w.updated_at).div_euclid(DAY));
        }
    }
    for x in &d.datasources {
        if x.updated_at <= now - 60 * DAY {
            expected.insert(x.id.clone(), (now - x.updated_at).div_euclid(DAY));
        }
    }
    let got: BTreeMap<String, i64> = t
        .rows
        .iter()
        .map(|r| (text(t, r, "content_luid").to_string(), int(t, r, "days_since_update").unwrap()))
        .collect();
    assert_eq!(got, expected, "stale_content at stale_days = 60");
    let days: Vec<i64> = t.rows.iter().map(|r| int(t, r, "days_since_update").unwrap()).collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "longest untouched first");

    // Users and groups.
    let t = by_slug["users_and_groups"];
    assert_eq!(t.rows.len(), d.users.len());
    for row in &t.rows {
        let Some(Entity::User(i)) = d.lookup(text(t, row, "user_luid")) else { panic!() };
        let u = &d.users[i as usize];
        assert_eq!(int(t, row, "group_count"), Some(u.groups.len() as i64), "user {}", u.id);
        assert_eq!(text(t, row, "site_role"), u.site_role.as_str());
        assert_eq!(row[column(t, "last_login")].is_null(), u.last_login.is_none(), "user {}", u.id);
    }

    // Datasource inventory: downstream workbooks through embedded datasources.
    let t = by_slug["datasource_inventory"];
    assert_eq!(t.rows.len(), d.datasources.len());
    for row in &t.rows {
        let Some(Entity::Datasource(x)) = d.lookup(text(t, row, "datasource_luid")) else { panic!() };
        let workbooks: BTreeSet<u32> =
            d.embedded_datasources.iter().filter(|e| e.published == Some(x)).map(|e| e.workbook).collect();
        assert_eq!(int(t, row, "downstream_workbooks"), Some(workbooks.len() as i64), "datasource {x}");
        let status = text(t, row, "extract_status");
        assert_eq!(status == "live", !d.datasources[x as usize].has_extracts, "datasource {x}: {status}");
    }

    // Owners of flagged content: counts per owner id, as stored.
    let t = by_slug["flagged_content_owners"];
    let mut expected: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for f in findings {
        *expected.entry(f.owner_id.clone()).or_default() += 1;
    }
    let got: BTreeMap<Option<String>, i64> = t
        .rows
        .iter()
        .map(|r| (r[column(t, "owner_luid")].as_str().map(String::from), int(t, r, "findings").unwrap()))
        .collect();
    assert_eq!(got, expected);

    // Per-finding reports: one row per finding of their detector.
    let count = |detector: &str| findings.iter().filter(|f| f.detector == detector).count();
    assert_eq!(by_slug["unused_dashboards"].rows.len(), count("unused_dashboard"));
    assert_eq!(by_slug["broken_extracts"].rows.len(), count("broken_extract"));
    assert_eq!(by_slug["missing_fields"].rows.len(), count("missing_field"));

    // Broken extracts: exactly the site's broken tasks, each once, with its
    // schedule. (The stale rule does not depend on the usage window.)
    let t = by_slug["broken_extracts"];
    let m = handle.state.manifest();
    let mut tasks: Vec<&str> = t.rows.iter().map(|r| text(t, r, "task_luid")).collect();
    tasks.sort_unstable();
    let mut planted: Vec<&str> = m.planted.broken_extracts.iter().map(|b| b.task_id.as_str()).collect();
    planted.sort_unstable();
    assert_eq!(tasks, planted, "broken_extracts task ids");
    for row in &t.rows {
        let task = text(t, row, "task_luid");
        let b = m.planted.broken_extracts.iter().find(|b| b.task_id == task).expect("a planted task");
        assert_eq!(text(t, row, "reason_codes"), b.reasons.join(", "));
        assert_eq!(int(t, row, "consecutive_failed_count"), Some(b.consecutive_failed_count as i64));
        assert!(!row[column(t, "schedule_name")].is_null(), "task {task} has a schedule");
    }

    // Missing fields: exactly the site's, each once, with exactly the sheets
    // and dashboards that break with it, from the site's lineage model.
    let t = by_slug["missing_fields"];
    let mut fields: Vec<&str> = t.rows.iter().map(|r| text(t, r, "field_metadata_id")).collect();
    fields.sort_unstable();
    let mut planted: Vec<&str> = m.planted.missing_fields.iter().map(|f| f.field_id.as_str()).collect();
    planted.sort_unstable();
    assert_eq!(fields, planted, "missing_fields field ids");
    let mut some_impact = false;
    for row in &t.rows {
        let id = text(t, row, "field_metadata_id");
        let f = m.planted.missing_fields.iter().find(|f| f.field_id == id).expect("a planted field");
        let (sheets, dashboards) = impact(d, id);
        assert!(sheets >= f.sheets.len(), "the direct users of {id} are among those that break");
        let n = int(t, row, "impacted_sheet_count").unwrap();
        assert_eq!(n, sheets as i64, "field {id}: impacted sheets");
        assert_eq!(row[column(t, "impacted_sheets")].is_null(), n == 0);
        assert_eq!(int(t, row, "impacted_dashboard_count"), Some(dashboards as i64), "field {id}: impacted dashboards");
        some_impact |= sheets > f.sheets.len();
    }
    assert!(some_impact, "some missing field breaks a sheet only through a field built on it");
}

/// (sheets, dashboards) that break with field `id`, from the site's model:
/// the sheets using it or any field built on it (a calculation naming it, a
/// workbook's copy standing for it), transitively, and the dashboards
/// showing one of those sheets.
fn impact(d: &Dataset, id: &str) -> (usize, usize) {
    let l = &d.lineage;
    let start = l.fields.iter().position(|f| f.id == id).expect("a field of the site") as u32;
    let mut affected = BTreeSet::from([start]);
    let mut todo = vec![start];
    while let Some(up) = todo.pop() {
        for (g, f) in l.fields.iter().enumerate() {
            if (f.refs.contains(&up) || f.remote == Some(up)) && affected.insert(g as u32) {
                todo.push(g as u32);
            }
        }
    }
    let sheets: BTreeSet<usize> =
        l.sheets.iter().enumerate().filter(|(_, s)| s.fields.iter().any(|f| affected.contains(f))).map(|(i, _)| i).collect();
    let dashboards = l.dashboards.iter().filter(|x| x.sheets.iter().any(|s| sheets.contains(&(*s as usize)))).count();
    (sheets.len(), dashboards)
}

/// The window needs a snapshot at least its length old: none at 31 days,
/// day 0 at 10 days (the latest at or before day 20).
fn window_edges(db: &Path, usage: &Definition, handle: &SimHandle) {
    let d = &handle.state.data();
    let t = sql::run(&read_only(db), usage, &vars(&[("unused_days", 31)])).unwrap();
    assert!(t.rows.iter().all(|r| r[column(&t, "window_views")].is_null() && r[column(&t, "baseline_date")].is_null()));
    let t = sql::run(&read_only(db), usage, &vars(&[("unused_days", 10)])).unwrap();
    for row in &t.rows {
        let Some(Entity::View(i)) = d.lookup(text(&t, row, "view_luid")) else { panic!() };
        let u = d.views[i as usize].usage;
        assert_eq!(int(&t, row, "window_views"), Some(u.total_at(30) as i64 - u.total_at(0) as i64));
        assert_eq!(text(&t, row, "baseline_date"), "2026-01-01");
    }
    // Without the variable: 90 days, older than any snapshot.
    let t = sql::run(&read_only(db), usage, &BTreeMap::new()).unwrap();
    assert!(t
        .rows
        .iter()
        .all(|r| r[column(&t, "window_days")] == json!(90) && r[column(&t, "window_views")].is_null()));
}

/// Every row of the permissions report, from the site's model: each
/// project's own and default rules, and the rules workbooks and datasources
/// in unlocked projects set themselves (the extract skips locked content,
/// which takes its project's defaults): path, object, scope, grantee, mode
/// and the capabilities grouped per mode, each row once.
fn permissions_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>) {
    use trm::sim::dataset::{Grantee, Rule};
    let d = &handle.state.data();
    let t = by_slug["permissions"];
    let path = |mut i: usize| {
        let mut names = vec![d.projects[i].name.clone()];
        while let Some(parent) = d.projects[i].parent {
            i = parent as usize;
            names.push(d.projects[i].name.clone());
        }
        names.reverse();
        names.join(" / ")
    };
    // (project path, project id, object type, object id, object name, scope,
    // grantee type, grantee id, grantee name, mode) → capabilities.
    type Key = (String, String, &'static str, String, String, &'static str, &'static str, String, String, &'static str);
    let mut expected: BTreeMap<Key, Vec<&str>> = BTreeMap::new();
    let mut add = |project: usize, object: (&'static str, &str, &str), scope: &'static str, rules: &[Rule]| {
        for rule in rules {
            let (kind, id, name) = match rule.grantee {
                Grantee::User(u) => ("user", &d.users[u as usize].id, &d.users[u as usize].name),
                Grantee::Group(g) => ("group", &d.groups[g as usize].id, &d.groups[g as usize].name),
            };
            for (capability, mode) in &rule.capabilities {
                let mode = if mode.as_str() == "Allow" { "Allow" } else { "Deny" };
                let key = (
                    path(project),
                    d.projects[project].id.clone(),
                    object.0,
                    object.1.to_string(),
                    object.2.to_string(),
                    scope,
                    kind,
                    id.clone(),
                    name.clone(),
                    mode,
                );
                expected.entry(key).or_default().push(capability);
            }
        }
    };
    let mut kinds = BTreeSet::new();
    for (i, p) in d.projects.iter().enumerate() {
        let object = ("project", p.id.as_str(), p.name.as_str());
        add(i, object, "item", &p.rules);
        add(i, object, "default_workbooks", &p.default_workbook_rules);
        add(i, object, "default_datasources", &p.default_datasource_rules);
    }
    // Content is read when no lock reaches its project: neither the
    // project's own nor a LockedToProject ancestor's.
    let reached = |project: u32| {
        std::iter::successors(Some(project), |&p| d.projects[p as usize].parent).any(|q| {
            let p = &d.projects[q as usize];
            p.locked && (q == project || !p.lock_without_nested)
        })
    };
    for w in d.workbooks.iter().filter(|w| !reached(w.project)) {
        add(w.project as usize, ("workbook", &w.id, &w.name), "item", &w.rules);
    }
    // Views are read only where their workbook hides its tabs: a tabbed
    // workbook's views take its rules.
    for (i, v) in d.views.iter().enumerate() {
        let wb = &d.workbooks[v.workbook as usize];
        let project = wb.project;
        if !reached(project) && !wb.show_tabs {
            add(project as usize, ("view", &v.id, &v.name), "item", &d.view_rules(i as u32));
        }
    }
    for x in d.datasources.iter().filter(|x| !reached(x.project)) {
        add(x.project as usize, ("datasource", &x.id, &x.name), "item", &x.rules);
    }
    let mut want: Vec<Vec<String>> = expected
        .into_iter()
        .map(|(k, mut caps)| {
            kinds.insert(k.2);
            caps.sort_unstable();
            vec![k.0, k.1, k.2.into(), k.3, k.4, k.5.into(), k.6.into(), k.7, k.8, k.9.into(), caps.join(", ")]
        })
        .collect();
    want.sort();
    let names = [
        "project_path",
        "project_luid",
        "object_type",
        "object_luid",
        "object_name",
        "scope",
        "grantee_type",
        "grantee_luid",
        "grantee_name",
        "mode",
        "capabilities",
    ];
    let mut found: Vec<Vec<String>> =
        t.rows.iter().map(|r| names.iter().map(|n| text(t, r, n).to_string()).collect()).collect();
    found.sort();
    assert_eq!(kinds, BTreeSet::from(["datasource", "project", "view", "workbook"]), "the site sets rules on every kind");
    assert_eq!(found.len(), want.len(), "permission rows");
    assert!(found == want, "permission rows differ from the site's rules");
}

// --- Definitions and CSV without a warehouse -----------------------------------------------

#[test]
fn definition_errors_name_the_file_and_line() {
    let dir = scratch("definitions");
    std::fs::write(
        dir.join("broken.sql"),
        "-- title: Broken\n-- description: x\n-- colums:\n--   a: b\nSELECT 1 AS a\n",
    )
    .unwrap();
    let e = definitions::load_dir(&dir).unwrap_err().to_string();
    let path = dir.join("broken.sql").display().to_string();
    assert!(e.starts_with(&format!("{path}:3: ")), "{e}");
    assert!(e.contains("colums"), "{e}");

    std::fs::write(
        dir.join("broken.sql"),
        "-- title: Broken\n-- description: x\n-- columns:\n--   a: b\n--  c: d\nSELECT 1 AS a\n",
    )
    .unwrap();
    let e = definitions::load_dir(&dir).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{path}:5: ")), "{e}");

    // A good file with the slug of a built-in replaces it; a new one is added.
    std::fs::write(
        dir.join("broken.sql"),
        "-- title: Mine\n-- description: x\n-- columns:\n--   a: b\nSELECT 1 AS a\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("usage.sql"),
        "-- title: My usage\n-- description: x\n-- columns:\n--   a: b\nSELECT 2 AS b\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "not a report").unwrap();
    let defs = definitions::load(Some(&dir)).unwrap();
    let usage = defs.iter().find(|d| d.slug == "usage").unwrap();
    assert_eq!(usage.title, "My usage");
    assert!(defs.iter().any(|d| d.slug == "broken" && d.title == "Mine"));
    assert_eq!(defs.len(), definitions::built_in().unwrap().len() + 1);
    let slugs: Vec<&str> = defs.iter().map(|d| d.slug.as_str()).collect();
    assert!(slugs.windows(2).all(|w| w[0] < w[1]), "ordered by slug: {slugs:?}");

    // The override's query disagrees with its header: the error names its file.
    let conn = Connection::open_in_memory().unwrap();
    let e = write_all(&conn, std::slice::from_ref(usage), &BTreeMap::new(), &dir.join("out")).unwrap_err().to_string();
    assert!(e.contains(&dir.join("usage.sql").display().to_string()) && e.contains("(b)") && e.contains("(a)"), "{e}");

    let e = definitions::load(Some(&dir.join("missing"))).unwrap_err().to_string();
    assert!(e.contains("missing"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn csv_edge_cases_round_trip() {
    let table = ReportTable {
        slug: "edge".into(),
        title: "Edge".into(),
        description: "cases".into(),
        columns: ["text", "number"]
            .iter()
            .map(|c| ReportColumn { name: c.to_string(), description: String::new() })
            .collect(),
        rows: vec![
            vec![json!("a,b"), json!(1)],
            vec![json!("say \"hi\""), json!(-5)],
            vec![json!("two\r\nlines\nand\rmore"), json!(2.5)],
            vec![json!("=1+2"), json!(-0.5)],
            vec![json!("-5"), json!(0)],
            vec![json!("@here"), Value::Null],
            vec![json!(""), json!(true)],
            vec![Value::Null, json!(false)],
            vec![json!("Région – 日本 \u{1F600}"), json!(i64::MIN)],
        ],
    };
    let dir = scratch("csv");
    let path = dir.join("edge.csv");
    report_csv::write_report_csv(&path, &table).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        "text,number\r\n\
         \"a,b\",1\r\n\
         \"say \"\"hi\"\"\",-5\r\n\
         \"two\r\nlines\nand\rmore\",2.5\r\n\
         '=1+2,-0.5\r\n\
         '-5,0\r\n\
         '@here,\r\n\
         \"\",true\r\n\
         ,false\r\n\
         Région – 日本 \u{1F600},-9223372036854775808\r\n"
    );
    // An independent reader sees the same values. (It reads NULL and ""
    // alike: the bytes above tell them apart, `,false` against `"",true`.)
    let back = read_csv(&bytes);
    let s = |x: &str| x.to_string();
    assert_eq!(
        back,
        vec![
            vec![s("text"), s("number")],
            vec![s("a,b"), s("1")],
            vec![s("say \"hi\""), s("-5")],
            vec![s("two\r\nlines\nand\rmore"), s("2.5")],
            vec![s("'=1+2"), s("-0.5")],
            vec![s("'-5"), s("0")],
            vec![s("'@here"), s("")],
            vec![s(""), s("true")],
            vec![s(""), s("false")],
            vec![s("Région – 日本 \u{1F600}"), s("-9223372036854775808")],
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}
