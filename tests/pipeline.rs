//! The whole pipeline as a scheduler runs it: `trm run` against the
//! simulated site writes the warehouse, the findings, every CSV and
//! index.html; `--fail-on` sets the exit code; the planted hostile names are
//! inert in the HTML and the CSV; and the page loads in a real browser with
//! the planted workbook's lineage diagram (skipped with a message where
//! Chromium and Playwright are missing, a failure under `CI=true`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use trm::sim::dataset::Size;
use trm::sim::{self, SimConfig, SimHandle};
use trm::warehouse::read;

#[path = "support/site.rs"]
mod site;
use site::scratch;
#[path = "support/external.rs"]
mod external;

async fn site() -> SimHandle {
    let config = SimConfig { size: Size::Small, ..SimConfig::default() };
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

/// `trm run` against the site into `dir`; returns (exit code, stdout, stderr).
fn trm_run(handle: &SimHandle, dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let c = &handle.state.config;
    let out = Command::new(env!("CARGO_BIN_EXE_trm"))
        .arg("run")
        .args(["--server", &handle.url(), "--site", &c.site_content_url])
        .arg("--db")
        .arg(dir.join("trm.duckdb"))
        .arg("--parquet")
        .arg(dir.join("parquet"))
        .arg("--out")
        .arg(dir.join("report"))
        .args(extra)
        .env("TABLEAU_TOKEN_NAME", &c.pat_name)
        .env("TABLEAU_TOKEN_SECRET", &c.pat_secret)
        .env_remove("TABLEAU_SERVER")
        .env_remove("TABLEAU_SITE")
        .current_dir(dir)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_writes_everything_and_fail_on_sets_the_exit_code() {
    let handle = site().await;
    let m = handle.state.manifest();

    // Nothing named: exit 0 although findings exist.
    let dir = scratch("run");
    let (code, out, err) = trm_run(&handle, &dir, &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let report = dir.join("report");
    for slug in ["usage", "unused_dashboards", "broken_extracts", "missing_fields", "permissions"] {
        assert!(report.join(format!("{slug}.csv")).is_file(), "{slug}.csv missing; stdout:\n{out}");
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(out.contains("index.html"), "{out}");

    // The findings CSVs list exactly the planted assets, each once.
    let tasks = csv_column(&report.join("broken_extracts.csv"), "task_luid");
    let planted: Vec<&str> = m.planted.broken_extracts.iter().map(|b| b.task_id.as_str()).collect();
    assert!(!planted.is_empty(), "the site plants broken extracts");
    assert_eq!(sorted(&tasks), sorted(&planted), "broken_extracts.csv task ids");
    let fields = csv_column(&report.join("missing_fields.csv"), "field_metadata_id");
    let planted: Vec<&str> = m.planted.missing_fields.iter().map(|f| f.field_id.as_str()).collect();
    assert!(!planted.is_empty(), "the site plants missing fields");
    assert_eq!(sorted(&fields), sorted(&planted), "missing_fields.csv field ids");

    // Hostile names: escaped in the HTML, neutralised in the CSV.
    for h in &m.planted.hostile_names {
        if h.name.contains('<') {
            assert!(!html.contains(&h.name), "raw '{}' in index.html", h.name);
        }
    }
    assert!(!html.contains("<script>alert(1)</script>"));
    for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "url(http", "@import"] {
        assert!(!html.contains(external), "index.html loads something external: {external}");
    }
    let usage = std::fs::read_to_string(report.join("usage.csv")).unwrap();
    let view = m.planted.hostile_names.iter().find(|h| h.kind == "view").expect("a hostile view name");
    assert!(view.name.starts_with('='));
    let quoted = format!("\"'{}\"", view.name.replace('"', "\"\""));
    assert!(usage.contains(&quoted), "the hostile view name is not neutralised as {quoted} in usage.csv");
    for line in usage.lines() {
        for cell in line.split(',') {
            assert!(!cell.starts_with(&view.name[..2]), "unneutralised cell {cell}");
        }
    }

    // `trm report-usage` writes the same usage report on its own.
    let single = dir.join("usage_report.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_trm"))
        .args(["report-usage", "--db"])
        .arg(dir.join("trm.duckdb"))
        .arg("--output")
        .arg(&single)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&single).unwrap(), usage);
    assert_eq!(usage.lines().count(), m.counts.views + 1, "one row per view, plus the header");

    // Named findings present: exit 1, everything still written.
    let dir2 = scratch("fail-on");
    let (code, out, err) = trm_run(&handle, &dir2, &["--fail-on", "broken-extracts,missing-fields"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("broken extract") && err.contains("missing field"), "{err}");
    assert!(dir2.join("report/index.html").is_file());

    // A bad --fail-on name is a usage error before anything runs.
    let dir3 = scratch("bad-fail-on");
    let (code, _, err) = trm_run(&handle, &dir3, &["--fail-on", "everything"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("everything"), "{err}");
    assert!(!dir3.join("trm.duckdb").exists());

    browser_check(&dir, &m.planted.unused_dashboards[0].workbook_id);
    handle.stop().await;
}

/// Every value of the column `name` of a report's CSV, read with the `csv`
/// crate rather than TRM's writer.
fn csv_column(path: &Path, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("{} has no column {name}", path.display()));
    reader.records().map(|r| r.unwrap()[at].to_string()).collect()
}

/// Sorted, keeping duplicates: two lists are equal as multisets when these are.
fn sorted<S: AsRef<str>>(items: &[S]) -> Vec<&str> {
    let mut v: Vec<&str> = items.iter().map(|s| s.as_ref()).collect();
    v.sort_unstable();
    v
}

/// The asset-level lineage of workbook `wb`, computed with SQL straight
/// from the warehouse tables (not through the lineage graph): the nodes its
/// diagram must show.
fn expected_diagram(db: &Path, wb: &str) -> BTreeSet<String> {
    let conn = read::open(db).unwrap();
    let q = |sql: &str| -> BTreeSet<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([wb], |r| r.get::<_, String>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut ids = BTreeSet::from([wb.to_string()]);
    ids.extend(q("SELECT coalesce(sheet_luid, sheet_metadata_id) FROM sheets WHERE workbook_luid = ?"));
    ids.extend(q("SELECT coalesce(dashboard_luid, dashboard_metadata_id) FROM dashboards WHERE workbook_luid = ?"));
    ids.extend(q("SELECT datasource_metadata_id FROM embedded_datasources WHERE workbook_luid = ?"));
    // Datasources whose tables count: the published ones the workbook goes
    // through, and its embedded ones that connect directly.
    let sources = "(SELECT p.datasource_metadata_id AS ds FROM embedded_datasources e \
                   JOIN embedded_published_datasources x ON x.embedded_datasource_metadata_id = e.datasource_metadata_id \
                   JOIN published_datasources p ON p.datasource_metadata_id = x.published_datasource_metadata_id \
                   WHERE e.workbook_luid = $1 \
                   UNION SELECT e.datasource_metadata_id FROM embedded_datasources e WHERE e.workbook_luid = $1 \
                   AND e.datasource_metadata_id NOT IN \
                   (SELECT embedded_datasource_metadata_id FROM embedded_published_datasources))";
    ids.extend(q(&format!(
        "SELECT p.datasource_luid FROM published_datasources p WHERE p.datasource_metadata_id IN (SELECT ds FROM {sources})"
    )));
    ids.extend(q(&format!(
        "SELECT DISTINCT coalesce(t.table_luid, t.table_metadata_id) FROM datasource_tables d \
         JOIN database_tables t ON t.table_metadata_id = d.table_metadata_id \
         WHERE d.datasource_metadata_id IN (SELECT ds FROM {sources})"
    )));
    ids.extend(q(&format!(
        "SELECT DISTINCT coalesce(s.database_luid, s.database_metadata_id) FROM datasource_tables d \
         JOIN database_tables t ON t.table_metadata_id = d.table_metadata_id \
         JOIN database_servers s ON s.database_metadata_id = t.database_metadata_id \
         WHERE d.datasource_metadata_id IN (SELECT ds FROM {sources})"
    )));
    ids
}

/// Loads index.html in headless Chromium (tests/browser/check_report.py):
/// no console errors, the workbook's diagram holds exactly the expected
/// nodes, sorting works; saves a screenshot. Needs TRM_BROWSER_PYTHON, a
/// Python with playwright, and Debian's Chromium (`.ci/run` installs both);
/// without them it says it skips, and under `CI=true` it fails.
fn browser_check(dir: &Path, wb: &str) {
    let expected = expected_diagram(&dir.join("trm.duckdb"), wb);
    assert!(expected.len() >= 5, "the planted workbook has a real lineage: {expected:?}");
    let python = std::env::var_os("TRM_BROWSER_PYTHON").filter(|p| !p.is_empty()).map(PathBuf::from);
    let missing = match &python {
        None => Some("TRM_BROWSER_PYTHON is not set to a Python with playwright (see .ci/run)".to_string()),
        Some(p) if !p.is_file() => Some(format!("TRM_BROWSER_PYTHON names {}, which does not exist", p.display())),
        // Where check_report.py launches it from.
        Some(_) if !Path::new("/usr/bin/chromium").is_file() => Some("/usr/bin/chromium is not installed".to_string()),
        Some(_) => None,
    };
    if !external::require(missing.is_none(), "the browser check", missing.as_deref().unwrap_or_default()) {
        return;
    }
    let python = python.unwrap();
    let screenshot = std::env::var("TRM_BROWSER_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.join("report-screenshot.png"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_report.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--html")
        .arg(dir.join("report/index.html"))
        .args(["--diagram-id", wb])
        .args(["--expect-node-ids", &expected.into_iter().collect::<Vec<_>>().join(",")])
        .arg("--screenshot")
        .arg(&screenshot)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    assert!(out.status.success(), "browser check failed:\n{text}");
    assert!(screenshot.is_file());
}
