//! `trm permissions export`: the site's rules as a permissions file.
//!
//! Everything is read through the REST API: each project's lock mode and
//! rules, its default rules for every content type the server answers
//! for, and the rules of the workbooks, data sources, flows and views
//! (of workbooks that hide their tabs) of projects that are not locked
//! (locked content has the project's defaults and no rules of its own). Items without rules are left out. Each grantee's
//! capabilities become the template leaving the fewest overrides.

use std::collections::{BTreeMap, HashMap};

use super::model::{self, PermissionsFile, ProjectSpec, RuleSpec, DEFAULT_KINDS, ITEM_KINDS};
use super::read::{self, Directory, Rules, Target};
use crate::tableau::Client;

/// What was exported, for the header and the command's summary.
#[derive(Clone, Debug, Default)]
pub struct Exported {
    pub file: PermissionsFile,
    pub projects: usize,
    pub items: usize,
    pub rules: usize,
    /// Things left out, and why.
    pub warnings: Vec<String>,
}

/// Reads the site (or the project at `only` and the projects below it).
pub async fn export(client: &Client, only: Option<&str>) -> anyhow::Result<Exported> {
    let (projects, dir) = futures::try_join!(read::projects(client), read::directory(client))?;
    let only = only.map(|p| p.trim_matches('/').to_string());
    let chosen: Vec<&read::ProjectState> = projects
        .iter()
        .filter(|p| match &only {
            None => true,
            Some(o) => p.project.path == *o || p.project.path.starts_with(&format!("{o}/")),
        })
        .collect();
    if let Some(o) = &only {
        anyhow::ensure!(!chosen.is_empty(), "no project at path {o:?} on the site");
    }
    let mut out = Exported::default();

    // Default-rule types: those the server answers for on the first project.
    let mut kinds: Vec<&'static str> = Vec::new();
    if let Some(first) = chosen.first() {
        for &kind in DEFAULT_KINDS {
            match read::rules(
                client,
                &Target::Default {
                    project: first.project.luid.clone(),
                    kind,
                },
            )
            .await
            {
                Ok(_) => kinds.push(kind),
                Err(e) if matches!(e.status(), Some(400 | 404)) => {
                    out.warnings
                        .push(format!("the server has no default {kind} rules; left out"));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    let mut targets: Vec<Target> = Vec::new();
    for p in &chosen {
        targets.push(Target::Project {
            project: p.project.luid.clone(),
        });
        for &kind in &kinds {
            targets.push(Target::Default {
                project: p.project.luid.clone(),
                kind,
            });
        }
    }
    let unlocked: HashMap<&str, &str> = chosen
        .iter()
        .filter(|p| !p.lock.locked())
        .map(|p| (p.project.luid.as_str(), p.project.path.as_str()))
        .collect();
    let mut item_names: HashMap<Target, (String, &'static str, String)> = HashMap::new();
    for &kind in ITEM_KINDS {
        let Some(list) = read::items(client, kind).await? else {
            out.warnings
                .push(format!("the server lists no {kind}; left out"));
            continue;
        };
        for i in list.into_iter().filter(|i| i.own_rules) {
            if let Some(path) = unlocked.get(i.project_luid.as_str()) {
                let t = Target::Item {
                    kind,
                    luid: i.luid.clone(),
                };
                item_names.insert(t.clone(), (path.to_string(), kind, i.name.clone()));
                targets.push(t);
            }
        }
    }
    let current = read::many_rules(client, targets).await?;

    let mut by_path: BTreeMap<String, ProjectSpec> = BTreeMap::new();
    for p in &chosen {
        let spec = ProjectSpec {
            content_permissions: Some(p.lock),
            rules: Some(specs(
                "projects",
                current.get(&Target::Project {
                    project: p.project.luid.clone(),
                }),
                &dir,
                &mut out.rules,
            )),
            defaults: kinds
                .iter()
                .filter_map(|&kind| {
                    let rules = current.get(&Target::Default {
                        project: p.project.luid.clone(),
                        kind,
                    })?;
                    (!rules.is_empty()).then(|| {
                        (
                            kind.to_string(),
                            specs(kind, Some(rules), &dir, &mut out.rules),
                        )
                    })
                })
                .collect(),
            ..ProjectSpec::default()
        };
        if by_path.insert(p.project.path.clone(), spec).is_some() {
            out.warnings.push(format!(
                "two projects have the path {:?}; only one is exported",
                p.project.path
            ));
        }
    }
    let mut items: Vec<(&Target, &(String, &'static str, String))> = item_names.iter().collect();
    items.sort_by(|a, b| a.1.cmp(b.1));
    for (t, (path, kind, name)) in items {
        let Some(rules) = current.get(t).filter(|r| !r.is_empty()) else {
            continue;
        };
        let list = specs(kind, Some(rules), &dir, &mut out.rules);
        let Some(map) = by_path.get_mut(path).and_then(|s| s.items_mut(kind)) else {
            continue;
        };
        if map.insert(name.clone(), list).is_some() {
            out.warnings.push(format!(
                "two {kind} in {path:?} are named {name:?}; only one is exported"
            ));
        }
        out.items += 1;
    }
    out.projects = by_path.len();
    out.file = PermissionsFile { projects: by_path };
    Ok(out)
}

/// A rule list from current rules: groups first, then users, by name.
fn specs(kind: &str, rules: Option<&Rules>, dir: &Directory, count: &mut usize) -> Vec<RuleSpec> {
    let mut out: Vec<(bool, String, RuleSpec)> = Vec::new();
    let known = model::capabilities(kind);
    for (g, caps) in rules.into_iter().flatten() {
        // Read-only capabilities (InheritedProjectLeader) cannot be written back.
        let caps: model::Caps = caps
            .iter()
            .filter(|(c, _)| known.contains(&c.as_str()))
            .map(|(c, m)| (c.clone(), *m))
            .collect();
        if caps.is_empty() {
            continue;
        }
        let (template, allow, deny) = model::compress(kind, &caps);
        let name = dir.name(g);
        let user = matches!(g, read::Grantee::User(_));
        let spec = RuleSpec {
            group: (!user).then(|| name.clone()),
            user: user.then(|| name.clone()),
            template,
            allow,
            deny,
        };
        out.push((user, name, spec));
        *count += 1;
    }
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out.into_iter().map(|(_, _, s)| s).collect()
}

/// The file's text, with a header saying where it came from.
pub fn to_yaml(e: &Exported, server: &str, site: &str) -> anyhow::Result<String> {
    let body = serde_norway::to_string(&e.file)?;
    Ok(format!(
        "# Permissions of site {site:?} on {server}, written by `trm permissions export`.\n\
         # {} project(s), {} item(s) with rules of their own, {} rule(s).\n\
         # Templates: View, Explore, Publish, Administer, Denied; `allow`/`deny` override single capabilities.\n{body}",
        e.projects, e.items, e.rules
    ))
}
