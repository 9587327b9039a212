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

/// The sites the warehouse holds (LUID, content URL), by content URL: each
/// site's latest row in `sites`.
pub fn sites(conn: &Connection, db: &Path) -> Result<Vec<(String, String)>, WarehouseError> {
    let err = |source| WarehouseError::Duck { path: db.to_owned(), what: "cannot read the sites".into(), source };
    let mut stmt = conn
        .prepare("SELECT site_luid, coalesce(content_url, '') FROM sites ORDER BY content_url, site_luid")
        .map_err(err)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// Narrows what `conn` reads to one site of a warehouse holding several:
/// each plain view with a `site_luid` column, and `runs`, are shadowed by
/// temporary views keeping only that site's rows and runs, so reports and
/// anything else written against the plain views answer for the site alone.
/// `site` is a content URL or a site LUID. Returns the site's (LUID,
/// content URL); an unknown site is an error listing the known ones.
pub fn restrict_to_site(conn: &Connection, db: &Path, site: &str) -> Result<(String, String), WarehouseError> {
    let err = |what: &str, source| WarehouseError::Duck { path: db.to_owned(), what: what.into(), source };
    let known = sites(conn, db)?;
    let Some((luid, content_url)) = known.iter().find(|(l, cu)| cu == site || l == site).cloned() else {
        let names: Vec<String> =
            known.iter().map(|(_, cu)| if cu.is_empty() { "'' (the default site)".into() } else { format!("'{cu}'") }).collect();
        return Err(WarehouseError::NoRun {
            path: db.to_owned(),
            message: format!("there is no site '{site}' in the warehouse; it holds {}", names.join(", ")),
        });
    };
    let catalog: String =
        conn.query_row("SELECT current_database()", [], |r| r.get(0)).map_err(|e| err("cannot name the database", e))?;
    let views: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "SELECT c.table_name FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = 'main' AND c.table_catalog = current_database() AND t.table_type = 'VIEW' \
                 AND c.column_name = 'site_luid' ORDER BY 1",
            )
            .map_err(|e| err("cannot list the views", e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| err("cannot list the views", e))?;
        rows.collect::<Result<_, _>>().map_err(|e| err("cannot list the views", e))?
    };
    let q = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let lit = format!("'{}'", luid.replace('\'', "''"));
    let cat = q(&catalog);
    let mut sql = String::new();
    for v in &views {
        sql += &format!("CREATE OR REPLACE TEMP VIEW {0} AS SELECT * FROM {cat}.main.{0} WHERE site_luid = {lit};\n", q(v));
    }
    sql += &format!(
        "CREATE OR REPLACE TEMP VIEW runs AS SELECT r.* FROM {cat}.main.runs r WHERE r.run_id IN \
         (SELECT run_id FROM {cat}.main.run_sites WHERE site_luid = {lit} AND status = 'succeeded');\n"
    );
    conn.execute_batch(&sql).map_err(|e| err(&format!("cannot narrow the warehouse to site '{content_url}'"), e))?;
    Ok((luid, content_url))
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
