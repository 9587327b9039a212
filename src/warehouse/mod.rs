//! The warehouse: every run's rows in one DuckDB file and, optionally, in
//! Hive-partitioned Parquet files, with history across runs.
//!
//! - [`schema`]: every table, defined once.
//! - [`Rows`] (`batch.rs`): builds one table's Arrow batch row by row,
//!   checked against its schema.
//! - [`Writer`]: one run. It owns a thread holding the DuckDB connection;
//!   batches reach it through a bounded channel. The whole run is one
//!   DuckDB transaction, and Parquet files are written to a temporary
//!   directory and moved into place at commit, so a failed, aborted, dropped
//!   or killed run leaves the warehouse exactly as it was.
//! - `duck.rs`: the DuckDB layout (`hist_T` tables, `T` views, `runs`,
//!   `run_tables`), type mapping and migration.
//! - `migrate.rs`: schema versions, and what changed between them.
//! - `parquet_files.rs`: the Parquet layout.
//! - `lock.rs`: waiting, up to `--lock-timeout`, while another process
//!   (an analyst's `duckdb` session) holds the file.

mod batch;
mod derived;
mod duck;
mod lock;
mod logs;
mod migrate;
mod parquet_files;
pub mod read;
pub mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow::record_batch::RecordBatch;

pub use batch::{Rows, V};
pub use derived::{write_derived, write_derived_by_site, write_derived_tables};
pub use logs::append_log;
pub use read::RunRef;
pub use duck::{hist_name, sql_type};
pub use lock::{lock_holder, lock_timeout, set_lock_timeout, Holder, DEFAULT_LOCK_TIMEOUT};
pub use parquet_files::PART as PARQUET_FILE;

use duck::Duck;
use parquet_files::ParquetRun;
use schema::Table;

/// Everything that can go wrong in the warehouse. Each message names the
/// table, file or path concerned.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// A row pushed to [`Rows`] does not fit its table.
    #[error("table {table}, row {row}, column {column}: {message}")]
    Row { table: &'static str, row: usize, column: String, message: String },
    #[error("no warehouse table named '{0}'")]
    UnknownTable(String),
    /// A batch handed to [`Writer::write`] does not have its table's schema.
    #[error("the batch for table {table} does not match its schema: {message}")]
    Batch { table: &'static str, message: String },
    #[error("DuckDB warehouse {path}: {what}")]
    Duck {
        path: PathBuf,
        what: String,
        #[source]
        source: duckdb::Error,
    },
    /// The existing warehouse cannot be migrated to the current schema.
    #[error("DuckDB warehouse {path}: {message}")]
    Schema { path: PathBuf, message: String },
    #[error("{what} {path}")]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Parquet file {path}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// An earlier write of this run failed; the run can only be aborted.
    #[error("an earlier write to the warehouse {path} failed: {message}")]
    Failed { path: PathBuf, message: String },
    /// Another process kept the file locked for all of `--lock-timeout`.
    #[error(
        "DuckDB warehouse {path} is in use by {holder}; gave up after waiting {} s (--lock-timeout). \
         Close that session and run again; analysts can open the file with `duckdb -readonly`",
        waited.as_secs()
    )]
    Locked { path: PathBuf, holder: String, waited: std::time::Duration },
    #[error("there is no warehouse at {path}; run `trm extract` first, or pass --db")]
    Missing { path: PathBuf },
    #[error("warehouse {path}: {message}")]
    NoRun { path: PathBuf, message: String },
    #[error("the warehouse writer for {path} stopped unexpectedly")]
    WriterGone { path: PathBuf },
}

/// What identifies a run and when it happened.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub profile: String,
    pub server: String,
    pub site: String,
    pub api_version: String,
    /// Unix seconds, by the local clock.
    pub started_at: i64,
    /// Unix seconds, by the server's clock: the time the data describes.
    pub as_of: i64,
}

/// A site a run reads, declared with [`Writer::site`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    /// The site's REST LUID: the `site_luid` of every row read from it.
    pub luid: String,
    pub content_url: String,
    pub name: String,
}

/// A run id that sorts by time and is unique: `20260101T120000Z-3f9a`
/// (`now` in UTC, then 4 random hex digits).
pub fn new_run_id(now: i64) -> String {
    let time = crate::time::basic(now);
    let random = getrandom::u32().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        nanos ^ std::process::id().rotate_left(16)
    });
    format!("{time}-{:04x}", random & 0xffff)
}

/// The UTC date of a Unix time, `YYYY-MM-DD`: a run's snapshot date.
pub fn snapshot_date(unix_seconds: i64) -> String {
    crate::time::date(unix_seconds)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Batches queued to the writer thread before [`Writer::write`] blocks.
const QUEUE: usize = 4;

enum Msg {
    /// A batch of the run's site, or of a declared site (by content URL,
    /// which a server's sites never share; a site that failed to sign in
    /// has no LUID).
    Write(Option<String>, &'static Table, RecordBatch),
    Site(SiteInfo),
    /// A site that failed: its rows of this run are taken out again.
    FailSite(String, String, SyncSender<Result<(), WarehouseError>>),
    Commit(Vec<String>, SyncSender<Result<BTreeMap<String, u64>, WarehouseError>>),
    Abort(String, SyncSender<Result<(), WarehouseError>>),
}

/// One run's writer. See the module docs.
pub struct Writer {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<()>>,
    /// The first failed write's message, so later writes fail fast.
    failed: Arc<Mutex<Option<String>>>,
    db: PathBuf,
}

impl Writer {
    /// Opens (creating if needed) the DuckDB file and the Parquet root
    /// (`None`: no Parquet), creates or migrates the schema, begins the run's
    /// transaction and prepares the run's temporary Parquet directory.
    pub fn start(db: &Path, parquet: Option<&Path>, run: RunInfo) -> Result<Writer, WarehouseError> {
        let duck = Duck::open(db)?;
        let parquet = match parquet {
            Some(root) => match ParquetRun::start(root, &run.run_id, &snapshot_date(run.as_of), &run.site) {
                Ok(p) => Some(p),
                Err(e) => {
                    let _ = duck.rollback();
                    return Err(e);
                }
            },
            None => None,
        };
        let failed = Arc::new(Mutex::new(None));
        let (tx, rx) = sync_channel(QUEUE);
        let session = Session {
            duck,
            parquet,
            run,
            rows: BTreeMap::new(),
            sites: Vec::new(),
            error: None,
            failed: failed.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("trm-warehouse".into())
            .spawn(move || session.serve(rx))
            .map_err(|source| WarehouseError::Io {
                path: db.to_owned(),
                what: "cannot start the writer thread for".into(),
                source,
            })?;
        Ok(Writer { tx: Some(tx), thread: Some(thread), failed, db: db.to_owned() })
    }

    /// Queues a batch for `table`; may be called many times per table. The
    /// batch is checked against the table's schema here; an error from an
    /// earlier write surfaces here or at [`commit`](Self::commit). Blocks
    /// only while the queue is full (backpressure).
    pub fn write(&self, table: &'static str, batch: RecordBatch) -> Result<(), WarehouseError> {
        let table = schema::table(table).ok_or_else(|| WarehouseError::UnknownTable(table.to_string()))?;
        let batch = conform(table, batch)?;
        if let Some(message) = self.failed.lock().expect("failed flag poisoned").clone() {
            return Err(WarehouseError::Failed { path: self.db.clone(), message });
        }
        self.send(Msg::Write(None, table, batch))
    }

    /// Declares a site the run reads, and returns the handle its rows go
    /// through. Without any, every row belongs to the run's one site (its
    /// LUID then unknown: `site_luid` is empty).
    pub fn site(&self, site: SiteInfo) -> Result<SiteWriter, WarehouseError> {
        let key = site.content_url.clone();
        self.send(Msg::Site(site))?;
        Ok(SiteWriter {
            tx: self.tx.clone().expect("the sender lives until drop"),
            failed: self.failed.clone(),
            db: self.db.clone(),
            key,
        })
    }

    /// Finishes the Parquet files, moves them into place, records the run
    /// (`succeeded`, rows per table, warnings) and commits. Returns rows per
    /// table. On error nothing of the run is kept and it is recorded as
    /// `failed`.
    pub fn commit(mut self, warnings: &[String]) -> Result<BTreeMap<String, u64>, WarehouseError> {
        let (reply, answer) = sync_channel(1);
        self.send(Msg::Commit(warnings.to_vec(), reply))?;
        let result = answer.recv().unwrap_or_else(|_| Err(WarehouseError::WriterGone { path: self.db.clone() }));
        self.join();
        result
    }

    /// Rolls back, deletes the temporary Parquet files and records the run as
    /// `failed` with `error`, in a transaction of its own.
    pub fn abort(mut self, error: &str) -> Result<(), WarehouseError> {
        let (reply, answer) = sync_channel(1);
        self.send(Msg::Abort(error.to_string(), reply))?;
        let result = answer.recv().unwrap_or_else(|_| Err(WarehouseError::WriterGone { path: self.db.clone() }));
        self.join();
        result
    }

    fn send(&self, msg: Msg) -> Result<(), WarehouseError> {
        let tx = self.tx.as_ref().expect("the sender lives until drop");
        tx.send(msg).map_err(|_| WarehouseError::WriterGone { path: self.db.clone() })
    }

    /// Closes the queue and waits for the thread (and so the connection) to end.
    fn join(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(db = %self.db.display(), "the warehouse writer thread panicked");
            }
        }
    }
}

/// The rows of one site of a run (see [`Writer::site`]); cheap to clone,
/// one per site, usable from any thread while the run is open.
#[derive(Clone)]
pub struct SiteWriter {
    tx: SyncSender<Msg>,
    failed: Arc<Mutex<Option<String>>>,
    db: PathBuf,
    /// The site's content URL.
    key: String,
}

impl SiteWriter {
    /// [`Writer::write`] for this site.
    pub fn write(&self, table: &'static str, batch: RecordBatch) -> Result<(), WarehouseError> {
        let table = schema::table(table).ok_or_else(|| WarehouseError::UnknownTable(table.to_string()))?;
        let batch = conform(table, batch)?;
        if let Some(message) = self.failed.lock().expect("failed flag poisoned").clone() {
            return Err(WarehouseError::Failed { path: self.db.clone(), message });
        }
        self.tx
            .send(Msg::Write(Some(self.key.clone()), table, batch))
            .map_err(|_| WarehouseError::WriterGone { path: self.db.clone() })
    }

    /// The site failed: its rows of this run are removed (the other sites'
    /// stay) and the run records it as failed with `error`.
    pub fn fail(&self, error: &str) -> Result<(), WarehouseError> {
        let (reply, answer) = sync_channel(1);
        self.tx
            .send(Msg::FailSite(self.key.clone(), error.to_string(), reply))
            .map_err(|_| WarehouseError::WriterGone { path: self.db.clone() })?;
        answer.recv().unwrap_or_else(|_| Err(WarehouseError::WriterGone { path: self.db.clone() }))
    }
}

impl Drop for Writer {
    /// Without commit or abort (an error path, a panic): the thread sees the
    /// queue close, rolls back and records the run as failed.
    fn drop(&mut self) {
        self.join();
    }
}

/// The batch with exactly the table's schema, or an error naming the table
/// and the first column that differs.
pub(crate) fn conform(table: &'static Table, batch: RecordBatch) -> Result<RecordBatch, WarehouseError> {
    let err = |message: String| WarehouseError::Batch { table: table.name, message };
    let fields = batch.schema().fields().clone();
    if fields.len() != table.columns.len() {
        let names = |v: Vec<&str>| v.join(", ");
        return Err(err(format!(
            "{} columns ({}), expected {} ({})",
            fields.len(),
            names(fields.iter().map(|f| f.name().as_str()).collect()),
            table.columns.len(),
            names(table.columns.iter().map(|c| c.name).collect()),
        )));
    }
    for ((field, column), array) in fields.iter().zip(table.columns).zip(batch.columns()) {
        if field.name() != column.name {
            return Err(err(format!("column '{}' where '{}' belongs", field.name(), column.name)));
        }
        if field.data_type() != &column.kind.arrow() {
            return Err(err(format!(
                "column {} is {}, expected {}",
                column.name,
                field.data_type(),
                column.kind.arrow()
            )));
        }
        if !column.nullable && array.null_count() > 0 {
            return Err(err(format!("column {} is required but has {} nulls", column.name, array.null_count())));
        }
    }
    RecordBatch::try_new(table.schema(), batch.columns().to_vec()).map_err(|e| err(e.to_string()))
}

/// The writer thread's state: one run.
struct Session {
    duck: Duck,
    parquet: Option<ParquetRun>,
    run: RunInfo,
    rows: BTreeMap<String, u64>,
    /// The declared sites, in order, with their files and outcome.
    sites: Vec<RunSite>,
    /// The first failed write; the run can then only fail.
    error: Option<WarehouseError>,
    failed: Arc<Mutex<Option<String>>>,
}

impl Session {
    fn serve(mut self, rx: Receiver<Msg>) {
        for msg in rx.iter() {
            match msg {
                Msg::Write(site, table, batch) => self.write(site.as_deref(), table, batch),
                Msg::Site(info) => self.begin_site(info),
                Msg::FailSite(luid, error, reply) => {
                    let _ = reply.send(self.fail_site(&luid, &error));
                }
                Msg::Commit(warnings, reply) => {
                    let _ = reply.send(self.commit(&warnings));
                    return;
                }
                Msg::Abort(error, reply) => {
                    let _ = reply.send(self.fail(&error));
                    return;
                }
            }
        }
        // The Writer was dropped without commit or abort.
        tracing::warn!(run_id = self.run.run_id, "warehouse writer dropped without commit: rolling back");
        if let Err(e) = self.fail("the run was abandoned: its writer was dropped without commit or abort") {
            tracing::error!(error = %e, "cannot record the abandoned run");
        }
    }

    fn begin_site(&mut self, info: SiteInfo) {
        if self.error.is_some() || self.sites.iter().any(|s| s.info.content_url == info.content_url) {
            return;
        }
        let files = match &self.parquet {
            Some(p) => match p.for_site(&self.sites.len().to_string(), &info.content_url) {
                Ok(f) => Some(f),
                Err(e) => {
                    *self.failed.lock().expect("failed flag poisoned") = Some(error_chain(&e));
                    self.error = Some(e);
                    return;
                }
            },
            None => None,
        };
        self.sites.push(RunSite { info, files, rows: BTreeMap::new(), error: None });
    }

    fn write(&mut self, site: Option<&str>, table: &'static Table, batch: RecordBatch) {
        if self.error.is_some() {
            return;
        }
        let site = site.and_then(|key| self.sites.iter_mut().find(|s| s.info.content_url == key));
        if site.as_ref().is_some_and(|s| s.error.is_some()) {
            return;
        }
        *self.rows.entry(table.name.to_string()).or_default() += batch.num_rows() as u64;
        let (luid, files) = match site {
            Some(s) => {
                *s.rows.entry(table.name.to_string()).or_default() += batch.num_rows() as u64;
                (s.info.luid.as_str(), s.files.as_mut())
            }
            None => ("", self.parquet.as_mut()),
        };
        let result = self.duck.append(table, &self.run.run_id, luid, &batch).and_then(|()| match files {
            Some(p) => p.write(table, &batch),
            None => Ok(()),
        });
        if let Err(e) = result {
            tracing::error!(table = table.name, error = %e, "warehouse write failed");
            *self.failed.lock().expect("failed flag poisoned") = Some(error_chain(&e));
            self.error = Some(e);
        }
    }

    /// Takes a failed site's rows of this run out of every table and drops
    /// its Parquet files; the run goes on with its other sites.
    fn fail_site(&mut self, key: &str, error: &str) -> Result<(), WarehouseError> {
        let Some(site) = self.sites.iter_mut().find(|s| s.info.content_url == key) else {
            return Ok(());
        };
        let luid = site.info.luid.clone();
        if site.error.is_none() {
            site.error = Some(error.to_string());
            for (table, n) in std::mem::take(&mut site.rows) {
                if let Some(total) = self.rows.get_mut(&table) {
                    *total -= n;
                }
            }
            if let Some(files) = site.files.take() {
                files.discard();
            }
        }
        if self.error.is_some() || luid.is_empty() {
            return Ok(());
        }
        let result = self.duck.delete_site(&self.run.run_id, &luid);
        if let Err(e) = &result {
            *self.failed.lock().expect("failed flag poisoned") = Some(error_chain(e));
        }
        result
    }

    /// The run's sites and their outcome, for `run_sites`: the declared
    /// ones, or the run's one site when none was declared.
    fn site_outcomes(&self) -> Vec<(SiteInfo, Option<String>)> {
        if self.sites.is_empty() {
            let info = SiteInfo { luid: String::new(), content_url: self.run.site.clone(), name: String::new() };
            return vec![(info, None)];
        }
        self.sites.iter().map(|s| (s.info.clone(), s.error.clone())).collect()
    }

    fn commit(&mut self, warnings: &[String]) -> Result<BTreeMap<String, u64>, WarehouseError> {
        if let Some(e) = self.error.take() {
            self.fail_quietly(&e);
            return Err(e);
        }
        let sites = self.site_outcomes();
        if let Err(e) = self.duck.record_success(&self.run, &self.rows, warnings, &sites, now()) {
            self.fail_quietly(&e);
            return Err(e);
        }
        let mut moved = Vec::new();
        let mut published = Ok(());
        for files in self.parquet.iter_mut().chain(self.sites.iter_mut().filter_map(|s| s.files.as_mut())) {
            match files.publish() {
                Ok(m) => moved.extend(m),
                Err(e) => {
                    published = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = published {
            if let Some(p) = &self.parquet {
                p.unpublish(&moved);
            }
            self.fail_quietly(&e);
            return Err(e);
        }
        if let Err(e) = self.duck.commit() {
            if let Some(p) = &self.parquet {
                p.unpublish(&moved);
            }
            self.fail_quietly(&e);
            return Err(e);
        }
        if let Some(p) = self.parquet.take() {
            p.discard();
        }
        for s in &mut self.sites {
            if let Some(f) = s.files.take() {
                f.discard();
            }
        }
        tracing::info!(run_id = self.run.run_id, tables = self.rows.len(), "warehouse run committed");
        Ok(std::mem::take(&mut self.rows))
    }

    /// Rolls back, discards the Parquet files, and records the run as failed.
    fn fail(&mut self, error: &str) -> Result<(), WarehouseError> {
        if let Err(e) = self.duck.rollback() {
            // Nothing is open if COMMIT itself failed; anything else is worth a line.
            tracing::debug!(error = %e, "rollback");
        }
        if let Some(p) = self.parquet.take() {
            p.discard();
        }
        for s in &mut self.sites {
            if let Some(f) = s.files.take() {
                f.discard();
            }
        }
        self.duck.insert_run(&self.run, "failed", &self.rows, &[], Some(error), now())?;
        let sites: Vec<(SiteInfo, Option<String>)> = self
            .site_outcomes()
            .into_iter()
            .map(|(info, e)| (info, Some(e.unwrap_or_else(|| error.to_string()))))
            .collect();
        self.duck.insert_run_sites(&self.run.run_id, &sites)
    }

    fn fail_quietly(&mut self, e: &WarehouseError) {
        if let Err(record) = self.fail(&error_chain(e)) {
            tracing::error!(error = %record, "cannot record the failed run in {}", self.duck.path().display());
        }
    }
}

/// A site of the run in progress.
struct RunSite {
    info: SiteInfo,
    files: Option<ParquetRun>,
    rows: BTreeMap<String, u64>,
    /// Set once the site failed; its later batches are dropped.
    error: Option<String>,
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s += &format!(": {cause}");
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let a = new_run_id(1_767_268_800);
        assert!(a.starts_with("20260101T120000Z-"), "{a}");
        assert_eq!(a.len(), "20260101T120000Z-3f9a".len());
        assert!(a[17..].chars().all(|c| c.is_ascii_hexdigit()));
        let b = new_run_id(1_767_268_801);
        assert!(a < b);
        let ids: std::collections::HashSet<String> = (0..50).map(|_| new_run_id(0)).collect();
        assert!(ids.len() > 40, "random suffixes repeat too often: {ids:?}");
    }

    #[test]
    fn writer_and_errors_cross_threads() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Writer>();
        shared::<WarehouseError>();
    }

    #[test]
    fn snapshot_date_is_utc() {
        assert_eq!(snapshot_date(1_767_225_599), "2025-12-31");
        assert_eq!(snapshot_date(1_767_225_600), "2026-01-01");
    }

    #[test]
    fn conform_names_the_table_and_column() {
        let table = schema::table("group_memberships").unwrap();
        let batch = Rows::new("groups").finish();
        let e = conform(table, batch).unwrap_err().to_string();
        assert!(e.contains("group_memberships") && e.contains("group_luid"), "{e}");
        let ok = Rows::new("group_memberships").finish();
        assert!(conform(table, ok).is_ok());
    }
}
