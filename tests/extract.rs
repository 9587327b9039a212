//! End-to-end extraction against the simulated site: every table's row
//! count equals the ground truth, Parquet holds exactly DuckDB's rows, two
//! days give two snapshots with the right view deltas, transient faults end
//! in a complete run and a permanent one in a clear failure, a run killed
//! before its commit leaves the previous warehouse intact, no secret reaches
//! logs or outputs, and explicit permissions are read with the fewest
//! requests and match the site's rules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use trm::config::Settings;
use trm::extract::{self, Options, Quiet};
use trm::sim::dataset::lineage::FieldKind;
use trm::sim::dataset::{Dataset, Grantee, Rule, Size};
use trm::sim::faults::FaultPlan;
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

async fn site(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

async fn extract(settings: &Settings) -> anyhow::Result<extract::Outcome> {
    extract::run(settings, &Options { only: Vec::new(), parquet: true }, Arc::new(Quiet)).await
}

async fn extract_only(settings: &Settings, streams: &[&str]) -> anyhow::Result<extract::Outcome> {
    let only = streams.iter().map(|s| s.to_string()).collect();
    extract::run(settings, &Options { only, parquet: false }, Arc::new(Quiet)).await
}

/// `datasource_tables` rows, from the dataset model. A datasource reads
/// the database tables of its connections, looking through custom SQL to
/// the tables the query names; an embedded datasource connected to a
/// published one reads that one's tables; and each custom SQL table is read
/// by the published datasources connecting to it.
fn datasource_table_reads(d: &Dataset) -> usize {
    let l = &d.lineage;
    let base = |tables: &[u32]| -> usize {
        let mut read = std::collections::BTreeSet::new();
        for &t in tables {
            let table = &l.tables[t as usize];
            match &table.query {
                None => {
                    read.insert(t);
                }
                Some(sql) => read.extend(l.databases[table.database as usize].tables.clone().filter(|&o| {
                    let other = &l.tables[o as usize];
                    other.query.is_none() && sql.contains(&format!("{}.{} ", other.schema, other.name))
                })),
            }
        }
        read.len()
    };
    let published: usize = l.published.iter().map(|p| base(&p.tables)).sum();
    let embedded: usize = d
        .embedded_datasources
        .iter()
        .zip(&l.embedded)
        .map(|(e, own)| base(&e.published.map_or(&own.tables, |p| &l.published[p as usize].tables)))
        .sum();
    let custom: usize = l.published.iter().map(|p| p.tables.iter().filter(|&&t| l.tables[t as usize].query.is_some()).count()).sum();
    published + embedded + custom
}

/// What every table should hold, from the manifest and the site's model.
fn expected_rows(handle: &SimHandle) -> BTreeMap<String, u64> {
    let st = &handle.state;
    let m = st.manifest();
    let d = &st.data();
    let l = &d.lineage;
    let c = &m.counts;
    let tags = d.workbooks.iter().map(|w| w.tags.len()).sum::<usize>()
        + d.views.iter().map(|v| v.tags.len()).sum::<usize>()
        + d.datasources.iter().map(|x| x.tags.len()).sum::<usize>();
    let live_column_fields =
        l.fields.iter().filter(|f| f.kind == FieldKind::Column && l.live_column(f).is_some()).count();
    let field_fields = l.fields.iter().map(|f| f.refs.len() + f.remote.is_some() as usize).sum::<usize>();
    [
        ("sites", 1),
        ("projects", c.projects),
        ("users", c.users),
        ("groups", c.groups),
        ("group_memberships", c.group_memberships),
        ("workbooks", c.workbooks),
        ("views", c.views),
        // The site has no flows, and answers their listing as an unknown endpoint.
        ("flows", 0),
        ("datasources", c.datasources),
        ("tags", tags),
        ("schedules", c.schedules),
        ("extract_tasks", c.extract_refresh_tasks),
        ("jobs", c.jobs),
        ("dashboards", c.metadata_dashboards),
        ("sheets", c.metadata_sheets),
        ("published_datasources", c.datasources),
        ("embedded_datasources", c.embedded_datasources),
        ("database_servers", c.databases),
        ("database_tables", c.database_tables + c.custom_sql_tables),
        ("columns", c.columns),
        ("fields", c.fields),
        ("data_quality_warnings", c.data_quality_warnings),
        ("sheet_fields", l.sheets.iter().map(|s| s.fields.len()).sum()),
        ("dashboard_sheets", l.dashboards.iter().map(|x| x.sheets.len()).sum()),
        ("workbook_contents", l.sheets.len() + l.dashboards.len()),
        ("field_columns", live_column_fields),
        ("field_fields", field_fields),
        ("embedded_published_datasources", d.embedded_datasources.iter().filter(|e| e.published.is_some()).count()),
        ("datasource_tables", datasource_table_reads(d)),
        ("permissions", expected_permissions(handle).values().sum::<u64>() as usize),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n as u64))
    .collect()
}

/// `permissions` rows by (object_type, scope), from the manifest: every
/// project's own and default rules, and the rules workbooks, views and
/// datasources in unlocked projects have (locked content is not fetched).
fn expected_permissions(handle: &SimHandle) -> BTreeMap<(String, String), u64> {
    let p = &handle.state.manifest().counts.permissions;
    [
        ("project", "item", p.projects.capabilities),
        ("project", "default_workbooks", p.project_default_workbooks.capabilities),
        ("project", "default_datasources", p.project_default_datasources.capabilities),
        ("workbook", "item", p.unlocked_workbooks.capabilities),
        ("datasource", "item", p.unlocked_datasources.capabilities),
        ("view", "item", p.unlocked_views.capabilities),
    ]
    .into_iter()
    .filter(|(_, _, n)| *n > 0)
    .map(|(o, s, n)| ((o.to_string(), s.to_string()), n as u64))
    .collect()
}

fn permission_counts(conn: &duckdb::Connection) -> BTreeMap<(String, String), u64> {
    let mut stmt = conn.prepare("SELECT object_type, scope, count(*) FROM permissions GROUP BY ALL").unwrap();
    stmt.query_map([], |r| Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get::<_, i64>(2)? as u64)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn duck(path: &Path) -> duckdb::Connection {
    duckdb::Connection::open(path).expect("warehouse opens")
}

fn table_count(conn: &duckdb::Connection, table: &str) -> u64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// Every row of a DuckDB query as sorted strings, through Arrow so both
/// sides format values the same way.
fn duck_rows(conn: &duckdb::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let batches: Vec<_> = stmt.query_arrow([]).unwrap().collect();
    rows_as_strings(&batches)
}

fn rows_as_strings(batches: &[arrow::record_batch::RecordBatch]) -> Vec<String> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    let mut rows = Vec::new();
    for b in batches {
        // Timestamps compare as microseconds, whatever zone label each side uses.
        let cols: Vec<_> = b
            .columns()
            .iter()
            .map(|col| {
                let col = match col.data_type() {
                    DataType::Timestamp(_, _) => arrow::compute::cast(col, &DataType::Int64).unwrap(),
                    _ => col.clone(),
                };
                arrow::compute::cast(&col, &DataType::Utf8).unwrap()
            })
            .collect();
        for r in 0..b.num_rows() {
            let cells: Vec<&str> =
                cols.iter().map(|c| if c.is_null(r) { "NULL" } else { c.as_string::<i32>().value(r) }).collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

fn parquet_rows(root: &Path, table: &str, run_id: &str) -> Vec<String> {
    // <table>/site=<content_url>/snapshot_date=<day>/run_id=<run>/
    let mut files = Vec::new();
    for site in std::fs::read_dir(root.join(table)).unwrap() {
        for day in std::fs::read_dir(site.unwrap().path()).unwrap() {
            let dir = day.unwrap().path().join(format!("run_id={run_id}"));
            if dir.is_dir() {
                for f in std::fs::read_dir(&dir).unwrap() {
                    files.push(f.unwrap().path());
                }
            }
        }
    }
    assert!(!files.is_empty(), "no Parquet files for {table} in run {run_id}");
    let mut batches = Vec::new();
    for f in files {
        let file = std::fs::File::open(&f).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        batches.extend(reader.map(|b| b.unwrap()));
    }
    rows_as_strings(&batches)
}

async fn extracts_a_whole_site(size: Size) {
    let handle = site(SimConfig { size, ..SimConfig::default() }).await;
    let dir = scratch(&size.to_string());
    let settings = settings(&handle, &dir);
    let outcome = extract(&settings).await.expect("the extraction succeeds");
    let expected = expected_rows(&handle);
    let mut mismatches = Vec::new();
    for (table, want) in &expected {
        let got = outcome.rows.get(table).copied().unwrap_or(0);
        if got != *want {
            mismatches.push(format!("{table}: extracted {got}, ground truth {want}"));
        }
    }
    assert!(mismatches.is_empty(), "row counts differ from the ground truth:\n{}", mismatches.join("\n"));
    assert_eq!(outcome.rows.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "unexpected tables");

    let conn = duck(&settings.db);
    for (table, want) in &expected {
        assert_eq!(table_count(&conn, table), *want, "DuckDB view {table}");
        // The writer's site_luid is the Parquet partition (`site=`), not a
        // column; the sites table's site_luid is its own column.
        let exclude = if table == "sites" { "run_id" } else { "run_id, site_luid" };
        let in_duck = duck_rows(&conn, &format!("SELECT * EXCLUDE ({exclude}) FROM hist_{table} WHERE run_id = '{}'", outcome.run_id));
        let in_parquet = parquet_rows(&settings.parquet, table, &outcome.run_id);
        assert_eq!(in_duck.len(), in_parquet.len(), "{table}: DuckDB and Parquet row counts");
        assert!(in_duck == in_parquet, "{table}: Parquet rows differ from DuckDB's");
    }
    let status: String =
        conn.query_row("SELECT status FROM runs WHERE run_id = ?", [&outcome.run_id], |r| r.get(0)).unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(permission_counts(&conn), expected_permissions(&handle), "permissions by (object_type, scope)");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_site_extracts_completely() {
    extracts_a_whole_site(Size::Small).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medium_site_extracts_completely() {
    extracts_a_whole_site(Size::Medium).await;
}

/// Requests for REST lists of `n` items at 1,000 per page.
fn pages(n: usize) -> u64 {
    n.div_ceil(1000).max(1) as u64
}

/// (grantee_type, grantee_id, capability, mode) of each grant in `rules`, sorted.
fn grants_of(d: &Dataset, rules: &[Rule]) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = rules
        .iter()
        .flat_map(|r| {
            let (kind, id) = match r.grantee {
                Grantee::User(u) => ("user", d.users[u as usize].id.clone()),
                Grantee::Group(g) => ("group", d.groups[g as usize].id.clone()),
            };
            r.capabilities.iter().map(move |(c, m)| (kind.to_string(), id.clone(), c.to_string(), m.as_str().to_string()))
        })
        .collect();
    out.sort();
    out
}

/// `permissions` rows of one object and scope, as [`grants_of`] gives them.
fn grants_in_warehouse(
    conn: &duckdb::Connection,
    object_type: &str,
    object_id: &str,
    scope: &str,
) -> Vec<(String, String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT grantee_type, grantee_luid, capability, mode FROM permissions \
             WHERE object_type = ? AND object_luid = ? AND scope = ? ORDER BY ALL",
        )
        .unwrap();
    stmt.query_map([object_type, object_id, scope], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// `--only permissions` alone: every project's grants (own and default) are
/// exactly the dataset's rules, content in unlocked projects has exactly its
/// own rules, content in locked projects has none, and the requests are the
/// three shared lists plus one per permissions endpoint read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_match_the_sites_rules() {
    let handle = site(SimConfig::default()).await;
    let dir = scratch("permissions");
    let settings = settings(&handle, &dir);
    let outcome = extract_only(&settings, &["permissions"]).await.expect("the extraction succeeds");
    assert_eq!(outcome.rows.keys().collect::<Vec<_>>(), vec!["permissions"]);
    let guard = handle.state.data();
    let d = &*guard;
    let m = handle.state.manifest();
    let c = &m.counts;
    // serverinfo, sign-in and sign-out; the five lists (the site lists no
    // flows: one request); the permissions.
    let want = 3 + pages(c.projects) + pages(c.workbooks) + pages(c.datasources) + pages(c.views) + 1
        + c.permissions.requests as u64;
    assert_eq!(outcome.stats.requests, want, "requests sent ({:?})", outcome.stats);

    let conn = duck(&settings.db);
    assert_eq!(permission_counts(&conn), expected_permissions(&handle));
    let mut checked_users = false;
    for p in &d.projects {
        for (scope, rules) in
            [("item", &p.rules), ("default_workbooks", &p.default_workbook_rules), ("default_datasources", &p.default_datasource_rules)]
        {
            let want = grants_of(d, rules);
            checked_users |= want.iter().any(|g| g.0 == "user");
            assert_eq!(grants_in_warehouse(&conn, "project", &p.id, scope), want, "project {} ({scope})", p.name);
        }
    }
    assert!(checked_users, "the small site has user grants on some project");
    let rows_of = |object_type: &str, id: &str| grants_in_warehouse(&conn, object_type, id, "item");
    // A lock reaches a project's content when it is the project's own or a
    // LockedToProject ancestor's.
    let locked = |project: u32| {
        std::iter::successors(Some(project), |&p| d.projects[p as usize].parent).any(|q| {
            let p = &d.projects[q as usize];
            p.locked && (q == project || !p.lock_without_nested)
        })
    };
    let mut nested_locked = 0;
    for w in &d.workbooks {
        let l = locked(w.project);
        nested_locked += usize::from(l && !d.projects[w.project as usize].locked);
        let want = if l { Vec::new() } else { grants_of(d, &w.rules) };
        assert_eq!(rows_of("workbook", &w.id), want, "workbook {} (project locked: {l})", w.name);
    }
    assert!(nested_locked > 0, "some workbook is in a project nested below a locked one");
    for x in &d.datasources {
        let l = locked(x.project);
        let want = if l { Vec::new() } else { grants_of(d, &x.rules) };
        assert_eq!(rows_of("datasource", &x.id), want, "datasource {} (project locked: {l})", x.name);
    }
    // Views are read only where their workbook hides its tabs: a tabbed
    // workbook's views take its rules.
    let (mut own_view_rules, mut tabbed) = (0, 0);
    for (i, v) in d.views.iter().enumerate() {
        let wb = &d.workbooks[v.workbook as usize];
        let l = locked(wb.project);
        own_view_rules += usize::from(!l && !wb.show_tabs && !v.extra_rules.is_empty());
        tabbed += usize::from(!l && wb.show_tabs);
        let want = if l || wb.show_tabs { Vec::new() } else { grants_of(d, &d.view_rules(i as u32)) };
        assert_eq!(rows_of("view", &v.id), want, "view {} (project locked: {l}, tabs shown: {})", v.name, wb.show_tabs);
    }
    assert!(own_view_rules > 0, "some view of an unlocked workbook with hidden tabs has rules of its own");
    assert!(tabbed > 0, "some view of an unlocked workbook takes its tabbed workbook's rules");
    // Each row names the project its object is in.
    let misplaced: i64 = conn
        .query_row(
            "SELECT count(*) FROM permissions WHERE object_type = 'project' AND project_luid IS DISTINCT FROM object_luid",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(misplaced, 0, "a project's rows name the project itself");
    let project_of: BTreeMap<String, String> = d
        .workbooks
        .iter()
        .map(|w| (w.id.clone(), d.projects[w.project as usize].id.clone()))
        .chain(d.datasources.iter().map(|x| (x.id.clone(), d.projects[x.project as usize].id.clone())))
        .chain(d.views.iter().map(|v| (v.id.clone(), d.projects[d.workbooks[v.workbook as usize].project as usize].id.clone())))
        .collect();
    let mut stmt =
        conn.prepare("SELECT DISTINCT object_luid, project_luid FROM permissions WHERE object_type <> 'project'").unwrap();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (object, project) = row.unwrap();
        assert_eq!(project_of[&object], project, "project of {object}");
    }
    drop(guard);
    handle.stop().await;
}

/// A permissions endpoint that keeps failing fails the run, naming the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_permissions_read_names_its_object() {
    let faults = FaultPlan::from_yaml(
        "faults:\n  - {kind: status, status: 500, api: rest, path: /default-permissions/datasources}\n",
        "test plan",
    )
    .unwrap();
    let handle = site(SimConfig { faults, ..SimConfig::default() }).await;
    let dir = scratch("permissions-fail");
    let err = extract_only(&settings(&handle, &dir), &["permissions"]).await.expect_err("the run fails");
    let msg = format!("{err:#}");
    let named = handle.state.data().projects.iter().any(|p| msg.contains(&format!("'{}' ({})", p.name, p.id)));
    assert!(msg.contains("default datasource permissions of project") && named, "{msg}");
    handle.stop().await;
}

/// A full run lists projects, workbooks, datasources, views and flows once,
/// shared by their own streams and the permissions stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_lists_are_fetched_once() {
    let handle = site(SimConfig::default()).await;
    let dir = scratch("shared-lists");
    let settings = settings(&handle, &dir);
    let streams = ["projects", "workbooks", "datasources", "views", "flows", "permissions"];
    let outcome = extract_only(&settings, &streams).await.expect("the extraction succeeds");
    let c = &handle.state.manifest().counts;
    let want = 3 + pages(c.projects) + pages(c.workbooks) + pages(c.datasources) + pages(c.views) + 1
        + c.permissions.requests as u64;
    assert_eq!(outcome.stats.requests, want, "requests sent ({:?})", outcome.stats);
    assert_eq!(outcome.rows["projects"], c.projects as u64);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_days_give_two_snapshots_and_view_deltas() {
    let handle = site(SimConfig::default()).await;
    let dir = scratch("two-days");
    let settings = settings(&handle, &dir);
    let first = extract(&settings).await.unwrap();
    handle.state.set_day(30);
    let second = extract(&settings).await.unwrap();

    let conn = duck(&settings.db);
    let dates: Vec<String> = {
        let mut stmt = conn.prepare("SELECT CAST(snapshot_date AS VARCHAR) FROM runs ORDER BY as_of").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert_eq!(dates, vec!["2026-01-01".to_string(), "2026-01-31".to_string()]);

    let mut stmt = conn
        .prepare(
            "SELECT b.view_luid, b.total_view_count - a.total_view_count FROM hist_views a JOIN hist_views b USING (view_luid) \
             WHERE a.run_id = ? AND b.run_id = ?",
        )
        .unwrap();
    let deltas: BTreeMap<String, i64> = stmt
        .query_map([&first.run_id, &second.run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let d = &handle.state.data();
    assert_eq!(deltas.len(), d.views.len());
    for v in &d.views {
        let want = v.usage.total_at(30) as i64 - v.usage.total_at(0) as i64;
        assert_eq!(deltas[&v.id], want, "view {}", v.id);
    }
    // The plain-named view shows the latest run.
    let latest: i64 = conn.query_row("SELECT sum(total_view_count) FROM views", [], |r| r.get(0)).unwrap();
    assert_eq!(latest as u64, handle.state.manifest().counts.total_view_count);
}

/// Faults a real site shows now and then. Under each the run must complete
/// with a clean run's counts, having seen the fault (`check` on the
/// client's request statistics; `None` where they cannot show it).
type Seen = Option<fn(&trm::tableau::RequestStats) -> bool>;
const TRANSIENT: &[(&str, Seen)] = &[
    ("{kind: status, status: 503, every: 3, retry_after_secs: 1}", Some(|s| s.retries > 0)),
    ("{kind: status, status: 429, every: 4, retry_after_secs: 1}", Some(|s| s.throttled > 0 && s.retries > 0)),
    ("{kind: status, status: 500, every: 5}", Some(|s| s.retries > 0)),
    ("{kind: status, status: 502, every: 5}", Some(|s| s.retries > 0)),
    ("{kind: slow, delay_ms: 150, every: 4}", None),
    ("{kind: drop, every: 6}", Some(|s| s.retries > 0)),
    ("{kind: truncate, every: 6}", Some(|s| s.retries > 0)),
    ("{kind: expire_session, after_requests: 15}", Some(|s| s.reauthentications > 0)),
    ("{kind: node_limit, operations: [\"Fields\", \"Sheets\"], limit: 300}", None),
];

fn plan(fault: &str) -> FaultPlan {
    FaultPlan::from_yaml(&format!("seed: 3\nfaults:\n  - {fault}\n"), "test plan").expect("plan parses")
}

/// Every transient fault is survived: the run completes with exactly a
/// clean run's row counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_end_in_a_complete_run() {
    let clean_site = site(SimConfig::default()).await;
    let clean = extract(&settings(&clean_site, &scratch("clean"))).await.expect("a clean run succeeds");
    clean_site.stop().await;

    let mut failures = Vec::new();
    for (fault, seen) in TRANSIENT {
        let handle = site(SimConfig { faults: plan(fault), ..SimConfig::default() }).await;
        match extract(&settings(&handle, &scratch("fault"))).await {
            Ok(outcome) => {
                if outcome.rows != clean.rows {
                    failures.push(format!(
                        "{fault}: counts differ from a clean run's: {:?}; warnings: {:?}",
                        outcome.rows, outcome.warnings
                    ));
                }
                if seen.is_some_and(|seen| !seen(&outcome.stats)) {
                    failures.push(format!("{fault}: the fault never reached the client ({:?})", outcome.stats));
                }
            }
            Err(e) => failures.push(format!("{fault}: the run failed: {e:#}")),
        }
        handle.stop().await;
    }
    assert!(failures.is_empty(), "transient faults not survived:\n{}", failures.join("\n"));
}

/// A fault that does not pass fails the run with a message naming the
/// stream and the HTTP status, and leaves the previous warehouse as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_fault_fails_naming_the_stream_and_status() {
    // Every listing of the site's views fails.
    let fault = "{kind: status, status: 502, api: rest, path: /views}";
    let handle = site(SimConfig { faults: plan(fault), ..SimConfig::default() }).await;
    let dir = scratch("permanent-fault");
    let settings = settings(&handle, &dir);
    // A previous, clean warehouse to protect.
    let before = {
        let h = site(SimConfig::default()).await;
        let mut s = settings.clone();
        s.server = h.url();
        let o = extract(&s).await.expect("a clean run succeeds");
        h.stop().await;
        o
    };
    let before_rows = warehouse_state(&settings.db, &settings.parquet);

    let msg = format!("{:#}", extract(&settings).await.expect_err("a permanent fault fails the run"));
    // The varying parts: which stream, and what the server answered.
    assert!(msg.contains("stream views failed"), "the message names the stream: {msg}");
    assert!(!msg.contains("stream workbooks failed"), "only the views stream failed: {msg}");
    assert!(msg.contains("HTTP 502"), "the message names the HTTP status: {msg}");

    let conn = duck(&settings.db);
    let runs: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT run_id, status FROM runs ORDER BY as_of, status DESC").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
    };
    drop(conn);
    assert_eq!(runs.len(), 2, "the failed run is recorded: {runs:?}");
    assert_eq!(runs.iter().filter(|r| r.1 == "succeeded").map(|r| &r.0).collect::<Vec<_>>(), vec![&before.run_id]);
    assert_eq!(runs.iter().filter(|r| r.1 == "failed").count(), 1, "{runs:?}");
    let after: Vec<String> = warehouse_state(&settings.db, &settings.parquet).into_iter().filter(|r| !r.starts_with("runs:")).collect();
    let before_rows: Vec<String> = before_rows.into_iter().filter(|r| !r.starts_with("runs:")).collect();
    assert!(after == before_rows, "the previous warehouse changed");
    handle.stop().await;
}

/// The server-level schedule list, which Tableau Cloud refuses: only a
/// refusal means "no schedules here". A request the server paces (429, or
/// 503 with Retry-After) more times in a row than the ordinary attempts
/// allow still completes, and a failure
/// that outlives its retries fails the run instead of storing none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_read_through_pacing_and_never_stored_empty_on_failure() {
    // Paced: a 429, or a 503 that says when to come back.
    for status in [429, 503] {
        let paced = format!("{{kind: status, status: {status}, api: rest, path: /schedules, first: 9, retry_after_secs: 0}}");
        let handle = site(SimConfig { faults: plan(&paced), ..SimConfig::default() }).await;
        let listed = handle.state.data().schedules.iter().filter(|s| !s.inline).count() as u64;
        assert!(listed > 0, "the site lists schedules");
        let outcome = extract_only(&settings(&handle, &scratch("schedules-paced")), &["schedules"])
            .await
            .unwrap_or_else(|e| panic!("nine {status}s with Retry-After in a row are waited out: {e:#}"));
        assert_eq!(outcome.rows["schedules"], listed);
        assert_eq!(outcome.stats.retries, 9);
        handle.stop().await;
    }

    // Unpaced (no Retry-After), and for good: six attempts, then failure.
    let failing = "{kind: status, status: 503, api: rest, path: /schedules}";
    let handle = site(SimConfig { faults: plan(failing), ..SimConfig::default() }).await;
    let msg = format!(
        "{:#}",
        extract_only(&settings(&handle, &scratch("schedules-503")), &["schedules"])
            .await
            .expect_err("a schedule list that keeps failing fails the run")
    );
    assert!(msg.contains("stream schedules failed") && msg.contains("HTTP 503"), "{msg}");
    handle.stop().await;

    let cloud = site(SimConfig { flavor: sim::Flavor::Cloud, ..SimConfig::default() }).await;
    let outcome = extract_only(&settings(&cloud, &scratch("schedules-cloud")), &["schedules"])
        .await
        .expect("Tableau Cloud's refusal is not a failure");
    assert_eq!(outcome.rows["schedules"], 0);
    assert!(outcome.warnings.iter().any(|w| w.starts_with("schedules: schedules are not listed")), "{:?}", outcome.warnings);
    cloud.stop().await;
}

/// Everything a reader of the warehouse sees: every table's history and
/// view, the runs and their tables, and each published Parquet file (path
/// and bytes; in-progress temporary directories left out).
fn warehouse_state(db: &Path, parquet: &Path) -> Vec<String> {
    let conn = duck(db);
    let mut out = Vec::new();
    for t in trm::warehouse::schema::TABLES {
        for (kind, relation) in [("hist", format!("hist_{}", t.name)), ("view", format!("\"{}\"", t.name))] {
            out.extend(duck_rows(&conn, &format!("SELECT * FROM {relation}")).into_iter().map(|r| format!("{} {kind}: {r}", t.name)));
        }
    }
    for relation in ["runs", "run_tables"] {
        out.extend(duck_rows(&conn, &format!("SELECT * FROM {relation}")).into_iter().map(|r| format!("{relation}: {r}")));
    }
    for file in listing(parquet) {
        let bytes = std::fs::read(parquet.join(&file)).unwrap();
        let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3));
        out.push(format!("file {file}: {} bytes, fnv {hash:x}", bytes.len()));
    }
    out
}

fn trm_command(handle: &SimHandle, dir: &Path, secret: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trm"));
    cmd.args(["extract", "--server", &handle.url(), "--site", "analytics"])
        .arg("--db")
        .arg(dir.join("trm.duckdb"))
        .arg("--parquet")
        .arg(dir.join("parquet"))
        .env("TABLEAU_TOKEN_NAME", &handle.state.config.pat_name)
        .env("TABLEAU_TOKEN_SECRET", secret)
        .env_remove("TABLEAU_SERVER")
        .env_remove("TABLEAU_SITE")
        .current_dir(dir);
    cmd
}

/// A run killed (SIGKILL) after writing every row but before its commit
/// leaves the warehouse exactly as it was; the next run succeeds and
/// removes the killed run's temporary files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_the_previous_warehouse_intact() {
    let handle = site(SimConfig::default()).await;
    let dir = scratch("kill");
    let (db, parquet) = (dir.join("trm.duckdb"), dir.join("parquet"));
    let secret = handle.state.config.pat_secret.clone();
    let first = trm_command(&handle, &dir, &secret).output().unwrap();
    assert!(first.status.success(), "first run: {}", String::from_utf8_lossy(&first.stderr));
    let before = warehouse_state(&db, &parquet);
    let tables: Vec<String> = {
        let conn = duck(&db);
        let mut stmt = conn.prepare("SELECT table_name FROM run_tables WHERE \"rows\" > 0").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert!(tables.len() > 20, "the first run wrote rows to most tables: {tables:?}");
    let db_size = std::fs::metadata(&db).unwrap().len();

    // A second run whose sign-out, after every stream has finished and
    // before the commit, takes a minute: it is killed there.
    let stalled = site(SimConfig {
        faults: FaultPlan::from_yaml("faults:\n  - {kind: slow, delay_ms: 60000, path: /auth/signout}\n", "test plan").unwrap(),
        ..SimConfig::default()
    })
    .await;
    let mut child = trm_command(&stalled, &dir, &secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Its temporary Parquet directory holds a file for every table the
    // first run filled: every stream has written.
    let has_file = |tmp: &Path, t: &str| {
        tmp.join(t).is_dir() && listing(&tmp.join(t)).iter().any(|f| f.ends_with(trm::warehouse::PARQUET_FILE))
    };
    let written = |tmp: &Path| tables.iter().all(|t| has_file(tmp, t));
    let started = std::time::Instant::now();
    let tmp = loop {
        // The run's own directory, or its site's (`.tmp-<run>-<site>`).
        if let Some(tmp) = tmp_dirs(&parquet).into_iter().find(|t| written(t)) {
            break tmp;
        }
        if child.try_wait().unwrap().is_some() {
            let tmp = tmp_dirs(&parquet).into_iter().last();
            let missing: Vec<&String> = tables
                .iter()
                .filter(|t| !tmp.as_ref().is_some_and(|d| has_file(d, t)))
                .collect();
            panic!("the stalled run ended before it was killed; tables it had not written: {missing:?}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the stalled run never wrote every table");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Let the writer drain its queue; the commit still waits for the sign-out.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(child.try_wait().unwrap().is_none(), "the stalled run should still be going");
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "killed after writing {} tables; DuckDB file {db_size} bytes before the run, {} after the kill",
        tables.len(),
        std::fs::metadata(&db).unwrap().len()
    );

    let left = tmp_dirs(&parquet);
    assert!(left.contains(&tmp), "the killed run left its temporary Parquet files: {left:?}");
    let run_dir = left.iter().min().expect("a temporary directory").clone();
    assert!(
        left.iter().all(|d| d.to_string_lossy().starts_with(&*run_dir.to_string_lossy())),
        "every temporary directory is the killed run's: {left:?}"
    );
    assert!(warehouse_state(&db, &parquet) == before, "the killed run changed the warehouse");

    // The next run succeeds and sweeps the killed run's temporary files.
    let next = trm_command(&handle, &dir, &secret).output().unwrap();
    assert!(next.status.success(), "next run: {}", String::from_utf8_lossy(&next.stderr));
    assert_eq!(tmp_dirs(&parquet), Vec::<std::path::PathBuf>::new());
    let conn = duck(&db);
    let runs: i64 = conn.query_row("SELECT count(*) FROM runs WHERE status = 'succeeded'", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2);
    handle.stop().await;
    // `stalled` is left to the runtime: stopping it would wait out the sign-out's delay.
    drop(stalled);
}

/// The temporary directories of unfinished runs under the Parquet root.
fn tmp_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp-"))
        .collect();
    out.sort();
    out
}

/// Files under `root`, skipping in-progress temporary directories.
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_or_outputs() {
    let secret = "sekret-XYZZY-4711-do-not-print";
    let handle = site(SimConfig { pat_secret: secret.into(), ..SimConfig::default() }).await;
    let dir = scratch("secrets");
    let out = trm_command(&handle, &dir, secret).env("RUST_LOG", "trace").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logs = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(logs.len() > 1000, "trace logs were captured");
    assert!(!logs.contains(secret), "the secret appears in the logs");

    // A failed sign-in's error text names the server, not the secret.
    let wrong = "wrong-sekret-0815";
    let out = trm_command(&handle, &dir, wrong).env("RUST_LOG", "trace").output().unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&handle.url()) && !text.contains(wrong), "{text}");

    for file in listing(&dir).iter().chain(std::iter::once(&"trm.duckdb".to_string())) {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is in {file}");
    }
}
