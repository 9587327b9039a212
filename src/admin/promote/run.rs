//! Carrying out a planned promotion, checking it and recording it.
//!
//! Phase A (projects, datasources) goes through the engine first; if it is
//! not complete, nothing more is sent and the report says what was
//! published. Otherwise the target is read again, so workbooks are planned
//! against the datasources' real content URLs, and phase B (workbooks)
//! goes through the engine. Publishes are made one at a time and the apply
//! stops at the first failure: a rerun plans from what the target then
//! has, so it publishes only what is still missing or changed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::mapping::Mapping;
use super::plan::{self, Decision, ItemPlan, Kind, Options, Promotion, State};
use super::verify;
use crate::admin::{apply, Plan, Report};
use crate::tableau::Client;

/// What [`execute`] did.
pub struct Executed {
    pub phase_a: Report,
    /// Phase B as planned after phase A, and its report; `None` when phase
    /// A did not complete.
    pub phase_b: Option<(Plan, Report)>,
    /// The items as finally planned (workbooks from the second planning).
    pub items: Vec<ItemPlan>,
}

impl Executed {
    pub fn is_complete(&self) -> bool {
        self.phase_a.is_complete() && self.phase_b.as_ref().is_some_and(|(_, r)| r.is_complete())
    }

    /// Publishes applied in this run.
    pub fn published(&self, a: &Plan) -> usize {
        let count = |plan: &Plan, report: &Report| {
            report
                .results
                .iter()
                .filter(|r| {
                    r.status == crate::admin::Status::Applied
                        && plan.calls[r.index].upload.is_some()
                })
                .count()
        };
        count(a, &self.phase_a) + self.phase_b.as_ref().map_or(0, |(p, r)| count(p, r))
    }
}

/// Applies `promotion` to `target`. Refuses (before any write) when it has
/// conflicts.
pub async fn execute(
    target: &Client,
    state: &mut State,
    promotion: &Promotion,
    mapping: &Mapping,
    options: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Executed> {
    let conflicts = promotion.conflicts();
    if !conflicts.is_empty() {
        let names: Vec<String> = conflicts
            .iter()
            .map(|i| format!("{} {:?}", i.kind.as_str(), i.name))
            .collect();
        anyhow::bail!(
            "{} item(s) exist on the target and differ: {}; pass --overwrite to replace them or --skip-existing to leave them",
            names.len(),
            names.join(", ")
        );
    }
    // Phase B may name projects phase A creates: checked as one plan.
    promotion
        .combined()
        .check()
        .map_err(|e| anyhow::anyhow!("internal error: the plan cannot be applied: {e}"))?;
    let one_at_a_time = crate::admin::Options::stop_at_first_error(1);
    let phase_a = apply(target, &promotion.phase_a, one_at_a_time, progress).await;
    if !phase_a.is_complete() {
        return Ok(Executed {
            phase_a,
            phase_b: None,
            items: promotion.items.clone(),
        });
    }
    plan::reread_target(target, state).await?;
    let again = plan::build(state, mapping, options)?;
    let mut items: Vec<ItemPlan> = promotion
        .items
        .iter()
        .filter(|i| i.kind == Kind::Datasource)
        .cloned()
        .collect();
    items.extend(
        again
            .items
            .iter()
            .filter(|i| i.kind == Kind::Workbook)
            .cloned(),
    );
    if again.items_conflict() {
        anyhow::bail!("a workbook changed on the target while datasources were published; run the command again");
    }
    let phase_b_plan = again.phase_b;
    phase_b_plan
        .check()
        .map_err(|e| anyhow::anyhow!("internal error: the plan cannot be applied: {e}"))?;
    let phase_b = apply(target, &phase_b_plan, one_at_a_time, progress).await;
    Ok(Executed {
        phase_a,
        phase_b: Some((phase_b_plan, phase_b)),
        items,
    })
}

impl Promotion {
    fn items_conflict(&self) -> bool {
        self.items.iter().any(|i| i.decision == Decision::Conflict)
    }
}

/// The lineage check's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub checked: usize,
    pub differences: Vec<String>,
    /// Per item (kind, name, project path): its differences.
    #[serde(skip)]
    pub per_item: BTreeMap<(Kind, String, String), Vec<String>>,
    #[serde(skip)]
    pub target_luids: BTreeMap<(Kind, String, String), String>,
}

/// Compares every promoted item's lineage on the target with the source's
/// (mapped). Reads the target's items again to learn their LUIDs.
pub async fn check(
    source: &Client,
    target: &Client,
    state: &mut State,
    mapping: &Mapping,
) -> anyhow::Result<Verdict> {
    plan::reread_target(target, state).await?;
    let rules = mapping.attr_rules();
    let key = |i: &plan::Listed| (i.kind, i.name.clone(), i.project_path.clone());
    let target_luids: BTreeMap<(Kind, String, String), String> = state
        .target
        .items
        .iter()
        .map(|i| (key(i), i.luid.clone()))
        .collect();
    let mut per_item = BTreeMap::new();
    let mut differences = Vec::new();
    let mut checked = 0;
    for kind in [Kind::Datasource, Kind::Workbook] {
        let pairs: Vec<(&plan::Listed, String)> = state
            .source
            .items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| (i, target_luids.get(&key(i)).cloned().unwrap_or_default()))
            .collect();
        let src_ids: Vec<String> = pairs.iter().map(|(i, _)| i.luid.clone()).collect();
        let tgt_ids: Vec<String> = pairs
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(_, t)| t.clone())
            .collect();
        let (src, tgt) = match kind {
            Kind::Datasource => (
                verify::datasources(source, &src_ids).await?,
                verify::datasources(target, &tgt_ids).await?,
            ),
            Kind::Workbook => (
                verify::workbooks(source, &src_ids).await?,
                verify::workbooks(target, &tgt_ids).await?,
            ),
        };
        for (item, target_luid) in pairs {
            let what = format!("{} {:?}", kind.as_str(), item.name);
            checked += 1;
            let diffs = match (src.get(&item.luid), tgt.get(&target_luid)) {
                (_, None) if target_luid.is_empty() => vec![format!("{what}: not on the target")],
                (_, None) => vec![format!(
                    "{what}: the target's Metadata API does not know it"
                )],
                (None, _) => vec![format!(
                    "{what}: the source's Metadata API does not know it"
                )],
                (Some(s), Some(t)) => verify::compare(&what, &s.mapped(&rules), t),
            };
            differences.extend(diffs.iter().cloned());
            per_item.insert(key(item), diffs);
        }
    }
    Ok(Verdict {
        passed: differences.is_empty(),
        checked,
        differences,
        per_item,
        target_luids,
    })
}

/// What a run row needs besides the items.
pub struct RunFacts {
    pub promotion_id: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub source_server: String,
    pub source_site: String,
    pub target_server: String,
    pub target_site: String,
    pub project_path: String,
}

/// Appends one `promotion_runs` row per item. `published`: the items
/// published in this run (kind, name, path); `verdict`: `None` when the
/// check did not run.
pub fn record(
    db: &Path,
    facts: &RunFacts,
    items: &[ItemPlan],
    published: &[(Kind, String, String)],
    verdict: Option<&Verdict>,
) -> anyhow::Result<u64> {
    use crate::warehouse::{append_log, Rows, V};
    let mut rows = Rows::new("promotion_runs");
    for i in items {
        let k = (i.kind, i.name.clone(), i.project_path.clone());
        let (outcome, diffs) = match verdict {
            None => ("not_checked", None),
            Some(v) => {
                let d = v.per_item.get(&k).cloned().unwrap_or_default();
                (
                    if d.is_empty() { "passed" } else { "failed" },
                    (!d.is_empty()).then(|| d.join("\n")),
                )
            }
        };
        let target_luid = verdict
            .and_then(|v| v.target_luids.get(&k).cloned())
            .or(i.target_luid.clone());
        rows.push(&[
            V::Text(&facts.promotion_id),
            V::Time(facts.started_at),
            V::Time(facts.ended_at),
            V::Text(&facts.source_server),
            V::Text(&facts.source_site),
            V::Text(&facts.target_server),
            V::Text(&facts.target_site),
            V::Text(&facts.project_path),
            V::Text(i.kind.as_str()),
            V::Text(&i.name),
            V::Text(&i.source_luid),
            target_luid.as_deref().into(),
            V::Text(i.decision.as_str()),
            V::Bool(published.contains(&k)),
            V::Text(outcome),
            diffs.as_deref().into(),
        ])?;
    }
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(append_log(db, "promotion_runs", rows.finish())?)
}

/// The items whose publish was applied.
pub fn published_items(promotion: &Promotion, executed: &Executed) -> Vec<(Kind, String, String)> {
    let mut out = Vec::new();
    let mut from = |plan: &Plan, report: &Report| {
        for r in &report.results {
            let c = &plan.calls[r.index];
            if r.status != crate::admin::Status::Applied || c.upload.is_none() {
                continue;
            }
            // Units are `kind:path/name`.
            if let Some(i) = promotion_item(&executed.items, c.unit.as_deref().unwrap_or_default())
            {
                out.push((i.kind, i.name.clone(), i.project_path.clone()));
            }
        }
    };
    from(&promotion.phase_a, &executed.phase_a);
    if let Some((p, r)) = &executed.phase_b {
        from(p, r);
    }
    out
}

fn promotion_item<'a>(items: &'a [ItemPlan], unit: &str) -> Option<&'a ItemPlan> {
    items
        .iter()
        .find(|i| format!("{}:{}/{}", i.kind.as_str(), i.project_path, i.name) == unit)
}
