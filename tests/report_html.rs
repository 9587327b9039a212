//! The HTML report without a browser: hostile names stay inert text, the
//! page refers to nothing outside itself, the same input always gives the
//! same bytes (whatever order the diagram nodes come in), a large site
//! fits the page budget, and the diagram layout is layered, independent of
//! input order and free of overlapping boxes. `tests/browser/check_report.py`
//! covers what needs a browser.

mod support {
    pub mod synthetic;
}

use std::collections::BTreeMap;
use std::time::Instant;

use support::synthetic::{self, HOSTILE, KNOWN_DIAGRAM};
use trm::report::html::{render, SCRIPT, STYLE, TEMPLATES};
use trm::report::model::HtmlInput;
use trm::report::svg::{self, layout, Layout, NODE_H, NODE_W};

/// The page budget for a large site.
const MAX_BYTES: usize = 25 * 1024 * 1024;

/// One tag of the page: its name and attribute (name, value) pairs.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// A small HTML scanner, enough for markup we generate: the start tags of
/// the page, and the raw text of each `<script>` block. It follows the
/// HTML rule that a script or style element ends at the first `</script`
/// or `</style`, so a data value that closed one early would show up as
/// extra tags here.
fn scan(page: &str) -> (Vec<Tag>, Vec<(Tag, String)>) {
    let mut tags = Vec::new();
    let mut scripts = Vec::new();
    let b = page.as_bytes();
    let mut i = 0;
    while let Some(off) = page[i..].find('<') {
        let start = i + off;
        let rest = &page[start + 1..];
        if rest.starts_with("!--") {
            i = start + 4 + rest[3..].find("-->").expect("unclosed comment") + 3;
            continue;
        }
        if rest.starts_with('!') || rest.starts_with('/') {
            i = start + 1 + rest.find('>').expect("unclosed tag") + 1;
            continue;
        }
        assert!(
            rest.starts_with(|c: char| c.is_ascii_alphabetic()),
            "a raw '<' in text at byte {start}: {:?}",
            &page[start..(start + 40).min(page.len())]
        );
        // Tag name, then attributes up to '>'.
        let mut j = start + 1;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
            j += 1;
        }
        let name = page[start + 1..j].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while b[j].is_ascii_whitespace() || b[j] == b'/' {
                j += 1;
            }
            if b[j] == b'>' {
                j += 1;
                break;
            }
            let a = j;
            while !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/') {
                j += 1;
            }
            let attr = page[a..j].to_ascii_lowercase();
            let mut value = String::new();
            if b[j] == b'=' {
                j += 1;
                let quote = b[j];
                assert!(quote == b'"' || quote == b'\'', "unquoted attribute {attr} in <{name}>");
                let end = j + 1 + page[j + 1..].find(quote as char).unwrap();
                value = page[j + 1..end].to_string();
                j = end + 1;
            }
            attrs.push((attr, value));
        }
        let tag = Tag { name, attrs };
        if tag.name == "script" || tag.name == "style" {
            let close = format!("</{}", tag.name);
            let end = j + page[j..].find(&close).expect("unclosed script/style");
            let body = page[j..end].to_string();
            if tag.name == "script" {
                scripts.push((tag, body));
            } else {
                tags.push(tag);
            }
            i = end;
        } else {
            tags.push(tag);
            i = j;
        }
    }
    (tags, scripts)
}

fn attr<'a>(t: &'a Tag, name: &str) -> Option<&'a str> {
    t.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn page() -> (HtmlInput, String) {
    let input = synthetic::site(500, 60);
    let html = render(&input).expect("renders");
    (input, html)
}

#[test]
fn hostile_names_stay_text() {
    let (input, html) = page();
    assert!(!html.contains("<script>alert"), "raw <script>alert in the page");
    assert!(!html.contains("<img"), "raw <img in the page");
    assert!(!html.contains("<svg onload"), "raw <svg onload in the page");
    // The names are there, escaped: in markup as entities …
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    // … and every `onerror=` is inside such escaped text or JSON.
    for (at, _) in html.match_indices("onerror=") {
        let before = &html[at.saturating_sub(16)..at];
        assert!(before.ends_with("&lt;img src=x ") || before.ends_with("\\u003cimg src=x "), "onerror= at {at}: {before:?}");
    }

    let (tags, scripts) = scan(&html);
    for t in &tags {
        assert!(
            !matches!(t.name.as_str(), "img" | "iframe" | "object" | "embed" | "link" | "base" | "form"),
            "unexpected <{}>",
            t.name
        );
        for (name, value) in &t.attrs {
            assert!(!name.starts_with("on"), "event handler attribute {name}={value:?} on <{}>", t.name);
            assert!(!value.to_ascii_lowercase().contains("javascript:"), "javascript: URL in <{}>", t.name);
        }
    }
    // Exactly the script blocks we write: one JSON block per report, one
    // for the diagrams, and the program. A name holding `</script>` would
    // have cut a block short and added blocks or tags.
    let json: Vec<&(Tag, String)> = scripts.iter().filter(|(t, _)| attr(t, "type") == Some("application/json")).collect();
    assert_eq!(json.len(), input.reports.len() + 1);
    assert_eq!(scripts.len(), json.len() + 1);
    assert_eq!(html.matches("</script>").count(), scripts.len());
    for (tag, body) in &json {
        assert_eq!(attr(tag, "data-encoding"), Some("gzip-base64"), "{tag:?}");
        assert!(
            body.trim().chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')),
            "a data block holds more than base64: {tag:?}"
        );
        trm::report::html::unpack(body).unwrap_or_else(|e| panic!("data block {tag:?} does not unpack: {e}"));
    }
    // Packing loses nothing: every hostile name reaches the data intact.
    let decoded: String = json.iter().map(|(_, body)| trm::report::html::unpack(body).unwrap().to_string()).collect();
    for name in HOSTILE {
        let as_json = serde_json::to_string(name).unwrap();
        assert!(decoded.contains(&as_json[1..as_json.len() - 1]), "{name:?} lost from the data");
    }
    // The spreadsheet formula is inert text in HTML (defusing it for
    // spreadsheets is the CSV writer's business); its quote is escaped.
    assert!(decoded.contains("=cmd|' /C calc'!A0"));
    assert!(!html.contains("=cmd|'"));
}

/// A `…_url` column beside a `…_name` column is not shown: its header is
/// hidden and the name's header says which column links it; id columns are
/// marked for the narrow style. (The script's links are checked in a
/// browser by tests/browser/check_report.py.)
#[test]
fn url_columns_link_names_and_ids_are_marked() {
    let (input, html) = page();
    let (tags, _) = scan(&html);
    let heads: Vec<&Tag> = tags.iter().filter(|t| t.name == "th" && attr(t, "data-col").is_some()).collect();
    assert_eq!(heads.len(), input.reports.iter().map(|r| r.columns.len()).sum::<usize>());
    let mut heads = heads.into_iter();
    let mut linked = 0;
    for r in &input.reports {
        let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
        for (i, th) in heads.by_ref().take(names.len()).enumerate() {
            let name = names[i];
            let hidden = th.attrs.iter().any(|(a, _)| a == "hidden");
            let url_of_name = name.strip_suffix("_url").is_some_and(|stem| names.contains(&format!("{stem}_name").as_str()));
            assert_eq!(hidden, url_of_name, "{}.{name} hidden", r.slug);
            assert_eq!(attr(th, "data-role") == Some("url"), url_of_name, "{}.{name}", r.slug);
            let is_id = name.ends_with("_luid") || name.ends_with("_metadata_id");
            assert_eq!(attr(th, "data-role") == Some("id"), is_id, "{}.{name}", r.slug);
            let link = name.strip_suffix("_name").and_then(|stem| names.iter().position(|n| *n == format!("{stem}_url")));
            assert_eq!(attr(th, "data-link").map(|l| l.parse::<usize>().unwrap()), link, "{}.{name}", r.slug);
            linked += link.is_some() as usize;
        }
    }
    assert!(linked > 0, "the synthetic site has a name with a page");
}

#[test]
fn page_loads_nothing_from_outside() {
    let (_, html) = page();
    // Inert text only: the SVG namespace name in the script (an identifier,
    // never fetched) and the server's address shown, escaped, in the header.
    assert_eq!(html.matches("http://").count(), 1);
    assert!(html.contains("const SVG_NS = 'http://www.w3.org/2000/svg';"));
    assert_eq!(html.matches("https://").count(), 0);
    assert!(html.contains("<dd>https:&#x2f;&#x2f;tableau.example.test</dd>"));

    let (tags, scripts) = scan(&html);
    for t in &tags {
        for (name, value) in &t.attrs {
            if matches!(name.as_str(), "src" | "href" | "action" | "srcset" | "poster" | "data" | "xlink:href") {
                assert!(value.starts_with('#'), "<{} {name}={value:?}> leaves the page", t.name);
            }
        }
    }
    for (tag, _) in &scripts {
        assert!(attr(tag, "src").is_none(), "script with src");
    }
    assert!(!STYLE.contains("url(") && !STYLE.contains("@import") && !STYLE.contains("@font-face"));
    assert!(!SCRIPT.contains("fetch(") && !SCRIPT.contains("XMLHttpRequest") && !SCRIPT.contains("import("));
    assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML") && !SCRIPT.contains("document.write"));
    // Inlined verbatim, so they must not end their own element early.
    assert!(!SCRIPT.to_ascii_lowercase().contains("</script") && !SCRIPT.contains("<!--"));
    assert!(!STYLE.to_ascii_lowercase().contains("</style"));
}

#[test]
fn every_template_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".j2"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded);
}

#[test]
fn same_input_same_page_whatever_the_node_order() {
    let (mut input, html) = page();
    assert_eq!(render(&input).unwrap(), html, "two renders differ");
    // Reverse and rotate each diagram's nodes, remapping its edges.
    for (k, d) in input.diagrams.iter_mut().enumerate() {
        let n = d.nodes.len();
        let perm: Vec<usize> = (0..n).map(|i| (n - 1 - i + k) % n).collect(); // new position → old index
        let mut inv = vec![0u32; n];
        for (new, &old) in perm.iter().enumerate() {
            inv[old] = new as u32;
        }
        d.nodes = perm.iter().map(|&old| d.nodes[old].clone()).collect();
        d.edges = d.edges.iter().rev().map(|&(a, b)| (inv[a as usize], inv[b as usize])).collect();
    }
    assert_eq!(render(&input).unwrap(), html, "node order changed the page");
}

#[test]
fn diagram_layouts_are_layered_and_do_not_overlap() {
    let (input, _) = page();
    let known = input.diagrams.iter().find(|d| d.id == KNOWN_DIAGRAM).unwrap();
    for d in &input.diagrams {
        let keys: Vec<&str> = d.nodes.iter().map(|n| n.id.as_str()).collect();
        let l = svg::layout(&keys, &d.edges);
        assert_eq!(l.nodes.len(), d.nodes.len());
        assert!(has_no_overlaps(&l), "overlap in {}", d.id);
        for &(a, b) in &l.edges {
            assert!(l.nodes[a as usize].layer < l.nodes[b as usize].layer, "edge against the layers in {}", d.id);
        }
    }
    // The known workbook: database, tables, datasource, sheets, dashboard, workbook.
    let keys: Vec<&str> = known.nodes.iter().map(|n| n.id.as_str()).collect();
    let l = svg::layout(&keys, &known.edges);
    let layer_of = |id: &str| l.nodes.iter().find(|p| keys[p.index] == id).unwrap().layer;
    assert_eq!(
        ["db-known", "table-known-1", "ds-known", "sheet-known-1", "dash-known", KNOWN_DIAGRAM].map(layer_of),
        [0, 1, 2, 3, 4, 5]
    );
}

#[test]
fn an_empty_site_renders() {
    let mut input = synthetic::site(0, 1);
    input.cards.clear();
    input.findings.clear();
    input.reports.clear();
    input.usage_trend.clear();
    input.diagrams.clear();
    let html = render(&input).unwrap();
    assert!(html.contains("No findings in this run."));
    assert!(html.contains("No usage snapshots yet."));
    assert!(html.contains("No reports."));
    let (_, scripts) = scan(&html);
    assert_eq!(scripts.len(), 2);
}

#[test]
fn a_large_site_fits_the_budget() {
    // 100,000 dashboards in the report; 10,000 workbooks and 2,000
    // published datasources, each with its diagram.
    let input = synthetic::site(100_000, 10_000);
    assert_eq!(input.diagrams.len(), 12_000);
    let started = Instant::now();
    let html = render(&input).unwrap();
    let elapsed = started.elapsed();
    let (_, scripts) = scan(&html);
    let sizes: Vec<String> = scripts
        .iter()
        .map(|(t, body)| format!("{}={:.1} MB", attr(t, "id").unwrap_or("program"), body.len() as f64 / 1e6))
        .collect();
    println!(
        "large site: {} bytes ({:.1} MB of a {} MB budget), rendered in {} ms; {}",
        html.len(),
        html.len() as f64 / 1024.0 / 1024.0,
        MAX_BYTES / 1024 / 1024,
        elapsed.as_millis(),
        sizes.join(", ")
    );
    assert!(html.len() <= MAX_BYTES, "{} bytes is over the budget", html.len());
    assert!(html.contains("100,000 rows"));
}

// --- The diagram layout ----------------------------------------------------------------

/// True when no two node boxes of the layout overlap and all lie inside it.
/// Layers are `NODE_W + GAP_X` apart, so only boxes of one column can meet.
fn has_no_overlaps(l: &Layout) -> bool {
    let mut boxes: Vec<(u32, u32)> = l.nodes.iter().map(|p| (p.x, p.y)).collect();
    boxes.sort_unstable();
    boxes.windows(2).all(|w| w[0].0 != w[1].0 || w[0].1 + NODE_H <= w[1].1)
        && l.nodes.iter().all(|p| p.x + NODE_W <= l.width && p.y + NODE_H <= l.height)
}

#[test]
fn the_overlap_check_sees_an_overlap() {
    let (ids, edges) = sample();
    let mut l = layout(&ids, &edges);
    assert!(has_no_overlaps(&l));
    // Two boxes of one column, moved to touch.
    let (a, b) = {
        let mut by_x: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, p) in l.nodes.iter().enumerate() {
            by_x.entry(p.x).or_default().push(i);
        }
        let column = by_x.values().find(|v| v.len() >= 2).expect("a column of two");
        (column[0], column[1])
    };
    l.nodes[b].y = l.nodes[a].y + NODE_H - 1;
    assert!(!has_no_overlaps(&l));
    let mut l = layout(&ids, &edges);
    l.width = l.nodes.iter().map(|p| p.x + NODE_W).max().unwrap() - 1;
    assert!(!has_no_overlaps(&l), "a box past the right edge");
}

/// A lineage-shaped graph: db → tables → datasources → sheets →
/// dashboards → workbook, with a long edge (sheet → workbook).
fn sample() -> (Vec<String>, Vec<(u32, u32)>) {
    let ids: Vec<String> = ["db", "t1", "t2", "ds", "s1", "s2", "s3", "d1", "wb"].iter().map(|s| s.to_string()).collect();
    let e = |a: &str, b: &str| {
        (ids.iter().position(|x| x == a).unwrap() as u32, ids.iter().position(|x| x == b).unwrap() as u32)
    };
    let edges = vec![
        e("db", "t1"),
        e("db", "t2"),
        e("t1", "ds"),
        e("t2", "ds"),
        e("ds", "s1"),
        e("ds", "s2"),
        e("ds", "s3"),
        e("s1", "d1"),
        e("s2", "d1"),
        e("d1", "wb"),
        e("s3", "wb"),
    ];
    (ids, edges)
}

/// The layout as (id → (layer, x, y)) plus edges by id: what must not
/// depend on input order.
fn by_id(ids: &[String], l: &Layout) -> (BTreeMap<String, (u32, u32, u32)>, Vec<(String, String)>) {
    let pos = l.nodes.iter().map(|p| (ids[p.index].clone(), (p.layer, p.x, p.y))).collect();
    let edges = l.edges.iter().map(|&(a, b)| (ids[l.nodes[a as usize].index].clone(), ids[l.nodes[b as usize].index].clone())).collect();
    (pos, edges)
}

#[test]
fn shuffled_input_same_layout() {
    let (ids, edges) = sample();
    let want = by_id(&ids, &layout(&ids, &edges));
    // A few fixed permutations, reversed and rotated, edges reversed too.
    for shift in 0..ids.len() {
        let perm: Vec<usize> = (0..ids.len()).map(|i| (i * 7 + shift) % ids.len()).rev().collect();
        let mut inv = vec![0u32; ids.len()];
        for (new, &old) in perm.iter().enumerate() {
            inv[old] = new as u32;
        }
        let shuffled: Vec<String> = perm.iter().map(|&i| ids[i].clone()).collect();
        let mut e: Vec<(u32, u32)> = edges.iter().map(|&(a, b)| (inv[a as usize], inv[b as usize])).collect();
        e.reverse();
        let got = layout(&shuffled, &e);
        assert_eq!(by_id(&shuffled, &got), want, "permutation {perm:?}");
        assert_eq!((got.width, got.height), (layout(&ids, &edges).width, layout(&ids, &edges).height));
    }
}

#[test]
fn layers_are_longest_paths_and_edges_point_right() {
    let (ids, edges) = sample();
    let l = layout(&ids, &edges);
    let (pos, _) = by_id(&ids, &l);
    let layer = |id: &str| pos[id].0;
    assert_eq!([layer("db"), layer("t1"), layer("ds"), layer("s3"), layer("d1"), layer("wb")], [0, 1, 2, 3, 4, 5]);
    assert_eq!(l.layers, 6);
    for (&(a, b), route) in l.edges.iter().zip(&l.routes) {
        let (from, to) = (&l.nodes[a as usize], &l.nodes[b as usize]);
        assert!(from.x < to.x, "edge {a}->{b} goes left");
        // A long edge crosses each layer between its ends clear of boxes.
        assert_eq!(route.len() as u32, to.layer - from.layer - 1);
        for (k, &y) in route.iter().enumerate() {
            let layer = from.layer + 1 + k as u32;
            for p in l.nodes.iter().filter(|p| p.layer == layer) {
                assert!(y < p.y || y > p.y + NODE_H, "edge {a}->{b} runs through a box in layer {layer}");
            }
        }
    }
    let (pos, _) = by_id(&ids, &l);
    let long = l.edges.iter().position(|&(a, b)| l.nodes[a as usize].index == 6 && l.nodes[b as usize].index == 8).unwrap();
    assert_eq!(l.routes[long].len(), 1, "s3 → wb crosses the dashboards' layer: {pos:?}");
    assert!(has_no_overlaps(&l));
}

#[test]
fn no_overlaps_in_a_wide_graph() {
    // One datasource feeding 300 sheets, plus unconnected nodes.
    let mut ids = vec!["ds".to_string()];
    let mut edges = Vec::new();
    for i in 0..300 {
        ids.push(format!("sheet-{i:03}"));
        edges.push((0, i + 1));
    }
    ids.push("lonely".into());
    let l = layout(&ids, &edges);
    assert_eq!(l.nodes.len(), 302);
    assert!(has_no_overlaps(&l));
}

#[test]
fn cycles_duplicates_and_bad_indexes_do_not_fail() {
    let ids = ["a", "b", "c"];
    let l = layout(&ids, &[(0, 1), (1, 2), (2, 0), (0, 1), (1, 1), (0, 9)]);
    assert_eq!(l.nodes.len(), 3);
    assert_eq!(l.edges.len(), 3);
    assert!(has_no_overlaps(&l));
    assert_eq!(layout::<&str>(&[], &[]).nodes.len(), 0);
}

