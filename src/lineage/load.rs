//! Building the graph from the warehouse: one query per table, read as
//! Arrow batches and turned into nodes and edges in bulk.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::DataType;
use duckdb::Connection;

use super::{Graph, Kind, Node, Rel};
use crate::warehouse::read::{table_at, RunRef};
use crate::warehouse::schema;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {table} from the warehouse {path}: {source}")]
    Query {
        table: &'static str,
        path: PathBuf,
        #[source]
        source: duckdb::Error,
    },
}

/// Counts of edges whose ends the run does not hold (an edge table row
/// naming an asset that was not extracted); reported, not fatal.
#[derive(Debug, Default, Clone)]
pub struct Dangling {
    pub edges: usize,
}

/// Builds the lineage graph of `run`.
pub fn load(conn: &Connection, db: &Path, run: &RunRef) -> Result<(Graph, Dangling), LoadError> {
    let mut g = Graph { run_id: run.run_id.clone(), ..Graph::default() };
    let mut dangling = Dangling::default();
    let mut q = Query { conn, db, run };

    let (nodes, edges) = q.sizes()?;
    g.reserve(nodes, edges);

    // Nodes first, containers before contents, so edges find both ends.
    q.rows("projects", &["project_id", "name", "parent_project_id"], |r| {
        g.add(node(Kind::Project, r[0], None, r[1]));
    })?;
    q.rows("projects", &["project_id", "parent_project_id"], |r| {
        if let Some(parent) = r[1] {
            dangling.edges += !g.link(r[0].unwrap_or_default(), parent, Rel::Contains) as usize;
        }
    })?;
    q.rows("workbooks", &["workbook_id", "name", "project_id"], |r| {
        g.add(node(Kind::Workbook, r[0], None, r[1]));
        if let Some(p) = r[2] {
            dangling.edges += !g.link(r[0].unwrap_or_default(), p, Rel::Contains) as usize;
        }
    })?;
    q.rows("database_servers", &["database_id", "luid", "name"], |r| {
        g.add(node(Kind::Database, r[0], r[1], r[2]));
    })?;
    q.rows("database_tables", &["table_id", "luid", "name", "kind", "database_id"], |r| {
        let kind = if r[3] == Some("custom_sql") { Kind::CustomSql } else { Kind::Table };
        g.add(node(kind, r[0], r[1], r[2]));
        if let Some(db) = r[4] {
            dangling.edges += !g.link(db, r[0].unwrap_or_default(), Rel::Contains) as usize;
        }
    })?;
    q.rows("columns", &["column_id", "luid", "name", "table_id"], |r| {
        g.add(node(Kind::Column, r[0], r[1], r[2]));
        dangling.edges += !g.link(r[3].unwrap_or_default(), r[0].unwrap_or_default(), Rel::Contains) as usize;
    })?;
    q.rows("published_datasources", &["datasource_id", "luid", "name"], |r| {
        g.add(node(Kind::PublishedDatasource, r[0], r[1], r[2]));
    })?;
    // The REST list knows a published datasource's project.
    q.rows("datasources", &["datasource_id", "project_id"], |r| {
        if let Some(p) = r[1] {
            dangling.edges += !g.link(r[0].unwrap_or_default(), p, Rel::Contains) as usize;
        }
    })?;
    q.rows("embedded_datasources", &["datasource_id", "name", "workbook_id"], |r| {
        g.add(node(Kind::EmbeddedDatasource, r[0], None, r[1]));
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[2].unwrap_or_default(), Rel::Contains) as usize;
    })?;
    q.rows("sheets", &["sheet_id", "luid", "name", "workbook_id"], |r| {
        g.add(node(Kind::Sheet, r[0], r[1], r[2]));
    })?;
    q.rows("dashboards", &["dashboard_id", "luid", "name", "workbook_id"], |r| {
        g.add(node(Kind::Dashboard, r[0], r[1], r[2]));
    })?;
    q.rows("fields", &["field_id", "name", "kind", "datasource_id", "formula"], |r| {
        let mut n = node(Kind::Field, r[0], None, r[1]);
        n.subtype = super::field_subtype(r[2].unwrap_or_default());
        n.formula = r[4].map(Into::into);
        g.add(n);
        dangling.edges += !g.link(r[3].unwrap_or_default(), r[0].unwrap_or_default(), Rel::Contains) as usize;
    })?;

    // Edges.
    q.rows("workbook_contents", &["content_id", "workbook_id"], |r| {
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Contains) as usize;
    })?;
    q.rows("dashboard_sheets", &["sheet_id", "dashboard_id"], |r| {
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Contains) as usize;
    })?;
    q.rows("sheet_fields", &["field_id", "sheet_id"], |r| {
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Reads) as usize;
    })?;
    q.rows("field_columns", &["column_id", "field_id"], |r| {
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Reads) as usize;
    })?;
    q.rows("field_fields", &["upstream_field_id", "field_id", "relation"], |r| {
        let rel = if r[2] == Some("remote") { Rel::Remote } else { Rel::References };
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), rel) as usize;
    })?;
    q.rows("embedded_published_datasources", &["published_datasource_id", "embedded_datasource_id"], |r| {
        dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Remote) as usize;
    })?;
    // Several streams may report the same datasource → table pair.
    q.rows_sql(
        "datasource_tables",
        &format!(
            "SELECT DISTINCT table_id, datasource_id FROM {} t",
            table_at(schema::table("datasource_tables").expect("defined"), run)
        ),
        |r| {
            dangling.edges += !g.link(r[0].unwrap_or_default(), r[1].unwrap_or_default(), Rel::Reads) as usize;
        },
    )?;
    Ok((g, dangling))
}

fn node(kind: Kind, id: Option<&str>, luid: Option<&str>, name: Option<&str>) -> Node {
    let id: std::sync::Arc<str> = id.unwrap_or_default().into();
    Node {
        kind,
        luid: luid.filter(|l| !l.is_empty() && *l != &*id).map(Into::into),
        id,
        name: name.unwrap_or_default().into(),
        subtype: "",
        formula: None,
    }
}

struct Query<'a> {
    conn: &'a Connection,
    db: &'a Path,
    run: &'a RunRef,
}

/// The tables that become nodes and edges, for sizing the graph up front.
const NODE_TABLES: &[&str] = &[
    "projects", "workbooks", "database_servers", "database_tables", "columns", "published_datasources",
    "embedded_datasources", "sheets", "dashboards", "fields",
];
const EDGE_TABLES: &[&str] = &[
    "workbook_contents", "dashboard_sheets", "sheet_fields", "field_columns", "field_fields",
    "embedded_published_datasources", "datasource_tables", "columns", "fields", "workbooks", "embedded_datasources",
];

impl Query<'_> {
    /// (nodes, edges) the run's tables will make, at most.
    fn sizes(&mut self) -> Result<(usize, usize), LoadError> {
        let mut count = |tables: &[&'static str]| -> Result<usize, LoadError> {
            let mut n = 0;
            for &table in tables {
                let t = schema::table(table).expect("a schema table");
                let sql = format!("SELECT count(*) FROM {} t", table_at(t, self.run));
                self.rows_sql(table, &sql, |r| n += r[0].and_then(|c| c.parse::<usize>().ok()).unwrap_or(0))?;
            }
            Ok(n)
        };
        Ok((count(NODE_TABLES)?, count(EDGE_TABLES)?))
    }

    /// Calls `f` with each row's text columns (`None` for NULL).
    fn rows(&mut self, table: &'static str, columns: &[&str], f: impl FnMut(&[Option<&str>])) -> Result<(), LoadError> {
        let t = schema::table(table).expect("a schema table");
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM {} t", cols.join(", "), table_at(t, self.run));
        self.rows_sql(table, &sql, f)
    }

    fn rows_sql(&mut self, table: &'static str, sql: &str, mut f: impl FnMut(&[Option<&str>])) -> Result<(), LoadError> {
        let err = |source| LoadError::Query { table, path: self.db.to_owned(), source };
        let started = std::time::Instant::now();
        let mut rows = 0usize;
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let batches = stmt.query_arrow([]).map_err(err)?;
        for batch in batches {
            let columns: Vec<StringArray> = batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Utf8 => c.as_string::<i32>().clone(),
                    _ => arrow::compute::cast(c, &DataType::Utf8)
                        .map(|a| a.as_string::<i32>().clone())
                        .unwrap_or_else(|_| StringArray::new_null(c.len())),
                })
                .collect();
            let mut row: Vec<Option<&str>> = Vec::with_capacity(columns.len());
            for i in 0..batch.num_rows() {
                row.clear();
                row.extend(columns.iter().map(|c| (!c.is_null(i)).then(|| c.value(i))));
                f(&row);
            }
            rows += batch.num_rows();
        }
        tracing::debug!(table, rows, secs = started.elapsed().as_secs_f64(), "lineage table loaded");
        Ok(())
    }
}
