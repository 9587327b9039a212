//! The DuckDB side of the warehouse: the DDL derived from
//! [`schema::TABLES`](super::schema::TABLES), its idempotent creation and
//! migration, and the run's single transaction.
//!
//! Layout, for each schema table `T`:
//! - `hist_T`: every run's rows, with `run_id` first; required columns are
//!   `NOT NULL`.
//!   Then `site_luid`: the LUID of the site the row was read from (the
//!   `sites` table has its own `site_luid` column, which is the same).
//! - view `T`: `site_luid` and the columns of `T` (in schema order), for
//!   each site from the latest succeeded run that read that site
//!   successfully and wrote `T`, so a run that skips `T` (`--only`) does
//!   not blank it, a run over one site leaves the others' rows, and a site
//!   that failed keeps its previous rows. A run whose site is not known
//!   (`site_luid` empty: a writer that declared no site, or a warehouse
//!   from before sites were recorded whose runs never read the `sites`
//!   table) stands for whichever site the next run reads: its rows show
//!   only until a later run of a known site wrote `T`.
//!
//! plus `runs` (one row per run, succeeded or failed), `run_sites` (the
//! sites each run read, with their outcome), `run_tables` (the
//! tables each succeeded run wrote, with row counts), `schema_version`
//! (see `migrate.rs`) and the views of `schema::VIEWS`, which join several
//! tables' views (`effective_access`).
//!
//! Type mapping: Text → VARCHAR, Int → BIGINT, Bool → BOOLEAN, Time →
//! TIMESTAMPTZ. The Arrow appender maps `Timestamp(_, Some(tz))` to
//! TIMESTAMPTZ and reads it back as `Timestamp(Microsecond, "UTC")`, so times
//! round-trip as UTC instants. The bundled DuckDB has no ICU extension, so
//! TIMESTAMPTZ values print and cast to text in UTC (`2026-01-01
//! 12:00:00+00`) and time-zone-aware functions (`AT TIME ZONE`, `strftime`
//! with `%Z`), `epoch()`, `date_diff` and TIMESTAMPTZ ± INTERVAL are
//! unavailable; comparison, ordering and `epoch_us(...)` work, so date
//! arithmetic is done on microseconds. `rows_per_table` and `warnings` are VARCHAR holding JSON,
//! because the JSON type needs the json extension, which is not bundled.
//! Extension auto-install and auto-load are off: TRM never reaches for the
//! network from inside DuckDB.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use duckdb::{params, Config, Connection};

use super::migrate;
use super::schema::{self, Kind, Table, TABLES};
use super::{RunInfo, WarehouseError};

/// The DuckDB type a column kind is stored as.
pub fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "VARCHAR",
        Kind::Int => "BIGINT",
        Kind::Bool => "BOOLEAN",
        Kind::Time => "TIMESTAMPTZ",
    }
}

/// The name DuckDB's catalog reports a type under (`duckdb_columns().data_type`).
fn catalog_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Time => "TIMESTAMP WITH TIME ZONE",
        k => sql_type(k),
    }
}

/// `"name"`, with inner quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with inner quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The history table of a schema table.
pub fn hist_name(table: &str) -> String {
    format!("hist_{table}")
}

const RUNS_DDL: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    profile VARCHAR,
    server VARCHAR,
    site VARCHAR,
    api_version VARCHAR,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    as_of TIMESTAMPTZ,
    snapshot_date DATE,
    status VARCHAR NOT NULL,
    rows_per_table VARCHAR,
    warnings VARCHAR,
    error VARCHAR
);
COMMENT ON TABLE runs IS 'One extraction run, succeeded or failed. rows_per_table is a JSON object (table → rows); for a failed run it counts the rows received before the failure, none of which were kept. warnings is a JSON array of strings.';
COMMENT ON COLUMN runs.started_at IS 'When the run started, by the local clock.';
COMMENT ON COLUMN runs.as_of IS 'When the run started, by the server''s clock: the time its data describes.';
COMMENT ON COLUMN runs.snapshot_date IS 'The UTC date of as_of; the Parquet snapshot_date partition.';
COMMENT ON COLUMN runs.status IS 'succeeded or failed.';
CREATE TABLE IF NOT EXISTS run_tables (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    PRIMARY KEY (run_id, table_name)
);
COMMENT ON TABLE run_tables IS 'A table a succeeded run wrote, with its row count; the views show each table from the latest run listed here for it.';
CREATE TABLE IF NOT EXISTS run_sites (
    run_id VARCHAR NOT NULL,
    site_luid VARCHAR NOT NULL,
    content_url VARCHAR,
    name VARCHAR,
    status VARCHAR NOT NULL,
    error VARCHAR
);
COMMENT ON TABLE run_sites IS 'A site a run read, with its outcome: succeeded, or failed with the error (a failed site''s rows of the run were not kept; the views show its previous rows). site_luid is empty when the run''s site is not known (or it failed before sign-in).';
"#;

/// Whether `table`'s history carries the warehouse's `site_luid` column
/// (the `sites` table has one of its own).
pub fn has_site_column(table: &Table) -> bool {
    table.column("site_luid").is_none()
}

/// A subquery of the (run_id, site_luid) pairs whose rows of `table` are
/// current: per site, the latest succeeded run that read the site
/// successfully and wrote the table; an unknown site's ('') latest run only
/// while no later run of a known site wrote it. With `upto`, only runs at or
/// before that run count (`(as_of SQL, run_id)`).
pub fn current_runs(table: &str, upto: Option<(&str, &str)>) -> String {
    let upto = upto.map_or(String::new(), |(as_of, run_id)| {
        format!(" AND (r.as_of < {as_of} OR (r.as_of = {as_of} AND r.run_id <= {}))", literal(run_id))
    });
    format!(
        "(SELECT l.run_id, l.site_luid FROM (         SELECT s.run_id, s.site_luid, r.as_of FROM runs r JOIN run_sites s USING (run_id) JOIN run_tables t USING (run_id)          WHERE r.status = 'succeeded' AND s.status = 'succeeded' AND t.table_name = {name}{upto}          QUALIFY row_number() OVER (PARTITION BY s.site_luid ORDER BY r.as_of DESC, r.run_id DESC) = 1) l          WHERE l.site_luid <> '' OR NOT EXISTS (         SELECT 1 FROM runs r JOIN run_sites s USING (run_id) JOIN run_tables t USING (run_id)          WHERE r.status = 'succeeded' AND s.status = 'succeeded' AND t.table_name = {name}{upto} AND s.site_luid <> ''          AND (r.as_of > l.as_of OR (r.as_of = l.as_of AND r.run_id > l.run_id))))",
        name = literal(table),
    )
}

/// The (semi-)join condition of a hist table `h` to [`current_runs`] `l`.
/// A row without a site (a derived table of a run over several sites) is
/// current with its run.
pub const CURRENT_JOIN: &str =
    "h.run_id = l.run_id AND (l.site_luid = '' OR h.site_luid = '' OR h.site_luid = l.site_luid)";

/// The DDL creating `hist_T` (if missing), its comments and the view `T`.
pub fn table_ddl(table: &Table) -> String {
    let hist = ident(&hist_name(table.name));
    let mut cols = vec![format!("{} VARCHAR NOT NULL", ident("run_id"))];
    if has_site_column(table) {
        cols.push(format!("{} VARCHAR", ident("site_luid")));
    }
    cols.extend(
        table
            .columns
            .iter()
            .map(|c| format!("{} {}{}", ident(c.name), sql_type(c.kind), if c.nullable { "" } else { " NOT NULL" })),
    );
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {hist} (\n    {}\n);\n", cols.join(",\n    "));
    sql += &format!(
        "COMMENT ON TABLE {hist} IS {};\n",
        literal(&format!(
            "Every run's rows of {}: {} run_id is the run (runs.run_id) that wrote the row, site_luid the site it was read from.",
            table.name, table.doc
        ))
    );
    sql += &view_ddl(table);
    sql
}

/// The DDL creating a log table (see [`schema::LOGS`]) if missing: its
/// own rows only, no run, no view.
pub fn log_ddl(table: &Table) -> String {
    let name = ident(table.name);
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}{}", ident(c.name), sql_type(c.kind), if c.nullable { "" } else { " NOT NULL" }))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n    {}\n);\nCOMMENT ON TABLE {name} IS {};\n",
        cols.join(",\n    "),
        literal(table.doc)
    )
}

fn view_ddl(table: &Table) -> String {
    let view = ident(table.name);
    let hist = ident(&hist_name(table.name));
    // A derived table's rows describe a run, so its view says which one.
    let cols: Vec<String> = table
        .derived
        .then_some("run_id")
        .into_iter()
        .chain(has_site_column(table).then_some("site_luid"))
        .chain(table.columns.iter().map(|c| c.name))
        .map(|c| format!("h.{}", ident(c)))
        .collect();
    format!(
        "CREATE OR REPLACE VIEW {view} AS SELECT {} FROM {hist} h SEMI JOIN {} l ON {CURRENT_JOIN};\n\
         COMMENT ON VIEW {view} IS {};\n",
        cols.join(", "),
        current_runs(table.name, None),
        literal(&format!(
            "{} For each site (site_luid), as of the latest succeeded run that read it and wrote {}; every run's rows are in hist_{}.",
            table.doc, table.name, table.name
        )),
    )
}

/// The DDL of [`schema::VIEWS`], the views joining several tables.
pub fn extra_views_ddl() -> String {
    schema::VIEWS
        .iter()
        .map(|(name, doc, query)| {
            format!(
                "CREATE OR REPLACE VIEW {} AS {query};\nCOMMENT ON VIEW {} IS {};\n",
                ident(name),
                ident(name),
                literal(doc)
            )
        })
        .collect()
}

/// The connection to the warehouse file, inside one run.
pub struct Duck {
    conn: Connection,
    path: PathBuf,
}

impl Duck {
    /// Opens (creating if needed) the warehouse file, creates or migrates the
    /// schema in its own transaction, then begins the run's transaction.
    pub fn open(path: &Path) -> Result<Duck, WarehouseError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| WarehouseError::Io {
                path: dir.to_owned(),
                what: "cannot create the directory".into(),
                source,
            })?;
        }
        let conn = super::lock::open_waiting(path, || {
            Connection::open_with_flags(path, Config::default().enable_autoload_extension(false)?)
        })?;
        let duck = Duck { conn, path: path.to_owned() };
        // A large site's run is one transaction of millions of rows: cap
        // DuckDB's buffers so it writes row groups out as it goes rather
        // than holding the run in memory (the default is 80% of RAM).
        // Measured on the large site: 853 MiB peak RSS with it, 1,039 without.
        duck.exec(
            &format!("SET memory_limit = '{}'", super::read::MEMORY_LIMIT),
            "cannot configure DuckDB's memory limit",
        )?;
        duck.migrate()?;
        duck.exec("BEGIN TRANSACTION", "cannot begin the run's transaction")?;
        Ok(duck)
    }

    /// Brings the warehouse file's schema up to date and closes it, for a
    /// reader that found it written by an older TRM (readers open the file
    /// read-only, so cannot migrate it themselves).
    pub fn upgrade(path: &Path) -> Result<(), WarehouseError> {
        Duck::open(path)?.rollback()
    }

    fn exec(&self, sql: &str, what: &str) -> Result<(), WarehouseError> {
        self.conn.execute_batch(sql).map_err(|e| duck_err(&self.path, what, e))
    }

    /// Creates what is missing; adds columns the schema gained (nullable: past
    /// runs have no value); relaxes NOT NULL on columns it lost; refuses a
    /// column whose type changed. Views are always recreated from the schema.
    fn migrate(&self) -> Result<(), WarehouseError> {
        self.exec("BEGIN TRANSACTION", "cannot begin the schema transaction")?;
        let result = self.migrate_in_transaction();
        match result {
            Ok(()) => self.exec("COMMIT", "cannot commit the schema"),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn migrate_in_transaction(&self) -> Result<(), WarehouseError> {
        self.exec(RUNS_DDL, "cannot create the runs tables")?;
        self.exec(migrate::VERSION_DDL, "cannot create the schema_version table")?;
        let existing = self.existing_columns()?;
        let from = migrate::current(self.recorded_version()?, !existing.is_empty());
        if from > schema::VERSION {
            return Err(WarehouseError::Schema {
                path: self.path.clone(),
                message: format!(
                    "the warehouse has schema version {from}, newer than this TRM's {}; use a newer TRM",
                    schema::VERSION
                ),
            });
        }
        let renames = migrate::renames(from, &existing);
        if !renames.is_empty() {
            tracing::info!(db = %self.path.display(), from, to = schema::VERSION, "migrating the warehouse schema");
            self.exec(&renames, "cannot rename the columns of an older warehouse")?;
        }
        let existing = self.existing_columns()?;
        let mut sql = String::new();
        for table in TABLES {
            let hist = hist_name(table.name);
            let Some(have) = existing.get(&hist) else {
                sql += &table_ddl(table);
                continue;
            };
            if has_site_column(table) && !have.contains_key("site_luid") {
                sql += &format!("ALTER TABLE {} ADD COLUMN {} VARCHAR;\n", ident(&hist), ident("site_luid"));
            }
            for c in table.columns {
                match have.get(c.name) {
                    None => {
                        sql += &format!("ALTER TABLE {} ADD COLUMN {} {};\n", ident(&hist), ident(c.name), sql_type(c.kind))
                    }
                    Some((ty, _)) if ty != catalog_type(c.kind) => {
                        return Err(WarehouseError::Schema {
                            path: self.path.clone(),
                            message: format!(
                                "column {hist}.{} is {ty} but TRM stores it as {}; move the old warehouse aside or convert the column",
                                c.name,
                                sql_type(c.kind)
                            ),
                        })
                    }
                    Some(_) => {}
                }
            }
            // Columns the schema lost, or made optional, accept NULL.
            for (name, (_, nullable)) in have {
                if name != "run_id" && name != "site_luid" && !nullable && table.column(name).is_none_or(|c| c.nullable) {
                    sql += &format!("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL;\n", ident(&hist), ident(name));
                }
            }
        }
        self.exec(&sql, "cannot create or migrate the schema")?;
        let mut sql = migrate::fixups(from, &existing);
        for table in TABLES {
            sql += &view_ddl(table);
        }
        for table in schema::LOGS {
            sql += &log_ddl(table);
        }
        sql += &extra_views_ddl();
        sql += &migrate::record(from);
        self.exec(&sql, "cannot create or migrate the schema")
    }

    /// The highest version in `schema_version`, if any.
    fn recorded_version(&self) -> Result<Option<i64>, WarehouseError> {
        self.conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get::<_, Option<i64>>(0))
            .map_err(|e| duck_err(&self.path, "cannot read the schema version", e))
    }

    /// hist table → column → (catalog type, nullable).
    fn existing_columns(&self) -> Result<BTreeMap<String, BTreeMap<String, (String, bool)>>, WarehouseError> {
        let what = "cannot read the catalog";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() \
                 WHERE database_name = current_database() AND schema_name = 'main' AND table_name LIKE 'hist\\_%' ESCAPE '\\'",
            )
            .map_err(|e| duck_err(&self.path, what, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
            })
            .map_err(|e| duck_err(&self.path, what, e))?;
        let mut out: BTreeMap<String, BTreeMap<String, (String, bool)>> = BTreeMap::new();
        for row in rows {
            let (table, column, ty, nullable) = row.map_err(|e| duck_err(&self.path, what, e))?;
            out.entry(table).or_default().insert(column, (ty, nullable));
        }
        Ok(out)
    }

    /// Appends a batch (already checked against the table's schema) to
    /// `hist_T`, with `run_id` prepended, through the Arrow appender.
    pub fn append(&self, table: &Table, run_id: &str, site_luid: &str, batch: &RecordBatch) -> Result<(), WarehouseError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let hist = hist_name(table.name);
        let what = || format!("cannot append {} rows to {hist}", batch.num_rows());
        let site = has_site_column(table).then_some(site_luid);
        let batch = with_run_id(run_id, site, batch);
        let columns: Vec<&str> = std::iter::once("run_id")
            .chain(site.map(|_| "site_luid"))
            .chain(table.columns.iter().map(|c| c.name))
            .collect();
        let mut appender =
            self.conn.appender_with_columns(&hist, &columns).map_err(|e| duck_err(&self.path, &what(), e))?;
        appender.append_record_batch(batch).map_err(|e| duck_err(&self.path, &what(), e))?;
        appender.flush().map_err(|e| duck_err(&self.path, &what(), e))
    }

    /// Records the run's tables and its `runs` row (inside the transaction).
    pub fn record_success(
        &self,
        run: &RunInfo,
        rows: &BTreeMap<String, u64>,
        warnings: &[String],
        sites: &[(super::SiteInfo, Option<String>)],
        ended_at: i64,
    ) -> Result<(), WarehouseError> {
        let what = "cannot record the run";
        self.insert_run_sites(&run.run_id, sites)?;
        let mut stmt = self
            .conn
            .prepare("INSERT INTO run_tables (run_id, table_name, rows) VALUES (?, ?, ?)")
            .map_err(|e| duck_err(&self.path, what, e))?;
        for (table, n) in rows {
            stmt.execute(params![run.run_id, table, *n as i64]).map_err(|e| duck_err(&self.path, what, e))?;
        }
        self.insert_run(run, "succeeded", rows, warnings, None, ended_at)
    }

    /// Inserts the `runs` row.
    pub fn insert_run(
        &self,
        run: &RunInfo,
        status: &str,
        rows: &BTreeMap<String, u64>,
        warnings: &[String],
        error: Option<&str>,
        ended_at: i64,
    ) -> Result<(), WarehouseError> {
        let rows_json = serde_json::to_string(rows).expect("a map of counts serializes");
        let warnings_json = serde_json::to_string(warnings).expect("strings serialize");
        self.conn
            .execute(
                "INSERT INTO runs (run_id, profile, server, site, api_version, started_at, ended_at, as_of, \
                 snapshot_date, status, rows_per_table, warnings, error) \
                 VALUES (?, ?, ?, ?, ?, to_timestamp(?), to_timestamp(?), to_timestamp(?), CAST(? AS DATE), ?, ?, ?, ?)",
                params![
                    run.run_id,
                    run.profile,
                    run.server,
                    run.site,
                    run.api_version,
                    run.started_at,
                    ended_at,
                    run.as_of,
                    super::snapshot_date(run.as_of),
                    status,
                    rows_json,
                    warnings_json,
                    error,
                ],
            )
            .map(|_| ())
            .map_err(|e| duck_err(&self.path, &format!("cannot record run {} as {status}", run.run_id), e))
    }

    /// Records the sites a run read and their outcome (`Some(error)`: failed).
    pub fn insert_run_sites(&self, run_id: &str, sites: &[(super::SiteInfo, Option<String>)]) -> Result<(), WarehouseError> {
        let what = "cannot record the run's sites";
        let mut stmt = self
            .conn
            .prepare(
                "INSERT INTO run_sites (run_id, site_luid, content_url, name, status, error) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .map_err(|e| duck_err(&self.path, what, e))?;
        for (site, error) in sites {
            let status = if error.is_some() { "failed" } else { "succeeded" };
            stmt.execute(params![run_id, site.luid, site.content_url, site.name, status, error])
                .map_err(|e| duck_err(&self.path, what, e))?;
        }
        Ok(())
    }

    /// Removes one site's rows of a run from every table (inside the run's
    /// transaction): the site failed, the run goes on.
    pub fn delete_site(&self, run_id: &str, site_luid: &str) -> Result<(), WarehouseError> {
        for table in TABLES {
            let hist = hist_name(table.name);
            self.conn
                .execute(&format!("DELETE FROM {} WHERE run_id = ? AND site_luid = ?", ident(&hist)), params![run_id, site_luid])
                .map_err(|e| duck_err(&self.path, &format!("cannot remove a failed site's rows from {hist}"), e))?;
        }
        Ok(())
    }

    pub fn commit(&self) -> Result<(), WarehouseError> {
        self.exec("COMMIT", "cannot commit the run")
    }

    pub fn rollback(&self) -> Result<(), WarehouseError> {
        self.exec("ROLLBACK", "cannot roll back the run")
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The batch with a constant `run_id` column in front, then `site_luid`'s.
fn with_run_id(run_id: &str, site_luid: Option<&str>, batch: &RecordBatch) -> RecordBatch {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = vec![Arc::new(Field::new("run_id", DataType::Utf8, false))];
    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(run_id, batch.num_rows())));
    let mut columns = vec![ids];
    if let Some(site) = site_luid {
        fields.push(Arc::new(Field::new("site_luid", DataType::Utf8, true)));
        columns.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(site, batch.num_rows()))));
    }
    fields.extend(schema.fields().iter().cloned());
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("a constant column of the batch's length")
}

fn duck_err(path: &Path, what: &str, source: duckdb::Error) -> WarehouseError {
    WarehouseError::Duck { path: path.to_owned(), what: what.to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::schema;

    #[test]
    fn ddl_quotes_names_and_marks_required_columns() {
        let ddl = table_ddl(schema::table("views").unwrap());
        assert!(ddl.contains("CREATE TABLE IF NOT EXISTS \"hist_views\""), "{ddl}");
        assert!(ddl.contains("\"view_luid\" VARCHAR NOT NULL"), "{ddl}");
        assert!(ddl.contains("\"created_at\" TIMESTAMPTZ,"), "{ddl}");
        assert!(ddl.contains("\"total_view_count\" BIGINT NOT NULL"), "{ddl}");
        assert!(ddl.contains("CREATE OR REPLACE VIEW \"views\""), "{ddl}");
        assert!(ddl.contains("t.table_name = 'views'"), "{ddl}");
        assert!(ddl.contains("\"site_luid\" VARCHAR,"), "{ddl}");
        // The sites table's own site_luid is the column the writer adds, not a second one.
        let sites = table_ddl(schema::table("sites").unwrap());
        let create = &sites[..sites.find(");").expect("a CREATE TABLE")];
        assert_eq!(create.matches("\"site_luid\"").count(), 1, "{sites}");
    }

    #[test]
    fn every_table_is_created_in_memory() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(RUNS_DDL).unwrap();
        for t in TABLES {
            conn.execute_batch(&table_ddl(t)).unwrap_or_else(|e| panic!("{}: {e}\n{}", t.name, table_ddl(t)));
            let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", ident(t.name)), [], |r| r.get(0)).unwrap();
            assert_eq!(n, 0);
        }
        conn.execute_batch(&extra_views_ddl()).unwrap();
        for (name, _, _) in schema::VIEWS {
            let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", ident(name)), [], |r| r.get(0)).unwrap();
            assert_eq!(n, 0);
        }
        // Idempotent.
        conn.execute_batch(RUNS_DDL).unwrap();
        for t in TABLES {
            conn.execute_batch(&table_ddl(t)).unwrap();
        }
    }
}
