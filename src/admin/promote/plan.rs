//! Reading both sites and planning a promotion.
//!
//! Per published datasource and workbook of the source project (and its
//! nested projects with `--include-nested`), the plan decides:
//! - **create**: the target has no item of that name in that project path;
//! - **replace**: it has one, and the source document, rewritten for the
//!   target, differs from the target's document (content hash, see
//!   [`rewrite::content_hash`]), or its description or show-tabs differ;
//! - **unchanged**: same content, description and show-tabs: left alone;
//! - **skip** (`--skip-existing`) or **conflict** (neither `--overwrite`
//!   nor `--skip-existing`) for changed items that exist on the target.
//!
//! Datasources come first (phase A): the target's project path is created
//! when missing, then the datasources are published. Workbooks (phase B)
//! have their published-datasource references repointed to the target's
//! copies, whose content URLs are only known once those exist, so phase B
//! is planned again from the target's state after phase A is applied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Value};

use super::mapping::Mapping;
use super::rewrite::{self, Change, ProxyRebind, Rules};
use crate::admin::plan::{placeholder, Call, Plan, WriteMethod};
use crate::admin::site::{self, Project};
use crate::tableau::publish::{self, ConnectionCredentials, Upload};
use crate::tableau::rest::list_all;
use crate::tableau::Client;

/// What to do with items that exist on the target and differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Plan them as conflicts; nothing is applied while there are any.
    Ask,
    Overwrite,
    SkipExisting,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The source project's path (`HR Dashboards`, `Finance/Reports`).
    pub project: String,
    pub include_nested: bool,
    pub policy: Policy,
    pub chunk_threshold: usize,
    pub chunk_size: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Datasource,
    Workbook,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Datasource => "datasource",
            Kind::Workbook => "workbook",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Create,
    Replace,
    Unchanged,
    Skip,
    Conflict,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Create => "create",
            Decision::Replace => "replace",
            Decision::Unchanged => "unchanged",
            Decision::Skip => "skip",
            Decision::Conflict => "conflict",
        }
    }

    pub fn publishes(self) -> bool {
        matches!(self, Decision::Create | Decision::Replace)
    }
}

/// An item on one site, as listed, with its document.
#[derive(Clone, Debug)]
pub struct Listed {
    pub kind: Kind,
    pub luid: String,
    pub name: String,
    pub content_url: String,
    pub project_path: String,
    pub description: String,
    pub show_tabs: Option<bool>,
    pub tags: BTreeSet<String>,
    pub document: Vec<u8>,
}

/// One site's state: projects, and the items of interest with documents.
#[derive(Clone, Debug, Default)]
pub struct SiteState {
    pub projects: Vec<Project>,
    pub items: Vec<Listed>,
    /// Server host, port and channel, and site content URL (for sqlproxy).
    pub host: String,
    pub port: String,
    pub channel: String,
    pub site: String,
    /// The site's projects' `contentPermissions`, by LUID.
    pub locks: BTreeMap<String, String>,
    /// Every datasource content URL on the site, lower-cased.
    pub datasource_urls: BTreeSet<String>,
}

/// Both sites, read.
#[derive(Clone, Debug)]
pub struct State {
    pub source: SiteState,
    pub target: SiteState,
    /// The source project paths promoted (the root first).
    pub paths: Vec<String>,
}

/// The plan for one item.
#[derive(Clone, Debug, Serialize)]
pub struct ItemPlan {
    pub kind: Kind,
    pub name: String,
    pub project_path: String,
    pub decision: Decision,
    pub reason: String,
    pub source_luid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_luid: Option<String>,
    pub changes: Vec<Change>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
    /// Names of the environment variables credentials come from.
    pub credentials_from: Vec<String>,
    #[serde(skip)]
    pub document: Vec<u8>,
    #[serde(skip)]
    pub file_name: String,
    #[serde(skip)]
    pub credentials: Vec<ConnectionCredentials>,
}

/// The whole promotion as planned.
#[derive(Clone, Debug, Serialize)]
pub struct Promotion {
    pub items: Vec<ItemPlan>,
    /// Project creation, datasource publishes and their tags.
    pub phase_a: Plan,
    /// Workbook publishes and their tags.
    pub phase_b: Plan,
    /// The target project paths to create.
    pub create_projects: Vec<String>,
    pub notes: Vec<String>,
}

impl Promotion {
    pub fn publishes(&self) -> usize {
        self.items.iter().filter(|i| i.decision.publishes()).count()
    }

    /// Both phases as one plan, phase B's steps after phase A's.
    pub fn combined(&self) -> Plan {
        let mut all = self.phase_a.clone();
        let offset = self.phase_a.calls.iter().map(|c| c.step).max().unwrap_or(0);
        all.calls
            .extend(self.phase_b.calls.iter().cloned().map(|c| {
                let step = c.step + offset;
                c.step(step)
            }));
        all
    }

    pub fn conflicts(&self) -> Vec<&ItemPlan> {
        self.items
            .iter()
            .filter(|i| i.decision == Decision::Conflict)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("no project {path:?} on the source site; its top-level projects are: {known}")]
    UnknownProject { path: String, known: String },
    #[error("{0}")]
    Rewrite(#[from] rewrite::RewriteError),
}

/// Host, port and channel of a server URL.
fn server_parts(url: &str) -> (String, String, String) {
    let (channel, rest) = match url.split_once("://") {
        Some((c, r)) => (c.to_ascii_lowercase(), r),
        None => ("https".to_string(), url),
    };
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), p.to_string()),
        _ => (
            hostport.to_string(),
            if channel == "http" {
                "80".into()
            } else {
                "443".into()
            },
        ),
    };
    (host, port, channel)
}

fn tag_set(item: &Value) -> BTreeSet<String> {
    let tags = &item["tags"]["tag"];
    let list: Vec<&Value> = match tags {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![tags],
        _ => vec![],
    };
    list.into_iter()
        .filter_map(|t| t["label"].as_str().map(str::to_string))
        .collect()
}

/// Reads one site: projects (with paths and locks), then the workbooks and
/// datasources whose project path `keep` accepts, with their documents.
async fn read_site(client: &Client, keep: &dyn Fn(&str) -> bool) -> anyhow::Result<SiteState> {
    let raw = list_all(
        client,
        &client.site_path("projects"),
        "projects",
        "project",
        &[],
    )
    .await?;
    let projects = site::project_paths(&raw);
    let locks = raw
        .iter()
        .filter_map(|p| {
            Some((
                p["id"].as_str()?.to_string(),
                p["contentPermissions"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ))
        })
        .collect();
    let paths: BTreeMap<&str, &str> = projects
        .iter()
        .map(|p| (p.luid.as_str(), p.path.as_str()))
        .collect();
    let mut items = Vec::new();
    let mut datasource_urls = BTreeSet::new();
    for kind in [Kind::Datasource, Kind::Workbook] {
        let collection = format!("{}s", kind.as_str());
        let listed = list_all(
            client,
            &client.site_path(&collection),
            &collection,
            kind.as_str(),
            &[],
        )
        .await?;
        for v in listed {
            if kind == Kind::Datasource {
                datasource_urls.insert(
                    v["contentUrl"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                );
            }
            let Some(path) = v["project"]["id"].as_str().and_then(|id| paths.get(id)) else {
                continue;
            };
            if !keep(path) {
                continue;
            }
            let luid = v["id"].as_str().unwrap_or_default().to_string();
            let document = publish::download(client, kind.as_str(), &luid).await?;
            items.push(Listed {
                kind,
                luid,
                name: v["name"].as_str().unwrap_or_default().to_string(),
                content_url: v["contentUrl"].as_str().unwrap_or_default().to_string(),
                project_path: path.to_string(),
                description: v["description"].as_str().unwrap_or_default().to_string(),
                show_tabs: crate::tableau::rest::boolean(&v, "showTabs"),
                tags: tag_set(&v),
                document,
            });
        }
    }
    let (host, port, channel) = server_parts(client.server());
    Ok(SiteState {
        projects,
        items,
        host,
        port,
        channel,
        site: String::new(),
        locks,
        datasource_urls,
    })
}

/// Reads what a promotion plans from: the source project's items and
/// documents, and the target's items at the same project paths.
pub async fn read(
    source: &Client,
    source_site: &str,
    target: &Client,
    target_site: &str,
    options: &Options,
) -> anyhow::Result<State> {
    let projects = site::projects(source).await?;
    let root = options.project.trim_matches('/').to_string();
    let root = match projects.iter().find(|p| p.path == root) {
        Some(p) => p.path.clone(),
        None => {
            // A bare name finds a nested project when only one has it.
            let by_name: Vec<&Project> = projects.iter().filter(|p| p.name == root).collect();
            match by_name.as_slice() {
                [one] => one.path.clone(),
                _ => {
                    let mut top: Vec<&str> = projects
                        .iter()
                        .filter(|p| p.parent_luid.is_none())
                        .map(|p| p.path.as_str())
                        .collect();
                    top.sort();
                    return Err(PromoteError::UnknownProject {
                        path: options.project.clone(),
                        known: top.join(", "),
                    }
                    .into());
                }
            }
        }
    };
    let nested = options.include_nested;
    let prefix = format!("{root}/");
    let keep = |path: &str| path == root || (nested && path.starts_with(&prefix));
    let mut paths: Vec<String> = projects
        .iter()
        .map(|p| p.path.clone())
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    let mut source_state = read_site(source, &keep).await?;
    source_state.site = source_site.to_string();
    let mut target_state = read_site(target, &keep).await?;
    target_state.site = target_site.to_string();
    Ok(State {
        source: source_state,
        target: target_state,
        paths,
    })
}

/// Reads the target's items again (after phase A), keeping the rest.
pub async fn reread_target(target: &Client, state: &mut State) -> anyhow::Result<()> {
    let paths: BTreeSet<String> = state.paths.iter().cloned().collect();
    let keep = |p: &str| paths.contains(p);
    let site = state.target.site.clone();
    state.target = read_site(target, &keep).await?;
    state.target.site = site;
    Ok(())
}

/// Tableau derives a new item's content URL from its name's letters and
/// digits, with a suffix when that is taken; used only to show the plan
/// before the datasource exists (phase B is planned again with the real
/// one).
fn predicted_content_url(name: &str, taken: &BTreeSet<String>) -> String {
    let base: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if !taken.contains(&base.to_ascii_lowercase()) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken.contains(&c.to_ascii_lowercase()))
        .unwrap_or(base)
}

/// Every connection class the source documents use (for the mapping check).
pub fn classes(state: &State) -> Result<BTreeSet<String>, PromoteError> {
    let mut out = BTreeSet::new();
    for i in &state.source.items {
        for c in rewrite::connections(&i.name, &i.document)? {
            if !c.class.is_empty() {
                out.insert(c.class);
            }
        }
    }
    Ok(out)
}

fn extension(kind: Kind, bytes: &[u8]) -> &'static str {
    match (kind, rewrite::is_package(bytes)) {
        (Kind::Workbook, true) => "twbx",
        (Kind::Workbook, false) => "twb",
        (Kind::Datasource, true) => "tdsx",
        (Kind::Datasource, false) => "tds",
    }
}

/// Plans the promotion from `state`.
pub fn build(
    state: &State,
    mapping: &Mapping,
    options: &Options,
) -> Result<Promotion, PromoteError> {
    let target_projects: BTreeMap<&str, &Project> = state
        .target
        .projects
        .iter()
        .map(|p| (p.path.as_str(), p))
        .collect();
    let mut notes = Vec::new();
    // Projects to create, parents first.
    let mut create_projects: Vec<String> = Vec::new();
    for path in &state.paths {
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if !target_projects.contains_key(prefix.as_str()) && !create_projects.contains(&prefix)
            {
                create_projects.push(prefix.clone());
            }
        }
    }
    let project_ref = |path: &str| -> String {
        match target_projects.get(path) {
            Some(p) => p.luid.clone(),
            None => placeholder(&format!("project:{path}")),
        }
    };
    for path in &state.paths {
        match target_projects.get(path.as_str()) {
            Some(p) => {
                let lock = state.target.locks.get(&p.luid).map(String::as_str).unwrap_or("");
                if lock.starts_with("LockedToProject") {
                    notes.push(format!(
                        "permissions: target project {path:?} is locked ({lock}): promoted items take its rules"
                    ));
                } else {
                    notes.push(format!(
                        "permissions: promoted items get target project {path:?}'s default rules; the source's explicit rules are not copied"
                    ));
                }
            }
            None => notes.push(format!(
                "permissions: target project {path:?} is created with the site's defaults; promoted items get its default rules"
            )),
        }
    }
    let target_item = |kind: Kind, name: &str, path: &str| {
        state
            .target
            .items
            .iter()
            .find(|t| t.kind == kind && t.name == name && t.project_path == path)
    };

    // Source datasource content URL → the target's copy's.
    let mut ids = BTreeMap::new();
    for s in state
        .source
        .items
        .iter()
        .filter(|i| i.kind == Kind::Datasource)
    {
        let target_url = target_item(Kind::Datasource, &s.name, &s.project_path)
            .map(|t| t.content_url.clone())
            .unwrap_or_else(|| predicted_content_url(&s.name, &state.target.datasource_urls));
        ids.insert(s.content_url.clone(), target_url);
    }
    let rules = Rules {
        attrs: mapping.attr_rules(),
        proxy: Some(ProxyRebind {
            host: state.target.host.clone(),
            port: state.target.port.clone(),
            channel: state.target.channel.clone(),
            site: state.target.site.clone(),
            ids,
        }),
    };

    let depth = |p: &str| p.split('/').count() as u32;
    let project_steps = create_projects.iter().map(|p| depth(p)).max().unwrap_or(0);
    let mut phase_a = Plan::new();
    let mut phase_b = Plan::new();
    for path in &create_projects {
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (Some(project_ref(parent)), name),
            None => (None, path.as_str()),
        };
        let mut body = json!({"project": {"name": name}});
        if let Some(parent) = parent {
            body["project"]["parentProjectId"] = Value::from(parent);
        }
        phase_a.push(
            Call::site(
                WriteMethod::Post,
                "projects",
                "create project",
                format!("create project {path}"),
            )
            .body(body)
            .step(depth(path))
            .creates(format!("project:{path}"), "project"),
        );
    }

    let mut items = Vec::new();
    let mut sorted: Vec<&Listed> = state.source.items.iter().collect();
    sorted.sort_by(|a, b| {
        (a.kind, &a.project_path, &a.name).cmp(&(b.kind, &b.project_path, &b.name))
    });
    for s in sorted {
        let what = format!("{} {:?} ({})", s.kind.as_str(), s.name, s.project_path);
        let (document, changes) = rewrite::rewrite_document(&what, &s.document, &rules)?;
        let existing = target_item(s.kind, &s.name, &s.project_path);
        let (decision, reason) = match existing {
            None => (Decision::Create, "new: not on the target".to_string()),
            Some(t) => {
                let mut why = Vec::new();
                if rewrite::content_hash(&what, &document)?
                    != rewrite::content_hash(&what, &t.document)?
                {
                    why.push("content hash differs".to_string());
                }
                if s.description != t.description {
                    why.push("description differs".to_string());
                }
                if s.kind == Kind::Workbook
                    && s.show_tabs.unwrap_or(false) != t.show_tabs.unwrap_or(false)
                {
                    why.push("show-tabs differs".to_string());
                }
                if why.is_empty() {
                    (
                        Decision::Unchanged,
                        "unchanged: same content, description and show-tabs".to_string(),
                    )
                } else {
                    let why = format!("changed: {}", why.join(", "));
                    match options.policy {
                        Policy::Overwrite => (Decision::Replace, why),
                        Policy::SkipExisting => (Decision::Skip, format!("{why}; left alone (--skip-existing)")),
                        Policy::Ask => (
                            Decision::Conflict,
                            format!("{why}; pass --overwrite to replace it or --skip-existing to leave it"),
                        ),
                    }
                }
            }
        };
        // Credentials for the rewritten connections, per server and port.
        let mut credentials: Vec<ConnectionCredentials> = Vec::new();
        let mut credentials_from: BTreeSet<String> = BTreeSet::new();
        for c in rewrite::connections(&what, &document)? {
            let Some(cred) = mapping.credentials(&c.class) else {
                continue;
            };
            if credentials
                .iter()
                .any(|x| x.server == c.server && x.port == c.port)
            {
                continue;
            }
            credentials_from.insert(cred.password_env.clone());
            if let Some(u) = &cred.username_env {
                credentials_from.insert(u.clone());
            }
            credentials.push(ConnectionCredentials {
                server: c.server.clone(),
                port: c.port.clone(),
                username: cred
                    .username
                    .as_ref()
                    .map(|u| u.expose().to_string())
                    .unwrap_or(c.username.clone()),
                password: cred.password.clone(),
            });
        }
        let unit = format!("{}:{}/{}", s.kind.as_str(), s.project_path, s.name);
        let key = format!("{}:{}/{}", s.kind.as_str(), s.project_path, s.name);
        let (plan, base) = match s.kind {
            Kind::Datasource => (&mut phase_a, project_steps + 1),
            Kind::Workbook => (&mut phase_b, 1),
        };
        let target_id = if decision.publishes() {
            let file_name = format!("{}.{}", s.name, extension(s.kind, &document));
            let mut item = json!({"name": s.name, "project": {"id": project_ref(&s.project_path)}});
            if !s.description.is_empty() {
                item["description"] = Value::from(s.description.clone());
            }
            if s.kind == Kind::Workbook {
                item["showTabs"] = Value::from(s.show_tabs.unwrap_or(false));
            }
            let overwrite = decision == Decision::Replace;
            let upload = Upload {
                kind: s.kind.as_str().to_string(),
                file_name,
                bytes: document.clone(),
                credentials: credentials.clone(),
                chunk_threshold: options.chunk_threshold,
                chunk_size: options.chunk_size.min(options.chunk_threshold.max(1)),
            };
            let how = if upload.is_chunked() {
                ", in pieces"
            } else {
                ""
            };
            let verb = if overwrite { "replace" } else { "create" };
            plan.push(
                Call::site(
                    WriteMethod::Post,
                    format!("{}s?overwrite={overwrite}", s.kind.as_str()),
                    format!("publish {}", s.kind.as_str()),
                    format!(
                        "{verb} {} {:?} in {} ({} bytes{how})",
                        s.kind.as_str(),
                        s.name,
                        s.project_path,
                        document.len()
                    ),
                )
                .body(json!({ s.kind.as_str(): item }))
                .upload(upload)
                .step(base)
                .unit(unit.clone())
                .creates(key.clone(), s.kind.as_str()),
            );
            Some(placeholder(&key))
        } else if decision == Decision::Unchanged {
            existing.map(|t| t.luid.clone())
        } else {
            None
        };
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        if let Some(id) = &target_id {
            let current = existing
                .filter(|_| decision != Decision::Create)
                .map(|t| t.tags.clone())
                .unwrap_or_default();
            added = s.tags.difference(&current).cloned().collect();
            removed = current.difference(&s.tags).cloned().collect();
            let step = if decision.publishes() { base + 1 } else { base };
            if !added.is_empty() {
                let tags: Vec<Value> = added.iter().map(|t| json!({"label": t})).collect();
                plan.push(
                    Call::site(
                        WriteMethod::Put,
                        format!("{}s/{id}/tags", s.kind.as_str()),
                        "add tags",
                        format!("tag {} {:?}: {}", s.kind.as_str(), s.name, added.join(", ")),
                    )
                    .body(json!({"tags": {"tag": tags}}))
                    .step(step)
                    .unit(unit.clone()),
                );
            }
            for t in &removed {
                plan.push(
                    Call::site(
                        WriteMethod::Delete,
                        format!("{}s/{id}/tags/{}", s.kind.as_str(), encode_segment(t)),
                        "remove tag",
                        format!("untag {} {:?}: {t}", s.kind.as_str(), s.name),
                    )
                    .step(step)
                    .unit(unit.clone()),
                );
            }
        }
        items.push(ItemPlan {
            kind: s.kind,
            name: s.name.clone(),
            project_path: s.project_path.clone(),
            decision,
            reason,
            source_luid: s.luid.clone(),
            target_luid: existing.map(|t| t.luid.clone()),
            changes,
            tags_added: added,
            tags_removed: removed,
            credentials_from: credentials_from.into_iter().collect(),
            document,
            file_name: String::new(),
            credentials,
        });
    }
    // References to published datasources that are not promoted stay as
    // they are: say so.
    let promoted: BTreeSet<&str> = state
        .source
        .items
        .iter()
        .filter(|i| i.kind == Kind::Datasource)
        .map(|i| i.content_url.as_str())
        .collect();
    for s in state
        .source
        .items
        .iter()
        .filter(|i| i.kind == Kind::Workbook)
    {
        if let Ok(conns) = rewrite::connections(&s.name, &s.document) {
            for c in conns
                .iter()
                .filter(|c| c.class == "sqlproxy" && !promoted.contains(c.dbname.as_str()))
            {
                notes.push(format!(
                    "workbook {:?} uses published datasource {:?}, which is not in the promoted project: its reference is left as it is",
                    s.name, c.dbname
                ));
            }
        }
    }
    Ok(Promotion {
        items,
        phase_a,
        phase_b,
        create_projects,
        notes,
    })
}

/// A path segment with the characters URLs reserve percent-encoded.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The plan for people: per item its decision and why, every connection
/// rewrite, the notes, then the REST calls.
pub fn render(p: &Promotion, rows: usize) -> String {
    let mut out = String::new();
    let count = |d: Decision| p.items.iter().filter(|i| i.decision == d).count();
    let _ = writeln!(
        out,
        "Promotion: {} item(s): {} create, {} replace, {} unchanged, {} skip, {} conflict; {} publish(es).",
        p.items.len(),
        count(Decision::Create),
        count(Decision::Replace),
        count(Decision::Unchanged),
        count(Decision::Skip),
        count(Decision::Conflict),
        p.publishes()
    );
    for path in &p.create_projects {
        let _ = writeln!(out, "  create project {path}");
    }
    for i in &p.items {
        let _ = writeln!(
            out,
            "  {:<9} {} {:?} in {}: {}",
            i.decision.as_str(),
            i.kind.as_str(),
            i.name,
            i.project_path,
            i.reason
        );
        for c in &i.changes {
            let entry = c
                .entry
                .as_deref()
                .map(|e| format!("{e} "))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "      {} {} {}: {:?} -> {:?}  ({entry}line {})",
                c.element, c.class, c.attr, c.from, c.to, c.line
            );
        }
        if !i.credentials_from.is_empty() {
            let _ = writeln!(
                out,
                "      credentials embedded from ${}",
                i.credentials_from.join(", $")
            );
        }
        if !i.tags_added.is_empty() {
            let _ = writeln!(out, "      tags added: {}", i.tags_added.join(", "));
        }
        if !i.tags_removed.is_empty() {
            let _ = writeln!(out, "      tags removed: {}", i.tags_removed.join(", "));
        }
    }
    for n in &p.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out.push_str(&p.combined().render(rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_split_into_sqlproxy_parts() {
        assert_eq!(
            server_parts("https://tab.example.com"),
            ("tab.example.com".into(), "443".into(), "https".into())
        );
        assert_eq!(
            server_parts("http://127.0.0.1:8123/"),
            ("127.0.0.1".into(), "8123".into(), "http".into())
        );
        assert_eq!(encode_segment("a b/ü"), "a%20b%2F%C3%BC");
        let taken: BTreeSet<String> = ["hrcore".to_string()].into();
        assert_eq!(
            predicted_content_url("HR Data (prod)", &taken),
            "HRDataprod"
        );
        assert_eq!(predicted_content_url("HR Core", &taken), "HRCore_2");
    }
}
