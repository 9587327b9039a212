//! What the HTML report shows, as plain data. `trm report` fills it from the
//! warehouse (report queries, findings, runs, the lineage graph);
//! `html.rs` renders it. Keeping it plain data lets the renderer be tested
//! without a warehouse and the data be tested without a browser.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct HtmlInput {
    /// Site name or content URL, for the title.
    pub site: String,
    /// For a warehouse of several sites: the page of all of them and one
    /// per site, to move between them (empty for one site).
    pub sites: Vec<SiteLink>,
    pub server: String,
    /// The extraction run the report describes.
    pub run_id: String,
    /// When that run's data was taken (server clock), ISO 8601 UTC.
    pub as_of: String,
    /// When the report was made, ISO 8601 UTC.
    pub generated_at: String,
    pub cards: Vec<Card>,
    pub findings: Vec<FindingCount>,
    pub reports: Vec<ReportTable>,
    /// Oldest first: one point per succeeded run that wrote `views`.
    pub usage_trend: Vec<TrendPoint>,
    pub diagrams: Vec<Diagram>,
}

/// A headline number: "Workbooks 1,024".
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub label: String,
    pub value: i64,
    /// A short line under the number, e.g. "12 high severity".
    pub detail: Option<String>,
    /// `ok`, `warn` or `bad`: how the card is coloured.
    pub tone: String,
}

/// Findings of one detector at one severity.
#[derive(Debug, Clone, Serialize)]
pub struct FindingCount {
    /// `unused_dashboard`, `unused_datasource`, `broken_extract`, `missing_field`.
    pub detector: String,
    /// `high`, `medium` or `low`.
    pub severity: String,
    pub count: i64,
}

/// One report definition's result.
#[derive(Debug, Clone, Serialize)]
pub struct ReportTable {
    /// File stem of the definition (`unused_dashboards`); also the CSV's name.
    pub slug: String,
    pub title: String,
    pub description: String,
    pub columns: Vec<ReportColumn>,
    /// Cells as JSON scalars: strings, numbers, booleans or null.
    pub rows: Vec<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportColumn {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub run_id: String,
    /// `YYYY-MM-DD`.
    pub snapshot_date: String,
    /// Sum of every view's lifetime count at that run.
    pub total_views: i64,
}

/// The lineage around one workbook or published datasource, at asset level
/// (databases, tables, datasources, sheets, dashboards, workbooks).
/// A link to the report of one site, or of all of them.
#[derive(Debug, Clone, Serialize)]
pub struct SiteLink {
    pub label: String,
    /// Relative to the page holding the link.
    pub href: String,
    /// The page this link is on.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagram {
    /// The asset's id (REST LUID for workbooks and published datasources);
    /// report cells holding this id link to the diagram.
    pub id: String,
    /// `workbook` or `datasource`.
    pub kind: String,
    pub name: String,
    pub nodes: Vec<DiagramNode>,
    /// (from, to) indexes into `nodes`, upstream to downstream.
    pub edges: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiagramNode {
    /// Tableau id of the asset.
    pub id: String,
    /// `database`, `table`, `custom_sql`, `published_datasource`,
    /// `embedded_datasource`, `sheet`, `dashboard`, `workbook`.
    pub kind: String,
    pub label: String,
    /// A finding names this asset.
    pub flagged: bool,
}
