//! A synthetic `HtmlInput` for the HTML report's tests and the
//! `sample_report` example: a site of any size, shaped like the large
//! simulated site (workbooks and published datasources with asset-level
//! lineage, a dashboard report with one row per dashboard), salted with
//! hostile names. Deterministic: the same sizes give the same input.

#![allow(dead_code)]

use serde_json::{json, Value};
use trm::report::model::{
    Card, Diagram, DiagramNode, FindingCount, HtmlInput, ReportColumn, ReportTable, TrendPoint,
};

/// Names that try to break out of HTML, attributes, script blocks and
/// spreadsheet cells. Every one must come out inert.
pub const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "=cmd|' /C calc'!A0",
    "</script><script>alert(2)</script>",
    "'; alert(3); //",
    "<!-- comment --> & </style> <svg onload=alert(4)>",
    "Überblick · 売上 🚀",
];

/// The diagram whose nodes the browser check looks for.
pub const KNOWN_DIAGRAM: &str = "wb-known/<id> \"#1\"";
/// Its nodes' ids, upstream first.
pub const KNOWN_NODES: &[&str] = &[
    "db-known",
    "table-known-1",
    "table-known-2",
    "ds-known",
    "sheet-known-1",
    "sheet-known-2",
    "dash-known",
    KNOWN_DIAGRAM,
];

/// A small deterministic generator (64-bit LCG), so no dependency is needed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A UUID-shaped id, like Tableau's.
    pub fn uuid(&mut self) -> String {
        let (a, b, c) = (self.next(), self.next(), self.next());
        format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", a & 0xffff_ffff, b & 0xffff, (b >> 16) & 0xfff, c & 0xfff, (a << 16 ^ c) & 0xffff_ffff_ffff)
    }
}

fn node(id: &str, kind: &str, label: &str, flagged: bool) -> DiagramNode {
    DiagramNode { id: id.into(), kind: kind.into(), label: label.into(), flagged }
}

/// The hand-made diagram with known ids and a hostile label.
pub fn known_diagram() -> Diagram {
    let kinds = ["database", "table", "table", "published_datasource", "sheet", "sheet", "dashboard", "workbook"];
    let labels = ["Sales DB", "orders", "customers", HOSTILE[0], "Revenue by region", HOSTILE[1], "Executive overview", "Known workbook"];
    let nodes = KNOWN_NODES
        .iter()
        .zip(kinds)
        .zip(labels)
        .map(|((id, kind), label)| node(id, kind, label, *id == "sheet-known-2"))
        .collect();
    Diagram {
        id: KNOWN_DIAGRAM.into(),
        kind: "workbook".into(),
        name: "Known workbook".into(),
        nodes,
        edges: vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (3, 5), (4, 6), (5, 6), (6, 7), (4, 7), (5, 7)],
    }
}

/// A site with `workbooks` workbook diagrams (one being `known_diagram`),
/// `workbooks / 5` published datasource diagrams, and a dashboard report of
/// `rows` rows.
pub fn site(rows: usize, workbooks: usize) -> HtmlInput {
    let mut rng = Rng::new(7);
    let datasources = (workbooks / 5).max(1);
    let dbs: Vec<String> = (0..(datasources / 40).max(1)).map(|_| rng.uuid()).collect();
    let tables: Vec<(String, usize)> = (0..datasources * 2).map(|i| (rng.uuid(), i % dbs.len())).collect();
    let ds_ids: Vec<String> = (0..datasources).map(|_| rng.uuid()).collect();
    let ds_name = |i: usize| if i % 97 == 3 { HOSTILE[i % HOSTILE.len()].to_string() } else { format!("Datasource {i}") };

    let mut diagrams = vec![known_diagram()];
    let mut wb_ids = vec![KNOWN_DIAGRAM.to_string()];
    let mut wb_names = vec!["Known workbook".to_string()];
    let mut ds_users: Vec<Vec<usize>> = vec![Vec::new(); datasources];
    for w in 1..workbooks {
        let id = rng.uuid();
        let name = if w % 101 == 7 { HOSTILE[w % HOSTILE.len()].to_string() } else { format!("Workbook {w}") };
        let ds = rng.below(datasources as u64) as usize;
        ds_users[ds].push(w);
        let mut nodes = vec![
            node(&dbs[tables[2 * ds].1], "database", "warehouse", false),
            node(&tables[2 * ds].0, "table", &format!("table_{}", 2 * ds), false),
            node(&tables[2 * ds + 1].0, "table", &format!("table_{}", 2 * ds + 1), false),
            node(&ds_ids[ds], "published_datasource", &ds_name(ds), w % 13 == 0),
        ];
        let sheets = 2 + rng.below(4) as usize;
        for s in 0..sheets {
            nodes.push(node(&rng.uuid(), "sheet", &format!("Sheet {s} of {name}"), w % 17 == 0 && s == 0));
        }
        nodes.push(node(&rng.uuid(), "dashboard", &format!("Dashboard of {name}"), w % 29 == 0));
        nodes.push(node(&id, "workbook", &name, false));
        let dash = nodes.len() as u32 - 2;
        let mut edges = vec![(0, 1), (0, 2), (1, 3), (2, 3)];
        for s in 0..sheets as u32 {
            edges.push((3, 4 + s));
            edges.push((4 + s, dash));
        }
        edges.push((dash, dash + 1));
        diagrams.push(Diagram { id: id.clone(), kind: "workbook".into(), name: name.clone(), nodes, edges });
        wb_ids.push(id);
        wb_names.push(name);
    }
    for (d, users) in ds_users.iter().enumerate() {
        let mut nodes = vec![
            node(&dbs[tables[2 * d].1], "database", "warehouse", false),
            node(&tables[2 * d].0, "table", &format!("table_{}", 2 * d), false),
            node(&tables[2 * d + 1].0, "table", &format!("table_{}", 2 * d + 1), false),
            node(&ds_ids[d], "published_datasource", &ds_name(d), users.is_empty()),
        ];
        let mut edges = vec![(0, 1), (0, 2), (1, 3), (2, 3)];
        for &w in users.iter().take(8) {
            edges.push((3, nodes.len() as u32));
            nodes.push(node(&wb_ids[w], "workbook", &wb_names[w], false));
        }
        diagrams.push(Diagram { id: ds_ids[d].clone(), kind: "datasource".into(), name: ds_name(d), nodes, edges });
    }

    let projects: Vec<String> = (0..40).map(|i| if i == 5 { HOSTILE[2].into() } else { format!("Project {i}") }).collect();
    let owners: Vec<String> = (0..300).map(|i| if i == 9 { HOSTILE[3].into() } else { format!("owner{i}@example.test") }).collect();
    let dashboards: Vec<Vec<Value>> = (0..rows)
        .map(|r| {
            let w = r % wb_ids.len();
            let name = if r % 53 == 11 { HOSTILE[r % HOSTILE.len()].to_string() } else { format!("Dashboard {r}") };
            let views = if r % 31 == 0 { Value::Null } else { json!(rng.below(5000)) };
            vec![
                json!(rng.uuid()),
                json!(name),
                json!(wb_ids[w]),
                json!(wb_names[w]),
                // Its page; now and then a hostile one that must link nowhere.
                if r % 53 == 12 { json!("javascript:alert(1)") } else { json!(format!("https://tableau.example.test/#/workbooks/{w}")) },
                json!(projects[rng.below(projects.len() as u64) as usize]),
                json!(owners[rng.below(owners.len() as u64) as usize]),
                views,
                json!(format!("2026-0{}-{:02}", 1 + rng.below(6), 1 + rng.below(28))),
            ]
        })
        .collect();
    let col = |name: &str, description: &str| ReportColumn { name: name.into(), description: description.into() };
    let detectors = ["unused_dashboard", "unused_datasource", "broken_extract", "missing_field"];
    let findings_rows: Vec<Vec<Value>> = (0..60)
        .map(|i| {
            let d = detectors[i % 4];
            let (kind, id, name) = if d == "unused_datasource" {
                ("published_datasource", ds_ids[i % datasources].clone(), ds_name(i % datasources))
            } else {
                ("workbook", wb_ids[i % wb_ids.len()].clone(), wb_names[i % wb_names.len()].clone())
            };
            vec![json!(d), json!(["high", "medium", "low"][i % 3]), json!(kind), json!(id), json!(name), json!(HOSTILE[i % HOSTILE.len()])]
        })
        .collect();

    HtmlInput {
        site: format!("Synthetic {}", HOSTILE[0]),
        sites: Vec::new(),
        server: "https://tableau.example.test".into(),
        run_id: "run-0001".into(),
        as_of: "2026-06-30T12:00:00Z".into(),
        generated_at: "2026-06-30T12:05:00Z".into(),
        cards: vec![
            Card { label: "Workbooks".into(), value: workbooks as i64, detail: None, tone: "ok".into() },
            Card { label: "Published datasources".into(), value: datasources as i64, detail: Some("of which 12 orphaned".into()), tone: "warn".into() },
            Card { label: "Findings".into(), value: 1234, detail: Some(HOSTILE[1].into()), tone: "bad".into() },
            Card { label: HOSTILE[0].into(), value: 0, detail: None, tone: "\" onmouseover=\"alert(5)".into() },
        ],
        findings: detectors
            .iter()
            .flat_map(|d| ["high", "medium", "low"].into_iter().map(move |s| (d, s)))
            .enumerate()
            .map(|(i, (d, s))| FindingCount { detector: d.to_string(), severity: s.into(), count: (i as i64 * 7) % 23 })
            .chain([FindingCount { detector: HOSTILE[0].into(), severity: HOSTILE[1].into(), count: 1 }])
            .collect(),
        reports: vec![
            ReportTable {
                slug: "unused_dashboards".into(),
                title: "Dashboards and their use".into(),
                description: format!("One row per dashboard. {}", HOSTILE[1]),
                columns: vec![
                    col("dashboard_luid", "REST id (LUID) of the dashboard"),
                    col("dashboard_name", "Dashboard name"),
                    col("workbook_luid", "REST id (LUID) of its workbook"),
                    col("workbook_name", "Workbook name"),
                    col("workbook_url", "Its page on the Tableau server"),
                    col("project_name", "Project"),
                    col("owner_name", HOSTILE[1]),
                    col("views", "Lifetime views"),
                    col("last_viewed", "Last viewed (UTC date)"),
                ],
                rows: dashboards,
            },
            ReportTable {
                slug: "findings".into(),
                title: format!("Findings {}", HOSTILE[0]),
                description: "Every finding with its asset.".into(),
                columns: vec![
                    col("detector", ""),
                    col("severity", ""),
                    col("asset_kind", ""),
                    col("asset_luid", "Links to the asset's lineage"),
                    col("asset_name", ""),
                    col("reason", ""),
                ],
                rows: findings_rows,
            },
            ReportTable { slug: "empty".into(), title: "An empty report".into(), description: String::new(), columns: vec![col("x_luid", "")], rows: vec![] },
        ],
        usage_trend: (0..24)
            .map(|i| TrendPoint {
                run_id: format!("run-{i:04}"),
                snapshot_date: format!("2026-{:02}-{:02}", 1 + i / 4, 1 + (i % 4) * 7),
                total_views: 120_000 + i as i64 * 3_500 + (i as i64 % 5) * 900,
            })
            .collect(),
        diagrams,
    }
}
