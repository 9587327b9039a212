//! The warehouse end to end: runs into DuckDB and Parquet, history and
//! views across runs, and failed and dropped runs leaving the previous
//! warehouse exactly as it was. (A killed run: `tests/extract.rs` kills a
//! real `trm extract` between its last write and its commit.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use duckdb::{Config, Connection};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use trm::warehouse::schema::{self, TABLES};
use trm::warehouse::{new_run_id, Rows, RunInfo, WarehouseError, Writer, V};

// --- helpers -----------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("trm-warehouse-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("trm.duckdb")
    }
    fn parquet(&self) -> PathBuf {
        self.0.join("parquet")
    }
}

impl Drop for TempDir {
    /// Removes the directory, unless TRM_WAREHOUSE_KEEP is set (to inspect it).
    fn drop(&mut self) {
        if std::env::var_os("TRM_WAREHOUSE_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DAY: i64 = 86_400;
/// 2026-01-01T12:00:00Z
const T1: i64 = 1_767_268_800;

fn run_info(as_of: i64) -> RunInfo {
    RunInfo {
        run_id: new_run_id(as_of),
        profile: "test".into(),
        server: "https://tableau.example.com".into(),
        site: "finance".into(),
        api_version: "3.24".into(),
        started_at: as_of + 3,
        as_of,
    }
}

fn open(db: &Path) -> Connection {
    Connection::open_with_flags(db, Config::default().enable_autoload_extension(false).unwrap()).unwrap()
}

/// (view_luid, total_view_count, created_at) → a views batch.
fn views(rows: &[(&str, i64, Option<i64>)]) -> RecordBatch {
    let mut b = Rows::new("views");
    for (id, count, created) in rows {
        let name = format!("View {id}");
        b.push(&[
            (*id).into(),
            (&name).into(),
            V::Null,
            "wb-1".into(),
            Some("user-1").into(),
            None::<&str>.into(),
            Some("sheet").into(),
            created.map_or(V::Null, V::Time),
            V::Time(T1 - 60),
            (*count).into(),
            V::Null,
        ])
        .unwrap();
    }
    b.finish()
}

fn tags(rows: &[(&str, &str)]) -> RecordBatch {
    let mut b = Rows::new("tags");
    for (id, tag) in rows {
        b.push(&["view".into(), (*id).into(), (*tag).into()]).unwrap();
    }
    b.finish()
}

fn users(rows: &[(&str, Option<&str>)]) -> RecordBatch {
    let mut b = Rows::new("users");
    for (id, email) in rows {
        b.push(&[(*id).into(), (*id).into(), V::Null, (*email).into(), "Viewer".into(), V::Null, V::Time(T1 - DAY)])
            .unwrap();
    }
    b.finish()
}

/// Each row of the batches as one string, sorted.
fn row_strings(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        for i in 0..batch.num_rows() {
            out.push(batch.columns().iter().map(|c| cell(c, i)).collect::<Vec<_>>().join(" | "));
        }
    }
    out.sort();
    out
}

/// One value as text. Times print as microseconds and zone: Arrow's
/// formatter needs the chrono-tz feature for a zone named "UTC".
fn cell(array: &ArrayRef, i: usize) -> String {
    if array.is_null(i) {
        return "NULL".into();
    }
    if let Some(t) = array.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        return format!("{}us {}", t.value(i), t.timezone().unwrap_or("naive"));
    }
    ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).unwrap().value(i).to_string()
}

fn query(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches: Vec<RecordBatch> = stmt.query_arrow([]).unwrap_or_else(|e| panic!("{sql}: {e}")).collect();
    row_strings(&batches)
}

fn scalar_i64(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn column_list(table: &schema::Table) -> String {
    table.columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
}

/// Everything a reader could see: every hist table, every view, the
/// succeeded runs and their tables, and every Parquet file (path and bytes)
/// outside temporary directories.
fn digest(db: &Path, parquet: &Path) -> Vec<String> {
    let conn = open(db);
    let mut out = Vec::new();
    for t in TABLES {
        for row in query(&conn, &format!("SELECT * FROM hist_{}", t.name)) {
            out.push(format!("hist_{}: {row}", t.name));
        }
        for row in query(&conn, &format!("SELECT * FROM \"{}\"", t.name)) {
            out.push(format!("{}: {row}", t.name));
        }
    }
    for row in query(&conn, "SELECT * FROM runs WHERE status = 'succeeded'") {
        out.push(format!("runs: {row}"));
    }
    for row in query(&conn, "SELECT * FROM run_tables") {
        out.push(format!("run_tables: {row}"));
    }
    drop(conn);
    let mut files = Vec::new();
    list_files(parquet, parquet, &mut files);
    for (path, bytes) in files {
        out.push(format!("file {path}: {} bytes, hash {:x}", bytes.len(), fnv(&bytes)));
    }
    out
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if rel.starts_with(".tmp-") {
            continue;
        }
        if path.is_dir() {
            out.push((format!("{rel}/"), Vec::new()));
            list_files(root, &path, out);
        } else {
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

fn tmp_dirs(parquet: &Path) -> Vec<String> {
    std::fs::read_dir(parquet)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

fn partition(parquet: &Path, table: &str, run: &RunInfo) -> PathBuf {
    parquet
        .join(table)
        .join(format!("site={}", run.site))
        .join(format!("snapshot_date={}", trm::warehouse::snapshot_date(run.as_of)))
        .join(format!("run_id={}", run.run_id))
}

fn read_parquet_file(path: &Path) -> (arrow::datatypes::SchemaRef, Vec<RecordBatch>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches = builder.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    (schema, batches)
}

/// Run 1 on day 1: three views, two tags, one user.
fn first_run(dir: &TempDir) -> RunInfo {
    let run = run_info(T1);
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run.clone()).unwrap();
    w.write("views", views(&[("v1", 10, Some(T1 - 10 * DAY)), ("v2", 5, None)])).unwrap();
    w.write("views", views(&[("v3", 0, Some(0))])).unwrap();
    w.write("tags", tags(&[("v1", "finance"), ("v2", "it's \"quoted\"")])).unwrap();
    w.write("users", users(&[("alice", Some("alice@example.com"))])).unwrap();
    let rows = w.commit(&["projects: one skipped".to_string()]).unwrap();
    assert_eq!(rows, BTreeMap::from([("tags".into(), 2), ("users".into(), 1), ("views".into(), 3)]));
    run
}

// --- tests -------------------------------------------------------------------------

#[test]
fn two_runs_keep_history_and_views_show_the_latest() {
    let dir = TempDir::new("two-runs");
    let run1 = first_run(&dir);

    // Run 2 the next day: v1 gained views, v3 is gone, v4 is new; tags written
    // empty; users not written at all (as with --only).
    let run2 = run_info(T1 + DAY);
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run2.clone()).unwrap();
    w.write("views", views(&[("v1", 15, Some(T1 - 10 * DAY)), ("v2", 5, None), ("v4", 1, None)])).unwrap();
    w.write("tags", tags(&[])).unwrap();
    let rows = w.commit(&[]).unwrap();
    assert_eq!(rows, BTreeMap::from([("tags".into(), 0), ("views".into(), 3)]));

    let conn = open(&dir.db());
    assert_eq!(
        query(&conn, "SELECT view_luid, total_view_count FROM views"),
        vec!["v1 | 15", "v2 | 5", "v4 | 1"],
        "the view shows run 2"
    );
    assert_eq!(scalar_i64(&conn, "SELECT count(*) FROM hist_views"), 6);
    assert_eq!(
        query(&conn, "SELECT run_id, count(*) FROM hist_views GROUP BY run_id"),
        vec![format!("{} | 3", run1.run_id), format!("{} | 3", run2.run_id)]
    );
    assert_eq!(query(&conn, "SELECT * FROM tags"), Vec::<String>::new(), "run 2 wrote tags, empty");
    assert_eq!(
        query(&conn, "SELECT user_luid, email FROM users"),
        vec!["alice | alice@example.com"],
        "run 2 skipped users"
    );

    // runs: both, with rows per table and warnings as JSON.
    let runs = query(
        &conn,
        "SELECT run_id, status, rows_per_table, warnings, error, CAST(snapshot_date AS VARCHAR), profile, site, api_version FROM runs",
    );
    assert_eq!(
        runs,
        vec![
            format!(
                "{} | succeeded | {{\"tags\":2,\"users\":1,\"views\":3}} | [\"projects: one skipped\"] | NULL | 2026-01-01 | test | finance | 3.24",
                run1.run_id
            ),
            format!("{} | succeeded | {{\"tags\":0,\"views\":3}} | [] | NULL | 2026-01-02 | test | finance | 3.24", run2.run_id),
        ]
    );
    assert_eq!(
        query(&conn, "SELECT CAST(as_of AS VARCHAR), CAST(started_at AS VARCHAR), ended_at > as_of FROM runs"),
        vec![
            "2026-01-01 12:00:00+00 | 2026-01-01 12:00:03+00 | true",
            "2026-01-02 12:00:00+00 | 2026-01-02 12:00:03+00 | true"
        ]
    );
    assert_eq!(
        query(&conn, "SELECT run_id, table_name, rows FROM run_tables"),
        vec![
            format!("{} | tags | 2", run1.run_id),
            format!("{} | users | 1", run1.run_id),
            format!("{} | views | 3", run1.run_id),
            format!("{} | tags | 0", run2.run_id),
            format!("{} | views | 3", run2.run_id),
        ]
    );

    // A delta between the two latest runs, per view.
    let delta = query(
        &conn,
        "WITH ranked AS (
             SELECT run_id, row_number() OVER (ORDER BY as_of DESC, run_id DESC) AS n FROM runs WHERE status = 'succeeded'
         ),
         cur AS (SELECT view_luid, total_view_count FROM hist_views JOIN ranked USING (run_id) WHERE n = 1),
         prev AS (SELECT view_luid, total_view_count FROM hist_views JOIN ranked USING (run_id) WHERE n = 2),
         final AS (
             SELECT view_luid, cur.total_view_count - coalesce(prev.total_view_count, 0) AS new_views
             FROM cur LEFT JOIN prev USING (view_luid)
         )
         SELECT * FROM final",
    );
    assert_eq!(delta, vec!["v1 | 5", "v2 | 0", "v4 | 1"]);

    // Comments from Table::doc.
    let comment: String = conn
        .query_row("SELECT comment FROM duckdb_views() WHERE schema_name = 'main' AND view_name = 'views'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(comment.starts_with("A view (sheet, dashboard or story)"), "{comment}");
    let comment: String = conn
        .query_row("SELECT comment FROM duckdb_tables() WHERE table_name = 'hist_views'", [], |r| r.get(0))
        .unwrap();
    assert!(comment.contains("Every run's rows of views"), "{comment}");
    drop(conn);

    // Parquet: one file per run and table written, equal to DuckDB's rows.
    let expected_files =
        [(&run1, "views", 3), (&run1, "tags", 2), (&run1, "users", 1), (&run2, "views", 3), (&run2, "tags", 0)];
    let conn = open(&dir.db());
    for (run, table, n) in expected_files {
        let t = schema::table(table).unwrap();
        let (file_schema, batches) = read_parquet_file(&partition(&dir.parquet(), table, run).join("part-0.parquet"));
        assert_eq!(file_schema.fields(), t.schema().fields(), "{table}");
        let from_parquet = row_strings(&batches);
        assert_eq!(from_parquet.len(), n, "{table} in {}", run.run_id);
        let from_duckdb =
            query(&conn, &format!("SELECT {} FROM hist_{table} WHERE run_id = '{}'", column_list(t), run.run_id));
        assert_eq!(from_parquet, from_duckdb, "{table} in {}", run.run_id);
    }
    assert!(!partition(&dir.parquet(), "users", &run2).exists(), "run 2 wrote no users");
    assert_eq!(tmp_dirs(&dir.parquet()), Vec::<String>::new());

    // DuckDB reads the tree with Hive partitions, where its parquet extension is built in.
    let parquet_loaded = conn.execute_batch("LOAD parquet").is_ok();
    if parquet_loaded {
        let glob = dir.parquet().join("views/*/*/*.parquet");
        let rows = query(
            &conn,
            &format!(
                "SELECT run_id, CAST(snapshot_date AS VARCHAR), typeof(snapshot_date), view_luid, total_view_count \
                 FROM read_parquet('{}', hive_partitioning = true)",
                glob.display()
            ),
        );
        assert_eq!(rows.len(), 6);
        assert!(rows.contains(&format!("{} | 2026-01-02 | DATE | v4 | 1", run2.run_id)), "{rows:?}");
    } else {
        eprintln!("note: this DuckDB build has no parquet extension; read_parquet not checked here");
    }
}

#[test]
fn timestamps_and_nulls_round_trip() {
    let dir = TempDir::new("times");
    let run = run_info(T1);
    let times = [Some(0), Some(-86_400), Some(T1), Some(4_102_444_800 /* 2100-01-01 */), None];
    let rows: Vec<(String, i64, Option<i64>)> =
        times.iter().enumerate().map(|(i, t)| (format!("v{i}"), i as i64, *t)).collect();
    let borrowed: Vec<(&str, i64, Option<i64>)> = rows.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run.clone()).unwrap();
    w.write("views", views(&borrowed)).unwrap();
    w.write("users", users(&[("bob", None), ("carol", Some(""))])).unwrap();
    w.commit(&[]).unwrap();

    let conn = open(&dir.db());
    let mut stmt = conn.prepare("SELECT view_luid, created_at, content_url FROM views ORDER BY view_luid").unwrap();
    let batches: Vec<RecordBatch> = stmt.query_arrow([]).unwrap().collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let created = batch
        .column(1)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("TIMESTAMPTZ reads as Timestamp(us)");
    assert_eq!(created.timezone(), Some("UTC"));
    let got: Vec<Option<i64>> = created.iter().map(|t| t.map(|us| us / 1_000_000)).collect();
    assert_eq!(got, times.to_vec());
    assert_eq!(batch.column(2).null_count(), 5);
    assert_eq!(
        query(&conn, "SELECT view_luid, CAST(created_at AS VARCHAR) FROM views"),
        vec![
            "v0 | 1970-01-01 00:00:00+00",
            "v1 | 1969-12-31 00:00:00+00",
            "v2 | 2026-01-01 12:00:00+00",
            "v3 | 2100-01-01 00:00:00+00",
            "v4 | NULL"
        ]
    );
    assert_eq!(
        query(&conn, "SELECT typeof(created_at), typeof(total_view_count), typeof(view_luid) FROM views LIMIT 1"),
        vec!["TIMESTAMP WITH TIME ZONE | BIGINT | VARCHAR"]
    );
    // NULL and empty text stay apart.
    assert_eq!(
        query(&conn, "SELECT user_luid, email IS NULL, coalesce(email, '-') FROM users"),
        vec!["bob | true | -", "carol | false | "]
    );

    let (_, batches) = read_parquet_file(&partition(&dir.parquet(), "views", &run).join("part-0.parquet"));
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let created = batch.column(7).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
    assert_eq!(created.timezone(), Some("UTC"));
    let got: Vec<Option<i64>> = created.iter().map(|t| t.map(|us| us / 1_000_000)).collect();
    assert_eq!(got, times.to_vec());
}

#[test]
fn abort_leaves_the_previous_warehouse_unchanged() {
    let dir = TempDir::new("abort");
    first_run(&dir);
    let before = digest(&dir.db(), &dir.parquet());

    let run2 = run_info(T1 + DAY);
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run2.clone()).unwrap();
    w.write("views", views(&[("v1", 99, None), ("v9", 1, None)])).unwrap();
    w.write("users", users(&[("mallory", None)])).unwrap();
    w.write("groups", Rows::new("groups").finish()).unwrap();
    w.abort("stream views failed: HTTP 500").unwrap();

    assert_eq!(digest(&dir.db(), &dir.parquet()), before);
    assert_eq!(tmp_dirs(&dir.parquet()), Vec::<String>::new());
    let conn = open(&dir.db());
    assert_eq!(
        query(&conn, "SELECT run_id, status, error, rows_per_table FROM runs WHERE status = 'failed'"),
        vec![format!(
            "{} | failed | stream views failed: HTTP 500 | {{\"groups\":0,\"users\":1,\"views\":2}}",
            run2.run_id
        )]
    );
}

#[test]
fn dropping_a_writer_rolls_back() {
    let dir = TempDir::new("drop");
    first_run(&dir);
    let before = digest(&dir.db(), &dir.parquet());

    let run2 = run_info(T1 + DAY);
    let result = std::panic::catch_unwind(|| {
        let w = Writer::start(&dir.db(), Some(&dir.parquet()), run2.clone()).unwrap();
        w.write("views", views(&[("v1", 99, None)])).unwrap();
        w.write("tags", tags(&[("v1", "x")])).unwrap();
        panic!("a stream panicked");
    });
    assert!(result.is_err());

    assert_eq!(digest(&dir.db(), &dir.parquet()), before);
    assert_eq!(tmp_dirs(&dir.parquet()), Vec::<String>::new());
    let conn = open(&dir.db());
    let status: String = conn
        .query_row("SELECT status || ': ' || error FROM runs WHERE run_id = ?", [&run2.run_id], |r| r.get(0))
        .unwrap();
    assert!(status.starts_with("failed: the run was abandoned"), "{status}");
}

#[test]
fn a_failed_write_fails_the_commit_and_keeps_nothing() {
    let dir = TempDir::new("failed-write");
    first_run(&dir);
    let before = digest(&dir.db(), &dir.parquet());

    // Wrong schema and unknown tables are refused at write, naming the table.
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run_info(T1 + DAY)).unwrap();
    let e = w.write("users", views(&[("v1", 1, None)])).unwrap_err().to_string();
    assert!(e.contains("users") && e.contains("columns"), "{e}");
    let e = w.write("nope", views(&[])).unwrap_err();
    assert!(matches!(e, WarehouseError::UnknownTable(ref t) if t == "nope"), "{e}");
    // A required column with a null (built by hand, not through Rows).
    let t = schema::table("group_memberships").unwrap();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from(vec![Some("g1"), None])), Arc::new(StringArray::from(vec!["u1", "u2"]))];
    let loose = arrow::datatypes::Schema::new(
        t.schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(loose), columns).unwrap();
    let e = w.write("group_memberships", batch).unwrap_err().to_string();
    assert!(e.contains("group_memberships") && e.contains("group_luid") && e.contains("null"), "{e}");
    w.write("views", views(&[("v1", 1, None)])).unwrap();
    let rows = w.commit(&[]).unwrap();
    assert_eq!(rows, BTreeMap::from([("views".into(), 1)]), "refused batches are not counted");
    assert_ne!(digest(&dir.db(), &dir.parquet()), before);
}

#[test]
fn a_write_failing_in_the_writer_fails_the_run() {
    let dir = TempDir::new("thread-error");
    first_run(&dir);
    let before = digest(&dir.db(), &dir.parquet());

    let run2 = run_info(T1 + DAY);
    let w = Writer::start(&dir.db(), Some(&dir.parquet()), run2.clone()).unwrap();
    // A file where the views' temporary Parquet directory must go.
    let blocker = dir.parquet().join(format!(".tmp-{}", run2.run_id)).join("views");
    std::fs::write(&blocker, b"in the way").unwrap();
    w.write("views", views(&[("v1", 1, None)])).unwrap();
    // Later writes fail fast once the writer has seen the error.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let later = loop {
        match w.write("tags", tags(&[("v1", "x")])) {
            Err(e) => break e.to_string(),
            Ok(()) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(()) => panic!("writes kept succeeding after a failed one"),
        }
    };
    assert!(later.contains("an earlier write") && later.contains("views"), "{later}");
    let e = w.commit(&[]).unwrap_err().to_string();
    assert!(e.contains("views"), "the error names the path: {e}");

    assert_eq!(digest(&dir.db(), &dir.parquet()), before);
    assert_eq!(tmp_dirs(&dir.parquet()), Vec::<String>::new());
    let conn = open(&dir.db());
    let error: String =
        conn.query_row("SELECT error FROM runs WHERE run_id = ? AND status = 'failed'", [&run2.run_id], |r| r.get(0)).unwrap();
    assert!(error.contains("views"), "{error}");
}

#[test]
fn the_schema_is_idempotent_and_migrates() {
    let dir = TempDir::new("migrate");
    first_run(&dir);
    {
        let conn = open(&dir.db());
        // An older warehouse: users had no email, and an extra required column since dropped from the schema.
        conn.execute_batch(
            "ALTER TABLE hist_users DROP COLUMN email; ALTER TABLE hist_users ADD COLUMN legacy VARCHAR; \
             UPDATE hist_users SET legacy = 'x'; ALTER TABLE hist_users ALTER COLUMN legacy SET NOT NULL;",
        )
        .unwrap();
    }
    let run2 = run_info(T1 + DAY);
    let w = Writer::start(&dir.db(), None, run2).unwrap();
    w.write("users", users(&[("dave", Some("dave@example.com"))])).unwrap();
    w.commit(&[]).unwrap();
    let conn = open(&dir.db());
    assert_eq!(
        query(&conn, "SELECT user_luid, email, legacy FROM hist_users"),
        vec!["alice | NULL | x", "dave | dave@example.com | NULL"]
    );
    assert_eq!(query(&conn, "SELECT user_luid, email FROM users"), vec!["dave | dave@example.com"]);
    // The view has the site's LUID and the schema's columns.
    let t = schema::table("users").unwrap();
    let cols = query(&conn, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'users' ORDER BY column_index");
    let mut want: Vec<&str> = std::iter::once("site_luid").chain(t.columns.iter().map(|c| c.name)).collect();
    want.sort_unstable(); // `query` sorts its rows
    assert_eq!(cols, want);

    // A changed type is refused, naming the column.
    conn.execute_batch("ALTER TABLE hist_groups ALTER COLUMN domain TYPE BIGINT").unwrap();
    drop(conn);
    let e = Writer::start(&dir.db(), None, run_info(T1 + 2 * DAY)).err().expect("a type change is refused").to_string();
    assert!(e.contains("hist_groups.domain") && e.contains("BIGINT") && e.contains("VARCHAR"), "{e}");
}

/// Append speed for a large table: `cargo test --release --test warehouse -- --ignored --nocapture`.
#[test]
#[ignore]
fn append_speed_one_million_fields() {
    let dir = TempDir::new("speed");
    let n = 1_000_000;
    let ids: Vec<String> = (0..n).map(|i| format!("field-{i:08}")).collect();
    let started = std::time::Instant::now();
    let mut batches = Vec::new();
    for chunk in ids.chunks(100_000) {
        let mut rows = Rows::new("fields");
        for id in chunk {
            rows.push(&[
                id.into(),
                Some("Sales Amount").into(),
                "CalculatedField".into(),
                "ds-00001".into(),
                "published".into(),
                Some("REAL").into(),
                Some("MEASURE").into(),
                Some("SUM([Amount]) / 2").into(),
                Some(false).into(),
            ])
            .unwrap();
        }
        batches.push(rows.finish());
    }
    let built = started.elapsed();
    for parquet in [false, true] {
        let run = run_info(T1 + parquet as i64);
        let root = dir.parquet();
        let started = std::time::Instant::now();
        let w = Writer::start(&dir.db(), parquet.then_some(root.as_path()), run).unwrap();
        for b in &batches {
            w.write("fields", b.clone()).unwrap();
        }
        let rows = w.commit(&[]).unwrap();
        assert_eq!(rows["fields"], n as u64);
        eprintln!(
            "1M fields rows: built in {built:?}; written and committed (parquet: {parquet}) in {:?}",
            started.elapsed()
        );
    }
}
