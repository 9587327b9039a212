//! `trm report`: every report definition as CSV, then the HTML audit report
//! (summary cards, findings, every report, the usage trend, lineage
//! diagrams) as one self-contained `index.html`, all from the warehouse's
//! latest run and its findings.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::model::{Card, FindingCount, HtmlInput, SiteLink, TrendPoint};
use super::{definitions, diagrams, html, write_all};
use crate::config::Thresholds;
use crate::warehouse::read::{self, RunRef};

pub struct Options<'a> {
    pub db: &'a Path,
    pub out_dir: &'a Path,
    /// More definitions; one named like a built-in replaces it.
    pub extra_reports: Option<&'a Path>,
    pub thresholds: &'a Thresholds,
    /// Only this site (content URL or LUID) of a warehouse holding several.
    /// Without it, a warehouse of several sites gets the page for all of
    /// them and one page per site under `sites/<content_url>/`.
    pub site: Option<&'a str>,
}

/// Rows per report in index.html.
pub const HTML_ROW_LIMIT: usize = 100_000;

/// What `trm report` wrote.
pub struct Generated {
    pub run: RunRef,
    /// Each report's slug, CSV file and row count.
    pub csvs: Vec<(String, PathBuf, usize)>,
    pub index: PathBuf,
    pub html_bytes: usize,
    /// The run the findings describe, when it is not the latest run.
    pub findings_run: Option<String>,
    /// Per site of a warehouse holding several: its content URL and the
    /// directory of its reports.
    pub site_pages: Vec<(String, PathBuf)>,
}

/// The variables report definitions may read with `getvariable`.
pub fn variables(t: &Thresholds) -> BTreeMap<String, i64> {
    BTreeMap::from([("unused_days".to_string(), t.unused_days)])
}

pub fn generate(o: &Options) -> anyhow::Result<Generated> {
    let conn = read::open(o.db)?;
    let defs = definitions::load(o.extra_reports)?;
    if let Some(site) = o.site {
        let (luid, _) = read::restrict_to_site(&conn, o.db, site)?;
        return page(conn, o, &defs, o.out_dir, Some(&luid), Vec::new());
    }
    let sites = read::sites(&conn, o.db)?;
    if sites.len() <= 1 {
        return page(conn, o, &defs, o.out_dir, None, Vec::new());
    }
    // Each page links to the others: "all sites" at the top, one directory
    // per site two levels below it.
    let dir_of = |cu: &str| if cu.is_empty() { "default".to_string() } else { cu.to_string() };
    let nav = |current: Option<&str>| -> Vec<SiteLink> {
        let up = if current.is_some() { "../../" } else { "" };
        std::iter::once(SiteLink { label: "All sites".into(), href: format!("{up}index.html"), current: current.is_none() })
            .chain(sites.iter().map(|(_, cu)| SiteLink {
                label: if cu.is_empty() { "Default".into() } else { cu.clone() },
                href: format!("{up}sites/{}/index.html", dir_of(cu)),
                current: current == Some(cu.as_str()),
            }))
            .collect()
    };
    let mut all = page(conn, o, &defs, o.out_dir, None, nav(None))?;
    for (luid, cu) in &sites {
        let dir = o.out_dir.join("sites").join(dir_of(cu));
        let conn = read::open(o.db)?;
        read::restrict_to_site(&conn, o.db, luid)?;
        page(conn, o, &defs, &dir, Some(luid), nav(Some(cu)))?;
        all.site_pages.push((cu.clone(), dir));
    }
    Ok(all)
}

/// One page and its CSV files from what `conn` reads (the whole warehouse,
/// or one site of it: `site_luid`).
fn page(
    conn: duckdb::Connection,
    o: &Options,
    defs: &[definitions::Definition],
    out_dir: &Path,
    site_luid: Option<&str>,
    sites: Vec<SiteLink>,
) -> anyhow::Result<Generated> {
    let run = read::resolve_run(&conn, o.db, None)?;
    let tables = write_all(&conn, defs, &variables(o.thresholds), out_dir)?;
    let csvs = tables
        .iter()
        .map(|t| (t.slug.clone(), out_dir.join(format!("{}.csv", t.slug)), t.rows.len()))
        .collect();

    let q = |sql: &str| -> anyhow::Result<i64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0)).with_context(|| format!("cannot run `{sql}` on {}", o.db.display()))
    };
    let findings_run: Option<String> = conn
        .query_row("SELECT max(run_id) FROM findings", [], |r| r.get::<_, Option<String>>(0))
        .with_context(|| format!("cannot read the findings of {}", o.db.display()))?;
    let mut counts: Vec<FindingCount> = Vec::new();
    let mut flagged: HashSet<String> = HashSet::new();
    {
        let mut stmt = conn.prepare("SELECT detector, severity, coalesce(asset_luid, asset_metadata_id), evidence FROM findings")?;
        let mut rows = stmt.query([])?;
        let mut by: BTreeMap<(String, String), i64> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let (detector, severity, asset, evidence): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            *by.entry((detector, severity)).or_default() += 1;
            flagged.insert(asset);
            // The sheets, dashboards and tables a finding implicates are flagged too.
            if let Ok(serde_json::Value::Object(e)) = serde_json::from_str(&evidence) {
                for key in ["sheets", "dashboards", "gone_tables"] {
                    for id in e.get(key).and_then(|v| v.as_array()).into_iter().flatten() {
                        if let Some(id) = id.as_str() {
                            flagged.insert(id.to_string());
                        }
                    }
                }
            }
        }
        for ((detector, severity), count) in by {
            counts.push(FindingCount { detector, severity, count });
        }
    }
    let total = |detector: &str| counts.iter().filter(|c| c.detector == detector).map(|c| c.count).sum::<i64>();
    let high = counts.iter().filter(|c| c.severity == "high").map(|c| c.count).sum::<i64>();
    let all_findings = counts.iter().map(|c| c.count).sum::<i64>();
    let tone = |n: i64| if n == 0 { "ok" } else { "bad" }.to_string();
    let card = |label: &str, value: i64, detail: Option<String>, tone: String| Card {
        label: label.into(),
        value,
        detail,
        tone,
    };
    let cards = vec![
        card("Workbooks", q("SELECT count(*) FROM workbooks")?, None, "ok".into()),
        card(
            "Views",
            q("SELECT count(*) FROM views")?,
            Some(format!("{} views in all", crate::audit::thousands(q("SELECT coalesce(sum(total_view_count), 0) FROM views")?))),
            "ok".into(),
        ),
        card("Published datasources", q("SELECT count(*) FROM datasources")?, None, "ok".into()),
        card("Users", q("SELECT count(*) FROM users")?, None, "ok".into()),
        card("Findings", all_findings, Some(format!("{high} high severity")), if high > 0 { "bad".into() } else { tone(all_findings) }),
        card("Broken extracts", total("broken_extract"), None, tone(total("broken_extract"))),
        card("Missing fields", total("missing_field"), None, tone(total("missing_field"))),
        card("Unused dashboards", total("unused_dashboard"), None, if total("unused_dashboard") > 0 { "warn".into() } else { "ok".into() }),
    ];

    let mut usage_trend = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT r.run_id, CAST(r.snapshot_date AS VARCHAR), CAST(sum(h.total_view_count) AS BIGINT) \
             FROM hist_views h JOIN runs r ON r.run_id = h.run_id \
             WHERE r.status = 'succeeded' GROUP BY r.run_id, r.snapshot_date, r.as_of ORDER BY r.as_of, r.run_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            usage_trend.push(TrendPoint { run_id: r.get(0)?, snapshot_date: r.get(1)?, total_views: r.get(2)? });
        }
    }

    let (graph, _) = crate::lineage::load_scope(&conn, o.db, &run, crate::lineage::Scope::Assets)?;
    drop(conn);
    // The page stays quick with this many rows per report; the CSV has all.
    let mut tables = tables;
    for t in &mut tables {
        if t.rows.len() > HTML_ROW_LIMIT {
            t.description += &format!(
                " This page shows the first {} of {} rows; {}.csv has them all.",
                crate::audit::thousands(HTML_ROW_LIMIT as i64),
                crate::audit::thousands(t.rows.len() as i64),
                t.slug
            );
            t.rows.truncate(HTML_ROW_LIMIT);
        }
    }
    let mut diagrams = diagrams::all(&graph, &flagged);
    if let Some(luid) = site_luid {
        let no = graph.sites.iter().position(|(l, _)| l == luid);
        diagrams.retain(|d| graph.get(&d.id).is_some_and(|ix| Some(usize::from(graph.node(ix).site)) == no));
    }
    let title = match site_luid {
        Some(_) => sites.iter().find(|s| s.current).map(|s| s.label.clone()),
        None if sites.is_empty() => None,
        None => Some("All sites".to_string()),
    };
    let input = HtmlInput {
        site: title.unwrap_or_else(|| if run.site.is_empty() { "Default".into() } else { run.site.clone() }),
        sites,
        server: run.server.clone(),
        run_id: run.run_id.clone(),
        as_of: crate::time::iso(run.as_of),
        generated_at: crate::time::iso(chrono::Utc::now().timestamp()),
        cards,
        findings: counts,
        reports: tables,
        usage_trend,
        diagrams,
    };
    drop(graph);
    let page = html::render(&input).context("cannot render the HTML report")?;
    let index = out_dir.join("index.html");
    std::fs::write(&index, &page).with_context(|| format!("cannot write {}", index.display()))?;
    Ok(Generated {
        findings_run: findings_run.filter(|f| *f != run.run_id),
        run,
        csvs,
        index,
        html_bytes: page.len(),
        site_pages: Vec::new(),
    })
}
