//! The audit: detectors that read one run (its lineage graph and a few
//! warehouse tables) and report findings a person can act on, each with a
//! reason and evidence.
//!
//! - `unused.rs`: dashboards nobody views; published datasources nothing uses.
//! - `extracts.rs`: extract refreshes that fail, lag their schedule, carry a
//!   data quality warning or lost an upstream table.
//! - `fields.rs` (+ `formula.rs`): fields cut off from their column, and
//!   calculations naming fields their datasource lacks, with their impact.
//!
//! [`audit`] runs them all; [`write`] stores the findings in the warehouse
//! as the `findings` table of the run they describe.

mod extracts;
mod fields;
pub mod formula;
mod inputs;
mod unused;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use crate::config::Thresholds;
pub use inputs::{load_inputs, Inputs};

use crate::lineage::Graph;
use arrow::record_batch::RecordBatch;

use crate::warehouse::{self, Rows, RunRef, WarehouseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// The detectors, by the name findings carry and `--fail-on` uses.
pub const DETECTORS: &[(&str, &str)] = &[
    ("unused_dashboard", "Unused dashboards"),
    ("unused_datasource", "Unused published datasources"),
    ("broken_extract", "Broken extracts"),
    ("missing_field", "Missing fields"),
];

/// One problem on one asset.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub finding_id: String,
    pub detector: &'static str,
    pub severity: Severity,
    /// `dashboard`, `datasource`, `workbook` or `field`.
    pub asset_kind: &'static str,
    /// REST LUID for dashboards (views), workbooks and published
    /// datasources; Metadata API id for fields. The warehouse keeps the two
    /// apart: [`Finding::asset_luid`], [`Finding::asset_metadata_id`].
    pub asset_id: String,
    pub asset_name: Option<String>,
    pub workbook_id: Option<String>,
    pub project_name: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub reason: String,
    /// The site the asset is on (REST LUID), when the graph knows it: a run
    /// over several sites keeps each site's findings apart.
    pub site_luid: Option<String>,
    pub evidence: serde_json::Value,
}

impl Finding {
    /// The asset's LUID: every kind of asset but a field has one.
    pub fn asset_luid(&self) -> Option<&str> {
        (self.asset_kind != "field").then_some(self.asset_id.as_str())
    }

    /// The asset's Metadata API id, for a field (which has no LUID).
    pub fn asset_metadata_id(&self) -> Option<&str> {
        (self.asset_kind == "field").then_some(self.asset_id.as_str())
    }

    /// The extract refresh task a broken_extract finding is about.
    pub fn task_luid(&self) -> Option<&str> {
        self.evidence.get("task_id").and_then(|t| t.as_str())
    }

    /// The detector's reasons as codes, for filtering without reading the
    /// evidence: a broken extract's `reasons`, a missing field's `kind`.
    pub fn reason_codes(&self) -> Vec<&str> {
        match self.evidence.get("reasons").and_then(|r| r.as_array()) {
            Some(reasons) => reasons.iter().filter_map(|r| r.as_str()).collect(),
            None => self.evidence.get("kind").and_then(|k| k.as_str()).into_iter().collect(),
        }
    }
}

/// Runs every detector. Findings come out sorted by detector, severity
/// (high first) and asset id, so two audits of one run are identical.
pub fn audit(graph: &Graph, inputs: &Inputs, t: &Thresholds) -> Vec<Finding> {
    let mut findings = unused::dashboards(inputs, t);
    findings.extend(unused::datasources(graph, inputs, t));
    findings.extend(extracts::broken(graph, inputs, t));
    findings.extend(fields::missing(graph, inputs));
    for f in &mut findings {
        f.site_luid = graph
            .get(&f.asset_id)
            .and_then(|ix| graph.sites.get(usize::from(graph.node(ix).site)))
            .map(|(luid, _)| luid.clone());
    }
    findings.sort_by(|a, b| {
        (a.detector, std::cmp::Reverse(a.severity), &a.asset_id, &a.finding_id).cmp(&(
            b.detector,
            std::cmp::Reverse(b.severity),
            &b.asset_id,
            &b.finding_id,
        ))
    });
    findings
}

/// Findings per detector and severity.
pub fn summary(findings: &[Finding]) -> BTreeMap<(&'static str, Severity), usize> {
    let mut out = BTreeMap::new();
    for f in findings {
        *out.entry((f.detector, f.severity)).or_default() += 1;
    }
    out
}

/// Replaces the run's findings in DuckDB (and Parquet when `parquet` is
/// given). Returns the rows written.
///
/// A run over several sites (`sites`: each one's LUID and content URL, from
/// the graph) stores each finding under its asset's site, and gives every
/// site its own (possibly empty) set.
pub fn write(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    findings: &[Finding],
    sites: &[(String, String)],
) -> Result<u64, WarehouseError> {
    if sites.len() <= 1 {
        return warehouse::write_derived(db, parquet, run, "findings", vec![finding_rows(findings.iter())?]);
    }
    let mut by_site = Vec::with_capacity(sites.len() + 1);
    for (luid, _) in sites {
        let rows = finding_rows(findings.iter().filter(|f| f.site_luid.as_deref() == Some(luid.as_str())))?;
        by_site.push((Some(luid.clone()), rows));
    }
    // An asset the graph places on no site of the run (not expected).
    let unplaced: Vec<&Finding> =
        findings.iter().filter(|f| !f.site_luid.as_ref().is_some_and(|l| sites.iter().any(|(s, _)| s == l))).collect();
    if !unplaced.is_empty() {
        by_site.push((None, finding_rows(unplaced.into_iter())?));
    }
    warehouse::write_derived_by_site(db, parquet, run, "findings", by_site)
}

fn finding_rows<'a>(findings: impl Iterator<Item = &'a Finding>) -> Result<RecordBatch, WarehouseError> {
    let mut rows = Rows::new("findings");
    for f in findings {
        let evidence = f.evidence.to_string();
        let codes = f.reason_codes().join(",");
        rows.push(&[
            f.finding_id.as_str().into(),
            f.detector.into(),
            f.severity.as_str().into(),
            f.asset_kind.into(),
            f.asset_luid().into(),
            f.asset_metadata_id().into(),
            f.asset_name.as_deref().into(),
            f.workbook_id.as_deref().into(),
            f.project_name.as_deref().into(),
            f.owner_id.as_deref().into(),
            f.owner_name.as_deref().into(),
            f.reason.as_str().into(),
            evidence.as_str().into(),
            f.task_luid().into(),
            Some(codes.as_str()).filter(|c| !c.is_empty()).into(),
        ])?;
    }
    Ok(rows.finish())
}

/// `1234567` → `1,234,567`, for reasons and reports people read.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

pub(crate) use crate::time::{date, iso};

/// What one audit did, for the summary a command prints.
pub struct AuditRun {
    pub run: RunRef,
    pub baseline: Option<RunRef>,
    pub findings: Vec<Finding>,
    pub nodes: usize,
    pub edges: usize,
    /// Edge rows naming an asset the run does not hold.
    pub dangling_edges: usize,
    /// Reading the lineage tables and building the graph.
    pub graph_secs: f64,
    /// Of which DuckDB answering the lineage queries.
    pub graph_query_secs: f64,
    /// Of which building the graph from the answers.
    pub graph_build_secs: f64,
    /// Reading the detectors' other inputs (usage, tasks, …).
    pub inputs_secs: f64,
    /// Running every detector.
    pub detect_secs: f64,
    /// The sites the run read (LUID, content URL); findings name theirs.
    pub sites: Vec<(String, String)>,
}

/// Audits one run of the warehouse (the latest succeeded one when `run_id`
/// is `None`) and stores its findings.
pub fn run(db: &Path, parquet: Option<&Path>, run_id: Option<&str>, t: &Thresholds) -> anyhow::Result<AuditRun> {
    use anyhow::Context as _;
    let started = std::time::Instant::now();
    let (graph, stats, inputs, run, graph_secs) = {
        let conn = warehouse::read::open(db)?;
        let run = warehouse::read::resolve_run(&conn, db, run_id)?;
        let (graph, stats) = crate::lineage::load(&conn, db, &run)?;
        let graph_secs = started.elapsed().as_secs_f64();
        let inputs = load_inputs(&conn, db, &run, t.unused_days)?;
        (graph, stats, inputs, run, graph_secs)
    };
    let inputs_secs = started.elapsed().as_secs_f64() - graph_secs;
    let detect = std::time::Instant::now();
    let findings = audit(&graph, &inputs, t);
    let detect_secs = detect.elapsed().as_secs_f64();
    let (nodes, edges) = (graph.node_count(), graph.edge_count());
    let sites = graph.sites.clone();
    // Freeing a million-node graph takes a noticeable moment; let it happen
    // beside the write (or not at all, if the process exits first).
    std::thread::spawn(move || drop(graph));
    write(db, parquet, &run, &findings, &sites).with_context(|| format!("cannot store the findings of run {}", run.run_id))?;
    Ok(AuditRun {
        baseline: inputs.baseline.clone(),
        run,
        nodes,
        edges,
        dangling_edges: stats.dangling_edges,
        findings,
        graph_secs,
        graph_query_secs: stats.query_secs,
        graph_build_secs: stats.build_secs,
        inputs_secs,
        detect_secs,
        sites,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(-1234567), "-1,234,567");
        assert_eq!(super::thousands(1234567), "1,234,567");
        assert_eq!(super::thousands(-1000), "-1,000");
    }
}
