//! Impact and provenance: everything downstream (what breaks if X goes) or
//! upstream (what X is built from) of one node, as a breadth-first tree in
//! which each asset appears once, at its shortest distance.

use std::collections::VecDeque;

use petgraph::graph::NodeIndex;
use serde::Serialize;

use super::{Graph, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
}

/// One asset reached, with how it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct WalkNode {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub depth: usize,
    /// The `id` of the node it was reached from; `None` for the root.
    pub via: Option<String>,
    #[serde(skip)]
    pub index: NodeIndex,
    #[serde(skip)]
    pub parent: Option<usize>,
}

/// The result of [`walk`]: the root first, then breadth-first, children of
/// one parent ordered by kind, name and id (so output is stable).
#[derive(Debug, Clone, Serialize)]
pub struct Walk {
    pub direction: &'static str,
    pub nodes: Vec<WalkNode>,
    /// Assets reached beyond `max_depth`, not listed.
    pub truncated: usize,
}

impl Walk {
    /// Assets reached, by kind (the root excluded).
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for k in Kind::ALL {
            let n = self.nodes.iter().skip(1).filter(|w| w.kind == k.as_str()).count();
            if n > 0 {
                counts.push((k.as_str(), n));
            }
        }
        counts
    }

    /// Whether an asset with this id was reached.
    pub fn contains(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    /// The tree, two spaces per level: `kind "name" (id)`.
    pub fn render_tree(&self) -> String {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(p) = n.parent {
                children[p].push(i);
            }
        }
        let mut out = String::new();
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            let n = &self.nodes[i];
            out += &format!("{}{} \"{}\" ({})\n", "  ".repeat(depth), n.kind, n.name.escape_debug(), n.id);
            for &c in children[i].iter().rev() {
                stack.push((c, depth + 1));
            }
        }
        if self.truncated > 0 {
            out += &format!("… and {} more beyond the depth limit\n", self.truncated);
        }
        out
    }
}

/// Walks from `root` in `direction`, up to `max_depth` edges away.
pub fn walk(g: &Graph, root: NodeIndex, direction: Direction, max_depth: Option<usize>) -> Walk {
    let mut seen = vec![false; g.graph.node_count()];
    let mut nodes: Vec<WalkNode> = Vec::new();
    let mut queue = VecDeque::new();
    let entry = |ix: NodeIndex, depth: usize, parent: Option<usize>, nodes: &Vec<WalkNode>| {
        let n = g.node(ix);
        WalkNode {
            id: n.id.to_string(),
            kind: n.kind.as_str(),
            name: n.name.to_string(),
            depth,
            via: parent.map(|p| nodes[p].id.clone()),
            index: ix,
            parent,
        }
    };
    seen[root.index()] = true;
    nodes.push(entry(root, 0, None, &nodes));
    queue.push_back(0usize);
    let mut truncated = 0;
    while let Some(i) = queue.pop_front() {
        let (ix, depth) = (nodes[i].index, nodes[i].depth);
        let mut next: Vec<NodeIndex> = match direction {
            Direction::Downstream => g.downstream(ix).map(|(n, _)| n).collect(),
            Direction::Upstream => g.upstream(ix).map(|(n, _)| n).collect(),
        };
        next.sort_by(|a, b| {
            let (a, b) = (g.node(*a), g.node(*b));
            (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id))
        });
        next.dedup();
        for n in next {
            if seen[n.index()] {
                continue;
            }
            seen[n.index()] = true;
            if max_depth.is_some_and(|m| depth + 1 > m) {
                truncated += 1;
                continue;
            }
            let e = entry(n, depth + 1, Some(i), &nodes);
            nodes.push(e);
            queue.push_back(nodes.len() - 1);
        }
    }
    Walk {
        direction: match direction {
            Direction::Downstream => "downstream",
            Direction::Upstream => "upstream",
        },
        nodes,
        truncated,
    }
}
