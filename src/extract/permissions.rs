//! Explicit permissions: who is allowed or denied which capability on each
//! project, workbook, view, published datasource and flow, and each
//! project's default rules for the content published into it.
//!
//! Requests, none of them paged:
//! - per project: `projects/{id}/permissions` (scope `item`) and
//!   `projects/{id}/default-permissions/{kind}` for each kind in
//!   [`DEFAULT_KINDS`] (scope `default_{kind}`): the content types TRM
//!   evaluates access on. A server that does not know a kind (flows before
//!   API 3.3) answers 400 or 404: that kind is skipped for the run.
//! - per workbook, datasource, flow and view in a project that is *not*
//!   locked: `{workbooks|datasources|flows|views}/{id}/permissions`
//!   (`item`).
//!
//! Content in a locked project (`contentPermissions` `LockedToProject`, or
//! `LockedToProjectWithoutNested`, which locks the project's own content),
//! or in a project nested below a `LockedToProject` one, has no rules of its
//! own: Tableau evaluates it against the locking project's default rules.
//! So those are not fetched: the warehouse records the lock in
//! `projects.content_permissions` and the rules once, as the project's
//! `default_*` rows. This saves one request per locked item and keeps the
//! table to grants someone set.
//!
//! Views: only views of workbooks that hide their sheets as tabs (and sit
//! in an unlocked project) are read, one request each. Showing tabs makes
//! every view take its workbook's rules (Tableau replaces view-level rules
//! when tabs are shown), so the workbook's answer already holds theirs;
//! reading every view would multiply the permission requests (on the large
//! simulated site ~48,000 views are in unlocked projects). The access
//! evaluator (`src/access/`) uses a read view's answer as its rules and its
//! workbook's rules for the others.
//!
//! The project, workbook, view, datasource and flow lists come from
//! [`Ctx::list`]: the same fetch their own streams use, so a full run lists
//! each once.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::json::{boolean, nested, req, text};
use super::{Ctx, List, Stream};
use crate::warehouse::Rows;

stream!(Permissions, "permissions", ["permissions"]);

/// Permission requests queued at once; the client's limiter bounds how many
/// are actually in flight.
const QUEUED: usize = 64;

/// The content types whose default rules are read for every project.
pub const DEFAULT_KINDS: &[&str] = &["workbooks", "datasources", "flows"];

/// One permissions endpoint to read, and what its rows are about.
struct Target {
    object_type: &'static str,
    object_id: String,
    name: String,
    project_id: Option<String>,
    /// `item`, or `default_<kind>`.
    scope: String,
    /// Path under the site.
    path: String,
}

impl Target {
    /// What the target is, for errors and warnings.
    fn describe(&self) -> String {
        let what = match self.scope.strip_prefix("default_") {
            Some(kind) => format!("default {} permissions of project", kind.trim_end_matches('s')),
            None => format!("permissions of {}", self.object_type),
        };
        format!("{what} '{}' ({})", self.name, self.object_id)
    }
}

/// One capability granted to or denied a grantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `user`, `group` or `group_set`.
    pub grantee_type: &'static str,
    pub grantee_id: String,
    pub capability: String,
    /// `Allow` or `Deny`, as Tableau writes it.
    pub mode: String,
}

/// Whether a project's content takes the project's default rules.
fn is_locked(content_permissions: Option<&str>) -> bool {
    matches!(content_permissions, Some("LockedToProject" | "LockedToProjectWithoutNested"))
}

/// Projects whose content has no rules of its own: locked themselves, or
/// nested (at any depth) below a project locked with its nested projects.
fn locked_projects(projects: &[Value]) -> HashSet<String> {
    let mut parent = HashMap::new();
    let mut mode = HashMap::new();
    for p in projects {
        if let Some(id) = text(p, "id") {
            parent.insert(id, text(p, "parentProjectId"));
            mode.insert(id, text(p, "contentPermissions"));
        }
    }
    let mut locked = HashSet::new();
    for &id in parent.keys() {
        let mut cur = Some(id);
        let mut first = true;
        let mut seen = 0;
        while let Some(p) = cur {
            let m = mode.get(p).copied().flatten();
            if (first && is_locked(m)) || m == Some("LockedToProject") {
                locked.insert(id.to_string());
                break;
            }
            first = false;
            seen += 1;
            // A parent cycle cannot happen on a server; do not loop on one.
            if seen > parent.len() {
                break;
            }
            cur = parent.get(p).copied().flatten();
        }
    }
    locked
}

impl Permissions {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let (projects, workbooks, datasources, views, flows) = futures::try_join!(
            ctx.list(List::Projects),
            ctx.list(List::Workbooks),
            ctx.list(List::Datasources),
            ctx.list(List::Views),
            ctx.list(List::Flows),
        )?;

        let mut targets = Vec::with_capacity(projects.len() * (1 + DEFAULT_KINDS.len()) + workbooks.len() + datasources.len());
        let locked = locked_projects(&projects);
        for p in projects.iter() {
            let id = req(p, "id", "project")?;
            let name = text(p, "name").unwrap_or_default();
            let scopes = std::iter::once(("item".to_string(), format!("projects/{id}/permissions"))).chain(
                DEFAULT_KINDS
                    .iter()
                    .map(|kind| (format!("default_{kind}"), format!("projects/{id}/default-permissions/{kind}"))),
            );
            for (scope, path) in scopes {
                targets.push(Target {
                    object_type: "project",
                    object_id: id.to_string(),
                    name: name.to_string(),
                    project_id: Some(id.to_string()),
                    scope,
                    path,
                });
            }
        }
        let mut in_locked = 0usize;
        // Workbooks in unlocked projects that hide their tabs, and their
        // projects: their views are read.
        let mut unlocked_workbooks: HashMap<&str, Option<&str>> = HashMap::new();
        for (object_type, plural, items) in
            [("workbook", "workbooks", &workbooks), ("datasource", "datasources", &datasources), ("flow", "flows", &flows)]
        {
            for item in items.iter() {
                let id = req(item, "id", object_type)?;
                let project = nested(item, "project", "id");
                if project.is_some_and(|p| locked.contains(p)) {
                    in_locked += 1;
                    continue;
                }
                // A workbook that does not say whether it shows tabs is
                // treated as hiding them: reading its views costs requests,
                // skipping them could miss rules.
                if object_type == "workbook" && boolean(item, "showTabs") != Some(true) {
                    unlocked_workbooks.insert(id, project);
                }
                targets.push(Target {
                    object_type,
                    object_id: id.to_string(),
                    name: text(item, "name").unwrap_or_default().to_string(),
                    project_id: project.map(str::to_string),
                    scope: "item".into(),
                    path: format!("{plural}/{id}/permissions"),
                });
            }
        }
        for v in views.iter() {
            let id = req(v, "id", "view")?;
            let Some(project) = nested(v, "workbook", "id").and_then(|w| unlocked_workbooks.get(w)) else { continue };
            targets.push(Target {
                object_type: "view",
                object_id: id.to_string(),
                name: text(v, "name").unwrap_or_default().to_string(),
                project_id: project.map(str::to_string),
                scope: "item".into(),
                path: format!("views/{id}/permissions"),
            });
        }
        tracing::debug!(
            requests = targets.len(),
            locked_content = in_locked,
            "permissions: content in locked projects takes the project defaults; not fetched"
        );

        // Reading the rules takes most of the run: the lists are not needed
        // for it.
        drop((projects, workbooks, datasources, views, flows));
        ctx.let_go(self.name(), &List::ALL).await;
        let client = &ctx.client;
        let targets = &targets;
        // By index: a closure over `&Target` trips the compiler's
        // higher-ranked lifetime check inside the boxed stream future.
        let fetched: Vec<Option<Vec<Grant>>> = futures::stream::iter(0..targets.len())
            .map(|i| async move {
                let t = &targets[i];
                let path = client.site_path(&t.path);
                match client.get_json(&path, &[]).await {
                    Ok(body) => parse_grants(&body)
                        .map(Some)
                        .map_err(|e| anyhow::anyhow!("{}: unexpected response from GET {path}: {e}", t.describe())),
                    // A default kind this server does not know (flows on an
                    // old server): nothing to read.
                    Err(e) if t.scope != "default_workbooks"
                        && t.scope != "default_datasources"
                        && t.scope.starts_with("default_")
                        && (e.status() == Some(400) || e.code() == Some("404003")) =>
                    {
                        tracing::debug!(error = %e, "{}: not offered by this server", t.describe());
                        Ok(None)
                    }
                    // Deleted since it was listed (not an unknown endpoint, 404003).
                    Err(e) if e.status() == Some(404) && e.code() != Some("404003") => {
                        ctx.warn(self.name(), format!("{} skipped: it no longer exists ({e})", t.describe()));
                        Ok(None)
                    }
                    Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read the {}", t.describe()))),
                }
            })
            .buffered(QUEUED)
            .inspect_ok(|_| ctx.progress(self.name(), 1))
            .try_collect()
            .await?;

        let mut rows = Rows::new("permissions");
        for (t, grants) in targets.iter().zip(&fetched) {
            for g in grants.iter().flatten() {
                rows.push(&[
                    t.object_type.into(),
                    t.object_id.as_str().into(),
                    t.project_id.as_deref().into(),
                    t.scope.as_str().into(),
                    g.grantee_type.into(),
                    g.grantee_id.as_str().into(),
                    g.capability.as_str().into(),
                    g.mode.as_str().into(),
                ])?;
            }
        }
        ctx.emit(self.name(), rows)
    }
}

/// Tableau JSON lists one item as an object, several as an array, none as
/// `{}`, `[]` or nothing at all.
fn many<'a>(v: Option<&'a Value>, what: &str) -> Result<Vec<&'a Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.iter().collect()),
        Some(Value::Object(o)) if o.is_empty() => Ok(Vec::new()),
        Some(o @ Value::Object(_)) => Ok(vec![o]),
        Some(other) => Err(format!("{what} is {other}, not a list")),
    }
}

/// The grants in a permissions response:
///
/// ```json
/// {"permissions": {"project": {"id": "…"},
///   "granteeCapabilities": [{"group": {"id": "…"},
///     "capabilities": {"capability": [{"name": "Read", "mode": "Allow"}]}}]}}
/// ```
pub fn parse_grants(body: &Value) -> Result<Vec<Grant>, String> {
    let permissions = match body.get("permissions") {
        Some(p @ Value::Object(_)) => p,
        Some(other) => return Err(format!("\"permissions\" is {other}, not an object")),
        None => return Err("no \"permissions\" in the response".into()),
    };
    let mut grants = Vec::new();
    for gc in many(permissions.get("granteeCapabilities"), "granteeCapabilities")? {
        let (grantee_type, grantee_id) = [("user", "user"), ("group", "group"), ("groupSet", "group_set")]
            .into_iter()
            .find_map(|(key, kind)| gc.get(key).map(|g| (kind, g)))
            .map(|(kind, g)| text(g, "id").map(|id| (kind, id)).ok_or_else(|| format!("a {kind} grantee has no id: {g}")))
            .unwrap_or_else(|| Err(format!("granteeCapabilities names no user or group: {gc}")))?;
        let caps = match gc.get("capabilities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(o)) => many(o.get("capability"), "capabilities.capability")?,
            Some(other) => return Err(format!("capabilities is {other}, not an object")),
        };
        for c in caps {
            let name = text(c, "name").ok_or_else(|| format!("a capability has no name: {c}"))?;
            let mode = text(c, "mode").ok_or_else(|| format!("capability {name} has no mode: {c}"))?;
            grants.push(Grant {
                grantee_type,
                grantee_id: grantee_id.to_string(),
                capability: name.to_string(),
                mode: mode.to_string(),
            });
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant(t: &'static str, id: &str, cap: &str, mode: &str) -> Grant {
        Grant { grantee_type: t, grantee_id: id.into(), capability: cap.into(), mode: mode.into() }
    }

    #[test]
    fn reads_grantees_and_capabilities() {
        let body = json!({"permissions": {
            "project": {"id": "p1", "name": "Sales"},
            "granteeCapabilities": [
                {"group": {"id": "g1"}, "capabilities": {"capability": [
                    {"name": "Read", "mode": "Allow"}, {"name": "Write", "mode": "Deny"}]}},
                {"user": {"id": "u1"}, "capabilities": {"capability": {"name": "ProjectLeader", "mode": "Allow"}}},
            ]}});
        assert_eq!(
            parse_grants(&body).unwrap(),
            vec![
                grant("group", "g1", "Read", "Allow"),
                grant("group", "g1", "Write", "Deny"),
                grant("user", "u1", "ProjectLeader", "Allow"),
            ]
        );
    }

    #[test]
    fn empty_collections_in_every_spelling() {
        for body in [
            json!({"permissions": {"project": {"id": "p1"}}}),
            json!({"permissions": {"granteeCapabilities": []}}),
            json!({"permissions": {"granteeCapabilities": {}}}),
            json!({"permissions": {"granteeCapabilities": null}}),
            json!({"permissions": {}}),
        ] {
            assert_eq!(parse_grants(&body).unwrap(), vec![], "{body}");
        }
        // One grantee as an object, with no capabilities.
        for caps in [json!({}), json!({"capability": []}), json!({"capability": {}}), json!(null)] {
            let body = json!({"permissions": {"granteeCapabilities": {"user": {"id": "u"}, "capabilities": caps}}});
            assert_eq!(parse_grants(&body).unwrap(), vec![], "{body}");
        }
        let body = json!({"permissions": {"granteeCapabilities": {"groupSet": {"id": "s"},
            "capabilities": {"capability": {"name": "Read", "mode": "Allow"}}}}});
        assert_eq!(parse_grants(&body).unwrap(), vec![grant("group_set", "s", "Read", "Allow")]);
    }

    #[test]
    fn unknown_shapes_are_errors() {
        let no_grantee = json!({"permissions": {"granteeCapabilities": [{"capabilities": {}}]}});
        assert!(parse_grants(&no_grantee).unwrap_err().contains("no user or group"));
        let no_id = json!({"permissions": {"granteeCapabilities": [{"user": {}, "capabilities": {}}]}});
        assert!(parse_grants(&no_id).unwrap_err().contains("no id"));
        let no_mode = json!({"permissions": {"granteeCapabilities": [{"user": {"id": "u"},
            "capabilities": {"capability": [{"name": "Read"}]}}]}});
        assert!(parse_grants(&no_mode).unwrap_err().contains("no mode"));
        assert!(parse_grants(&json!({"projects": {}})).unwrap_err().contains("no \"permissions\""));
        assert!(parse_grants(&json!({"permissions": "x"})).is_err());
        assert!(parse_grants(&json!({"permissions": {"granteeCapabilities": "x"}})).is_err());
    }

    #[test]
    fn locked_projects_and_their_nested_projects() {
        assert!(is_locked(Some("LockedToProject")));
        assert!(is_locked(Some("LockedToProjectWithoutNested")));
        assert!(!is_locked(Some("ManagedByOwner")));
        assert!(!is_locked(None));
        let p = |id: &str, parent: Option<&str>, cp: &str| json!({"id": id, "parentProjectId": parent, "contentPermissions": cp});
        let projects = vec![
            p("a", None, "LockedToProject"),
            p("a1", Some("a"), "ManagedByOwner"),
            p("a11", Some("a1"), "ManagedByOwner"),
            p("b", None, "LockedToProjectWithoutNested"),
            p("b1", Some("b"), "ManagedByOwner"),
            p("c", None, "ManagedByOwner"),
        ];
        let mut locked: Vec<String> = locked_projects(&projects).into_iter().collect();
        locked.sort();
        assert_eq!(locked, ["a", "a1", "a11", "b"]);
    }
}
