//! The SQL reports and their CSV files, over a warehouse extracted from the
//! simulated site (two snapshots 30 days apart) with findings added:
//!
//! - every report's CSV, read back, equals its SQL file run directly on a
//!   fresh read-only connection, cell by cell;
//! - names built to attack spreadsheets arrive neutralised;
//! - usage, ranking, staleness, group and lineage counts agree with the
//!   simulated site's ground truth;
//! - definition errors name the file and line; CSV edge cases round-trip.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use duckdb::types::{TimeUnit, Value as Duck};
use duckdb::{AccessMode, Config, Connection};
use serde_json::{json, Value};
use trm::config::Settings;
use trm::extract::{self, Options, Quiet};
use trm::report::definitions::{self, Definition};
use trm::report::model::{ReportColumn, ReportTable};
use trm::report::{csv, sql, write_all};
use trm::sim::dataset::{day_start, Entity, DAY};
use trm::sim::{self, SimConfig, SimHandle};
use trm::warehouse::{write_derived, Rows, RunRef, V};

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

struct Finding<'a> {
    detector: &'a str,
    severity: &'a str,
    kind: &'a str,
    id: String,
    name: Option<String>,
    workbook: Option<String>,
    project: Option<String>,
    owner: Option<(String, String)>,
    reason: String,
    evidence: Value,
}

/// Findings like the audit's, from the site's planted facts, plus some with
/// names built to attack a spreadsheet.
fn findings(handle: &SimHandle) -> Vec<Finding<'static>> {
    let st = &handle.state;
    let d = &st.data;
    let m = st.manifest();
    let user = |i: u32| (d.users[i as usize].id.clone(), d.users[i as usize].full_name.clone());
    let workbook = |id: &str| match d.lookup(id) {
        Some(Entity::Workbook(w)) => &d.workbooks[w as usize],
        other => panic!("{id} is not a workbook: {other:?}"),
    };
    let mut out = Vec::new();
    for u in &m.planted.unused_dashboards {
        let w = workbook(&u.workbook_id);
        out.push(Finding {
            detector: "unused_dashboard",
            severity: if u.total_view_count == 0 { "high" } else { "medium" },
            kind: "dashboard",
            id: u.id.clone(),
            name: Some(u.name.clone()),
            workbook: Some(u.workbook_id.clone()),
            project: Some(d.projects[w.project as usize].name.clone()),
            owner: Some(user(w.owner)),
            reason: format!("no views in {} days", m.usage_window_days),
            evidence: json!({"total_view_count": u.total_view_count}),
        });
    }
    for b in &m.planted.broken_extracts {
        let (name, project, owner) = match d.lookup(&b.target_id) {
            Some(Entity::Workbook(w)) => {
                let w = &d.workbooks[w as usize];
                (w.name.clone(), d.projects[w.project as usize].name.clone(), w.owner)
            }
            Some(Entity::Datasource(x)) => {
                let x = &d.datasources[x as usize];
                (x.name.clone(), d.projects[x.project as usize].name.clone(), x.owner)
            }
            other => panic!("{} is not a refresh target: {other:?}", b.target_id),
        };
        out.push(Finding {
            detector: "broken_extract",
            severity: if b.consecutive_failed_count >= 3 { "high" } else { "medium" },
            kind: b.target_type,
            id: b.target_id.clone(),
            name: Some(name),
            workbook: None,
            project: Some(project),
            owner: Some(user(owner)),
            reason: format!("broken: {}", b.reasons.join(", ")),
            evidence: json!({
                "task_id": b.task_id,
                "reasons": b.reasons,
                "consecutive_failed_count": b.consecutive_failed_count,
                "last_refresh_at": b.last_success_at,
            }),
        });
    }
    for f in &m.planted.missing_fields {
        out.push(Finding {
            detector: "missing_field",
            severity: "high",
            kind: "field",
            id: f.field_id.clone(),
            name: Some(f.field_name.clone()),
            workbook: None,
            project: None,
            owner: None,
            reason: format!("{} ({})", f.kind, f.missing_references.join(", ")),
            evidence: json!({"sheets": f.sheets, "dashboards": f.dashboards, "sheet_names": []}),
        });
    }
    // Hostile text on a real dashboard and a real datasource.
    let dashboard = d.views.iter().find(|v| v.sheet_type.as_str() == "dashboard").expect("the site has dashboards");
    let w = &d.workbooks[dashboard.workbook as usize];
    out.push(Finding {
        detector: "unused_dashboard",
        severity: "low",
        kind: "dashboard",
        id: dashboard.id.clone(),
        name: Some(HOSTILE_DASHBOARD.into()),
        workbook: Some(w.id.clone()),
        project: Some(HOSTILE_PROJECT.into()),
        owner: Some((d.users[w.owner as usize].id.clone(), HOSTILE_OWNER.into())),
        reason: HOSTILE_REASON.into(),
        evidence: json!({}),
    });
    let x = &d.datasources[0];
    out.push(Finding {
        detector: "unused_datasource",
        severity: "low",
        kind: "datasource",
        id: x.id.clone(),
        name: Some(x.name.clone()),
        workbook: None,
        project: Some(d.projects[x.project as usize].name.clone()),
        owner: Some((d.users[x.owner as usize].id.clone(), HOSTILE_OWNER.into())),
        reason: "-no workbook connects to it".into(),
        evidence: json!({}),
    });
    out
}

fn write_findings(db: &Path, parquet: &Path, list: &[Finding<'_>]) {
    // The latest run, read here rather than through `read::resolve_run`, so
    // this test stands on the report code alone.
    let conn = read_only(db);
    let run = conn
        .query_row(
            "SELECT run_id, epoch_us(as_of) // 1000000, CAST(snapshot_date AS VARCHAR), site, server FROM runs \
             WHERE status = 'succeeded' ORDER BY as_of DESC, run_id DESC LIMIT 1",
            [],
            |r| {
                Ok(RunRef {
                    run_id: r.get(0)?,
                    as_of: r.get(1)?,
                    snapshot_date: r.get(2)?,
                    site: r.get(3)?,
                    server: r.get(4)?,
                })
            },
        )
        .unwrap();
    drop(conn);
    let mut rows = Rows::new("findings");
    for (i, f) in list.iter().enumerate() {
        let id = format!("f{i:04}");
        let evidence = f.evidence.to_string();
        // A field is named by its Metadata API id, any other asset by its LUID.
        let (luid, metadata_id) = if f.kind == "field" { (V::Null, V::Text(&f.id)) } else { (V::Text(&f.id), V::Null) };
        let codes: Option<String> =
            f.evidence["reasons"].as_array().map(|r| r.iter().map(|c| c.as_str().unwrap()).collect::<Vec<_>>().join(","));
        rows.push(&[
            V::Text(&id),
            V::Text(f.detector),
            V::Text(f.severity),
            V::Text(f.kind),
            luid,
            metadata_id,
            f.name.as_ref().into(),
            f.workbook.as_ref().into(),
            f.project.as_ref().into(),
            f.owner.as_ref().map(|o| &o.0).into(),
            f.owner.as_ref().map(|o| &o.1).into(),
            V::Text(&f.reason),
            V::Text(&evidence),
            f.evidence["task_id"].as_str().into(),
            codes.as_ref().into(),
        ])
        .unwrap();
    }
    write_derived(db, Some(parquet), &run, "findings", vec![rows.finish()]).unwrap();
}

// --- CSV reading and independent cell rendering ------------------------------------------

/// A small RFC 4180 reader: records end with CRLF; a quoted field may hold
/// anything, `""` being a quote. An unquoted empty field is NULL (`None`).
fn read_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // One field.
        let mut field = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next().expect("a quoted field ends with a quote") {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\r' {
                    break;
                }
                assert!(c != '\n' && c != '"', "bare {c:?} in an unquoted field of {text:?}");
                field.push(c);
                chars.next();
            }
        }
        record.push(if quoted || !field.is_empty() { Some(field) } else { None });
        match chars.next() {
            Some(',') => continue,
            Some('\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF ends a record");
                records.push(std::mem::take(&mut record));
                if chars.peek().is_none() {
                    return records;
                }
            }
            None => panic!("the last record does not end with CRLF"),
            Some(c) => panic!("{c:?} after a quoted field"),
        }
    }
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

fn matches(cell: &Option<String>, want: &Want) -> bool {
    match (cell, want) {
        (None, Want::Null) => true,
        (Some(c), Want::Text(t)) => c == t,
        (Some(c), Want::Int(i)) => c == &i.to_string(),
        (Some(c), Want::Float(f)) => c.parse::<f64>().is_ok_and(|x| x == *f),
        _ => false,
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
    let planted = findings(&handle);
    write_findings(&db, &settings.parquet, &planted);

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
    other_reports_match_the_site(&handle, &by_slug, &planted);
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
        let csv = read_csv(std::str::from_utf8(&bytes).expect("UTF-8"));
        let header: Vec<Option<String>> = names.iter().map(|n| Some(n.clone())).collect();
        assert_eq!(csv[0], header, "{}: header row", def.slug);
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

    // Nowhere does a text field start a formula; the only such fields are numbers.
    for (slug, table) in by_slug {
        for line in read_csv(&read(slug)) {
            for cell in line.iter().flatten() {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    assert!(cell.parse::<f64>().is_ok(), "{slug}: formula-like field {cell:?}");
                }
            }
        }
        // And numbers are numbers: no `'` before a negative one.
        for row in &table.rows {
            for v in row {
                if let Some(n) = v.as_number() {
                    assert!(!csv::field(v).starts_with('\''), "{slug}: number {n} mangled");
                }
            }
        }
    }
}

/// (c) Views in the window are the lifetime count at day 30 minus the count
/// at day 0, from the site's own usage model.
fn usage_counts_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>) {
    let d = &handle.state.data;
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
fn other_reports_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>, planted: &[Finding<'_>]) {
    let d = &handle.state.data;
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

    // Owners of flagged content: counts per owner id, as planted.
    let t = by_slug["flagged_content_owners"];
    let mut expected: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for f in planted {
        *expected.entry(f.owner.as_ref().map(|o| o.0.clone())).or_default() += 1;
    }
    let got: BTreeMap<Option<String>, i64> = t
        .rows
        .iter()
        .map(|r| (r[column(t, "owner_luid")].as_str().map(String::from), int(t, r, "findings").unwrap()))
        .collect();
    assert_eq!(got, expected);

    // Per-finding reports: one row per finding of their detector.
    let count = |detector: &str| planted.iter().filter(|f| f.detector == detector).count();
    assert_eq!(by_slug["unused_dashboards"].rows.len(), count("unused_dashboard"));
    assert_eq!(by_slug["broken_extracts"].rows.len(), count("broken_extract"));
    assert_eq!(by_slug["missing_fields"].rows.len(), count("missing_field"));

    // Broken extracts: the evidence's task, with its schedule.
    let t = by_slug["broken_extracts"];
    let m = handle.state.manifest();
    for row in &t.rows {
        let task = text(t, row, "task_luid");
        let b = m.planted.broken_extracts.iter().find(|b| b.task_id == task).expect("a planted task");
        assert_eq!(text(t, row, "reason_codes"), b.reasons.join(", "));
        assert_eq!(int(t, row, "consecutive_failed_count"), Some(b.consecutive_failed_count as i64));
        assert!(!row[column(t, "schedule_name")].is_null(), "task {task} has a schedule");
    }

    // Missing fields: at least the sheets the site says use the field.
    let t = by_slug["missing_fields"];
    for row in &t.rows {
        let id = text(t, row, "field_metadata_id");
        let f = m.planted.missing_fields.iter().find(|f| f.field_id == id).expect("a planted field");
        let n = int(t, row, "impacted_sheet_count").unwrap();
        assert!(n >= f.sheets.len() as i64, "field {id}: {n} impacted sheets, the site knows {}", f.sheets.len());
        assert_eq!(row[column(t, "impacted_sheets")].is_null(), n == 0);
    }
}

/// The window needs a snapshot at least its length old: none at 31 days,
/// day 0 at 10 days (the latest at or before day 20).
fn window_edges(db: &Path, usage: &Definition, handle: &SimHandle) {
    let d = &handle.state.data;
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

/// Every project's own rules and default rules, from the site's model,
/// are exactly the report's project rows: path, scope, grantee, mode and
/// the capabilities grouped per mode.
fn permissions_match_the_site(handle: &SimHandle, by_slug: &HashMap<&str, &ReportTable>) {
    use trm::sim::dataset::Grantee;
    let d = &handle.state.data;
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
    let mut expected = BTreeSet::new();
    for (i, p) in d.projects.iter().enumerate() {
        for (scope, rules) in
            [("item", &p.rules), ("default_workbooks", &p.default_workbook_rules), ("default_datasources", &p.default_datasource_rules)]
        {
            for rule in rules {
                let (kind, id, name) = match rule.grantee {
                    Grantee::User(u) => ("user", &d.users[u as usize].id, &d.users[u as usize].name),
                    Grantee::Group(g) => ("group", &d.groups[g as usize].id, &d.groups[g as usize].name),
                };
                for mode in ["Allow", "Deny"] {
                    let mut caps: Vec<&str> =
                        rule.capabilities.iter().filter(|(_, m)| m.as_str() == mode).map(|(c, _)| *c).collect();
                    if caps.is_empty() {
                        continue;
                    }
                    caps.sort_unstable();
                    expected.insert((path(i), p.id.clone(), scope, kind, id.clone(), name.clone(), mode, caps.join(", ")));
                }
            }
        }
    }
    let found: BTreeSet<_> = t
        .rows
        .iter()
        .filter(|r| text(t, r, "object_type") == "project")
        .map(|r| {
            (
                text(t, r, "project_path").to_string(),
                text(t, r, "object_luid").to_string(),
                match text(t, r, "scope") {
                    "item" => "item",
                    "default_workbooks" => "default_workbooks",
                    _ => "default_datasources",
                },
                if text(t, r, "grantee_type") == "user" { "user" } else { "group" },
                text(t, r, "grantee_luid").to_string(),
                text(t, r, "grantee_name").to_string(),
                if text(t, r, "mode") == "Allow" { "Allow" } else { "Deny" },
                text(t, r, "capabilities").to_string(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(found, expected, "project permission rows");
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
    csv::write_report_csv(&path, &table).unwrap();
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
    let back = read_csv(std::str::from_utf8(&bytes).unwrap());
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        back,
        vec![
            vec![s("text"), s("number")],
            vec![s("a,b"), s("1")],
            vec![s("say \"hi\""), s("-5")],
            vec![s("two\r\nlines\nand\rmore"), s("2.5")],
            vec![s("'=1+2"), s("-0.5")],
            vec![s("'-5"), s("0")],
            vec![s("'@here"), None],
            vec![s(""), s("true")],
            vec![None, s("false")],
            vec![s("Région – 日本 \u{1F600}"), s("-9223372036854775808")],
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}
