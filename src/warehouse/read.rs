//! Reading the warehouse back: which run to look at, and each table as it
//! stood at that run. Later stages (lineage, audit, reports) read through
//! here so they agree on what "the data of run X" means.

use std::path::Path;

use duckdb::{params, AccessMode, Config, Connection, OptionalExt};

use super::duck::ident;
use super::schema::Table;
use super::WarehouseError;

/// A succeeded extraction run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub run_id: String,
    /// Unix seconds, by the server's clock.
    pub as_of: i64,
    pub snapshot_date: String,
    pub site: String,
    pub server: String,
}

/// Opens an existing warehouse read-only, so a reader never blocks on or
/// disturbs a file an extraction is writing... and never creates one. A
/// warehouse written by an older TRM is migrated first (briefly read-write).
pub fn open(db: &Path) -> Result<Connection, WarehouseError> {
    if !db.exists() {
        return Err(WarehouseError::Missing { path: db.to_owned() });
    }
    let err = |what: &str, source| WarehouseError::Duck { path: db.to_owned(), what: what.into(), source };
    let connect = || {
        super::lock::open_waiting(db, || {
            let config = Config::default().access_mode(AccessMode::ReadOnly)?.enable_autoload_extension(false)?;
            Connection::open_with_flags(db, config)
        })
    };
    let mut conn = connect()?;
    if super::migrate::outdated(&conn).map_err(|e| err("cannot read the schema version", e))? {
        drop(conn);
        super::duck::Duck::upgrade(db)?;
        conn = connect()?;
    }
    // Readers join and sort million-row tables (the lineage graph): cap
    // DuckDB's buffers so TRM stays within a modest footprint, spilling to
    // the system temporary directory (the warehouse's may be read-only).
    let spill = std::env::temp_dir().join(format!("trm-duckdb-{}", std::process::id()));
    let sql = format!(
        "SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{}';",
        spill.display().to_string().replace('\'', "''")
    );
    conn.execute_batch(&sql).map_err(|e| err("cannot configure DuckDB", e))?;
    Ok(conn)
}

/// DuckDB's buffer limit for readers.
pub const MEMORY_LIMIT: &str = "400MB";

/// The run with this id, or the latest succeeded run when `run_id` is
/// `None`. A failed or unknown run is an error naming it.
pub fn resolve_run(conn: &Connection, db: &Path, run_id: Option<&str>) -> Result<RunRef, WarehouseError> {
    let err = |what: &str, source| WarehouseError::Duck { path: db.to_owned(), what: what.into(), source };
    let select = "SELECT run_id, as_of, CAST(snapshot_date AS VARCHAR), \
                  coalesce(site, ''), coalesce(server, ''), status FROM runs";
    let row = |r: &duckdb::Row| {
        Ok((
            RunRef {
                run_id: r.get(0)?,
                as_of: unix_secs(r, 1)?.unwrap_or_default(),
                snapshot_date: r.get(2)?,
                site: r.get(3)?,
                server: r.get(4)?,
            },
            r.get::<_, String>(5)?,
        ))
    };
    let found = match run_id {
        Some(id) => conn.query_row(&format!("{select} WHERE run_id = ?"), params![id], row),
        None => conn.query_row(
            &format!("{select} WHERE status = 'succeeded' ORDER BY as_of DESC, run_id DESC LIMIT 1"),
            [],
            row,
        ),
    }
    .optional()
    .map_err(|e| err("cannot read the runs table", e))?;
    match (found, run_id) {
        (Some((run, status)), _) if status == "succeeded" => Ok(run),
        (Some((run, status)), _) => Err(WarehouseError::NoRun {
            path: db.to_owned(),
            message: format!("run {} {status}; pick a succeeded run from the runs table", run.run_id),
        }),
        (None, Some(id)) => Err(WarehouseError::NoRun {
            path: db.to_owned(),
            message: format!("there is no run {id}; see the runs table for the run ids"),
        }),
        (None, None) => Err(WarehouseError::NoRun {
            path: db.to_owned(),
            message: "no extraction has succeeded yet; run `trm extract` first".into(),
        }),
    }
}

/// Every succeeded run, oldest first.
pub fn runs(conn: &Connection, db: &Path) -> Result<Vec<RunRef>, WarehouseError> {
    let err = |source| WarehouseError::Duck { path: db.to_owned(), what: "cannot read the runs table".into(), source };
    let mut stmt = conn
        .prepare(
            "SELECT run_id, as_of, CAST(snapshot_date AS VARCHAR), coalesce(site, ''), \
             coalesce(server, '') FROM runs WHERE status = 'succeeded' ORDER BY as_of, run_id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(RunRef { run_id: r.get(0)?, as_of: unix_secs(r, 1)?.unwrap_or_default(), snapshot_date: r.get(2)?, site: r.get(3)?, server: r.get(4)? })
        })
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// A subquery yielding `table`'s columns (and `site_luid`) as they stood at
/// `run`: for each site, the rows of the latest succeeded run at or before
/// it that read the site and wrote the table (a run made with `--only` may
/// not have). Use as `SELECT … FROM {table_at(..)} t`.
pub fn table_at(table: &Table, run: &RunRef) -> String {
    let mut cols: Vec<String> = table.columns.iter().map(|c| format!("h.{}", ident(c.name))).collect();
    if super::duck::has_site_column(table) {
        cols.push("h.site_luid".into());
    }
    let run_id = run.run_id.replace('\'', "''");
    let as_of = format!("(SELECT as_of FROM runs WHERE run_id = '{run_id}')");
    format!(
        "(SELECT {cols} FROM {hist} h SEMI JOIN {current} l ON {join})",
        cols = cols.join(", "),
        hist = ident(&super::hist_name(table.name)),
        current = super::duck::current_runs(table.name, Some((&as_of, &run.run_id))),
        join = super::duck::CURRENT_JOIN,
    )
}

/// A TIMESTAMPTZ column as Unix seconds. Read from the value itself: this
/// DuckDB build has no ICU extension, so `epoch()` and casts of
/// TIMESTAMPTZ are unavailable in SQL.
pub fn unix_secs(row: &duckdb::Row, idx: usize) -> duckdb::Result<Option<i64>> {
    use duckdb::types::ValueRef;
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Timestamp(unit, v) => Ok(Some(unit.to_micros(v).div_euclid(1_000_000))),
        ValueRef::BigInt(v) => Ok(Some(v)),
        other => Err(duckdb::Error::FromSqlConversionFailure(
            idx,
            other.data_type(),
            format!("expected a timestamp, found {:?}", other.data_type()).into(),
        )),
    }
}
