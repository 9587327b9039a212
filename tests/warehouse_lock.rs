//! A warehouse that another process holds open, as an analyst's read-write
//! `duckdb trm.duckdb` session does: `trm extract` waits for it (saying
//! which process it waits for) and carries on once it is closed, and fails
//! clearly, naming the process, when `--lock-timeout` runs out.
//!
//! The other process is this test binary again, running the ignored test
//! `hold_the_warehouse`: it opens the DuckDB file read-write, as the
//! `duckdb` CLI does by default, and keeps it until told to let go.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use trm::sim::dataset::Size;
use trm::sim::{self, SimConfig, SimHandle};
use trm::warehouse::{read, RunInfo, WarehouseError, Writer};

#[path = "support/site.rs"]
mod site;
use site::scratch;

const HOLD_DB: &str = "TRM_TEST_HOLD_DB";
const HOLD_READONLY: &str = "TRM_TEST_HOLD_READONLY";

/// The second process: holds `$TRM_TEST_HOLD_DB` read-write (read-only when
/// `TRM_TEST_HOLD_READONLY` is set, as `duckdb -readonly` does), writes its PID
/// to `<db>.held` once it has the lock, and lets go when `<db>.release`
/// appears (or after two minutes, so a failed test leaves no process
/// behind). Run only by the tests below, which start it with the variable.
#[test]
#[ignore = "the lock holder started by the tests in this file, not a test on its own"]
fn hold_the_warehouse() {
    let db = PathBuf::from(std::env::var_os(HOLD_DB).expect("run by the warehouse_lock tests, with TRM_TEST_HOLD_DB"));
    let conn = if std::env::var_os(HOLD_READONLY).is_some() {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
        duckdb::Connection::open_with_flags(&db, config).expect("open the warehouse read-only")
    } else {
        duckdb::Connection::open(&db).expect("open the warehouse read-write")
    };
    conn.execute_batch("SELECT 1").unwrap();
    std::fs::write(sibling(&db, "held"), std::process::id().to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !sibling(&db, "release").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(conn);
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

/// A holder process that has the lock; returns it and its PID.
fn hold(db: &Path) -> (Child, u32) {
    hold_with(db, false)
}

fn hold_with(db: &Path, readonly: bool) -> (Child, u32) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["hold_the_warehouse", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(HOLD_DB, db)
        .stdout(Stdio::null());
    if readonly {
        cmd.env(HOLD_READONLY, "1");
    } else {
        cmd.env_remove(HOLD_READONLY);
    }
    let child = cmd.spawn().expect("start the holder");
    let held = sibling(db, "held");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !held.exists() {
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50)); // the PID is written after the lock is taken
    let pid = std::fs::read_to_string(&held).unwrap().trim().parse().unwrap();
    (child, pid)
}

fn release(db: &Path, mut holder: Child) {
    std::fs::write(sibling(db, "release"), "").unwrap();
    let status = holder.wait().unwrap();
    assert!(status.success(), "the holder failed: {status}");
}

async fn site() -> SimHandle {
    let config = SimConfig { size: Size::Small, ..SimConfig::default() };
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

/// `trm extract` into `db` as a child process, stderr into `err_file`.
fn extract(handle: &SimHandle, db: &Path, lock_timeout: &str, err_file: &Path) -> Child {
    let c = &handle.state.config;
    Command::new(env!("CARGO_BIN_EXE_trm"))
        .arg("extract")
        .args(["--server", &handle.url(), "--site", &c.site_content_url, "--no-parquet"])
        .arg("--db")
        .arg(db)
        .args(["--lock-timeout", lock_timeout])
        .env("TABLEAU_TOKEN_NAME", &c.pat_name)
        .env("TABLEAU_TOKEN_SECRET", &c.pat_secret)
        .env_remove("TABLEAU_SERVER")
        .env_remove("TABLEAU_SITE")
        .env_remove("RUST_LOG")
        .current_dir(db.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(File::create(err_file).unwrap())
        .spawn()
        .expect("start trm extract")
}

fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("trm extract did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn succeeded_runs(db: &Path) -> usize {
    let conn = read::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM runs WHERE status = 'succeeded'", [], |r| r.get::<_, i64>(0)).unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_waits_for_the_holder_then_writes() {
    let handle = site().await;
    let dir = scratch("lock-wait");
    let db = dir.join("trm.duckdb");
    let err_file = dir.join("stderr.txt");
    let (holder, pid) = hold(&db);

    let mut trm = extract(&handle, &db, "2m", &err_file);
    // It must be waiting, and say for whom, before the holder lets go.
    let deadline = Instant::now() + Duration::from_secs(60);
    let waiting = loop {
        let text = std::fs::read_to_string(&err_file).unwrap_or_default();
        if text.contains("waiting up to") {
            break text;
        }
        assert!(trm.try_wait().unwrap().is_none(), "trm extract ended without waiting:\n{text}");
        assert!(Instant::now() < deadline, "no waiting message within a minute:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(waiting.contains(&format!("(PID {pid})")), "the message names the holder's PID {pid}:\n{waiting}");
    assert!(waiting.contains("duckdb -readonly"), "the message tells analysts how to open the file:\n{waiting}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(trm.try_wait().unwrap().is_none(), "trm extract gave up while the file was still held");

    release(&db, holder);
    let status = wait_for(&mut trm, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert!(status.success(), "trm extract failed after the holder let go: {status}\n{stderr}");
    assert_eq!(succeeded_runs(&db), 1, "the run was written once the file was free");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_gives_up_after_the_lock_timeout_naming_the_holder() {
    let handle = site().await;
    let dir = scratch("lock-timeout");
    let db = dir.join("trm.duckdb");
    let err_file = dir.join("stderr.txt");
    let (holder, pid) = hold(&db);

    let started = Instant::now();
    let mut trm = extract(&handle, &db, "2s", &err_file);
    let status = wait_for(&mut trm, Duration::from_secs(90));
    let took = started.elapsed();
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    release(&db, holder);

    assert_eq!(status.code(), Some(2), "a held file is an error (exit 2):\n{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    let cause = stderr.lines().skip_while(|l| !l.starts_with("error:")).collect::<Vec<_>>().join("\n");
    assert!(cause.contains(&format!("(PID {pid})")), "the error names the holder's PID {pid}:\n{stderr}");
    assert!(cause.contains("gave up after waiting 2 s"), "{stderr}");
    assert!(cause.contains("--lock-timeout"), "the error names the flag:\n{stderr}");
    assert!(error.contains(&db.display().to_string()), "the error names the warehouse:\n{stderr}");
    assert!(took >= Duration::from_secs(2), "it waited for the timeout before failing ({took:?})");
    // Nothing of the attempt reached the file: no schema, no failed run.
    let conn = read::open(&db).unwrap();
    let tables: i64 = conn.query_row("SELECT count(*) FROM duckdb_tables()", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 0, "the timed-out run wrote nothing");
    handle.stop().await;
}

/// What the README tells analysts: a `duckdb -readonly` session shares the
/// file with TRM's readers, but a writer still waits for it.
#[test]
fn a_read_only_session_lets_readers_in_and_keeps_writers_waiting() {
    let dir = scratch("lock-readonly");
    let db = dir.join("trm.duckdb");
    let run = |id: &str| RunInfo {
        run_id: id.into(),
        profile: "test".into(),
        server: "https://tableau.example.com".into(),
        site: "analytics".into(),
        api_version: "3.27".into(),
        started_at: 1_767_268_800,
        as_of: 1_767_268_800,
    };
    Writer::start(&db, None, run("r1")).unwrap().commit(&[]).unwrap();
    let (holder, pid) = hold_with(&db, true);

    let conn = read::open(&db).expect("a reader opens the file beside a read-only session");
    assert_eq!(read::resolve_run(&conn, &db, None).unwrap().run_id, "r1");
    drop(conn);

    trm::warehouse::set_lock_timeout(Duration::from_millis(600));
    let started = Instant::now();
    let err = Writer::start(&db, None, run("r2")).err().expect("a writer cannot open beside a read-only session");
    trm::warehouse::set_lock_timeout(trm::warehouse::DEFAULT_LOCK_TIMEOUT);
    release(&db, holder);
    assert!(started.elapsed() >= Duration::from_millis(600), "it waited the timeout out");
    match err {
        WarehouseError::Locked { holder, .. } => assert!(holder.contains(&format!("(PID {pid})")), "{holder}"),
        other => panic!("not a lock error: {other}"),
    }
}
