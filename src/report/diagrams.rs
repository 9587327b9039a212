//! Asset-level lineage diagrams for the HTML report, one per workbook and
//! one per published datasource, cut from the lineage graph. Fields and
//! columns are folded away: a governance reader wants to see which tables
//! feed which datasources, sheets and dashboards, not a thousand fields.
//!
//! Node ids are REST LUIDs where Tableau has one (so report cells holding a
//! workbook, datasource or view id link to the same asset), otherwise
//! Metadata API ids.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use petgraph::graph::NodeIndex;

use super::model::{Diagram, DiagramNode};
use crate::lineage::{Graph, Kind, Rel};

/// The id an asset goes by in the report.
pub fn report_id(g: &Graph, ix: NodeIndex) -> String {
    let n = g.node(ix);
    n.luid.as_deref().unwrap_or(&n.id).to_string()
}

/// A diagram under construction: nodes by graph index, edges deduplicated.
struct Builder<'g> {
    g: &'g Graph,
    nodes: BTreeMap<NodeIndex, usize>,
    order: Vec<NodeIndex>,
    edges: BTreeSet<(usize, usize)>,
}

impl<'g> Builder<'g> {
    fn new(g: &'g Graph) -> Self {
        Builder { g, nodes: BTreeMap::new(), order: Vec::new(), edges: BTreeSet::new() }
    }

    fn add(&mut self, ix: NodeIndex) -> usize {
        if let Some(&i) = self.nodes.get(&ix) {
            return i;
        }
        self.order.push(ix);
        self.nodes.insert(ix, self.order.len() - 1);
        self.order.len() - 1
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex) {
        let (a, b) = (self.add(from), self.add(to));
        if a != b {
            self.edges.insert((a, b));
        }
    }

    /// A datasource's tables and their databases.
    fn tables_of(&mut self, ds: NodeIndex) {
        let g = self.g;
        for (t, rel) in g.upstream(ds) {
            if rel == Rel::Reads && matches!(g.node(t).kind, Kind::Table | Kind::CustomSql) {
                self.edge(t, ds);
                if let Some(db) = g.upstream_of_kind(t, &[Kind::Database]) {
                    self.edge(db, t);
                }
            }
        }
    }

    fn finish(self, id: String, kind: &str, name: &str, flagged: &HashSet<String>) -> Diagram {
        let g = self.g;
        // Nodes by (kind, id), whatever order the graph's edges came in, so
        // the same run always gives the same diagram data.
        let mut order: Vec<usize> = (0..self.order.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (g.node(self.order[a]), g.node(self.order[b]));
            (a.kind, &a.id).cmp(&(b.kind, &b.id))
        });
        let mut position = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new as u32;
        }
        let mut edges: Vec<(u32, u32)> =
            self.edges.iter().map(|&(a, b)| (position[a], position[b])).collect();
        edges.sort_unstable();
        Diagram {
            id,
            kind: kind.to_string(),
            name: name.to_string(),
            nodes: order
                .iter()
                .map(|&i| self.order[i])
                .collect::<Vec<_>>()
                .iter()
                .map(|&ix| {
                    let rid = report_id(g, ix);
                    DiagramNode {
                        flagged: flagged.contains(&rid) || flagged.contains(&*g.node(ix).id),
                        id: rid,
                        kind: g.node(ix).kind.as_str().to_string(),
                        label: g.node(ix).name.to_string(),
                    }
                })
                .collect(),
            edges,
        }
    }
}

/// Databases → tables → (published →) embedded datasources → sheets →
/// dashboards → the workbook.
pub fn workbook(g: &Graph, wb: NodeIndex, flagged: &HashSet<String>) -> Diagram {
    let mut b = Builder::new(g);
    b.add(wb);
    let parts: Vec<NodeIndex> = g.upstream(wb).filter(|&(_, r)| r == Rel::Contains).map(|(n, _)| n).collect();
    for &p in &parts {
        match g.node(p).kind {
            Kind::Dashboard => b.edge(p, wb),
            Kind::Sheet => {
                let dashboards: Vec<NodeIndex> =
                    g.downstream(p).filter(|&(d, _)| g.node(d).kind == Kind::Dashboard).map(|(d, _)| d).collect();
                if dashboards.is_empty() {
                    b.edge(p, wb);
                }
                for d in dashboards {
                    b.edge(p, d);
                }
                // The datasources whose fields the sheet shows: through its
                // fields in a full graph, directly in an asset-level one.
                const SOURCES: &[Kind] = &[Kind::EmbeddedDatasource, Kind::PublishedDatasource];
                let sources: BTreeSet<NodeIndex> = g
                    .upstream(p)
                    .filter_map(|(f, _)| match g.node(f).kind {
                        Kind::Field => g.upstream_of_kind(f, SOURCES),
                        k if SOURCES.contains(&k) => Some(f),
                        _ => None,
                    })
                    .collect();
                for s in sources {
                    b.edge(s, p);
                }
            }
            Kind::EmbeddedDatasource => {
                b.add(p);
                match g.upstream_of_kind(p, &[Kind::PublishedDatasource]) {
                    Some(pds) => {
                        b.edge(pds, p);
                        b.tables_of(pds);
                    }
                    None => b.tables_of(p),
                }
            }
            _ => {}
        }
    }
    // An embedded datasource no sheet uses still belongs to the workbook.
    for &p in &parts {
        if g.node(p).kind == Kind::EmbeddedDatasource && !b.edges.iter().any(|&(a, _)| a == b.nodes[&p]) {
            b.edge(p, wb);
        }
    }
    let id = report_id(g, wb);
    b.finish(id, "workbook", &g.node(wb).name, flagged)
}

/// Databases → tables → the published datasource → the embedded
/// datasources using it → their workbooks.
pub fn datasource(g: &Graph, ds: NodeIndex, flagged: &HashSet<String>) -> Diagram {
    let mut b = Builder::new(g);
    b.add(ds);
    b.tables_of(ds);
    for (e, rel) in g.downstream(ds) {
        if rel == Rel::Remote && g.node(e).kind == Kind::EmbeddedDatasource {
            b.edge(ds, e);
            if let Some(wb) = g.downstream_of_kind(e, &[Kind::Workbook]) {
                b.edge(e, wb);
            }
        }
    }
    let id = report_id(g, ds);
    b.finish(id, "datasource", &g.node(ds).name, flagged)
}

/// Every workbook's and published datasource's diagram, ordered by kind
/// then id so the report is the same for the same run.
pub fn all(g: &Graph, flagged: &HashSet<String>) -> Vec<Diagram> {
    let mut out: Vec<Diagram> = g
        .graph
        .node_indices()
        .filter_map(|ix| match g.node(ix).kind {
            Kind::Workbook => Some(workbook(g, ix, flagged)),
            Kind::PublishedDatasource => Some(datasource(g, ix, flagged)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    out
}
