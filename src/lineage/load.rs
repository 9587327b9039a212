//! Building the graph from the warehouse in two queries. DuckDB numbers the
//! nodes (kind by kind, sorted by id) and joins every edge table to those
//! numbers, so Rust receives nodes in index order and edges as pairs of
//! indexes: no per-edge id lookups, which on a million-field site would
//! dominate the build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use petgraph::graph::NodeIndex;

use super::{field_subtype, Graph, Kind, Node, Rel, NO_SITE};
use crate::warehouse::read::{table_at, RunRef};
use crate::warehouse::schema;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the lineage {what} of run {run} from the warehouse {path}: {source}")]
    Query {
        what: &'static str,
        run: String,
        path: PathBuf,
        #[source]
        source: duckdb::Error,
    },
}

/// What loading found and what it cost.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Edge rows naming an asset the run does not hold (an edge table row
    /// whose other end was not extracted); left out and reported, not fatal.
    pub dangling_edges: usize,
    /// Seconds DuckDB spent answering the two queries (scans, numbering, joins).
    pub query_secs: f64,
    /// Seconds spent building the graph from the answers.
    pub build_secs: f64,
}

/// Node kinds by the number the SQL gives them (their order in the graph).
const KINDS: [Kind; 11] = Kind::ALL;

fn kind_no(k: Kind) -> usize {
    KINDS.iter().position(|&x| x == k).expect("every kind is listed")
}

fn rel_no(r: Rel) -> i64 {
    match r {
        Rel::Contains => 0,
        Rel::Reads => 1,
        Rel::References => 2,
        Rel::Remote => 3,
    }
}

const RELS: [Rel; 4] = [Rel::Contains, Rel::Reads, Rel::References, Rel::Remote];

/// The `all_nodes` CTE: every asset of the run with its kind number `k`.
/// Node `ix` is the asset's position ordered by (k, id).
fn nodes_cte(run: &RunRef, scope: Scope) -> String {
    let t = |name: &str| table_at(schema::table(name).expect("a schema table"), run);
    let k = |kind: Kind| kind_no(kind);
    let parts = [
        format!("SELECT {}, database_metadata_id, database_luid, name, NULL, NULL, site_luid FROM {}", k(Kind::Database), t("database_servers")),
        format!(
            "SELECT CASE WHEN kind = 'custom_sql' THEN {} ELSE {} END, table_metadata_id, table_luid, name, NULL, NULL, site_luid FROM {}",
            k(Kind::CustomSql),
            k(Kind::Table),
            t("database_tables")
        ),
        format!(
            "SELECT {}, column_metadata_id, column_luid, name, NULL, NULL, site_luid FROM {}{}",
            k(Kind::Column),
            t("columns"),
            scope.only_full()
        ),
        format!("SELECT {}, datasource_metadata_id, datasource_luid, name, NULL, NULL, site_luid FROM {}", k(Kind::PublishedDatasource), t("published_datasources")),
        format!("SELECT {}, datasource_metadata_id, NULL, name, NULL, NULL, site_luid FROM {}", k(Kind::EmbeddedDatasource), t("embedded_datasources")),
        format!("SELECT {}, field_metadata_id, NULL, name, kind, formula, site_luid FROM {}{}", k(Kind::Field), t("fields"), scope.only_full()),
        format!("SELECT {}, sheet_metadata_id, sheet_luid, name, NULL, NULL, site_luid FROM {}", k(Kind::Sheet), t("sheets")),
        format!("SELECT {}, dashboard_metadata_id, dashboard_luid, name, NULL, NULL, site_luid FROM {}", k(Kind::Dashboard), t("dashboards")),
        format!("SELECT {}, workbook_luid, NULL, name, NULL, NULL, site_luid FROM {}", k(Kind::Workbook), t("workbooks")),
        format!("SELECT {}, project_luid, NULL, name, NULL, NULL, site_luid FROM {}", k(Kind::Project), t("projects")),
    ];
    format!("all_nodes (k, id, luid, name, subtype, formula, site) AS ({})", parts.join(" UNION ALL "))
}

/// The `edges` CTE: (upstream id, downstream id, relation) from every table
/// that links assets.
fn edges_cte(run: &RunRef, scope: Scope) -> String {
    let t = |name: &str| table_at(schema::table(name).expect("a schema table"), run);
    let (contains, reads, references, remote) =
        (rel_no(Rel::Contains), rel_no(Rel::Reads), rel_no(Rel::References), rel_no(Rel::Remote));
    let parts = [
        // Containers downstream of their contents: a project holds workbooks,
        // a workbook its sheets and dashboards, a datasource its fields.
        format!("SELECT project_luid, parent_project_luid, {contains} FROM {} WHERE parent_project_luid IS NOT NULL", t("projects")),
        format!("SELECT workbook_luid, project_luid, {contains} FROM {} WHERE project_luid IS NOT NULL", t("workbooks")),
        format!("SELECT datasource_luid, project_luid, {contains} FROM {} WHERE project_luid IS NOT NULL", t("datasources")),
        format!("SELECT database_metadata_id, table_metadata_id, {contains} FROM {} WHERE database_metadata_id IS NOT NULL", t("database_tables")),
        format!("SELECT table_metadata_id, column_metadata_id, {contains} FROM {}{}", t("columns"), scope.only_full()),
        format!("SELECT datasource_metadata_id, workbook_luid, {contains} FROM {}", t("embedded_datasources")),
        format!("SELECT datasource_metadata_id, field_metadata_id, {contains} FROM {}{}", t("fields"), scope.only_full()),
        format!("SELECT content_metadata_id, workbook_luid, {contains} FROM {}", t("workbook_contents")),
        format!("SELECT sheet_metadata_id, dashboard_metadata_id, {contains} FROM {}", t("dashboard_sheets")),
        format!("SELECT field_metadata_id, sheet_metadata_id, {reads} FROM {}{}", t("sheet_fields"), scope.only_full()),
        format!("SELECT column_metadata_id, field_metadata_id, {reads} FROM {}{}", t("field_columns"), scope.only_full()),
        format!(
            "SELECT upstream_field_metadata_id, field_metadata_id, CASE WHEN relation = 'remote' THEN {remote} ELSE {references} END FROM {}{}",
            t("field_fields"),
            scope.only_full()
        ),
        // Without fields, a sheet reads the datasources whose fields it shows.
        format!(
            "SELECT DISTINCT f.datasource_metadata_id, s.sheet_metadata_id, {reads} FROM {} s JOIN {} f ON f.field_metadata_id = s.field_metadata_id{}",
            t("sheet_fields"),
            t("fields"),
            scope.only_assets()
        ),
        format!("SELECT published_datasource_metadata_id, embedded_datasource_metadata_id, {remote} FROM {}", t("embedded_published_datasources")),
        // Several streams may report the same datasource → table pair.
        format!("SELECT DISTINCT table_metadata_id, datasource_metadata_id, {reads} FROM {}", t("datasource_tables")),
    ];
    format!("edges (a, b, rel) AS ({})", parts.join(" UNION ALL "))
}

/// How much of the lineage to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every asset down to columns and fields.
    Full,
    /// Assets without columns and fields; a sheet reads the datasources
    /// whose fields it shows. A twentieth of the size, for diagrams.
    Assets,
}

impl Scope {
    /// A filter that keeps a part's rows only in this scope.
    fn only_full(self) -> &'static str {
        if self == Scope::Full { "" } else { " WHERE false" }
    }

    fn only_assets(self) -> &'static str {
        if self == Scope::Assets { "" } else { " WHERE false" }
    }
}

/// Builds the full lineage graph of `run`.
pub fn load(conn: &Connection, db: &Path, run: &RunRef) -> Result<(Graph, LoadStats), LoadError> {
    load_scope(conn, db, run, Scope::Full)
}

/// Builds the lineage graph of `run` at `scope`.
pub fn load_scope(conn: &Connection, db: &Path, run: &RunRef, scope: Scope) -> Result<(Graph, LoadStats), LoadError> {
    let err = |what: &'static str| {
        move |source| LoadError::Query { what, run: run.run_id.clone(), path: db.to_owned(), source }
    };
    let mut g = Graph { run_id: run.run_id.clone(), ..Graph::default() };
    let started = std::time::Instant::now();

    // The sites the run's data comes from, for `site:`-qualified names.
    let sql = format!(
        "SELECT DISTINCT site_luid, content_url FROM {} ORDER BY content_url",
        table_at(schema::table("sites").expect("a schema table"), run)
    );
    let mut stmt = conn.prepare(&sql).map_err(err("sites"))?;
    let sites = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(err("sites"))?;
    g.sites = sites.collect::<Result<_, _>>().map_err(err("sites"))?;
    let site_no: HashMap<String, u16> = g.sites.iter().enumerate().map(|(i, (l, _))| (l.clone(), i as u16)).collect();

    // Nodes, in index order.
    let sql = format!("WITH {} SELECT k, id, luid, name, subtype, formula, site FROM all_nodes ORDER BY k, id", nodes_cte(run, scope));
    let mut stmt = conn.prepare(&sql).map_err(err("assets"))?;
    let mut current: Option<(usize, u32)> = None;
    let mut build = std::time::Duration::ZERO;
    for batch in stmt.query_arrow([]).map_err(err("assets"))? {
        let building = std::time::Instant::now();
        let k = ints(&batch, 0);
        let [id, luid, name, subtype, formula, site] = [1, 2, 3, 4, 5, 6].map(|i| text(&batch, i));
        for i in 0..batch.num_rows() {
            let kind_no = k.value(i) as usize;
            let ix = g.graph.add_node(Node {
                kind: KINDS[kind_no],
                id: id.value(i).into(),
                luid: None,
                name: opt(&name, i).unwrap_or_default().into(),
                subtype: opt(&subtype, i).map(field_subtype).unwrap_or(""),
                formula: opt(&formula, i).map(Into::into),
                site: opt(&site, i).and_then(|l| site_no.get(l).copied()).unwrap_or(NO_SITE),
            });
            if let Some(l) = opt(&luid, i).filter(|l| !l.is_empty() && *l != id.value(i)) {
                g.graph[ix].luid = Some(l.into());
                g.luids.push((l.into(), ix));
            }
            match current {
                Some((kn, start)) if kn == kind_no => current = Some((kn, start)),
                Some((kn, start)) => {
                    g.ranges.push((KINDS[kn], start..ix.index() as u32));
                    current = Some((kind_no, ix.index() as u32));
                }
                None => current = Some((kind_no, ix.index() as u32)),
            }
        }
        build += building.elapsed();
    }
    if let Some((kn, start)) = current {
        g.ranges.push((KINDS[kn], start..g.graph.node_count() as u32));
    }
    g.luids.sort();
    g.luids.dedup_by(|b, a| a.0 == b.0);
    tracing::debug!(nodes = g.graph.node_count(), secs = started.elapsed().as_secs_f64(), "lineage assets loaded");

    // Edges, as index pairs; an end the run does not hold comes back NULL.
    // The same numbering, over the ids alone; an id listed twice (which
    // Tableau does not do) links through its first node.
    let sql = format!(
        "WITH {}, {}, \
         numbered AS (SELECT id, luid, row_number() OVER (ORDER BY k, id) - 1 AS ix FROM all_nodes), \
         keys AS (SELECT id AS key, min(ix) AS ix FROM numbered GROUP BY id UNION ALL \
                  SELECT luid, min(ix) FROM numbered WHERE luid IS NOT NULL AND luid NOT IN (SELECT id FROM numbered) \
                  GROUP BY luid) \
         SELECT ka.ix, kb.ix, e.rel FROM edges e LEFT JOIN keys ka ON ka.key = e.a LEFT JOIN keys kb ON kb.key = e.b",
        nodes_cte(run, scope),
        edges_cte(run, scope)
    );
    let mut stats = LoadStats::default();
    let mut stmt = conn.prepare(&sql).map_err(err("links"))?;
    let batches: Vec<RecordBatch> = stmt.query_arrow([]).map_err(err("links"))?.collect();
    let building = std::time::Instant::now();
    g.graph.reserve_edges(batches.iter().map(|b| b.num_rows()).sum());
    for batch in batches {
        let (a, b, rel) = (ints(&batch, 0), ints(&batch, 1), ints(&batch, 2));
        for i in 0..batch.num_rows() {
            if a.is_null(i) || b.is_null(i) {
                stats.dangling_edges += 1;
                continue;
            }
            let (a, b) = (NodeIndex::new(a.value(i) as usize), NodeIndex::new(b.value(i) as usize));
            if a != b {
                g.graph.add_edge(a, b, RELS[rel.value(i) as usize]);
            }
        }
    }
    build += building.elapsed();
    stats.build_secs = build.as_secs_f64();
    stats.query_secs = started.elapsed().as_secs_f64() - stats.build_secs;
    tracing::debug!(edges = g.graph.edge_count(), secs = started.elapsed().as_secs_f64(), "lineage links loaded");
    Ok((g, stats))
}

fn ints(batch: &RecordBatch, i: usize) -> arrow::array::Int64Array {
    let c = batch.column(i);
    match c.data_type() {
        DataType::Int64 => c.as_primitive::<Int64Type>().clone(),
        _ => arrow::compute::cast(c, &DataType::Int64).expect("an integer column").as_primitive::<Int64Type>().clone(),
    }
}

fn text(batch: &RecordBatch, i: usize) -> StringArray {
    let c = batch.column(i);
    match c.data_type() {
        DataType::Utf8 => c.as_string::<i32>().clone(),
        _ => arrow::compute::cast(c, &DataType::Utf8)
            .map(|a| a.as_string::<i32>().clone())
            .unwrap_or_else(|_| StringArray::new_null(c.len())),
    }
}

fn opt(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}
