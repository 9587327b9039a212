//! Geometry for the HTML report: the layered layout of lineage diagrams and
//! the usage-trend chart.
//!
//! Both are pure functions of their input, so the same warehouse always
//! yields the same bytes. The diagram layout is computed here rather than in
//! the browser so that it is deterministic and testable, but drawn there:
//! the large site has about 12,000 diagrams and inlining each as SVG would
//! not fit the page budget, so `html.rs` ships the coordinates as compact
//! JSON and a small script draws a diagram when it is opened.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::model::TrendPoint;

/// Width of a node box in a diagram, in pixels. Labels longer than the box
/// are cut by the script; the full label stays in the node's `<title>`.
pub const NODE_W: u32 = 190;
/// Height of a node box.
pub const NODE_H: u32 = 34;
/// Horizontal gap between layers: room for the edge curves.
pub const GAP_X: u32 = 64;
/// Vertical gap between nodes of one layer.
pub const GAP_Y: u32 = 14;
/// Blank border around a diagram.
pub const MARGIN: u32 = 8;
/// Height of the slot a long edge takes in each layer it passes.
pub const DUMMY_H: u32 = 8;

/// Barycenter sweeps (one down, one up each). A few are enough for the
/// small, chain-shaped graphs lineage gives; more rarely changes anything.
const SWEEPS: usize = 4;

/// Where a diagram's nodes go. Nodes are listed in a canonical order (by
/// layer, then top to bottom), which depends only on the graph and the node
/// keys, never on the order the input listed them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    /// Edges as (from, to) positions in `nodes`, sorted, without duplicates
    /// or self-loops. Always upstream → downstream as given; for a DAG this
    /// is also left → right.
    pub edges: Vec<(u32, u32)>,
    /// For each edge, the y at which it crosses each layer between its
    /// ends (in drawing order), through a slot kept free of boxes; empty
    /// for an edge between adjacent layers.
    pub routes: Vec<Vec<u32>>,
    pub width: u32,
    pub height: u32,
    /// Number of layers (columns).
    pub layers: u32,
}

/// One node's place. `x`, `y` are the top-left corner of its box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Index of the node in the input.
    pub index: usize,
    /// Column, counted from the sources: the longest path from any source.
    pub layer: u32,
    pub x: u32,
    pub y: u32,
}

/// Lays out a directed graph in layers, left to right.
///
/// `keys` identify the nodes (one per node, in input order) and break every
/// tie, so shuffling the input gives the same layout up to the `index`
/// fields; give unique keys (e.g. the Tableau id). `edges` are (from, to)
/// indexes into `keys`; out-of-range indexes and self-loops are ignored. A
/// cycle, which lineage should not have, is broken by drawing one of its
/// edges right to left rather than failing.
pub fn layout<K: Ord>(keys: &[K], edges: &[(u32, u32)]) -> Layout {
    let n = keys.len();
    if n == 0 {
        return Layout { nodes: Vec::new(), edges: Vec::new(), routes: Vec::new(), width: 0, height: 0, layers: 0 };
    }

    // Work in "rank" space: node r is the r-th smallest key. Everything
    // below iterates in rank order, which is what makes the result
    // independent of input order.
    let mut by_key: Vec<usize> = (0..n).collect();
    by_key.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    let mut rank = vec![0usize; n];
    for (r, &i) in by_key.iter().enumerate() {
        rank[i] = r;
    }
    let ranked_edges: BTreeSet<(usize, usize)> = edges
        .iter()
        .map(|&(a, b)| (a as usize, b as usize))
        .filter(|&(a, b)| a < n && b < n && a != b)
        .map(|(a, b)| (rank[a], rank[b]))
        .collect();

    let dag = break_cycles(n, &ranked_edges);
    let layer = longest_path_layers(n, &dag);
    let layers = layer.iter().max().map_or(0, |&l| l + 1);

    // Long edges get a chain of dummy nodes, one per layer crossed, so the
    // crossing reduction sees them; dummies are dropped before placement.
    let mut node_layer = layer.clone();
    let mut links: Vec<(usize, usize)> = Vec::new();
    let mut chains: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for &(a, b) in &dag {
        let mut prev = a;
        let mut chain = Vec::new();
        for l in node_layer[a] + 1..node_layer[b] {
            let d = node_layer.len();
            node_layer.push(l);
            links.push((prev, d));
            chain.push(d);
            prev = d;
        }
        links.push((prev, b));
        chains.insert((a, b), chain);
    }
    let total = node_layer.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); total];
    for &(a, b) in &links {
        succs[a].push(b);
        preds[b].push(a);
    }

    // Initial order within each layer: by rank (dummies after, in creation
    // order, which follows the sorted edges).
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (v, &l) in node_layer.iter().enumerate() {
        rows[l].push(v);
    }
    let mut pos = vec![0usize; total];
    let set_pos = |rows: &[Vec<usize>], pos: &mut [usize]| {
        for row in rows {
            for (i, &v) in row.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    set_pos(&rows, &mut pos);

    for _ in 0..SWEEPS {
        for l in 1..layers {
            reorder(&mut rows[l], &preds, &mut pos);
        }
        for l in (0..layers.saturating_sub(1)).rev() {
            reorder(&mut rows[l], &succs, &mut pos);
        }
    }

    // Coordinates: each layer stacked top to bottom, dummies taking a thin
    // slot so long edges pass between boxes, and centred on the tallest.
    let slot = |v: usize| if v < n { NODE_H } else { DUMMY_H };
    let heights: Vec<u32> =
        rows.iter().map(|row| row.iter().map(|&v| slot(v)).sum::<u32>() + GAP_Y * (row.len() as u32).saturating_sub(1)).collect();
    let tallest = heights.iter().copied().max().unwrap_or(0);
    let mut y = vec![0u32; total];
    for (row, h) in rows.iter().zip(&heights) {
        let mut at = MARGIN + (tallest - h) / 2;
        for &v in row {
            y[v] = at;
            at += slot(v) + GAP_Y;
        }
    }
    let mut nodes = Vec::with_capacity(n);
    let mut canonical = vec![0u32; n];
    for (l, row) in rows.iter().enumerate() {
        for &r in row.iter().filter(|&&v| v < n) {
            canonical[r] = nodes.len() as u32;
            nodes.push(Placed { index: by_key[r], layer: l as u32, x: MARGIN + l as u32 * (NODE_W + GAP_X), y: y[r] });
        }
    }
    // Each input edge with the heights it passes the layers in between at:
    // its own chain's, or, for an edge the cycle breaking turned round, the
    // reversed chain.
    let mut routed: Vec<((u32, u32), Vec<u32>)> = ranked_edges
        .iter()
        .map(|&(a, b)| {
            let mid = |chain: &Vec<usize>| chain.iter().map(|&d| y[d] + DUMMY_H / 2).collect::<Vec<u32>>();
            let route = match chains.get(&(a, b)) {
                Some(chain) => mid(chain),
                None => mid(&chains[&(b, a)]).into_iter().rev().collect(),
            };
            ((canonical[a], canonical[b]), route)
        })
        .collect();
    routed.sort();
    let (edges, routes) = routed.into_iter().unzip();
    Layout {
        nodes,
        edges,
        routes,
        width: 2 * MARGIN + layers as u32 * (NODE_W + GAP_X) - GAP_X,
        height: 2 * MARGIN + tallest,
        layers: layers as u32,
    }
}

/// Returns the edges with each back edge of a depth-first search (visiting
/// in rank order) reversed, which leaves no cycle. Iterative, because a
/// large datasource's lineage can be deep enough to overflow the stack.
fn break_cycles(n: usize, edges: &BTreeSet<(usize, usize)>) -> BTreeSet<(usize, usize)> {
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        succs[a].push(b); // already in rank order: the set is sorted
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let mut state = vec![State::New; n];
    let mut out = BTreeSet::new();
    for root in 0..n {
        if state[root] != State::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::OnStack;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&w) = succs[v].get(*next) {
                *next += 1;
                match state[w] {
                    State::OnStack => {
                        out.insert((w, v));
                    }
                    State::New => {
                        out.insert((v, w));
                        state[w] = State::OnStack;
                        stack.push((w, 0));
                    }
                    State::Done => {
                        out.insert((v, w));
                    }
                }
            } else {
                state[v] = State::Done;
                stack.pop();
            }
        }
    }
    // A reversed edge can coincide with an existing one; the set merged them.
    out
}

/// Layer of each node: the length of the longest path reaching it from a
/// source (Kahn's algorithm; the result does not depend on visiting order).
fn longest_path_layers(n: usize, dag: &BTreeSet<(usize, usize)>) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in dag {
        succs[a].push(b);
        indegree[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = ready.pop() {
        for &w in &succs[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    layer
}

/// Sorts one layer by the mean position of each node's neighbours in the
/// adjacent layer; a node without neighbours there keeps its position.
/// Ties go to the lower id (rank), so the order is fully determined.
fn reorder(row: &mut [usize], neighbours: &[Vec<usize>], pos: &mut [usize]) {
    let mut keyed: Vec<(f64, usize)> = row
        .iter()
        .map(|&v| {
            let ns = &neighbours[v];
            let bary = if ns.is_empty() {
                pos[v] as f64
            } else {
                ns.iter().map(|&w| pos[w] as f64).sum::<f64>() / ns.len() as f64
            };
            (bary, v)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (i, (_, v)) in keyed.into_iter().enumerate() {
        row[i] = v;
        pos[v] = i;
    }
}

// --- usage trend -------------------------------------------------------------------

const CHART_W: f64 = 760.0;
const CHART_H: f64 = 240.0;
const PAD_L: f64 = 78.0;
const PAD_R: f64 = 40.0;
/// Least distance between x-axis label centres: a `YYYY-MM-DD` is ~65 px.
const LABEL_GAP: f64 = 84.0;
const PAD_T: f64 = 14.0;
const PAD_B: f64 = 40.0;

/// The total-views trend across snapshots as an inline SVG area chart with
/// labelled axes, or `None` when there are no snapshots. The output is
/// markup (text escaped here) to be inserted as is.
pub fn trend_chart(points: &[TrendPoint]) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let max = points.iter().map(|p| p.total_views).max().unwrap_or(0).max(0);
    let min = points.iter().map(|p| p.total_views).min().unwrap_or(0).min(0);
    let (lo, hi, step) = nice_scale(min, max);
    let plot_w = CHART_W - PAD_L - PAD_R;
    let plot_h = CHART_H - PAD_T - PAD_B;
    let x_at = |i: usize| {
        if points.len() == 1 {
            PAD_L + plot_w / 2.0
        } else {
            PAD_L + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y_at = |v: i64| PAD_T + plot_h * (1.0 - (v - lo) as f64 / (hi - lo) as f64);

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="trend" viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="Total views per snapshot">"#
    );
    // Horizontal grid lines with the y-axis labels.
    let mut v = lo;
    while v <= hi {
        let y = y_at(v);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{PAD_L}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            CHART_W - PAD_R,
            PAD_L - 8.0,
            y + 4.0,
            short_number(v)
        );
        v += step;
    }
    // The area under the line, then the line, then one dot per snapshot.
    let base = y_at(lo.max(0).min(hi));
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(line, "{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, x_at(i), y_at(p.total_views));
    }
    if points.len() > 1 {
        let _ = write!(
            s,
            r#"<path class="area" d="{line} L{:.1},{base:.1} L{:.1},{base:.1} Z"/>"#,
            x_at(points.len() - 1),
            x_at(0)
        );
        let _ = write!(s, r#"<path class="line" d="{line}"/>"#);
    }
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            s,
            r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3.5"><title>{}: {} views (run {})</title></circle>"#,
            x_at(i),
            y_at(p.total_views),
            escape(&p.snapshot_date),
            crate::audit::thousands(p.total_views),
            escape(&p.run_id)
        );
    }
    // X-axis: date labels at least LABEL_GAP apart, always the first and
    // the last (dropping a regular one that would crowd the last).
    let axis_y = CHART_H - PAD_B;
    let _ = write!(s, r#"<line class="axis-line" x1="{PAD_L}" x2="{:.1}" y1="{axis_y:.1}" y2="{axis_y:.1}"/>"#, CHART_W - PAD_R);
    let last = points.len() - 1;
    let step_px = if last == 0 { plot_w } else { plot_w / last as f64 };
    let every = ((LABEL_GAP / step_px).ceil() as usize).max(1);
    for (i, p) in points.iter().enumerate() {
        let regular = i % every == 0 && (last - i) as f64 * step_px >= LABEL_GAP;
        if !regular && i != last {
            continue;
        }
        let _ = write!(
            s,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x_at(i),
            axis_y + 18.0,
            escape(&p.snapshot_date)
        );
    }
    let _ = write!(
        s,
        r#"<text class="axis-title" x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">total views</text>"#,
        PAD_T + plot_h / 2.0,
        PAD_T + plot_h / 2.0
    );
    let _ = write!(s, r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">snapshot date</text>"#, PAD_L + plot_w / 2.0, CHART_H - 4.0);
    s.push_str("</svg>");
    Some(s)
}

/// A scale from `lo` to `hi` in round steps (1, 2 or 5 times a power of
/// ten), about five steps, never empty.
fn nice_scale(min: i64, max: i64) -> (i64, i64, i64) {
    let span = (max - min).max(1) as f64;
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let step = (step.round() as i64).max(1);
    let lo = (min as f64 / step as f64).floor() as i64 * step;
    let hi = (max as f64 / step as f64).ceil() as i64 * step;
    (lo, if hi > lo { hi } else { lo + step }, step)
}

/// 1234567 → "1.2M", for axis labels.
fn short_number(v: i64) -> String {
    let a = v.unsigned_abs() as f64;
    let sign = if v < 0 { "-" } else { "" };
    let (n, unit) = match a {
        a if a >= 1e9 => (a / 1e9, "B"),
        a if a >= 1e6 => (a / 1e6, "M"),
        a if a >= 1e3 => (a / 1e3, "k"),
        _ => return v.to_string(),
    };
    let text = format!("{n:.1}");
    format!("{sign}{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// Escapes text for SVG/HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_chart_escapes_and_labels() {
        let p = |d: &str, v| TrendPoint { run_id: "<run>".into(), snapshot_date: d.into(), total_views: v };
        assert!(trend_chart(&[]).is_none());
        let one = trend_chart(&[p("2026-01-01", 5)]).unwrap();
        assert!(one.contains("2026-01-01") && !one.contains("<run>") && one.contains("&lt;run&gt;"));
        let many: Vec<TrendPoint> = (0..30).map(|i| p(&format!("2026-01-{:02}", i + 1), 1_000_000 + i * 1000)).collect();
        let svg = trend_chart(&many).unwrap();
        assert!(svg.contains("2026-01-01") && svg.contains("2026-01-30") && svg.contains("1M"));
        assert_eq!(svg, trend_chart(&many).unwrap());
    }

    #[test]
    fn numbers() {
        assert_eq!(short_number(1_500_000), "1.5M");
        assert_eq!(short_number(2000), "2k");
        assert_eq!(nice_scale(0, 0), (0, 1, 1));
        assert_eq!(nice_scale(0, 97), (0, 100, 20));
    }
}
