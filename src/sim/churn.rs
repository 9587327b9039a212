//! Content that changes while a client pages through it: the Metadata
//! API's `fieldsConnection` loses and gains fields at set requests, so a
//! test can check that a client reading it in pages ends with exactly the
//! fields of one moment, or fails, and never drops or repeats one.
//!
//! [`Churn`] names a GraphQL operation and the requests of it (counted from
//! 1, in arrival order) at which the change happens. Each change hides the
//! `moved` visible fields with the smallest ids, so every later offset
//! shifts, and reveals `moved` of the fields held back from the start, the
//! ones with the largest ids, so `totalCount` stays the same. Only the root
//! `fieldsConnection` is affected; the rest of the graph still names every
//! field.

use std::collections::HashSet;
use std::sync::Mutex;

use super::dataset::Dataset;
use super::metadata::graph::N;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Churn {
    /// The GraphQL operation whose requests are counted (e.g. `Fields`).
    pub operation: String,
    /// The requests of it that change the site first.
    pub at: Vec<u64>,
    /// Fields hidden, and others revealed, at each change.
    pub moved: usize,
}

#[derive(Default)]
struct State {
    requests: u64,
    /// Fields not listed now, by index.
    hidden: HashSet<u32>,
    /// Held back from the start, to reveal: largest ids last.
    to_reveal: Vec<u32>,
    changes: u64,
}

/// The churn of a running site.
#[derive(Default)]
pub struct Churning {
    plan: Option<Churn>,
    state: Mutex<State>,
}

impl Churning {
    pub fn new(plan: Option<Churn>, d: &Dataset) -> Churning {
        let mut state = State::default();
        if let Some(p) = &plan {
            let mut by_id: Vec<u32> = (0..d.lineage.fields.len() as u32).collect();
            by_id.sort_by(|a, b| {
                d.lineage.fields[*a as usize]
                    .id
                    .cmp(&d.lineage.fields[*b as usize].id)
            });
            let held = (p.moved * p.at.len()).min(by_id.len() / 2);
            state.to_reveal = by_id[by_id.len() - held..].to_vec();
            state.hidden = state.to_reveal.iter().copied().collect();
        }
        Churning {
            plan,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request of `operation`; changes the site if it is one of
    /// the planned ones.
    pub fn on_request(&self, operation: Option<&str>, d: &Dataset) {
        let Some(plan) = &self.plan else { return };
        if operation != Some(plan.operation.as_str()) {
            return;
        }
        let mut s = self.lock();
        s.requests += 1;
        if !plan.at.contains(&s.requests) {
            return;
        }
        let fields = &d.lineage.fields;
        let mut visible: Vec<u32> = (0..fields.len() as u32)
            .filter(|f| !s.hidden.contains(f))
            .collect();
        visible.sort_by(|a, b| fields[*a as usize].id.cmp(&fields[*b as usize].id));
        for f in visible.into_iter().take(plan.moved) {
            s.hidden.insert(f);
        }
        for _ in 0..plan.moved {
            if let Some(f) = s.to_reveal.pop() {
                s.hidden.remove(&f);
            }
        }
        s.changes += 1;
        tracing::info!(
            operation = plan.operation,
            request = s.requests,
            moved = plan.moved,
            "churn: fields moved"
        );
    }

    /// Whether `connection` lists fewer nodes than the dataset has now.
    pub fn filters(&self, connection: &str) -> bool {
        self.plan.is_some() && connection == "fieldsConnection"
    }

    /// Whether a node is listed now.
    pub fn listed(&self, n: N) -> bool {
        match n {
            N::Field(f) => !self.lock().hidden.contains(&f),
            _ => true,
        }
    }

    /// The fields listed now, by index: the ground truth after a run.
    pub fn listed_fields(&self, d: &Dataset) -> Vec<u32> {
        let s = self.lock();
        (0..d.lineage.fields.len() as u32)
            .filter(|f| !s.hidden.contains(f))
            .collect()
    }

    /// Changes made so far.
    pub fn changes(&self) -> u64 {
        self.lock().changes
    }
}
