//! Broken extracts, one finding per extract refresh task, with every reason
//! that applies:
//! - `last_refresh_failed`: the last refresh failed (one failure; a failure
//!   followed by a success is not broken);
//! - `consecutive_failures`: two or more in a row, severity rising with the count;
//! - `stale`: no failure, but the last successful refresh is older than
//!   `stale_factor` × the schedule's interval (a suspended schedule, say);
//! - `active_quality_warning`: the datasource carries an active data quality warning;
//! - `upstream_table_gone`: a table the extract reads has no columns left in
//!   the catalog.
//!
//! Failure counts come from the task (`consecutiveFailedCount`); the jobs
//! list is evidence only, since a job names its target by name, not id.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::inputs::{Inputs, Job};
use super::{iso, Finding, Severity, Thresholds};
use crate::lineage::{Graph, Kind, Rel};

pub fn broken(graph: &Graph, inputs: &Inputs, t: &Thresholds) -> Vec<Finding> {
    let run = inputs.run();
    let last_jobs = last_job_by_target(inputs);
    let mut out = Vec::new();
    for task in &inputs.tasks {
        let is_workbook = task.target_type == "workbook";
        let content = if is_workbook {
            inputs.workbooks.get(&task.target_id)
        } else {
            inputs.datasources.get(&task.target_id)
        };
        let schedule = task.schedule_id.as_ref().and_then(|s| inputs.schedules.get(s));
        let interval_hours = schedule.and_then(|s| s.interval_hours);
        let last_refresh = if is_workbook {
            inputs.workbook_refresh.get(&task.target_id).copied().flatten()
        } else {
            inputs.published_refresh.get(&task.target_id).copied().flatten()
        };
        let failures = task.consecutive_failed_count;

        let mut reasons: Vec<&'static str> = Vec::new();
        let mut sentences: Vec<String> = Vec::new();
        let mut severity = Severity::Low;
        match failures {
            0 => {
                if let Some(hours) = interval_hours {
                    let limit = t.stale_factor * hours * 3600;
                    let stale = last_refresh.is_none_or(|at| run.as_of - at > limit);
                    if stale {
                        reasons.push("stale");
                        severity = severity.max(Severity::Medium);
                        sentences.push(match last_refresh {
                            Some(at) => format!(
                                "Last refreshed {} hours ago, more than {}× its {}-hour schedule{}.",
                                (run.as_of - at) / 3600,
                                t.stale_factor,
                                hours,
                                match schedule.and_then(|s| s.state.as_deref()) {
                                    Some(state) if state != "Active" => format!(" (schedule is {state})"),
                                    _ => String::new(),
                                }
                            ),
                            None => "Never refreshed successfully.".to_string(),
                        });
                    }
                }
            }
            1 => {
                reasons.push("last_refresh_failed");
                sentences.push("The last refresh failed.".into());
            }
            n => {
                reasons.push("consecutive_failures");
                severity = severity.max(if n >= t.failures_high { Severity::High } else { Severity::Medium });
                sentences.push(format!("The last {n} refreshes failed in a row."));
            }
        }

        // The datasources whose tables this extract reads.
        let sources = extract_sources(graph, &task.target_id, is_workbook);
        let warnings: Vec<_> = sources
            .iter()
            .flat_map(|&s| inputs.active_warnings.get(&*graph.node(s).id).into_iter().flatten())
            .collect();
        if !warnings.is_empty() {
            reasons.push("active_quality_warning");
            let elevated = warnings.iter().any(|w| w.is_elevated);
            severity = severity.max(if elevated { Severity::High } else { Severity::Medium });
            let w = warnings[0];
            sentences.push(format!(
                "Active data quality warning{}: {}.",
                if elevated { " (elevated)" } else { "" },
                w.message.as_deref().or(w.value.as_deref()).unwrap_or("no message")
            ));
        }
        let gone: BTreeSet<&str> = sources
            .iter()
            .flat_map(|&s| graph.upstream(s))
            .filter(|&(tb, rel)| rel == Rel::Reads && graph.node(tb).kind == Kind::Table)
            .filter(|&(tb, _)| !graph.downstream(tb).any(|(c, _)| graph.node(c).kind == Kind::Column))
            .map(|(tb, _)| &*graph.node(tb).id)
            .collect();
        if !gone.is_empty() {
            reasons.push("upstream_table_gone");
            severity = Severity::High;
            let names: Vec<String> = gone
                .iter()
                .filter_map(|id| graph.get(id))
                .map(|n| graph.node(n).name.to_string())
                .collect();
            sentences.push(format!("Upstream table {} is gone from its database.", names.join(", ")));
        }
        if reasons.is_empty() {
            continue;
        }
        let name = content.map(|c| c.name.clone());
        let job: Option<&Job> = name.as_ref().and_then(|n| last_jobs.get(&(n.as_str(), is_workbook)).copied().flatten());
        out.push(Finding {
            finding_id: format!("broken_extract:{}", task.id),
            detector: "broken_extract",
            severity,
            asset_kind: if is_workbook { "workbook" } else { "datasource" },
            asset_id: task.target_id.clone(),
            asset_name: name,
            workbook_id: is_workbook.then(|| task.target_id.clone()),
            project_name: content.and_then(|c| c.project_name.clone()),
            owner_id: content.and_then(|c| c.owner_id.clone()),
            owner_name: inputs.owner_name(content.and_then(|c| c.owner_id.as_deref())),
            reason: sentences.join(" "),
            site_luid: None,
            evidence: json!({
                "task_id": task.id,
                "reasons": reasons,
                "consecutive_failed_count": failures,
                "last_refresh_at": last_refresh.map(iso),
                "schedule": schedule.map(|s| &s.name),
                "schedule_state": schedule.and_then(|s| s.state.as_ref()),
                "interval_hours": interval_hours,
                "gone_tables": gone,
                "warnings": warnings.iter().map(|w| &w.id).collect::<Vec<_>>(),
                "last_job": job.map(|j| json!({
                    "status": j.status,
                    "created_at": j.created_at.map(iso),
                    "ended_at": j.ended_at.map(iso),
                })),
            }),
        });
    }
    out
}

/// The datasource nodes an extract task refreshes: a published datasource,
/// or a workbook's embedded datasources that connect to data directly
/// (those going through a published datasource have no extract of their own).
fn extract_sources(graph: &Graph, target: &str, is_workbook: bool) -> Vec<petgraph::graph::NodeIndex> {
    let Some(node) = graph.get(target) else { return Vec::new() };
    if !is_workbook {
        return (graph.node(node).kind == Kind::PublishedDatasource).then_some(node).into_iter().collect();
    }
    let mut out: Vec<_> = graph
        .upstream(node)
        .filter(|&(e, rel)| rel == Rel::Contains && graph.node(e).kind == Kind::EmbeddedDatasource)
        .map(|(e, _)| e)
        .filter(|&e| graph.upstream_of_kind(e, &[Kind::PublishedDatasource]).is_none())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The latest job per (target name, is workbook), `None` where two targets
/// share a name and a job cannot be attributed.
fn last_job_by_target(inputs: &Inputs) -> HashMap<(&str, bool), Option<&Job>> {
    let mut names: HashMap<(&str, bool), usize> = HashMap::new();
    for w in inputs.workbooks.values() {
        *names.entry((w.name.as_str(), true)).or_default() += 1;
    }
    for d in inputs.datasources.values() {
        *names.entry((d.name.as_str(), false)).or_default() += 1;
    }
    let mut out: HashMap<(&str, bool), Option<&Job>> = HashMap::new();
    for j in &inputs.jobs {
        let (Some(title), Some(subtitle)) = (j.title.as_deref(), j.subtitle.as_deref()) else { continue };
        let key = (title, subtitle == "Workbook");
        if names.get(&key) != Some(&1) {
            out.insert(key, None);
            continue;
        }
        let slot = out.entry(key).or_insert(Some(j));
        if let Some(prev) = slot {
            if j.created_at > prev.created_at {
                *slot = Some(j);
            }
        }
    }
    out
}
