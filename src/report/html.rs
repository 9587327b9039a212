//! The self-contained HTML audit report: one page, no external assets.
//!
//! [`render`] turns an [`HtmlInput`] into the page with the minijinja
//! templates in `templates/` (embedded here, autoescaped as HTML). Small
//! things (cards, findings, the trend chart) are rendered as markup; the
//! bulk is data: each report table and the lineage diagrams go into
//! `<script type="application/json" data-encoding="gzip-base64">` blocks,
//! JSON gzipped and base64-encoded ([`pack`]): ids and names compress about
//! threefold, which keeps a large site's page (100,000-row reports, 12,000
//! diagrams) within its size budget, and base64 holds no character that
//! could close the script. The inline script unpacks them with the
//! browser's own `DecompressionStream`, then pages, sorts and filters the
//! tables and draws a diagram when it is opened.

use std::collections::HashMap;

use minijinja::value::Value;
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::model::{Card, Diagram, FindingCount, HtmlInput, ReportColumn, ReportTable, SiteLink};
use super::svg;

/// The templates, by the name they are included by. `base.html.j2` is the
/// page; the others are its sections.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html.j2", include_str!("../../templates/base.html.j2")),
    ("cards.html.j2", include_str!("../../templates/cards.html.j2")),
    ("findings.html.j2", include_str!("../../templates/findings.html.j2")),
    ("trend.html.j2", include_str!("../../templates/trend.html.j2")),
    ("reports.html.j2", include_str!("../../templates/reports.html.j2")),
    ("diagrams.html.j2", include_str!("../../templates/diagrams.html.j2")),
];

/// Stylesheet and script, inlined verbatim into `<style>` and `<script>`.
/// Plain files rather than templates so they can be read and linted as CSS
/// and JavaScript.
pub const STYLE: &str = include_str!("../../templates/report.css");
pub const SCRIPT: &str = include_str!("../../templates/report.js");

/// Diagrams drawn when the page opens (those with the most flagged assets);
/// the rest are drawn when opened from a link or the search box.
pub const DEFAULT_DIAGRAMS: usize = 6;

/// Detector and severity orders for the findings table; unknown values
/// follow, alphabetically.
const DETECTORS: &[&str] = &["unused_dashboard", "unused_datasource", "broken_extract", "missing_field"];
const SEVERITIES: &[&str] = &["high", "medium", "low"];

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error("HTML report template {name} does not parse: {source}")]
    Template {
        name: &'static str,
        #[source]
        source: minijinja::Error,
    },
    #[error("rendering the HTML report: {0:#}")]
    Render(#[source] minijinja::Error),
}

/// Renders the whole report page.
pub fn render(input: &HtmlInput) -> Result<String, HtmlError> {
    let env = environment()?;
    let page = Page {
        site: &input.site,
        sites: &input.sites,
        server: &input.server,
        run_id: &input.run_id,
        as_of: &input.as_of,
        generated_at: &input.generated_at,
        cards: &input.cards,
        findings: findings_matrix(&input.findings, &input.reports),
        trend: TrendView {
            points: input.usage_trend.len(),
            first: input.usage_trend.first().map(|p| p.snapshot_date.as_str()),
            last: input.usage_trend.last().map(|p| p.snapshot_date.as_str()),
            latest: input.usage_trend.last().map(|p| p.total_views),
        },
        reports: input.reports.iter().enumerate().map(|(i, r)| report_view(i, r)).collect(),
        diagrams: DiagramSummary {
            total: input.diagrams.len(),
            flagged: input.diagrams.iter().filter(|d| d.nodes.iter().any(|n| n.flagged)).count(),
        },
    };
    let trend_svg = svg::trend_chart(&input.usage_trend).map(Value::from_safe_string);
    let ctx = context! {
        page => Value::from_serialize(&page),
        diagram_data => Value::from_safe_string(pack(&diagram_data(&input.diagrams))),
        trend_svg => trend_svg,
        style => Value::from_safe_string(STYLE.to_string()),
        script => Value::from_safe_string(SCRIPT.to_string()),
    };
    env.get_template("base.html.j2").and_then(|t| t.render(ctx)).map_err(HtmlError::Render)
}

fn environment() -> Result<Environment<'static>, HtmlError> {
    let mut env = Environment::new();
    // Every template is HTML, whatever its name says.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A misspelt variable is a bug, not an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("thousands", crate::audit::thousands);
    for &(name, source) in TEMPLATES {
        env.add_template(name, source).map_err(|source| HtmlError::Template { name, source })?;
    }
    Ok(env)
}

// --- the page's view of the input --------------------------------------------------

#[derive(Serialize)]
struct Page<'a> {
    site: &'a str,
    sites: &'a [SiteLink],
    server: &'a str,
    run_id: &'a str,
    as_of: &'a str,
    generated_at: &'a str,
    cards: &'a [Card],
    findings: FindingsMatrix,
    trend: TrendView<'a>,
    reports: Vec<ReportView<'a>>,
    diagrams: DiagramSummary,
}

#[derive(Serialize)]
struct TrendView<'a> {
    points: usize,
    first: Option<&'a str>,
    last: Option<&'a str>,
    latest: Option<i64>,
}

#[derive(Serialize)]
struct DiagramSummary {
    total: usize,
    flagged: usize,
}

/// Findings as a detector × severity table with totals.
#[derive(Serialize)]
struct FindingsMatrix {
    severities: Vec<String>,
    rows: Vec<FindingsRow>,
    /// Per severity, then the grand total.
    totals: Vec<i64>,
    total: i64,
}

#[derive(Serialize)]
struct FindingsRow {
    detector: String,
    counts: Vec<i64>,
    total: i64,
    /// Slug of the report listing this detector's findings, if there is one.
    report: Option<String>,
}

fn known_first(known: &[&str], seen: impl Iterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = seen.collect();
    all.sort_by_key(|s| (known.iter().position(|k| k == s).unwrap_or(known.len()), s.clone()));
    all.dedup();
    all
}

fn findings_matrix(findings: &[FindingCount], reports: &[ReportTable]) -> FindingsMatrix {
    let detectors = known_first(DETECTORS, findings.iter().map(|f| f.detector.clone()));
    let severities = known_first(SEVERITIES, findings.iter().map(|f| f.severity.clone()));
    let mut totals = vec![0; severities.len()];
    let rows = detectors
        .into_iter()
        .map(|detector| {
            let counts: Vec<i64> = severities
                .iter()
                .map(|s| findings.iter().filter(|f| f.detector == detector && &f.severity == s).map(|f| f.count).sum())
                .collect();
            for (t, c) in totals.iter_mut().zip(&counts) {
                *t += c;
            }
            // `unused_dashboard` findings are listed by `unused_dashboards`.
            let report = reports
                .iter()
                .find(|r| r.slug == detector || r.slug == format!("{detector}s"))
                .map(|r| r.slug.clone());
            FindingsRow { total: counts.iter().sum(), counts, detector, report }
        })
        .collect();
    let total = totals.iter().sum();
    FindingsMatrix { severities, rows, totals, total }
}

/// One report table: header markup data plus its rows as compact JSON.
#[derive(Serialize)]
struct ReportView<'a> {
    /// Element id of the section's data block: by position, since slugs
    /// are names from files and need not be valid ids.
    dom_id: String,
    slug: &'a str,
    title: &'a str,
    description: &'a str,
    columns: &'a [ReportColumn],
    /// `number` when every non-null cell of the column is a number, else
    /// `text`: how the script sorts it.
    types: Vec<&'static str>,
    /// Per column, what the script makes of it ([`column_roles`]).
    roles: Vec<&'static str>,
    /// Per column, the column holding the page its cells link to.
    links: Vec<Option<usize>>,
    row_count: usize,
    /// The rows ([`ReportData`]), packed.
    data: Value,
}

/// Rows stored by column. A column whose values repeat a lot (detector,
/// owner, project) is stored as a dictionary of distinct values plus one
/// index per row, whichever is smaller.
#[derive(Serialize)]
struct ReportData<'a> {
    n: usize,
    cols: Vec<ColumnData<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ColumnData<'a> {
    Plain { v: Vec<&'a serde_json::Value> },
    Dict { d: Vec<&'a serde_json::Value>, i: Vec<u32> },
}

fn report_view(index: usize, r: &ReportTable) -> ReportView<'_> {
    let width = r.columns.len();
    let types = (0..width)
        .map(|c| {
            let mut values = r.rows.iter().filter_map(|row| row.get(c)).filter(|v| !v.is_null()).peekable();
            if values.peek().is_some() && values.all(|v| v.is_number()) {
                "number"
            } else {
                "text"
            }
        })
        .collect();
    let cols = (0..width).map(|c| encode_column(r.rows.iter().map(|row| row.get(c).unwrap_or(&NULL)))).collect();
    let (roles, links) = column_roles(&r.columns);
    ReportView {
        dom_id: format!("report-data-{index}"),
        slug: &r.slug,
        title: &r.title,
        description: &r.description,
        columns: &r.columns,
        types,
        roles,
        links,
        row_count: r.rows.len(),
        data: Value::from_safe_string(pack(&ReportData { n: r.rows.len(), cols })),
    }
}

/// What each column is to the page, by its name. `X_url` beside `X_name`
/// is the page of the asset named there: not shown, its cells make the name
/// a link (a name reads better than a 36-character id). `…_luid` and
/// `…_metadata_id` are ids: shown narrow, whole on hover. Returns the roles
/// (`url`, `id` or empty) and, for each name column, its URL column.
pub fn column_roles(columns: &[ReportColumn]) -> (Vec<&'static str>, Vec<Option<usize>>) {
    let position = |name: &str| columns.iter().position(|c| c.name == name);
    let mut roles = vec![""; columns.len()];
    let mut links = vec![None; columns.len()];
    for (i, c) in columns.iter().enumerate() {
        if let Some(name) = c.name.strip_suffix("_url").and_then(|stem| position(&format!("{stem}_name"))) {
            roles[i] = "url";
            links[name] = Some(i);
        } else if c.name.ends_with("_luid") || c.name.ends_with("_metadata_id") {
            roles[i] = "id";
        }
    }
    (roles, links)
}

/// JSON, gzipped, base64-encoded: the contents of a `gzip-base64` data block.
pub fn pack(value: &impl Serialize) -> String {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    serde_json::to_writer(&mut gz, value).expect("report data serializes");
    let bytes = gz.finish().expect("gzip into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`pack`], for tests and tools reading a report page.
pub fn unpack(text: &str) -> Result<serde_json::Value, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| format!("base64: {e}"))?;
    let json = flate2::read::GzDecoder::new(&bytes[..]);
    serde_json::from_reader(json).map_err(|e| format!("gzip or JSON: {e}"))
}

static NULL: serde_json::Value = serde_json::Value::Null;

fn encode_column<'a>(values: impl Iterator<Item = &'a serde_json::Value>) -> ColumnData<'a> {
    let mut plain: Vec<&serde_json::Value> = Vec::new();
    let mut plain_bytes = 0usize;
    let mut dict: Vec<&serde_json::Value> = Vec::new();
    let mut dict_bytes = 0usize;
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut idx: Vec<u32> = Vec::new();
    for v in values {
        let text = v.to_string();
        plain_bytes += text.len() + 1;
        let next = dict.len() as u32;
        let i = *seen.entry(text).or_insert_with_key(|text| {
            dict_bytes += text.len() + 1;
            dict.push(v);
            next
        });
        dict_bytes += decimal_len(i) + 1;
        plain.push(v);
        idx.push(i);
    }
    if dict_bytes < plain_bytes {
        ColumnData::Dict { d: dict, i: idx }
    } else {
        ColumnData::Plain { v: plain }
    }
}

fn decimal_len(mut i: u32) -> usize {
    let mut n = 1;
    while i >= 10 {
        i /= 10;
        n += 1;
    }
    n
}

// --- diagrams ----------------------------------------------------------------------

/// Every diagram's layout, compact: strings once in tables, nodes and
/// edges as flat integer arrays. The script's `drawDiagram` reads this.
#[derive(Serialize)]
struct DiagramData<'a> {
    /// Box size of a node, and the distance between layers, in pixels.
    node_w: u32,
    node_h: u32,
    layer_w: u32,
    /// Kind names; nodes and diagrams refer to them by index.
    kinds: Vec<&'a str>,
    /// Distinct nodes across all diagrams (a database or published
    /// datasource appears in many): `[id, kind, label, flagged (0/1)]`.
    nodes: Vec<(&'a str, u32, &'a str, u8)>,
    /// `[id, kind, name, width, height, [node, x, y, …], [from, to, k,
    /// y1 … yk, …], flagged node count]`; `node` indexes `nodes`,
    /// `from`/`to` index the diagram's own node triples (in canonical
    /// layout order), and y1 … yk are the heights at which the edge crosses
    /// the k layers between its ends.
    diagrams: Vec<(&'a str, u32, &'a str, u32, u32, Vec<u32>, Vec<u32>, u32)>,
    /// Indexes into `diagrams` drawn when the page opens.
    default: Vec<u32>,
}

fn diagram_data(diagrams: &[Diagram]) -> DiagramData<'_> {
    let mut kinds: Vec<&str> = Vec::new();
    let mut kind_index: HashMap<&str, u32> = HashMap::new();
    let mut nodes: Vec<(&str, u32, &str, u8)> = Vec::new();
    let mut node_index: HashMap<(&str, &str, &str, bool), u32> = HashMap::new();
    let mut out = Vec::with_capacity(diagrams.len());
    for d in diagrams {
        let keys: Vec<(&str, &str, &str, bool)> =
            d.nodes.iter().map(|n| (n.id.as_str(), n.kind.as_str(), n.label.as_str(), n.flagged)).collect();
        let layout = svg::layout(&keys, &d.edges);
        let mut flat = Vec::with_capacity(layout.nodes.len() * 3);
        for p in &layout.nodes {
            let key = keys[p.index];
            let g = match node_index.get(&key) {
                Some(&g) => g,
                None => {
                    let kind = intern(key.1, &mut kinds, &mut kind_index);
                    let g = nodes.len() as u32;
                    nodes.push((key.0, kind, key.2, key.3 as u8));
                    node_index.insert(key, g);
                    g
                }
            };
            flat.extend([g, p.x, p.y]);
        }
        let mut edges = Vec::with_capacity(layout.edges.len() * 3);
        for (&(a, b), route) in layout.edges.iter().zip(&layout.routes) {
            edges.extend([a, b, route.len() as u32]);
            edges.extend(route);
        }
        let flagged = d.nodes.iter().filter(|n| n.flagged).count() as u32;
        let kind = intern(&d.kind, &mut kinds, &mut kind_index);
        out.push((d.id.as_str(), kind, d.name.as_str(), layout.width, layout.height, flat, edges, flagged));
    }
    // Most flagged first, then by name and id: a stable, useful default.
    let mut default: Vec<u32> = (0..out.len() as u32).filter(|&i| out[i as usize].7 > 0).collect();
    default.sort_by_key(|&i| {
        let d = &out[i as usize];
        (std::cmp::Reverse(d.7), d.2, d.0)
    });
    default.truncate(DEFAULT_DIAGRAMS);
    DiagramData { node_w: svg::NODE_W, node_h: svg::NODE_H, layer_w: svg::NODE_W + svg::GAP_X, kinds, nodes, diagrams: out, default }
}

fn intern<'a>(s: &'a str, table: &mut Vec<&'a str>, index: &mut HashMap<&'a str, u32>) -> u32 {
    *index.entry(s).or_insert_with(|| {
        table.push(s);
        table.len() as u32 - 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str) -> ReportColumn {
        ReportColumn { name: name.into(), description: String::new() }
    }

    #[test]
    fn a_url_column_links_the_name_beside_it() {
        let cols = ["view_name", "view_url", "view_luid", "field_metadata_id", "orphan_url", "project_name", "run_id"];
        let (roles, links) = column_roles(&cols.map(col));
        assert_eq!(roles, ["", "url", "id", "id", "", "", ""]);
        assert_eq!(links, [Some(1), None, None, None, None, None, None]);
    }
}
