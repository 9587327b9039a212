//! Unused content. Views in the window come from two snapshots: the lifetime
//! count now minus the count at the baseline (the latest snapshot at least
//! `unused_days` old). Without a baseline only a lifetime count of zero
//! proves disuse. Content younger than the window is never flagged: it has
//! not had the chance to be used.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::inputs::Inputs;
use super::{date, iso, thousands, Finding, Severity, Thresholds};
use crate::lineage::{Graph, Kind, Rel};

/// Views of one view in the window, or `None` without a baseline.
fn window_views(inputs: &Inputs, id: &str, total: i64) -> Option<i64> {
    inputs.baseline.as_ref().map(|_| total - inputs.baseline_totals.get(id).copied().unwrap_or(0))
}

fn old_enough(created_at: Option<i64>, cutoff: i64) -> bool {
    created_at.is_some_and(|c| c <= cutoff)
}

pub fn dashboards(inputs: &Inputs, t: &Thresholds) -> Vec<Finding> {
    let run = inputs.run();
    let cutoff = run.as_of - t.unused_days * 86_400;
    let mut out = Vec::new();
    for v in inputs.views.iter().filter(|v| v.sheet_type.as_deref() == Some("dashboard")) {
        if !old_enough(v.created_at, cutoff) {
            continue;
        }
        let window = window_views(inputs, &v.id, v.total);
        if window.unwrap_or(v.total) > 0 {
            continue;
        }
        let days = t.unused_days;
        let created = v.created_at.map(date).unwrap_or_default();
        let (severity, reason) = if v.total == 0 {
            (Severity::Medium, format!("Never viewed since it was published on {created}."))
        } else {
            let since = inputs.baseline.as_ref().map(|b| b.snapshot_date.as_str()).unwrap_or_default();
            (
                Severity::Low,
                format!("No views in the last {days} days ({} views in all, none since {since}).", thousands(v.total)),
            )
        };
        let wb = inputs.workbooks.get(&v.workbook_id);
        out.push(Finding {
            finding_id: format!("unused_dashboard:{}", v.id),
            detector: "unused_dashboard",
            severity,
            asset_kind: "dashboard",
            asset_id: v.id.clone(),
            asset_name: Some(v.name.clone()),
            workbook_id: Some(v.workbook_id.clone()),
            project_name: wb.and_then(|w| w.project_name.clone()),
            owner_id: v.owner_id.clone(),
            owner_name: inputs.owner_name(v.owner_id.as_deref()),
            reason,
            site_luid: None,
            evidence: json!({
                "lifetime_views": v.total,
                "views_in_window": window,
                "window_days": days,
                "method": if window.is_some() { "snapshot_delta" } else { "lifetime_count" },
                "baseline_run_id": inputs.baseline.as_ref().map(|b| &b.run_id),
                "baseline_snapshot_date": inputs.baseline.as_ref().map(|b| &b.snapshot_date),
                "created_at": v.created_at.map(iso),
                "workbook_name": wb.map(|w| &w.name),
            }),
        });
    }
    out
}

/// Published datasources no workbook connects to, or whose every workbook
/// went unviewed through the window.
pub fn datasources(graph: &Graph, inputs: &Inputs, t: &Thresholds) -> Vec<Finding> {
    let run = inputs.run();
    let cutoff = run.as_of - t.unused_days * 86_400;
    // Views in the window (or lifetime, without a baseline) per workbook.
    let mut workbook_views: HashMap<&str, i64> = HashMap::new();
    for v in &inputs.views {
        *workbook_views.entry(v.workbook_id.as_str()).or_default() += window_views(inputs, &v.id, v.total).unwrap_or(v.total);
    }
    let mut ids: Vec<&String> = inputs.datasources.keys().collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let ds = &inputs.datasources[id];
        if !old_enough(ds.created_at, cutoff) {
            continue;
        }
        let Some(node) = graph.get(id).filter(|&n| graph.node(n).kind == Kind::PublishedDatasource) else {
            continue;
        };
        let workbooks: BTreeSet<&str> = graph
            .downstream(node)
            .filter(|&(e, rel)| rel == Rel::Remote && graph.node(e).kind == Kind::EmbeddedDatasource)
            .flat_map(|(e, _)| graph.downstream(e))
            .filter(|&(w, _)| graph.node(w).kind == Kind::Workbook)
            .map(|(w, _)| &*graph.node(w).id)
            .collect();
        let (severity, reason) = if workbooks.is_empty() {
            (Severity::Medium, "No workbook connects to it.".to_string())
        } else {
            let idle = workbooks.iter().all(|w| {
                inputs.workbooks.get(*w).is_some_and(|c| old_enough(c.created_at, cutoff))
                    && workbook_views.get(w).copied().unwrap_or(0) == 0
            });
            if !idle {
                continue;
            }
            let what = if inputs.baseline.is_some() {
                format!("in the last {} days", t.unused_days)
            } else {
                "ever".to_string()
            };
            (
                Severity::Low,
                format!("None of the {} workbooks that use it was viewed {what}.", workbooks.len()),
            )
        };
        out.push(Finding {
            finding_id: format!("unused_datasource:{id}"),
            detector: "unused_datasource",
            severity,
            asset_kind: "datasource",
            asset_id: id.clone(),
            asset_name: Some(ds.name.clone()),
            workbook_id: None,
            project_name: ds.project_name.clone(),
            owner_id: ds.owner_id.clone(),
            owner_name: inputs.owner_name(ds.owner_id.as_deref()),
            reason,
            site_luid: None,
            evidence: json!({
                "downstream_workbooks": workbooks,
                "window_days": t.unused_days,
                "method": if inputs.baseline.is_some() { "snapshot_delta" } else { "lifetime_count" },
                "created_at": ds.created_at.map(iso),
            }),
        });
    }
    out
}
