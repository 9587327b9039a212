//! The lineage graph: every asset of one run as a petgraph node, edges
//! running upstream → downstream
//!
//! ```text
//! database server → table → column → field → sheet → dashboard → workbook → project
//!                   table → datasource → field        sheet → workbook
//!                   published datasource → embedded datasource → workbook
//!                   field → field (calculations, and embedded stand-ins for published fields)
//! ```
//!
//! Built in bulk from the warehouse's edge tables ([`load`]); a Tableau id
//! (Metadata API id or REST LUID) finds its node through one hash lookup.
//! [`walk`] answers "what is downstream / upstream of X", [`find`] turns
//! `kind:name` into a node. The audit detectors read it; so do reports.

mod load;
mod walk;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};

pub use load::{load, load_scope, LoadError, LoadStats, Scope};
pub use walk::{walk, Direction, Walk, WalkNode};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Database,
    Table,
    CustomSql,
    Column,
    PublishedDatasource,
    EmbeddedDatasource,
    Field,
    Sheet,
    Dashboard,
    Workbook,
    Project,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Database,
        Kind::Table,
        Kind::CustomSql,
        Kind::Column,
        Kind::PublishedDatasource,
        Kind::EmbeddedDatasource,
        Kind::Field,
        Kind::Sheet,
        Kind::Dashboard,
        Kind::Workbook,
        Kind::Project,
    ];

    /// The name used in output, JSON and `kind:name` lookups.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Database => "database",
            Kind::Table => "table",
            Kind::CustomSql => "custom_sql",
            Kind::Column => "column",
            Kind::PublishedDatasource => "published_datasource",
            Kind::EmbeddedDatasource => "embedded_datasource",
            Kind::Field => "field",
            Kind::Sheet => "sheet",
            Kind::Dashboard => "dashboard",
            Kind::Workbook => "workbook",
            Kind::Project => "project",
        }
    }

    /// The kinds a `kind:` prefix may name; `datasource` covers both
    /// published and embedded, `table` covers custom SQL.
    pub fn parse_prefix(s: &str) -> Option<&'static [Kind]> {
        Some(match s.to_ascii_lowercase().as_str() {
            "database" | "server" | "database_server" => &[Kind::Database],
            "table" => &[Kind::Table, Kind::CustomSql],
            "custom_sql" | "customsql" => &[Kind::CustomSql],
            "column" => &[Kind::Column],
            "datasource" | "data_source" => &[Kind::PublishedDatasource, Kind::EmbeddedDatasource],
            "published_datasource" => &[Kind::PublishedDatasource],
            "embedded_datasource" => &[Kind::EmbeddedDatasource],
            "field" => &[Kind::Field],
            "sheet" => &[Kind::Sheet],
            "dashboard" => &[Kind::Dashboard],
            "workbook" => &[Kind::Workbook],
            "project" => &[Kind::Project],
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a downstream node depends on an upstream one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// A container holds the node: server → table, table → column,
    /// datasource → field, dashboard → workbook, workbook → project, ….
    Contains,
    /// Reads from: column → field, table → datasource, field → sheet.
    Reads,
    /// A calculation, group or bin built on another field.
    References,
    /// An embedded datasource field standing for a published one, or an
    /// embedded datasource connecting through a published one.
    Remote,
}

/// One asset.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    /// Metadata API id; for workbooks and projects, the REST LUID.
    pub id: Arc<str>,
    /// REST LUID where Tableau has one and it differs from `id`.
    pub luid: Option<Box<str>>,
    pub name: Box<str>,
    /// Fields: `ColumnField`, `CalculatedField`, … (see [`field_subtype`]);
    /// otherwise empty.
    pub subtype: &'static str,
    /// Calculated fields: the formula.
    pub formula: Option<Box<str>>,
    /// The site the asset is on: an index into [`Graph::sites`], or
    /// [`NO_SITE`].
    pub site: u16,
}

/// [`Node::site`] of an asset whose site the warehouse does not know.
pub const NO_SITE: u16 = u16::MAX;

/// The lineage of one run.
#[derive(Default)]
pub struct Graph {
    pub graph: DiGraph<Node, Rel>,
    /// The node index range of each kind. [`load`] adds nodes kind by kind,
    /// each kind sorted by id, so an id is found by binary search: no hash
    /// index to build over a million ids.
    ranges: Vec<(Kind, std::ops::Range<u32>)>,
    /// (LUID, node), sorted by LUID, for nodes whose LUID differs from their id.
    luids: Vec<(Box<str>, NodeIndex)>,
    pub run_id: String,
    /// The sites the assets are on: (LUID, content URL).
    pub sites: Vec<(String, String)>,
}

impl Graph {
    /// The node with this Metadata API id or REST LUID.
    pub fn get(&self, id: &str) -> Option<NodeIndex> {
        for (_, range) in &self.ranges {
            let (start, end) = (range.start as usize, range.end as usize);
            let ids = |i: usize| &*self.graph[NodeIndex::new(i)].id;
            // partition_point over the range: nodes within it are sorted by id.
            let (mut lo, mut hi) = (start, end);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if ids(mid) < id {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo < end && ids(lo) == id {
                return Some(NodeIndex::new(lo));
            }
        }
        self.luids.binary_search_by(|(l, _)| (**l).cmp(id)).ok().map(|i| self.luids[i].1)
    }

    pub fn node(&self, ix: NodeIndex) -> &Node {
        &self.graph[ix]
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Nodes by kind, for summaries.
    pub fn count_by_kind(&self) -> Vec<(Kind, usize)> {
        let mut counts: HashMap<Kind, usize> = HashMap::new();
        for n in self.graph.node_weights() {
            *counts.entry(n.kind).or_default() += 1;
        }
        Kind::ALL.iter().filter_map(|k| counts.get(k).map(|&n| (*k, n))).collect()
    }

    /// Upstream neighbours of a node, with the relation.
    pub fn upstream(&self, ix: NodeIndex) -> impl Iterator<Item = (NodeIndex, Rel)> + '_ {
        self.graph.edges_directed(ix, petgraph::Direction::Incoming).map(|e| {
            use petgraph::visit::EdgeRef;
            (e.source(), *e.weight())
        })
    }

    /// Downstream neighbours of a node, with the relation.
    pub fn downstream(&self, ix: NodeIndex) -> impl Iterator<Item = (NodeIndex, Rel)> + '_ {
        self.graph.edges_directed(ix, petgraph::Direction::Outgoing).map(|e| {
            use petgraph::visit::EdgeRef;
            (e.target(), *e.weight())
        })
    }

    /// The first upstream neighbour of one of these kinds.
    pub fn upstream_of_kind(&self, ix: NodeIndex, kinds: &[Kind]) -> Option<NodeIndex> {
        self.upstream(ix).map(|(n, _)| n).find(|&n| kinds.contains(&self.graph[n].kind))
    }

    /// The first downstream neighbour of one of these kinds.
    pub fn downstream_of_kind(&self, ix: NodeIndex, kinds: &[Kind]) -> Option<NodeIndex> {
        self.downstream(ix).map(|(n, _)| n).find(|&n| kinds.contains(&self.graph[n].kind))
    }

    /// The content URL of a node's site, if known.
    pub fn site_of(&self, ix: NodeIndex) -> Option<&str> {
        self.sites.get(self.graph[ix].site as usize).map(|(_, cu)| cu.as_str())
    }

    /// Resolves what a user typed: an id, or `kind:name` (the name may be
    /// quoted), either optionally after a site's content URL:
    /// `finance:workbook:Sales`, or `finance:Sales` for an asset of any
    /// kind named so on that site. Exact names win over case-insensitive
    /// ones.
    pub fn find(&self, asset: &str) -> Result<NodeIndex, FindError> {
        if let Some(ix) = self.get(asset.trim()) {
            return Ok(ix);
        }
        if let Some((prefix, rest)) = asset.split_once(':') {
            let prefix = prefix.trim();
            let site = self.sites.iter().position(|(_, cu)| cu.eq_ignore_ascii_case(prefix));
            if let (Some(site), None) = (site, Kind::parse_prefix(prefix)) {
                return self.find_on(Some(site as u16), rest, asset);
            }
        }
        self.find_on(None, asset, asset)
    }

    /// [`find`](Self::find) among the assets of one site (`None`: all).
    fn find_on(&self, site: Option<u16>, asset: &str, typed: &str) -> Result<NodeIndex, FindError> {
        let on_site = |ix: &NodeIndex| site.is_none_or(|s| self.graph[*ix].site == s);
        if let Some(ix) = self.get(asset.trim()).filter(on_site) {
            return Ok(ix);
        }
        let (prefix, name, kinds): (&str, &str, &[Kind]) = match asset.split_once(':') {
            Some((prefix, name)) if site.is_none() || Kind::parse_prefix(prefix.trim()).is_some() => {
                let Some(kinds) = Kind::parse_prefix(prefix.trim()) else {
                    return Err(FindError::Unknown(format!(
                        "'{prefix}' is not an asset kind or a site; use one of database, table, column, datasource, field, sheet, dashboard, workbook, project{}",
                        if self.sites.is_empty() {
                            String::new()
                        } else {
                            format!(", or a site ({})", self.sites.iter().map(|(_, cu)| cu.as_str()).collect::<Vec<_>>().join(", "))
                        }
                    )));
                };
                (prefix.trim(), name, kinds)
            }
            // `site:name`: an asset of any kind on that site.
            _ if site.is_some() => ("asset", asset, &Kind::ALL),
            _ => {
                return Err(FindError::Unknown(format!(
                    "no asset has the id '{asset}'; name one as kind:name, e.g. table:orders or dashboard:\"Exec Overview\""
                )))
            }
        };
        let name = name.trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .or_else(|| name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))
            .unwrap_or(name);
        let of_kind = || self.graph.node_indices().filter(|&ix| kinds.contains(&self.graph[ix].kind)).filter(on_site);
        let mut hits: Vec<NodeIndex> = of_kind().filter(|&ix| &*self.graph[ix].name == name).collect();
        if hits.is_empty() {
            let lower = name.to_lowercase();
            hits = of_kind().filter(|&ix| self.graph[ix].name.to_lowercase() == lower).collect();
        }
        let asset = typed;
        match hits.len() {
            0 => Err(FindError::Unknown(format!("no {prefix} is named '{name}' in run {}", self.run_id))),
            1 => Ok(hits[0]),
            _ => {
                hits.sort_by(|a, b| self.graph[*a].id.cmp(&self.graph[*b].id));
                Err(FindError::Ambiguous {
                    asset: asset.to_string(),
                    candidates: hits.iter().map(|&ix| self.describe(ix)).collect(),
                })
            }
        }
    }

    /// `kind name (id), in container`: enough to tell same-named assets apart.
    pub fn describe(&self, ix: NodeIndex) -> String {
        let n = &self.graph[ix];
        let mut s = format!("{} \"{}\" ({})", n.kind, n.name, n.id);
        if self.sites.len() > 1 {
            if let Some(site) = self.site_of(ix) {
                s += &format!(" on site {site}");
            }
        }
        let container = self
            .downstream(ix)
            .chain(self.upstream(ix))
            .filter(|(_, rel)| *rel == Rel::Contains)
            .map(|(c, _)| c)
            .find(|&c| {
                let k = self.graph[c].kind;
                match n.kind {
                    // A table is in a server; a field in a datasource; a sheet in a workbook.
                    Kind::Table | Kind::CustomSql => k == Kind::Database,
                    Kind::Column => matches!(k, Kind::Table | Kind::CustomSql),
                    Kind::Field => matches!(k, Kind::PublishedDatasource | Kind::EmbeddedDatasource),
                    Kind::Sheet | Kind::Dashboard | Kind::EmbeddedDatasource => k == Kind::Workbook,
                    Kind::Workbook | Kind::PublishedDatasource => k == Kind::Project,
                    _ => false,
                }
            });
        if let Some(c) = container {
            let c = &self.graph[c];
            s += &format!(" in {} \"{}\"", c.kind, c.name);
        }
        s
    }
}

/// The field kinds the Metadata API reports (its `Field` interface's
/// implementations), as static strings; anything else is `Other`.
pub fn field_subtype(s: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "ColumnField",
        "CalculatedField",
        "DatasourceField",
        "GroupField",
        "BinField",
        "CombinedField",
        "CombinedSetField",
        "HierarchyField",
        "SetField",
    ];
    KNOWN.iter().find(|k| **k == s).copied().unwrap_or("Other")
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("{0}")]
    Unknown(String),
    #[error("'{asset}' names {} assets; use an id:\n  {}", candidates.len(), candidates.join("\n  "))]
    Ambiguous { asset: String, candidates: Vec<String> },
}

