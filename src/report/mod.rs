//! Reports: SQL definitions in `reports/` run over the warehouse, written as
//! CSV files, and one self-contained HTML audit report.
//!
//! - [`definitions`]: the definition format, the built-in reports, and
//!   overrides loaded from a directory.
//! - [`sql`]: running a definition on a DuckDB connection into a
//!   [`model::ReportTable`].
//! - [`csv`]: writing a report table as RFC 4180 CSV.
//! - [`diagrams`]: lineage diagrams per workbook and datasource, cut from the graph.
//! - [`html`] (+ [`svg`]): the self-contained HTML audit report, rendered
//!   with minijinja from `templates/`.
//! - [`generate`]: `trm report` end to end.

pub mod csv;
pub mod definitions;
pub mod diagrams;
pub mod generate;
pub mod html;
pub mod model;
pub mod sql;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use definitions::{Definition, DefinitionError};
use model::ReportTable;

/// Everything that can go wrong making reports. Each message names the
/// report file or the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error("cannot list report definitions in {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the report definition {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("report variable name '{0}' is not a plain identifier (letters, digits and '_')")]
    VariableName(String),
    #[error("cannot set the report variable {name}")]
    SetVariable {
        name: String,
        #[source]
        source: duckdb::Error,
    },
    #[error("report {file}: the query failed")]
    Query {
        file: String,
        #[source]
        source: duckdb::Error,
    },
    #[error(
        "report {file}: the query returns the columns ({returned}) but the header lists ({declared}); \
         they must be the same names in the same order"
    )]
    Columns { file: String, declared: String, returned: String },
    #[error("report {file}: column {column} has type {data_type}, which a report cannot show; cast it in the query (to VARCHAR, BIGINT, DOUBLE, …)")]
    ColumnType { file: String, column: String, data_type: String },
    #[error("cannot write the report {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs every definition on `conn` (after setting `vars`) and writes
/// `<slug>.csv` for each into `out_dir`, creating it if needed. Returns the
/// tables in the order of `defs`. Stops at the first report that fails.
pub fn write_all(
    conn: &duckdb::Connection,
    defs: &[Definition],
    vars: &BTreeMap<String, i64>,
    out_dir: &Path,
) -> Result<Vec<ReportTable>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write { path: out_dir.to_owned(), source })?;
    let mut tables = Vec::with_capacity(defs.len());
    for def in defs {
        let table = sql::run(conn, def, vars)?;
        csv::write_report_csv(&out_dir.join(format!("{}.csv", def.slug)), &table)?;
        tables.push(table);
    }
    Ok(tables)
}
