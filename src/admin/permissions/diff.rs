//! From a checked file and the site's state to the plan.
//!
//! [`resolve`] turns names into LUIDs and refuses what the site cannot
//! take (an unknown project, group, user or item; item rules in a locked
//! project), each error placed in the file. [`diff`] is pure: per object
//! and grantee it compares the current capabilities with the desired ones.
//! Identical: no call. Otherwise each capability whose mode differs, or
//! that is not desired, is deleted (`DELETE …/{users|groups}/{id}/{cap}/{mode}`),
//! and one additive `PUT …/permissions` per object adds every missing
//! capability of every grantee. A PUT never changes a capability a grantee
//! already has in the other mode, so the deletes run one engine step
//! before the PUT.
//!
//! Steps: 1 lock changes (`PUT projects/{id}`), 2–3 project rules
//! (deletes, then PUTs), 4–5 default rules, 6–7 item rules. Locks go first
//! because a lock decides whether item rules can be written at all.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::model::{self, Caps, FileError, FileErrors, LockMode, PermissionsFile, Step};
use super::read::{Directory, Grantee, Item, ProjectState, Rules, Target};
use crate::admin::plan::{Call, Plan, WriteMethod};

/// Where an object's rules sit, for the engine's step order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Project,
    Default,
    Item,
}

impl Stage {
    fn steps(self) -> (u32, u32) {
        match self {
            Stage::Project => (2, 3),
            Stage::Default => (4, 5),
            Stage::Item => (6, 7),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Stage::Project => "project",
            Stage::Default => "default",
            Stage::Item => "item",
        }
    }
}

/// One object the file manages, with its desired rules.
#[derive(Clone, Debug)]
pub struct Desired {
    pub project_path: String,
    pub stage: Stage,
    pub target: Target,
    /// For people: `Finance/Reports`, `Finance/Reports default workbooks`,
    /// `workbook Finance/Reports/Sales`.
    pub label: String,
    pub rules: Rules,
}

/// A project's lock change.
#[derive(Clone, Debug)]
pub struct LockChange {
    pub project_path: String,
    pub project_luid: String,
    pub from: LockMode,
    pub to: LockMode,
}

/// What the file asks of the site, in LUIDs.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// Project paths in the file, in order.
    pub projects: Vec<String>,
    pub locks: Vec<LockChange>,
    pub objects: Vec<Desired>,
    /// Projects being unlocked whose items the file also lists: their
    /// current item rules are read while still locked.
    pub unlocking_with_items: Vec<String>,
}

/// The site state names resolve against.
pub struct Site<'a> {
    pub projects: &'a [ProjectState],
    pub directory: &'a Directory,
    /// Items per kind; a kind absent here was not listed by the server.
    pub items: &'a HashMap<&'static str, Vec<Item>>,
}

/// Resolves names; every problem is reported, each with its place.
pub fn resolve(
    f: &PermissionsFile,
    site: &Site,
    text: &str,
    file: &str,
) -> Result<Resolved, FileErrors> {
    let loc = model::Locator::new(text);
    let errors: RefCell<Vec<FileError>> = RefCell::new(Vec::new());
    let err = |path: Vec<Step>, message: String| {
        errors.borrow_mut().push(FileError {
            file: file.into(),
            line: loc.line(&path),
            key: model::key_path(&path),
            message,
        });
    };
    let by_path: HashMap<&str, &ProjectState> = site
        .projects
        .iter()
        .map(|p| (p.project.path.as_str(), p))
        .collect();
    let mut item_index: HashMap<(&str, &str, &str), &Item> = HashMap::new();
    for (kind, list) in site.items {
        for i in list {
            item_index.insert((*kind, i.project_luid.as_str(), i.name.as_str()), i);
        }
    }
    let mut out = Resolved::default();
    for (path, spec) in &f.projects {
        let base = vec![Step::Key("projects".into()), Step::Key(path.clone())];
        let Some(project) = by_path.get(path.trim_matches('/')) else {
            err(base, format!("no project at path {path:?} on the site (paths run from the top, e.g. Finance/Reports)"));
            continue;
        };
        let luid = project.project.luid.clone();
        out.projects.push(path.clone());
        let lock = spec.content_permissions.unwrap_or(project.lock);
        if lock != project.lock {
            out.locks.push(LockChange {
                project_path: path.clone(),
                project_luid: luid.clone(),
                from: project.lock,
                to: lock,
            });
        }
        let rules_of = |list: &[model::RuleSpec], kind: &str, at: &[Step]| -> Rules {
            let mut rules = Rules::new();
            for (i, r) in list.iter().enumerate() {
                let mut p = at.to_vec();
                p.push(Step::Index(i));
                let grantee = match (&r.group, &r.user) {
                    (Some(g), _) => site
                        .directory
                        .groups
                        .get(g)
                        .map(|id| Grantee::Group(id.clone()))
                        .ok_or_else(|| {
                            p.push(Step::Key("group".into()));
                            format!("no group named {g:?} on the site")
                        }),
                    (_, Some(u)) => site
                        .directory
                        .users
                        .get(u)
                        .map(|id| Grantee::User(id.clone()))
                        .ok_or_else(|| {
                            p.push(Step::Key("user".into()));
                            format!("no user named {u:?} on the site")
                        }),
                    (None, None) => continue,
                };
                match grantee {
                    Ok(g) => {
                        // `check` has refused bad templates and capabilities.
                        rules.insert(g, model::expand(kind, r).unwrap_or_default());
                    }
                    Err(message) => err(p, message),
                }
            }
            rules
        };
        if let Some(list) = &spec.rules {
            let mut at = base.clone();
            at.push(Step::Key("rules".into()));
            let rules = rules_of(list, "projects", &at);
            out.objects.push(Desired {
                project_path: path.clone(),
                stage: Stage::Project,
                target: Target::Project {
                    project: luid.clone(),
                },
                label: path.clone(),
                rules,
            });
        }
        for (kind, list) in &spec.defaults {
            let mut at = base.clone();
            at.extend([Step::Key("defaults".into()), Step::Key(kind.clone())]);
            let kind = model::kind_static(kind);
            let rules = rules_of(list, kind, &at);
            out.objects.push(Desired {
                project_path: path.clone(),
                stage: Stage::Default,
                target: Target::Default {
                    project: luid.clone(),
                    kind,
                },
                label: format!("{path} default {kind}"),
                rules,
            });
        }
        let mut lists_items = false;
        for (kind, items) in spec.items() {
            for (name, list) in items {
                lists_items = true;
                let mut at = base.clone();
                at.extend([Step::Key(kind.into()), Step::Key(name.clone())]);
                if lock.locked() {
                    err(
                        at,
                        format!(
                            "project {path:?} is {} (content_permissions), so its content takes the project's default \
                             rules and can have no rules of its own; set default rules, or ManagedByOwner",
                            lock.as_str()
                        ),
                    );
                    continue;
                }
                if !site.items.contains_key(kind) {
                    err(at, format!("the site lists no {kind}"));
                    continue;
                }
                let Some(item) = item_index.get(&(kind, luid.as_str(), name.as_str())) else {
                    err(
                        at,
                        format!(
                            "no {} named {name:?} in project {path:?}",
                            model::singular(kind)
                        ),
                    );
                    continue;
                };
                if !item.own_rules {
                    err(
                        at,
                        format!(
                            "view {name:?} takes its workbook's rules: the workbook shows its sheets as tabs; \
                             set the rules on the workbook, or have it hide its tabs"
                        ),
                    );
                    continue;
                }
                let rules = rules_of(list, kind, &at);
                out.objects.push(Desired {
                    project_path: path.clone(),
                    stage: Stage::Item,
                    target: Target::Item {
                        kind,
                        luid: item.luid.clone(),
                    },
                    label: format!("{} {path}/{name}", model::singular(kind)),
                    rules,
                });
            }
        }
        if lists_items && project.lock.locked() && !lock.locked() {
            out.unlocking_with_items.push(path.clone());
        }
    }
    let errors = errors.into_inner();
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(FileErrors(errors))
    }
}

/// What planning looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub objects: usize,
    /// Grantee × object pairs compared.
    pub rules: usize,
}

/// The calls that take `current` to `resolved` (pure). With `prune`,
/// grantees a managed object has but the file does not name lose every
/// capability; without it they are left alone.
pub fn diff(
    resolved: &Resolved,
    current: &HashMap<Target, Rules>,
    dir: &Directory,
    prune: bool,
) -> (Plan, Stats) {
    let mut plan = Plan::new();
    let mut stats = Stats::default();
    let mut per_project: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    let mut lock_of: HashMap<&str, &LockChange> = HashMap::new();
    for l in &resolved.locks {
        lock_of.insert(l.project_path.as_str(), l);
        plan.push(
            Call::site(
                WriteMethod::Put,
                format!("projects/{}", l.project_luid),
                "change project lock",
                format!(
                    "{}: contentPermissions {} → {}",
                    l.project_path,
                    l.from.as_str(),
                    l.to.as_str()
                ),
            )
            .body(json!({"project": {"contentPermissions": l.to.as_str()}}))
            .step(1)
            .unit(l.project_path.clone()),
        );
        per_project.entry(l.project_path.as_str()).or_default()[0] += 1;
    }
    let empty = Rules::new();
    let no_caps = Caps::new();
    let mut deletes: Vec<Call> = Vec::new();
    let mut puts: Vec<Call> = Vec::new();
    let mut objects: Vec<&Desired> = resolved.objects.iter().collect();
    objects.sort_by_key(|o| o.stage);
    for o in objects {
        stats.objects += 1;
        let cur = current.get(&o.target).unwrap_or(&empty);
        // Capabilities the type does not list (a read-only
        // InheritedProjectLeader) cannot be written; they are left alone.
        let known = model::capabilities(o.target.kind());
        let (del_step, put_step) = o.stage.steps();
        let path = o.target.path();
        let mut adds: Vec<(&Grantee, Vec<(&str, model::Mode)>)> = Vec::new();
        let mut calls = 0usize;
        let mut removals = |g: &Grantee, have: &Caps, want: Option<&Caps>| {
            for (cap, mode) in have {
                if want.and_then(|w| w.get(cap)) != Some(mode) && known.contains(&cap.as_str()) {
                    deletes.push(
                        Call::site(
                            WriteMethod::Delete,
                            format!("{path}/{}/{}/{cap}/{}", g.segment(), g.id(), mode.as_str()),
                            format!("delete {} rule", o.stage.noun()),
                            format!(
                                "{}: {} loses {cap} ({})",
                                o.label,
                                dir.label(g),
                                mode.as_str()
                            ),
                        )
                        .step(del_step)
                        .unit(o.label.clone()),
                    );
                    calls += 1;
                }
            }
        };
        for (g, want) in &o.rules {
            stats.rules += 1;
            let have = cur.get(g).unwrap_or(&no_caps);
            if have == want {
                continue;
            }
            removals(g, have, Some(want));
            let missing: Vec<(&str, model::Mode)> = want
                .iter()
                .filter(|(c, m)| have.get(*c) != Some(*m))
                .map(|(c, m)| (c.as_str(), *m))
                .collect();
            if !missing.is_empty() {
                adds.push((g, missing));
            }
        }
        for (g, have) in cur {
            if !o.rules.contains_key(g) {
                stats.rules += 1;
                if prune {
                    removals(g, have, None);
                }
            }
        }
        if !adds.is_empty() {
            let body = put_body(&adds);
            let mut summary = format!("{}:", o.label);
            for (g, caps) in &adds {
                let _ = write!(summary, " {} +", dir.label(g));
                let list: Vec<String> = caps
                    .iter()
                    .map(|(c, m)| {
                        if *m == model::Mode::Deny {
                            format!("{c}(Deny)")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                summary.push_str(&list.join(","));
                summary.push(';');
            }
            summary.pop();
            puts.push(
                Call::site(
                    WriteMethod::Put,
                    path.clone(),
                    format!("add {} rules", o.stage.noun()),
                    summary,
                )
                .body(body)
                .step(put_step)
                .unit(o.label.clone()),
            );
            calls += 1;
        }
        let slot = match o.stage {
            Stage::Project => 1,
            Stage::Default => 2,
            Stage::Item => 3,
        };
        per_project.entry(o.project_path.as_str()).or_default()[slot] += calls;
    }
    // Deletes and PUTs interleave by step: 2 (deletes) 3 (PUTs) 4 5 6 7.
    let mut rest: Vec<Call> = deletes.into_iter().chain(puts).collect();
    rest.sort_by_key(|c| c.step);
    for c in rest {
        plan.push(c);
    }
    for path in &resolved.projects {
        let n = per_project.get(path.as_str()).copied().unwrap_or_default();
        let lock = match lock_of.get(path.as_str()) {
            Some(l) => format!("lock {} → {}", l.from.as_str(), l.to.as_str()),
            None => "lock unchanged".to_string(),
        };
        let total: usize = n.iter().sum();
        plan.note(
            Some(path.clone()),
            format!("{lock}; {} call(s) on project rules, {} on default rules, {} on item rules ({total} in all)", n[1], n[2], n[3]),
        );
    }
    for path in &resolved.unlocking_with_items {
        plan.note(
            Some(path.clone()),
            "the project is unlocked by this plan; its items' rules were read while locked (the project's defaults), \
             so run the command again after applying to confirm nothing is left",
        );
    }
    (plan, stats)
}

/// `{"permissions": {"granteeCapabilities": [{"group": {"id": …},
/// "capabilities": {"capability": [{"name": …, "mode": …}]}}]}}`, Tableau's
/// JSON form of Add Permissions.
fn put_body(adds: &[(&Grantee, Vec<(&str, model::Mode)>)]) -> Value {
    let grants: Vec<Value> = adds
        .iter()
        .map(|(g, caps)| {
            let caps: Vec<Value> = caps
                .iter()
                .map(|(c, m)| json!({"name": c, "mode": m.as_str()}))
                .collect();
            let mut entry = serde_json::Map::new();
            entry.insert(g.element().to_string(), json!({"id": g.id()}));
            entry.insert("capabilities".to_string(), json!({"capability": caps}));
            Value::Object(entry)
        })
        .collect();
    json!({"permissions": {"granteeCapabilities": grants}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::permissions::model::Mode;

    fn caps(list: &[(&str, Mode)]) -> Caps {
        list.iter().map(|(c, m)| (c.to_string(), *m)).collect()
    }

    fn setup() -> (Resolved, HashMap<Target, Rules>, Directory) {
        let dir = Directory::new(
            [("g1".to_string(), "Sales".to_string())],
            [("u1".to_string(), "bob".to_string())],
        );
        let t = Target::Item {
            kind: "workbooks",
            luid: "w1".into(),
        };
        let mut current = HashMap::new();
        current.insert(
            t.clone(),
            Rules::from([
                (
                    Grantee::Group("g1".into()),
                    caps(&[
                        ("Read", Mode::Allow),
                        ("ExportData", Mode::Allow),
                        ("Filter", Mode::Allow),
                    ]),
                ),
                (Grantee::User("u1".into()), caps(&[("Read", Mode::Allow)])),
            ]),
        );
        let desired = Desired {
            project_path: "P".into(),
            stage: Stage::Item,
            target: t,
            label: "workbook P/W".into(),
            rules: Rules::from([(
                Grantee::Group("g1".into()),
                caps(&[
                    ("Read", Mode::Allow),
                    ("ExportData", Mode::Deny),
                    ("Write", Mode::Allow),
                ]),
            )]),
        };
        (
            Resolved {
                projects: vec!["P".into()],
                objects: vec![desired],
                ..Resolved::default()
            },
            current,
            dir,
        )
    }

    #[test]
    fn only_differing_capabilities_are_deleted_and_one_put_adds_the_rest() {
        let (resolved, current, dir) = setup();
        let (plan, stats) = diff(&resolved, &current, &dir, false);
        let lines: Vec<String> = plan.calls.iter().map(|c| c.line()).collect();
        assert_eq!(
            lines,
            vec![
                "DELETE workbooks/w1/permissions/groups/g1/ExportData/Allow",
                "DELETE workbooks/w1/permissions/groups/g1/Filter/Allow",
                "PUT workbooks/w1/permissions",
            ]
        );
        assert_eq!(plan.calls[2].step, 7);
        assert_eq!(
            plan.calls[2].body.as_ref().unwrap()["permissions"]["granteeCapabilities"][0]
                ["capabilities"]["capability"],
            json!([{"name": "ExportData", "mode": "Deny"}, {"name": "Write", "mode": "Allow"}])
        );
        assert_eq!(
            stats,
            Stats {
                objects: 1,
                rules: 2
            }
        );
        assert!(
            plan.notes[0].message.contains("3 on item rules"),
            "{:?}",
            plan.notes
        );
        // With --prune bob loses Read too.
        let (plan, _) = diff(&resolved, &current, &dir, true);
        assert_eq!(plan.len(), 4);
        assert!(plan
            .calls
            .iter()
            .any(|c| c.path == "workbooks/w1/permissions/users/u1/Read/Allow"));
    }

    #[test]
    fn reaching_the_state_plans_nothing() {
        let (resolved, mut current, dir) = setup();
        let t = resolved.objects[0].target.clone();
        let mut now = resolved.objects[0].rules.clone();
        now.insert(Grantee::User("u1".into()), caps(&[("Read", Mode::Allow)]));
        current.insert(t, now);
        let (plan, _) = diff(&resolved, &current, &dir, false);
        assert!(plan.is_empty(), "{}", plan.render(10));
    }
}
