//! Reading what admin commands plan from: projects with their paths, and
//! content found by name and project path. Reads go through the REST layer
//! ([`crate::tableau::rest`]); nothing here writes.

use std::collections::HashMap;

use serde_json::Value;

use crate::tableau::rest::list_all;
use crate::tableau::Client;

/// A project and its path from the top (`Finance/Reports`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub luid: String,
    pub name: String,
    pub parent_luid: Option<String>,
    pub path: String,
}

/// Every project, with paths built from the parent chain. A parent that
/// is not listed (not visible to the signed-in user) ends the path there.
pub async fn projects(client: &Client) -> anyhow::Result<Vec<Project>> {
    let items = list_all(client, &client.site_path("projects"), "projects", "project", &[]).await?;
    Ok(project_paths(&items))
}

/// Paths from a `projects` listing (pure, tested on its own).
pub fn project_paths(items: &[Value]) -> Vec<Project> {
    let by_id: HashMap<&str, &Value> = items.iter().filter_map(|p| Some((p["id"].as_str()?, p))).collect();
    let path_of = |start: &Value| -> String {
        let mut names = vec![start["name"].as_str().unwrap_or_default().to_string()];
        let mut cur = start;
        // A cycle cannot come from Tableau; the bound keeps a bad answer from hanging.
        for _ in 0..64 {
            let Some(parent) = cur["parentProjectId"].as_str().and_then(|id| by_id.get(id)) else { break };
            names.push(parent["name"].as_str().unwrap_or_default().to_string());
            cur = parent;
        }
        names.reverse();
        names.join("/")
    };
    items
        .iter()
        .filter_map(|p| {
            Some(Project {
                luid: p["id"].as_str()?.to_string(),
                name: p["name"].as_str().unwrap_or_default().to_string(),
                parent_luid: p["parentProjectId"].as_str().filter(|s| !s.is_empty()).map(str::to_string),
                path: path_of(p),
            })
        })
        .collect()
}

/// An item found by name: its LUID, name and project path, and the REST
/// object as listed.
#[derive(Clone, Debug)]
pub struct Found {
    pub luid: String,
    pub name: String,
    pub project_path: String,
    pub item: Value,
}

/// Why a name did not resolve to one item.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    #[error("no {kind} named {name:?}{}", in_project(project))]
    Missing { kind: String, name: String, project: Option<String> },
    #[error("{} {kind}s are named {name:?}{}; name the project with --project:\n{}",
        candidates.len(), in_project(project), candidates.iter().map(|c| format!("  {} (project {}, id {})", c.name, c.project_path, c.luid)).collect::<Vec<_>>().join("\n"))]
    Ambiguous { kind: String, name: String, project: Option<String>, candidates: Vec<Found> },
}

fn in_project(project: &Option<String>) -> String {
    project.as_ref().map(|p| format!(" in project {p:?}")).unwrap_or_default()
}

/// Finds the one workbook or datasource (`kind`: `workbook`, `datasource`)
/// named `name`, in project `project` (a path like `Finance/Reports`, or a
/// bare project name) when given. Asks the server with a name filter, so
/// a large site costs one request.
pub async fn find_content(
    client: &Client,
    kind: &str,
    name: &str,
    project: Option<&str>,
    projects: &[Project],
) -> anyhow::Result<Found> {
    let collection = format!("{kind}s");
    // Tableau's filter syntax separates with `,` and `:`, so a name holding
    // them cannot be filtered on exactly; such names are matched here.
    let filter: Vec<(&str, String)> =
        if name.contains([',', ':']) { Vec::new() } else { vec![("filter", format!("name:eq:{name}"))] };
    let items = list_all(client, &client.site_path(&collection), &collection, kind, &filter).await?;
    Ok(pick(kind, name, project, &items, projects)?)
}

/// Chooses among listed items by exact name and project (pure).
pub fn pick(kind: &str, name: &str, project: Option<&str>, items: &[Value], projects: &[Project]) -> Result<Found, NameError> {
    let paths: HashMap<&str, &str> = projects.iter().map(|p| (p.luid.as_str(), p.path.as_str())).collect();
    let candidates: Vec<Found> = items
        .iter()
        .filter(|i| i["name"].as_str() == Some(name))
        .filter_map(|i| {
            let project_luid = i["project"]["id"].as_str().unwrap_or_default();
            let project_path = paths
                .get(project_luid)
                .map(|p| p.to_string())
                .unwrap_or_else(|| i["project"]["name"].as_str().unwrap_or_default().to_string());
            Some(Found { luid: i["id"].as_str()?.to_string(), name: name.to_string(), project_path, item: i.clone() })
        })
        .collect();
    let matching: Vec<Found> = match project {
        None => candidates,
        Some(p) => {
            let p = p.trim_matches('/');
            let by_path: Vec<Found> = candidates.iter().filter(|c| c.project_path == p).cloned().collect();
            if by_path.is_empty() {
                // A bare project name matches the last part of the path.
                candidates.into_iter().filter(|c| c.project_path.rsplit('/').next() == Some(p)).collect()
            } else {
                by_path
            }
        }
    };
    match matching.len() {
        1 => Ok(matching.into_iter().next().expect("one")),
        0 => Err(NameError::Missing { kind: kind.into(), name: name.into(), project: project.map(str::to_string) }),
        _ => Err(NameError::Ambiguous {
            kind: kind.into(),
            name: name.into(),
            project: project.map(str::to_string),
            candidates: matching,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn site() -> (Vec<Project>, Vec<Value>) {
        let projects = project_paths(&[
            json!({"id": "p1", "name": "Finance"}),
            json!({"id": "p2", "name": "Reports", "parentProjectId": "p1"}),
            json!({"id": "p3", "name": "Reports"}),
        ]);
        let items = vec![
            json!({"id": "w1", "name": "Sales", "project": {"id": "p2", "name": "Reports"}}),
            json!({"id": "w2", "name": "Sales", "project": {"id": "p3", "name": "Reports"}}),
            json!({"id": "w3", "name": "Costs", "project": {"id": "p1", "name": "Finance"}}),
        ];
        (projects, items)
    }

    #[test]
    fn paths_follow_the_parent_chain() {
        let (projects, _) = site();
        let paths: Vec<&str> = projects.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, vec!["Finance", "Finance/Reports", "Reports"]);
    }

    #[test]
    fn names_resolve_through_project_paths() {
        let (projects, items) = site();
        assert_eq!(pick("workbook", "Costs", None, &items, &projects).unwrap().luid, "w3");
        assert_eq!(pick("workbook", "Sales", Some("Finance/Reports"), &items, &projects).unwrap().luid, "w1");
        assert_eq!(pick("workbook", "Sales", Some("/Reports"), &items, &projects).unwrap().luid, "w2");
        let e = pick("workbook", "Sales", None, &items, &projects).unwrap_err().to_string();
        assert!(e.contains("2 workbooks are named \"Sales\"") && e.contains("Finance/Reports") && e.contains("id w2"), "{e}");
        let e = pick("workbook", "Nope", Some("Finance"), &items, &projects).unwrap_err().to_string();
        assert_eq!(e, "no workbook named \"Nope\" in project \"Finance\"");
    }
}
