//! Writing a derived table (see [`Table::derived`]) for a run that already
//! succeeded: the audit's findings, the effective-access tables. One DuckDB
//! transaction replaces the run's earlier rows of the tables; their Parquet
//! partitions are replaced at the same moment, so re-auditing a run never
//! leaves two answers behind, and tables written together (the access
//! tables, which join each other) never come from two computations.

use std::path::Path;

use arrow::record_batch::RecordBatch;
use duckdb::params;

use super::duck::Duck;
use super::parquet_files::ParquetRun;
use super::read::RunRef;
use super::schema::{self, Table};
use super::{conform, hist_name, WarehouseError};

/// Replaces `table`'s rows for `run` with `batches` in DuckDB and (if
/// `parquet` is given) in the run's Parquet partition. Returns the rows
/// written. On error the warehouse is unchanged.
pub fn write_derived(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    table: &'static str,
    batches: Vec<RecordBatch>,
) -> Result<u64, WarehouseError> {
    write_derived_tables(db, parquet, run, vec![(table, batches)])
}

/// [`write_derived`] for several tables at once, in one transaction.
/// Returns the rows written, over all tables.
pub fn write_derived_tables(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    tables: Vec<(&'static str, Vec<RecordBatch>)>,
) -> Result<u64, WarehouseError> {
    let mut all = Vec::with_capacity(tables.len());
    for (name, batches) in tables {
        let table: &'static Table = schema::table(name).ok_or_else(|| WarehouseError::UnknownTable(name.into()))?;
        assert!(table.derived, "{} is extracted, not derived", table.name);
        let batches = batches.into_iter().map(|b| conform(table, b)).collect::<Result<Vec<_>, _>>()?;
        all.push((table, batches));
    }
    let rows: u64 = all.iter().flat_map(|(_, b)| b).map(|b| b.num_rows() as u64).sum();

    let duck = Duck::open(db)?;
    let result = (|| {
        let err = |what: &str, source| WarehouseError::Duck { path: db.to_owned(), what: what.into(), source };
        let conn = duck.connection();
        let succeeded: i64 = conn
            .query_row("SELECT count(*) FROM runs WHERE run_id = ? AND status = 'succeeded'", params![run.run_id], |r| {
                r.get(0)
            })
            .map_err(|e| err("cannot read the runs table", e))?;
        if succeeded == 0 {
            return Err(WarehouseError::NoRun {
                path: db.to_owned(),
                message: format!("run {} is not a succeeded run of this warehouse", run.run_id),
            });
        }
        // Rows derived from a run over one site belong to that site.
        let sites: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT site_luid FROM run_sites WHERE run_id = ? AND status = 'succeeded'")
                .map_err(|e| err("cannot read the run's sites", e))?;
            let rows = stmt.query_map(params![run.run_id], |r| r.get(0)).map_err(|e| err("cannot read the run's sites", e))?;
            rows.collect::<Result<_, _>>().map_err(|e| err("cannot read the run's sites", e))?
        };
        let site = if sites.len() == 1 { sites[0].as_str() } else { "" };
        for (table, batches) in &all {
            conn.execute(&format!("DELETE FROM \"{}\" WHERE run_id = ?", hist_name(table.name)), params![run.run_id])
                .map_err(|e| err(&format!("cannot replace the rows of {} for run {}", table.name, run.run_id), e))?;
            conn.execute("DELETE FROM run_tables WHERE run_id = ? AND table_name = ?", params![run.run_id, table.name])
                .map_err(|e| err("cannot update run_tables", e))?;
            for b in batches {
                duck.append(table, &run.run_id, site, b)?;
            }
            let n: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            conn.execute(
                "INSERT INTO run_tables (run_id, table_name, rows) VALUES (?, ?, ?)",
                params![run.run_id, table.name, n as i64],
            )
            .map_err(|e| err("cannot update run_tables", e))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = duck.rollback();
        return Err(e);
    }

    let Some(root) = parquet else {
        duck.commit()?;
        return Ok(rows);
    };
    let names: Vec<&str> = all.iter().map(|(t, _)| t.name).collect();
    let mut files = match ParquetRun::start(root, &format!("{}-{}", run.run_id, names.join("-")), &run.snapshot_date, &run.site) {
        Ok(f) => f.for_run(&run.run_id),
        Err(e) => {
            let _ = duck.rollback();
            return Err(e);
        }
    };
    let written = all.iter().try_for_each(|(table, batches)| {
        if batches.is_empty() {
            files.write(table, &RecordBatch::new_empty(table.schema()))
        } else {
            batches.iter().try_for_each(|b| files.write(table, b))
        }
    });
    let replaced = written.and_then(|()| files.publish_replacing());
    match replaced {
        Ok(moved) => {
            if let Err(e) = duck.commit() {
                files.restore(&moved);
                files.discard();
                return Err(e);
            }
            files.discard();
            Ok(rows)
        }
        Err(e) => {
            let _ = duck.rollback();
            files.discard();
            Err(e)
        }
    }
}
