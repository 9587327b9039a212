//! Appending to a log table ([`schema::LOGS`]): rows about events outside
//! extraction runs, such as the refreshes `trm refresh` followed. One DuckDB
//! transaction per append, so a failure leaves the file as it was; the runs
//! and their views are not touched.

use std::path::Path;

use arrow::record_batch::RecordBatch;

use super::duck::Duck;
use super::schema::{self, Table};
use super::{conform, WarehouseError};

/// Appends `batch` to the log table `table` of the warehouse at `db`
/// (created with the schema if the file is new). Returns the rows written.
pub fn append_log(db: &Path, table: &'static str, batch: RecordBatch) -> Result<u64, WarehouseError> {
    let table: &'static Table = schema::table(table).ok_or_else(|| WarehouseError::UnknownTable(table.into()))?;
    assert!(schema::is_log(table.name), "{} is not a log table", table.name);
    let batch = conform(table, batch)?;
    let rows = batch.num_rows() as u64;
    let duck = Duck::open(db)?;
    let result = (|| {
        if rows == 0 {
            return Ok(());
        }
        let what = || format!("cannot append {rows} rows to {}", table.name);
        let err = |e| WarehouseError::Duck { path: db.to_owned(), what: what(), source: e };
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let mut appender = duck.connection().appender_with_columns(table.name, &columns).map_err(err)?;
        appender.append_record_batch(batch).map_err(err)?;
        appender.flush().map_err(err)
    })();
    match result {
        Ok(()) => {
            duck.commit()?;
            Ok(rows)
        }
        Err(e) => {
            let _ = duck.rollback();
            Err(e)
        }
    }
}
