//! The site's current rules, read through the REST API: projects with
//! their lock mode, users and groups by name, content by project and name,
//! and the rules of each object a file or an export needs.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;

use super::model::{Caps, LockMode, Mode};
use crate::admin::site::{self, Project};
use crate::tableau::rest::{boolean, list_all};
use crate::tableau::{Client, TableauError};

/// A grantee: a group or a user, by LUID. Groups sort first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grantee {
    Group(String),
    User(String),
}

impl Grantee {
    pub fn id(&self) -> &str {
        match self {
            Grantee::Group(id) | Grantee::User(id) => id,
        }
    }

    /// The path segment of a DELETE (`groups`, `users`).
    pub fn segment(&self) -> &'static str {
        match self {
            Grantee::Group(_) => "groups",
            Grantee::User(_) => "users",
        }
    }

    /// The key in a request body (`group`, `user`).
    pub fn element(&self) -> &'static str {
        match self {
            Grantee::Group(_) => "group",
            Grantee::User(_) => "user",
        }
    }
}

/// One object's rules: grantee → capabilities.
pub type Rules = BTreeMap<Grantee, Caps>;

/// Users and groups by name and by LUID.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub groups: HashMap<String, String>,
    pub users: HashMap<String, String>,
    names: HashMap<Grantee, String>,
}

impl Directory {
    pub fn new(
        groups: impl IntoIterator<Item = (String, String)>,
        users: impl IntoIterator<Item = (String, String)>,
    ) -> Directory {
        let mut d = Directory::default();
        for (id, name) in groups {
            d.names.insert(Grantee::Group(id.clone()), name.clone());
            d.groups.insert(name, id);
        }
        for (id, name) in users {
            d.names.insert(Grantee::User(id.clone()), name.clone());
            d.users.insert(name, id);
        }
        d
    }

    /// A grantee's name, or its LUID when not listed.
    pub fn name(&self, g: &Grantee) -> String {
        self.names
            .get(g)
            .cloned()
            .unwrap_or_else(|| g.id().to_string())
    }

    /// `group Finance` / `user alice`.
    pub fn label(&self, g: &Grantee) -> String {
        format!("{} {}", g.element(), self.name(g))
    }
}

/// Reads every user and group.
pub async fn directory(client: &Client) -> Result<Directory, TableauError> {
    let pairs = |items: Vec<Value>| -> Vec<(String, String)> {
        items
            .iter()
            .filter_map(|i| {
                Some((
                    i["id"].as_str()?.to_string(),
                    i["name"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect()
    };
    let (groups_path, users_path) = (client.site_path("groups"), client.site_path("users"));
    let (groups, users) = futures::try_join!(
        list_all(client, &groups_path, "groups", "group", &[]),
        list_all(client, &users_path, "users", "user", &[]),
    )?;
    Ok(Directory::new(pairs(groups), pairs(users)))
}

/// A project with its lock mode.
#[derive(Clone, Debug)]
pub struct ProjectState {
    pub project: Project,
    pub lock: LockMode,
}

/// Every project with its path and lock mode.
pub async fn projects(client: &Client) -> Result<Vec<ProjectState>, TableauError> {
    let items = list_all(
        client,
        &client.site_path("projects"),
        "projects",
        "project",
        &[],
    )
    .await?;
    let locks: HashMap<&str, LockMode> = items
        .iter()
        .filter_map(|p| {
            Some((
                p["id"].as_str()?,
                p["contentPermissions"]
                    .as_str()
                    .and_then(LockMode::parse)
                    .unwrap_or(LockMode::ManagedByOwner),
            ))
        })
        .collect();
    Ok(site::project_paths(&items)
        .into_iter()
        .map(|p| {
            let lock = locks
                .get(p.luid.as_str())
                .copied()
                .unwrap_or(LockMode::ManagedByOwner);
            ProjectState { project: p, lock }
        })
        .collect())
}

/// An item of content: LUID, name and project LUID.
#[derive(Clone, Debug)]
pub struct Item {
    pub luid: String,
    /// A view's is `workbook name/view name`: view names repeat across
    /// workbooks of a project.
    pub name: String,
    pub project_luid: String,
    /// Whether it keeps rules of its own: not a view of a workbook that
    /// shows its sheets as tabs (Tableau gives those the workbook's rules).
    pub own_rules: bool,
}

/// Every item of a kind (`workbooks`, `datasources`, `flows`, `views`).
/// `None` when the server has no such collection (a 404 or 400 answer).
pub async fn items(client: &Client, kind: &str) -> Result<Option<Vec<Item>>, TableauError> {
    if kind == "views" {
        return views(client).await.map(Some);
    }
    let singular = kind.trim_end_matches('s');
    match list_all(client, &client.site_path(kind), kind, singular, &[]).await {
        Ok(list) => Ok(Some(
            list.iter()
                .filter_map(|i| {
                    Some(Item {
                        luid: i["id"].as_str()?.to_string(),
                        name: i["name"].as_str().unwrap_or_default().to_string(),
                        project_luid: i["project"]["id"].as_str().unwrap_or_default().to_string(),
                        own_rules: true,
                    })
                })
                .collect(),
        )),
        Err(e) if matches!(e.status(), Some(400 | 404)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every view, named and placed by its workbook.
async fn views(client: &Client) -> Result<Vec<Item>, TableauError> {
    let (workbooks_path, views_path) = (client.site_path("workbooks"), client.site_path("views"));
    let (workbooks, views) = futures::try_join!(
        list_all(client, &workbooks_path, "workbooks", "workbook", &[]),
        list_all(client, &views_path, "views", "view", &[]),
    )?;
    // A workbook that does not say is taken to hide its tabs, as the
    // extraction does: its views may then have rules.
    let by_id: HashMap<&str, (&str, &str, bool)> = workbooks
        .iter()
        .filter_map(|w| {
            Some((
                w["id"].as_str()?,
                (
                    w["name"].as_str().unwrap_or_default(),
                    w["project"]["id"].as_str().unwrap_or_default(),
                    boolean(w, "showTabs") == Some(true),
                ),
            ))
        })
        .collect();
    Ok(views
        .iter()
        .filter_map(|v| {
            let (workbook, project, tabs) = by_id.get(v["workbook"]["id"].as_str()?)?;
            Some(Item {
                luid: v["id"].as_str()?.to_string(),
                name: format!("{workbook}/{}", v["name"].as_str().unwrap_or_default()),
                project_luid: project.to_string(),
                own_rules: !tabs,
            })
        })
        .collect())
}

/// What an object's rules are read from and written to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A project's own rules.
    Project { project: String },
    /// A project's default rules for a content type.
    Default { project: String, kind: &'static str },
    /// An item's rules (`workbooks`, `datasources`, `flows`, `views`).
    Item { kind: &'static str, luid: String },
}

impl Target {
    /// The content type whose capabilities apply.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Project { .. } => "projects",
            Target::Default { kind, .. } | Target::Item { kind, .. } => kind,
        }
    }

    /// The permissions path below the site.
    pub fn path(&self) -> String {
        match self {
            Target::Project { project } => format!("projects/{project}/permissions"),
            Target::Default { project, kind } => {
                format!("projects/{project}/default-permissions/{kind}")
            }
            Target::Item { kind, luid } => format!("{kind}/{luid}/permissions"),
        }
    }
}

/// Reads one object's rules.
pub async fn rules(client: &Client, target: &Target) -> Result<Rules, TableauError> {
    let body = client
        .get_json(&client.site_path(&target.path()), &[])
        .await?;
    parse_rules(&body).map_err(|message| TableauError::Decode {
        path: target.path(),
        message,
    })
}

/// Reads many objects' rules, as many at once as the client allows.
pub async fn many_rules(
    client: &Client,
    targets: Vec<Target>,
) -> Result<HashMap<Target, Rules>, TableauError> {
    futures::stream::iter(targets)
        .map(|t| async move { rules(client, &t).await.map(|r| (t, r)) })
        .buffer_unordered(client.concurrency().max(1))
        .try_collect()
        .await
}

/// One item or an array of them (Tableau JSON writes lone items either way).
fn each(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A permissions answer's rules (pure):
/// `{"permissions": {"granteeCapabilities": [{"group": {"id": …},
/// "capabilities": {"capability": [{"name": …, "mode": …}]}}]}}`.
pub fn parse_rules(body: &Value) -> Result<Rules, String> {
    let perms = body
        .get("permissions")
        .ok_or("no `permissions` in the answer")?;
    let mut out = Rules::new();
    for gc in each(&perms["granteeCapabilities"]) {
        let grantee = if let Some(id) = gc["group"]["id"].as_str() {
            Grantee::Group(id.to_string())
        } else if let Some(id) = gc["user"]["id"].as_str() {
            Grantee::User(id.to_string())
        } else {
            return Err("a granteeCapabilities entry names no group or user".into());
        };
        let caps = out.entry(grantee).or_default();
        for c in each(&gc["capabilities"]["capability"]) {
            let name = c["name"].as_str().ok_or("a capability without a name")?;
            let mode = c["mode"]
                .as_str()
                .and_then(Mode::parse)
                .ok_or_else(|| format!("capability {name} has no valid mode"))?;
            caps.insert(name.to_string(), mode);
        }
    }
    out.retain(|_, caps| !caps.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_lone_items_and_arrays() {
        let body = json!({"permissions": {"project": {"id": "p"}, "granteeCapabilities": [
            {"group": {"id": "g1"}, "capabilities": {"capability": [{"name": "Read", "mode": "Allow"}, {"name": "Write", "mode": "Deny"}]}},
            {"user": {"id": "u1"}, "capabilities": {"capability": {"name": "Read", "mode": "Allow"}}},
            {"user": {"id": "u2"}, "capabilities": {}}
        ]}});
        let r = parse_rules(&body).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[&Grantee::Group("g1".into())]["Write"], Mode::Deny);
        assert_eq!(r[&Grantee::User("u1".into())].len(), 1);
        assert!(parse_rules(&json!({"permissions": {}})).unwrap().is_empty());
        assert!(parse_rules(&json!({})).is_err());
    }
}
