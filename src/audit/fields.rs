//! Missing fields:
//! - `column_without_upstream`: a column field that reads no column while
//!   its datasource still reads tables (the column was dropped or renamed
//!   in the database);
//! - `calculation_references_missing_field`: a calculation naming a field
//!   its datasource does not have.
//!
//! The impact is the sheets using the field, directly or through an
//! embedded stand-in for a published field, and the dashboards showing them.

use std::collections::{BTreeSet, HashSet};

use petgraph::graph::NodeIndex;
use serde_json::json;

use super::formula;
use super::inputs::Inputs;
use super::{Finding, Severity};
use crate::lineage::{Graph, Kind, Rel};

const DATASOURCES: &[Kind] = &[Kind::PublishedDatasource, Kind::EmbeddedDatasource];

pub fn missing(graph: &Graph, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    // Datasource by datasource: its tables and field names are looked up
    // once, not once per field.
    for ds in graph.graph.node_indices().filter(|&n| DATASOURCES.contains(&graph.node(n).kind)) {
        let fields: Vec<NodeIndex> = graph
            .downstream(ds)
            .filter(|&(f, rel)| rel == Rel::Contains && graph.node(f).kind == Kind::Field)
            .map(|(f, _)| f)
            .collect();
        let reads_tables =
            graph.upstream(ds).any(|(t, rel)| rel == Rel::Reads && matches!(graph.node(t).kind, Kind::Table | Kind::CustomSql));
        let mut names: Option<HashSet<&str>> = None;
        for &f in &fields {
            let node = graph.node(f);
            let (kind, missing) = match node.subtype {
                "ColumnField" => {
                    if !reads_tables || graph.upstream(f).any(|(c, _)| graph.node(c).kind == Kind::Column) {
                        continue;
                    }
                    ("column_without_upstream", Vec::new())
                }
                "CalculatedField" => {
                    let Some(text) = node.formula.as_deref() else { continue };
                    let names = names.get_or_insert_with(|| fields.iter().map(|&g| &*graph.node(g).name).collect());
                    let mut missing: Vec<String> = Vec::new();
                    for r in formula::references(text) {
                        if !names.contains(r.as_str()) && !missing.contains(&r) {
                            missing.push(r);
                        }
                    }
                    if missing.is_empty() {
                        continue;
                    }
                    ("calculation_references_missing_field", missing)
                }
                _ => continue,
            };
            out.push(finding(graph, inputs, f, ds, kind, missing));
        }
    }
    out
}

fn finding(graph: &Graph, inputs: &Inputs, f: NodeIndex, ds: NodeIndex, kind: &'static str, missing: Vec<String>) -> Finding {
    let node = graph.node(f);
    // The field itself and the embedded fields standing for it.
    let users: Vec<NodeIndex> = std::iter::once(f)
        .chain(graph.downstream(f).filter(|&(_, rel)| rel == Rel::Remote).map(|(g, _)| g))
        .collect();
    let sheets: BTreeSet<NodeIndex> = users
        .iter()
        .flat_map(|&u| graph.downstream(u))
        .filter(|&(s, _)| graph.node(s).kind == Kind::Sheet)
        .map(|(s, _)| s)
        .collect();
    let dashboards: BTreeSet<NodeIndex> = sheets
        .iter()
        .flat_map(|&s| graph.downstream(s))
        .filter(|&(d, _)| graph.node(d).kind == Kind::Dashboard)
        .map(|(d, _)| d)
        .collect();
    let ids = |set: &BTreeSet<NodeIndex>| {
        let mut v: Vec<&str> = set.iter().map(|&n| &*graph.node(n).id).collect();
        v.sort_unstable();
        v
    };
    let names = |set: &BTreeSet<NodeIndex>| {
        let mut v: Vec<&str> = set.iter().map(|&n| &*graph.node(n).name).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let severity = if !dashboards.is_empty() {
        Severity::High
    } else if !sheets.is_empty() {
        Severity::Medium
    } else {
        Severity::Low
    };

    // Where the field lives: a published datasource's project and owner, or
    // an embedded datasource's workbook.
    let ds_node = graph.node(ds);
    let (workbook_id, project_name, owner_id, ds_type) = match ds_node.kind {
        Kind::EmbeddedDatasource => {
            let wb = graph.downstream_of_kind(ds, &[Kind::Workbook]).map(|w| graph.node(w).id.to_string());
            let content = wb.as_ref().and_then(|w| inputs.workbooks.get(w));
            (wb.clone(), content.and_then(|c| c.project_name.clone()), content.and_then(|c| c.owner_id.clone()), "embedded")
        }
        _ => {
            let content = ds_node.luid.as_deref().and_then(|l| inputs.datasources.get(l));
            (None, content.and_then(|c| c.project_name.clone()), content.and_then(|c| c.owner_id.clone()), "published")
        }
    };
    let impact = match (sheets.len(), dashboards.len()) {
        (0, _) => "No sheet uses it.".to_string(),
        (s, 0) => format!("{s} sheet(s) use it."),
        (s, d) => format!("{s} sheet(s) on {d} dashboard(s) use it."),
    };
    let reason = match kind {
        "column_without_upstream" => format!(
            "Field \"{}\" of datasource \"{}\" reads no column: it was dropped or renamed in the database. {impact}",
            node.name, ds_node.name
        ),
        _ => format!(
            "Calculation \"{}\" of datasource \"{}\" refers to {} it does not have. {impact}",
            node.name,
            ds_node.name,
            missing.iter().map(|m| format!("[{}]", m.replace(']', "]]"))).collect::<Vec<_>>().join(", ")
        ),
    };
    Finding {
        finding_id: format!("missing_field:{}", node.id),
        detector: "missing_field",
        severity,
        asset_kind: "field",
        asset_id: node.id.to_string(),
        asset_name: Some(node.name.to_string()),
        workbook_id,
        project_name,
        owner_name: inputs.owner_name(owner_id.as_deref()),
        owner_id,
        reason,
        site_luid: None,
        evidence: json!({
            "kind": kind,
            "datasource_id": &*ds_node.id,
            "datasource_name": &*ds_node.name,
            "datasource_type": ds_type,
            "formula": node.formula.as_deref(),
            "missing_references": missing,
            "sheets": ids(&sheets),
            "sheet_names": names(&sheets),
            "dashboards": ids(&dashboards),
            "dashboard_names": names(&dashboards),
        }),
    }
}
