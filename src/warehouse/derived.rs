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
    let tables = tables.into_iter().map(|(t, batches)| (t, batches.into_iter().map(|b| (None, b)).collect())).collect();
    write_sited(db, parquet, run, tables)
}

/// [`write_derived`] for a run over several sites: each batch's rows
/// belong to the site of that LUID (`None`: the run's own site, as
/// [`write_derived`] does). In Parquet each site's rows go to its own
/// `site=<content_url>` partition.
pub fn write_derived_by_site(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    table: &'static str,
    batches: Vec<(Option<String>, RecordBatch)>,
) -> Result<u64, WarehouseError> {
    write_sited(db, parquet, run, vec![(table, batches)])
}

type SitedBatches = Vec<(Option<String>, RecordBatch)>;

fn write_sited(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    tables: Vec<(&'static str, SitedBatches)>,
) -> Result<u64, WarehouseError> {
    let mut all = Vec::with_capacity(tables.len());
    for (name, batches) in tables {
        let table: &'static Table = schema::table(name).ok_or_else(|| WarehouseError::UnknownTable(name.into()))?;
        assert!(table.derived, "{} is extracted, not derived", table.name);
        let batches = batches
            .into_iter()
            .map(|(site, b)| conform(table, b).map(|b| (site, b)))
            .collect::<Result<Vec<_>, _>>()?;
        all.push((table, batches));
    }
    let rows: u64 = all.iter().flat_map(|(_, b)| b).map(|(_, b)| b.num_rows() as u64).sum();

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
        let sites: Vec<(String, Option<String>)> = {
            let mut stmt = conn
                .prepare("SELECT site_luid, content_url FROM run_sites WHERE run_id = ? AND status = 'succeeded'")
                .map_err(|e| err("cannot read the run's sites", e))?;
            let rows = stmt
                .query_map(params![run.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| err("cannot read the run's sites", e))?;
            rows.collect::<Result<_, _>>().map_err(|e| err("cannot read the run's sites", e))?
        };
        let default_site = if sites.len() == 1 { sites[0].0.as_str() } else { "" };
        for (table, batches) in &all {
            conn.execute(&format!("DELETE FROM \"{}\" WHERE run_id = ?", hist_name(table.name)), params![run.run_id])
                .map_err(|e| err(&format!("cannot replace the rows of {} for run {}", table.name, run.run_id), e))?;
            conn.execute("DELETE FROM run_tables WHERE run_id = ? AND table_name = ?", params![run.run_id, table.name])
                .map_err(|e| err("cannot update run_tables", e))?;
            for (site, b) in batches {
                duck.append(table, &run.run_id, site.as_deref().unwrap_or(default_site), b)?;
            }
            let n: u64 = batches.iter().map(|(_, b)| b.num_rows() as u64).sum();
            conn.execute(
                "INSERT INTO run_tables (run_id, table_name, rows) VALUES (?, ?, ?)",
                params![run.run_id, table.name, n as i64],
            )
            .map_err(|e| err("cannot update run_tables", e))?;
        }
        Ok(sites)
    })();
    let sites = match result {
        Ok(sites) => sites,
        Err(e) => {
            let _ = duck.rollback();
            return Err(e);
        }
    };

    let Some(root) = parquet else {
        duck.commit()?;
        return Ok(rows);
    };
    let names: Vec<&str> = all.iter().map(|(t, _)| t.name).collect();
    let key = format!("{}-{}", run.run_id, names.join("-"));
    // One set of files per partition: the run's own, and one per site named
    // by a batch.
    let partition_of = |site: &Option<String>| -> String {
        match site {
            None => run.site.clone(),
            Some(luid) => sites
                .iter()
                .find(|(l, _)| l == luid)
                .and_then(|(_, cu)| cu.clone())
                .unwrap_or_else(|| luid.clone()),
        }
    };
    let mut partitions: Vec<String> = Vec::new();
    for (_, batches) in &all {
        for (site, _) in batches {
            let p = partition_of(site);
            if !partitions.contains(&p) {
                partitions.push(p);
            }
        }
    }
    if partitions.is_empty() {
        partitions.push(run.site.clone());
    }
    let mut files: Vec<(String, ParquetRun)> = Vec::with_capacity(partitions.len());
    for (i, p) in partitions.iter().enumerate() {
        let started = match files.first() {
            None => ParquetRun::start(root, &key, &run.snapshot_date, p).map(|f| f.for_run(&run.run_id)),
            Some((_, first)) => first.for_site(&i.to_string(), p),
        };
        match started {
            Ok(f) => files.push((p.clone(), f)),
            Err(e) => {
                let _ = duck.rollback();
                files.into_iter().for_each(|(_, f)| f.discard());
                return Err(e);
            }
        }
    }
    let written = files.iter_mut().try_for_each(|(partition, f)| {
        all.iter().try_for_each(|(table, batches)| {
            let mine: Vec<&RecordBatch> =
                batches.iter().filter(|(site, _)| partition_of(site) == *partition).map(|(_, b)| b).collect();
            if mine.is_empty() {
                f.write(table, &RecordBatch::new_empty(table.schema()))
            } else {
                mine.into_iter().try_for_each(|b| f.write(table, b))
            }
        })
    });
    let mut moved = Vec::new();
    let replaced = written.and_then(|()| {
        files.iter_mut().try_for_each(|(_, f)| {
            let m = f.publish_replacing()?;
            moved.push(m);
            Ok(())
        })
    });
    let restore = |files: &[(String, ParquetRun)], moved: &[Vec<_>]| {
        for ((_, f), m) in files.iter().zip(moved) {
            f.restore(m);
        }
    };
    match replaced.and_then(|()| duck.commit()) {
        Ok(()) => {
            files.into_iter().for_each(|(_, f)| f.discard());
            Ok(rows)
        }
        Err(e) => {
            let _ = duck.rollback();
            restore(&files, &moved);
            files.into_iter().for_each(|(_, f)| f.discard());
            Err(e)
        }
    }
}
