//! The permissions file: its YAML form, Tableau's capability templates per
//! content type, and checks that need no site (templates, capabilities).
//!
//! ```yaml
//! projects:
//!   Finance/Reports:
//!     content_permissions: ManagedByOwner
//!     rules:
//!       - group: Finance
//!         template: Publish
//!     defaults:
//!       workbooks:
//!         - group: Finance
//!           template: Explore
//!           deny: [ExportData]
//!     workbooks:
//!       Quarterly Sales:
//!         - user: alice@example.com
//!           template: View
//! ```
//!
//! A rule's capabilities are its template's, each set to Allow (Denied:
//! every capability of the type set to Deny), then `allow` and `deny` set
//! single capabilities either way. What a rule does not name stays
//! unspecified.
//!
//! Line numbers: syntax and type errors come from serde_norway with their
//! position. Its `Value` keeps no positions, so errors found after parsing
//! (an unknown group, a capability a type does not have) are placed by
//! [`Locator`], which walks the text's indentation down the key path of
//! the offending entry. It understands the block style `export` writes
//! and that people write by hand; inside a flow collection (`[a, b]`) it
//! points at the line holding the collection.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Allow,
    Deny,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Allow => "Allow",
            Mode::Deny => "Deny",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "Allow" => Some(Mode::Allow),
            "Deny" => Some(Mode::Deny),
            _ => None,
        }
    }
}

/// Capability name → mode.
pub type Caps = BTreeMap<String, Mode>;

/// A project's `contentPermissions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    ManagedByOwner,
    LockedToProject,
    LockedToProjectWithoutNested,
}

impl LockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::ManagedByOwner => "ManagedByOwner",
            LockMode::LockedToProject => "LockedToProject",
            LockMode::LockedToProjectWithoutNested => "LockedToProjectWithoutNested",
        }
    }

    pub fn parse(s: &str) -> Option<LockMode> {
        match s {
            "ManagedByOwner" => Some(LockMode::ManagedByOwner),
            "LockedToProject" => Some(LockMode::LockedToProject),
            "LockedToProjectWithoutNested" => Some(LockMode::LockedToProjectWithoutNested),
            _ => None,
        }
    }

    /// Content in the project takes the project's default rules and has
    /// none of its own.
    pub fn locked(self) -> bool {
        self != LockMode::ManagedByOwner
    }
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsFile {
    /// Keyed by project path (`Finance/Reports`).
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectSpec>,
}

/// One project. A key left out is not managed: its rules stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_permissions: Option<LockMode>,
    /// The project's own rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleSpec>>,
    /// Default rules per content type (`workbooks`, `datasources`, `flows`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, Vec<RuleSpec>>,
    /// Item rules by item name, per type; only in projects that are not locked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workbooks: BTreeMap<String, Vec<RuleSpec>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datasources: BTreeMap<String, Vec<RuleSpec>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flows: BTreeMap<String, Vec<RuleSpec>>,
    /// Views by `workbook name/view name`: only views of workbooks that
    /// hide their tabs have rules of their own (a tabbed workbook's views
    /// take the workbook's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<String, Vec<RuleSpec>>,
}

impl ProjectSpec {
    /// The item maps with their content type.
    pub fn items(&self) -> [(&'static str, &BTreeMap<String, Vec<RuleSpec>>); 4] {
        [
            ("workbooks", &self.workbooks),
            ("datasources", &self.datasources),
            ("flows", &self.flows),
            ("views", &self.views),
        ]
    }

    pub fn items_mut(&mut self, kind: &str) -> Option<&mut BTreeMap<String, Vec<RuleSpec>>> {
        match kind {
            "workbooks" => Some(&mut self.workbooks),
            "datasources" => Some(&mut self.datasources),
            "flows" => Some(&mut self.flows),
            "views" => Some(&mut self.views),
            _ => None,
        }
    }
}

/// One grantee's rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

// --- templates ----------------------------------------------------------------

/// Tableau's templates per content type, cumulative, from the permission
/// capabilities reference ("Permission Capabilities and Templates"):
/// each entry is (template, capabilities it adds to the previous one).
type Ladder = &'static [(&'static str, &'static [&'static str])];

/// The View template of workbooks and of views.
const VIEWING: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
];

const WORKBOOKS: Ladder = &[
    ("View", VIEWING),
    (
        "Explore",
        &[
            "ShareView",
            "ViewUnderlyingData",
            "WebAuthoring",
            "RunExplainData",
        ],
    ),
    ("Publish", &["ExportXml", "Write", "CreateRefreshMetrics"]),
    (
        "Administer",
        &["ChangeHierarchy", "Delete", "ChangePermissions"],
    ),
];
const DATASOURCES: Ladder = &[
    ("View", &["Read", "Connect"]),
    ("Explore", &["ExportXml"]),
    ("Publish", &["Write", "SaveAs"]),
    (
        "Administer",
        &["ChangeHierarchy", "Delete", "ChangePermissions"],
    ),
];
const FLOWS: Ladder = &[
    ("View", &["Read"]),
    ("Explore", &["ExportXml"]),
    ("Publish", &["Execute", "Write", "WebAuthoringForFlows"]),
    (
        "Administer",
        &["ChangeHierarchy", "Delete", "ChangePermissions"],
    ),
];
/// A view's capabilities are a workbook's less those of the whole workbook
/// (ExportXml, Write, CreateRefreshMetrics, ChangeHierarchy, RunExplainData).
const VIEWS: Ladder = &[
    ("View", VIEWING),
    ("Explore", &["ShareView", "ViewUnderlyingData", "WebAuthoring"]),
    ("Administer", &["Delete", "ChangePermissions"]),
];
/// Projects have no Explore template; Administer is Project Leader.
const PROJECTS: Ladder = &[
    ("View", &["Read"]),
    ("Publish", &["Write"]),
    ("Administer", &["ProjectLeader"]),
];
const VIRTUAL_CONNECTIONS: Ladder = &[
    ("View", &["Read", "Connect"]),
    (
        "Administer",
        &["Write", "ChangeHierarchy", "Delete", "ChangePermissions"],
    ),
];
/// Data roles, metrics, lenses, databases, tables.
const OTHER: Ladder = &[
    ("View", &["Read"]),
    (
        "Administer",
        &["Write", "ChangeHierarchy", "Delete", "ChangePermissions"],
    ),
];

/// Content types with default rules, in the order they are read.
pub const DEFAULT_KINDS: &[&str] = &[
    "workbooks",
    "datasources",
    "flows",
    "virtualconnections",
    "dataroles",
    "metrics",
    "lenses",
    "databases",
    "tables",
];

/// Content types with item rules in the file.
pub const ITEM_KINDS: &[&str] = &["workbooks", "datasources", "flows", "views"];

fn ladder(kind: &str) -> Option<Ladder> {
    Some(match kind {
        "projects" => PROJECTS,
        "workbooks" => WORKBOOKS,
        "datasources" => DATASOURCES,
        "flows" => FLOWS,
        "views" => VIEWS,
        "virtualconnections" => VIRTUAL_CONNECTIONS,
        "dataroles" | "metrics" | "lenses" | "databases" | "tables" => OTHER,
        _ => return None,
    })
}

/// Whether `kind` is a content type this file knows.
pub fn known_kind(kind: &str) -> bool {
    ladder(kind).is_some()
}

/// Every capability a content type has.
pub fn capabilities(kind: &str) -> Vec<&'static str> {
    ladder(kind)
        .unwrap_or(&[])
        .iter()
        .flat_map(|(_, caps)| caps.iter().copied())
        .collect()
}

/// The template names valid for a content type.
pub fn templates(kind: &str) -> Vec<&'static str> {
    let mut names: Vec<&str> = ladder(kind)
        .unwrap_or(&[])
        .iter()
        .map(|(t, _)| *t)
        .collect();
    names.extend(["Denied", "None"]);
    names
}

/// A template's capabilities for a content type; `None` when the type has
/// no such template.
pub fn template(kind: &str, name: &str) -> Option<Caps> {
    let ladder = ladder(kind)?;
    match name {
        "None" => Some(Caps::new()),
        "Denied" => Some(
            capabilities(kind)
                .into_iter()
                .map(|c| (c.to_string(), Mode::Deny))
                .collect(),
        ),
        _ => {
            let at = ladder.iter().position(|(t, _)| *t == name)?;
            Some(
                ladder[..=at]
                    .iter()
                    .flat_map(|(_, caps)| caps.iter())
                    .map(|c| (c.to_string(), Mode::Allow))
                    .collect(),
            )
        }
    }
}

/// The kind name people read (`workbook`, `data source`).
pub fn singular(kind: &str) -> &str {
    match kind {
        "projects" => "project",
        "workbooks" => "workbook",
        "datasources" => "data source",
        "flows" => "flow",
        "views" => "view",
        "virtualconnections" => "virtual connection",
        "dataroles" => "data role",
        "metrics" => "metric",
        "lenses" => "lens",
        "databases" => "database",
        "tables" => "table",
        other => other,
    }
}

/// A rule's capabilities for `kind`, or why not (a message without the
/// place; the caller adds it).
pub fn expand(kind: &str, rule: &RuleSpec) -> Result<Caps, (String, String)> {
    let mut caps = match &rule.template {
        None => Caps::new(),
        Some(t) => template(kind, t).ok_or_else(|| {
            (
                "template".to_string(),
                format!(
                    "{} rules have no template {t:?}; use one of {}",
                    singular(kind),
                    templates(kind).join(", ")
                ),
            )
        })?,
    };
    let valid = capabilities(kind);
    for (key, list, mode) in [
        ("allow", &rule.allow, Mode::Allow),
        ("deny", &rule.deny, Mode::Deny),
    ] {
        for c in list {
            if !valid.contains(&c.as_str()) {
                return Err((
                    key.to_string(),
                    format!(
                        "{c:?} is not a {} capability; {} capabilities are {}",
                        singular(kind),
                        singular(kind),
                        valid.join(", ")
                    ),
                ));
            }
            caps.insert(c.clone(), mode);
        }
    }
    if let Some(c) = rule.allow.iter().find(|c| rule.deny.contains(c)) {
        return Err((
            "deny".to_string(),
            format!("{c:?} is both allowed and denied"),
        ));
    }
    Ok(caps)
}

/// The shortest rule for a grantee's capabilities: the template leaving
/// the fewest overrides (a template whose capabilities are not all set
/// cannot be used: the file has no way to unset one).
pub fn compress(kind: &str, caps: &Caps) -> (Option<String>, Vec<String>, Vec<String>) {
    let mut best: Option<(usize, &str, Vec<String>, Vec<String>)> = None;
    // On a tie the plainer form wins: no template, then the smaller one.
    let order = std::iter::once("None").chain(templates(kind).into_iter().filter(|t| *t != "None"));
    for name in order {
        let Some(base) = template(kind, name) else {
            continue;
        };
        if !base.keys().all(|c| caps.contains_key(c)) {
            continue;
        }
        let (mut allow, mut deny) = (Vec::new(), Vec::new());
        for (c, m) in caps {
            if base.get(c) != Some(m) {
                match m {
                    Mode::Allow => allow.push(c.clone()),
                    Mode::Deny => deny.push(c.clone()),
                }
            }
        }
        let n = allow.len() + deny.len();
        if best.as_ref().is_none_or(|b| n < b.0) {
            best = Some((n, name, allow, deny));
        }
    }
    let (_, name, allow, deny) = best.expect("the None template always fits");
    ((name != "None").then(|| name.to_string()), allow, deny)
}

// --- errors and positions -------------------------------------------------------

/// A mistake in the file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    /// The key path, e.g. `projects."Finance/Reports".rules[1].group`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: ", self.file, l)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

/// Several mistakes; all are reported at once.
#[derive(Debug, Clone)]
pub struct FileErrors(pub Vec<FileError>);

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `projects."Finance/Reports".rules[1].group`
pub fn key_path(path: &[Step]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Finds the line of a key path in YAML text by indentation (see the
/// module notes).
pub struct Locator<'a> {
    lines: Vec<Line<'a>>,
}

struct Line<'a> {
    /// The column of a leading `- `.
    dash: Option<usize>,
    /// The column where the content (after any `- `) starts.
    col: usize,
    body: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Locator<'a> {
        let lines = text
            .lines()
            .map(|l| {
                let indent = l.len() - l.trim_start().len();
                let body = l.trim_start();
                match body.strip_prefix("- ") {
                    Some(rest) => {
                        let col = indent + 2 + (rest.len() - rest.trim_start().len());
                        Line {
                            dash: Some(indent),
                            col,
                            body: rest.trim_start(),
                        }
                    }
                    None if body == "-" => Line {
                        dash: Some(indent),
                        col: indent + 2,
                        body: "",
                    },
                    None => Line {
                        dash: None,
                        col: indent,
                        body,
                    },
                }
            })
            .collect();
        Locator { lines }
    }

    fn skip(&self, i: usize) -> bool {
        let l = &self.lines[i];
        l.dash.is_none() && skip(l.body)
    }

    /// The 1-based line of the deepest step of `path` found.
    pub fn line(&self, path: &[Step]) -> Option<usize> {
        let (mut from, mut to) = (0usize, self.lines.len());
        let mut found = None;
        for (k, step) in path.iter().enumerate() {
            let Some(first) = (from..to).find(|&i| !self.skip(i)) else {
                break;
            };
            let hit = match step {
                Step::Key(key) => {
                    let c = self.lines[first].col;
                    (first..to).find(|&i| {
                        let l = &self.lines[i];
                        !self.skip(i)
                            && l.col == c
                            && entry_key(l.body).as_deref() == Some(key.as_str())
                    })
                }
                Step::Index(n) => {
                    let Some(d) = self.lines[first].dash else {
                        break;
                    };
                    (first..to)
                        .filter(|&i| self.lines[i].dash == Some(d))
                        .nth(*n)
                }
            };
            let Some(i) = hit else { break };
            found = Some(i + 1);
            if let Step::Index(_) = step {
                // An item's keys start on its own line, after the dash.
                let d = self.lines[i].dash.unwrap_or(0);
                let end = ((i + 1)..to)
                    .find(|&j| {
                        let l = &self.lines[j];
                        !self.skip(j)
                            && if let Some(e) = l.dash {
                                e <= d
                            } else {
                                l.col <= d
                            }
                    })
                    .unwrap_or(to);
                return self.line_in_item(i, end, &path[k + 1..]).or(found);
            }
            // A key's children: the lines below it, up to the first one at
            // or left of it (a list may start at the key's own column).
            let c = self.lines[i].col;
            to = ((i + 1)..to)
                .find(|&j| {
                    let l = &self.lines[j];
                    !self.skip(j)
                        && if let Some(d) = l.dash {
                            d < c
                        } else {
                            l.col <= c
                        }
                })
                .unwrap_or(to);
            from = i + 1;
        }
        found
    }

    /// Continues `line` inside a list item that starts on line `i`.
    fn line_in_item(&self, i: usize, to: usize, rest: &[Step]) -> Option<usize> {
        let Some(Step::Key(key)) = rest.first() else {
            return if rest.is_empty() { Some(i + 1) } else { None };
        };
        let c = self.lines[i].col;
        let hit = (i..to).find(|&j| {
            let l = &self.lines[j];
            !self.skip(j)
                && l.col == c
                && (j == i || l.dash.is_none())
                && entry_key(l.body).as_deref() == Some(key.as_str())
        })?;
        // Deeper paths inside an item (an entry of a block `deny:` list)
        // are placed at the key's own line.
        Some(hit + 1)
    }
}

fn skip(body: &str) -> bool {
    body.is_empty() || body.starts_with('#')
}

/// The key of a `key: value` line, unquoted.
fn entry_key(body: &str) -> Option<String> {
    let body = body.trim_start();
    if let Some(rest) = body.strip_prefix('"') {
        let end = rest.find("\":")?;
        return Some(rest[..end].replace("\\\"", "\""));
    }
    if let Some(rest) = body.strip_prefix('\'') {
        let end = rest.find("':")?;
        return Some(rest[..end].replace("''", "'"));
    }
    let end = body
        .find(": ")
        .or_else(|| body.strip_suffix(':').map(|s| s.len()))?;
    Some(body[..end].trim_end().to_string())
}

/// Parses the file; syntax and type errors carry serde_norway's position.
pub fn parse(text: &str, file: &str) -> Result<PermissionsFile, FileError> {
    serde_norway::from_str::<Option<PermissionsFile>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            let line = e.location().map(|l| l.line());
            // serde_norway appends "at line L column C"; the position is
            // already in front.
            let message = e.to_string();
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            FileError {
                file: file.to_string(),
                line,
                key: String::new(),
                message: format!("not a valid permissions file: {message}"),
            }
        })
}

/// Checks what needs no site: each rule names one grantee, templates and
/// capabilities exist for their content type, no grantee twice per object.
pub fn check(f: &PermissionsFile, text: &str, file: &str) -> Result<(), FileErrors> {
    let loc = Locator::new(text);
    let mut errors = Vec::new();
    let mut err = |path: Vec<Step>, message: String| {
        errors.push(FileError {
            file: file.into(),
            line: loc.line(&path),
            key: key_path(&path),
            message,
        });
    };
    for (project, spec) in &f.projects {
        let base = vec![Step::Key("projects".into()), Step::Key(project.clone())];
        let mut lists: Vec<(&str, Vec<Step>, &Vec<RuleSpec>)> = Vec::new();
        if let Some(rules) = &spec.rules {
            let mut p = base.clone();
            p.push(Step::Key("rules".into()));
            lists.push(("projects", p, rules));
        }
        for (kind, rules) in &spec.defaults {
            let mut p = base.clone();
            p.extend([Step::Key("defaults".into()), Step::Key(kind.clone())]);
            if !DEFAULT_KINDS.contains(&kind.as_str()) {
                err(
                    p,
                    format!(
                        "no default rules for content type {kind:?}; use one of {}",
                        DEFAULT_KINDS.join(", ")
                    ),
                );
                continue;
            }
            lists.push((kind_static(kind), p, rules));
        }
        for (kind, items) in spec.items() {
            for (name, rules) in items {
                let mut p = base.clone();
                p.extend([Step::Key(kind.into()), Step::Key(name.clone())]);
                lists.push((kind, p, rules));
            }
        }
        for (kind, path, rules) in lists {
            let mut seen: Vec<(bool, &str)> = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let mut p = path.clone();
                p.push(Step::Index(i));
                let who = match (&r.group, &r.user) {
                    (Some(g), None) => (true, g.as_str()),
                    (None, Some(u)) => (false, u.as_str()),
                    (Some(_), Some(_)) => {
                        err(
                            p,
                            "a rule names one grantee: `group` or `user`, not both".into(),
                        );
                        continue;
                    }
                    (None, None) => {
                        err(
                            p,
                            "a rule needs a grantee: `group: NAME` or `user: NAME`".into(),
                        );
                        continue;
                    }
                };
                if seen.contains(&who) {
                    let mut q = p.clone();
                    q.push(Step::Key(if who.0 { "group" } else { "user" }.into()));
                    err(
                        q,
                        format!(
                            "{} {:?} has a second rule here; merge them",
                            if who.0 { "group" } else { "user" },
                            who.1
                        ),
                    );
                    continue;
                }
                seen.push(who);
                if let Err((key, message)) = expand(kind, r) {
                    p.push(Step::Key(key));
                    err(p, message);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FileErrors(errors))
    }
}

/// The `'static` name of a known content type.
pub fn kind_static(kind: &str) -> &'static str {
    DEFAULT_KINDS
        .iter()
        .chain(["projects"].iter())
        .copied()
        .find(|k| *k == kind)
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_cumulative_and_denied_covers_every_capability() {
        let view = template("workbooks", "View").unwrap();
        let explore = template("workbooks", "Explore").unwrap();
        assert!(view.keys().all(|c| explore.contains_key(c)));
        assert_eq!(explore.len(), 10);
        assert_eq!(template("workbooks", "Administer").unwrap().len(), 16);
        let denied = template("datasources", "Denied").unwrap();
        assert_eq!(denied.len(), 8);
        assert!(denied.values().all(|m| *m == Mode::Deny));
        assert!(template("projects", "Explore").is_none());
        assert_eq!(template("flows", "None").unwrap().len(), 0);
    }

    #[test]
    fn expand_and_compress_round_trip() {
        let rule = RuleSpec {
            group: Some("g".into()),
            template: Some("Explore".into()),
            allow: vec!["ExportXml".into()],
            deny: vec!["ExportData".into()],
            ..RuleSpec::default()
        };
        let caps = expand("workbooks", &rule).unwrap();
        assert_eq!(caps.get("ExportData"), Some(&Mode::Deny));
        assert_eq!(caps.get("ExportXml"), Some(&Mode::Allow));
        let (t, allow, deny) = compress("workbooks", &caps);
        assert_eq!(
            (t.as_deref(), allow, deny),
            (
                Some("Explore"),
                vec!["ExportXml".to_string()],
                vec!["ExportData".to_string()]
            )
        );
        let back = expand(
            "workbooks",
            &RuleSpec {
                template: t,
                allow: vec!["ExportXml".into()],
                deny: vec!["ExportData".into()],
                ..RuleSpec::default()
            },
        );
        assert_eq!(back.unwrap(), caps);
        // A partial set with a deny: no template fits better than None.
        let caps: Caps = [("Read".to_string(), Mode::Deny)].into_iter().collect();
        assert_eq!(
            compress("projects", &caps),
            (None, vec![], vec!["Read".to_string()])
        );
    }

    #[test]
    fn unknown_capabilities_and_templates_are_named() {
        let bad = RuleSpec {
            user: Some("u".into()),
            template: Some("Explore".into()),
            ..RuleSpec::default()
        };
        let (key, msg) = expand("projects", &bad).unwrap_err();
        assert_eq!(key, "template");
        assert!(
            msg.contains("project rules have no template \"Explore\""),
            "{msg}"
        );
        let bad = RuleSpec {
            user: Some("u".into()),
            allow: vec!["Connect".into()],
            ..RuleSpec::default()
        };
        let (key, msg) = expand("workbooks", &bad).unwrap_err();
        assert_eq!(key, "allow");
        assert!(
            msg.contains("\"Connect\" is not a workbook capability"),
            "{msg}"
        );
    }

    const TEXT: &str = "\
# a comment
projects:
  Finance:
    rules:
      - group: All Users
        template: View
      - user: bob
        allow: [Write]
  \"Finance/Reports\":
    defaults:
      workbooks:
      - group: Sales
        template: Explore
        deny:
          - Nope
    workbooks:
      Sales:
        - group: Sales
";

    fn at(path: &[&str]) -> Option<usize> {
        let steps: Vec<Step> = path
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(s.to_string()),
            })
            .collect();
        Locator::new(TEXT).line(&steps)
    }

    #[test]
    fn locator_follows_indentation_and_list_items() {
        assert_eq!(at(&["projects", "Finance"]), Some(3));
        assert_eq!(at(&["projects", "Finance", "rules", "1"]), Some(7));
        assert_eq!(at(&["projects", "Finance", "rules", "1", "user"]), Some(7));
        assert_eq!(at(&["projects", "Finance", "rules", "1", "allow"]), Some(8));
        assert_eq!(
            at(&["projects", "Finance", "rules", "0", "template"]),
            Some(6)
        );
        assert_eq!(
            at(&[
                "projects",
                "Finance/Reports",
                "defaults",
                "workbooks",
                "0",
                "deny"
            ]),
            Some(14)
        );
        assert_eq!(
            at(&[
                "projects",
                "Finance/Reports",
                "workbooks",
                "Sales",
                "0",
                "group"
            ]),
            Some(18)
        );
        // Missing keys point at the deepest step found.
        assert_eq!(at(&["projects", "Finance", "workbooks", "X"]), Some(3));
    }

    #[test]
    fn parse_errors_carry_the_line() {
        let e = parse("projects:\n  A:\n    rulez: []\n", "p.yaml").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("p.yaml:3: "), "{e}");
        assert!(e.to_string().contains("rulez"), "{e}");
        let e = parse(
            "projects:\n  A:\n    content_permissions: Locked\n",
            "p.yaml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("projects: [\n", "p.yaml").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        assert_eq!(parse("", "p.yaml").unwrap(), PermissionsFile::default());
    }

    #[test]
    fn check_names_file_line_and_key() {
        let text = "projects:\n  A:\n    rules:\n      - group: G\n        template: Explore\n      - group: G\n      - user: u\n        group: g\n";
        let f = parse(text, "p.yaml").unwrap();
        let errs = check(&f, text, "p.yaml").unwrap_err().0;
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "p.yaml:5: projects.A.rules[0].template: project rules have no template"
            ),
            "{lines:?}"
        );
        assert!(
            lines[1]
                .starts_with("p.yaml:6: projects.A.rules[1].group: group \"G\" has a second rule"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("p.yaml:7: projects.A.rules[2]: a rule names one grantee"),
            "{lines:?}"
        );
    }
}
