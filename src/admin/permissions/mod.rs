//! Permissions as code: a YAML file of rules ([`model`]) exported from a
//! site ([`export`]), planned against the site's current rules ([`read`],
//! [`diff`]) and applied through the admin engine.
//!
//! Planning reads only what the file names: the projects it lists, and of
//! those only the keys it gives (`rules`, each `defaults` type, each item).
//! Anything else on the site is left alone.

pub mod diff;
pub mod export;
pub mod model;
pub mod read;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::admin::Plan;
use crate::tableau::Client;

/// A plan with what it took to make it.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub stats: diff::Stats,
    /// Reading the site (projects, users, groups, items, rules).
    pub read_time: Duration,
    /// Computing the plan from what was read.
    pub plan_time: Duration,
}

/// Reads the file's text, checks it against the site and plans the calls
/// that reach it. Every error in the file is reported before any write;
/// `file` names it in messages.
pub async fn plan_file(
    client: &Client,
    text: &str,
    file: &str,
    prune: bool,
) -> anyhow::Result<Planned> {
    let parsed = model::parse(text, file)?;
    model::check(&parsed, text, file)?;
    let started = Instant::now();
    let (projects, dir) = futures::try_join!(read::projects(client), read::directory(client))?;
    let mut kinds: HashSet<&'static str> = HashSet::new();
    for spec in parsed.projects.values() {
        for (kind, items) in spec.items() {
            if !items.is_empty() {
                kinds.insert(kind);
            }
        }
    }
    let mut items = HashMap::new();
    for kind in kinds {
        if let Some(list) = read::items(client, kind).await? {
            items.insert(kind, list);
        }
    }
    let site = diff::Site {
        projects: &projects,
        directory: &dir,
        items: &items,
    };
    let resolved = diff::resolve(&parsed, &site, text, file)?;
    let targets = resolved.objects.iter().map(|o| o.target.clone()).collect();
    let current = read::many_rules(client, targets).await?;
    let read_time = started.elapsed();
    let started = Instant::now();
    let (plan, stats) = diff::diff(&resolved, &current, &dir, prune);
    let plan_time = started.elapsed();
    Ok(Planned {
        plan,
        stats,
        read_time,
        plan_time,
    })
}
