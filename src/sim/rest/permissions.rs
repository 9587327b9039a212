//! Permissions: explicit rules on projects, workbooks, views and
//! datasources, and a project's default rules for its content; reads and
//! writes.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_permissions.htm>
//! - In a locked project (`LockedToProject`) content reports the project's
//!   default rules and rejects rules of its own.
//! - Views report their workbook's rules narrowed to view capabilities, plus
//!   any view-level grants.
//! - A PUT adds: a capability the grantee already has in any mode is left as
//!   it is. Changing Allow to Deny takes a DELETE first.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::El;
use crate::sim::calls::Grantees;
use super::content::{find_datasource, find_project, find_view, find_workbook};
use super::error::ApiError;
use super::people::find_user;
use super::request;
use super::{find, resource_kind, Ctx, St};
use crate::sim::dataset::{Dataset, Entity, Grantee, Mode, Rule};

/// Every capability Tableau's permissions API names.
const CAPABILITIES: &[&str] = &[
    "AddComment",
    "ChangeHierarchy",
    "ChangePermissions",
    "Connect",
    "CreateRefreshMetrics",
    "Delete",
    "Execute",
    "ExportData",
    "ExportImage",
    "ExportXml",
    "Extract",
    "Filter",
    "InheritedProjectLeader",
    "ProjectLeader",
    "PulseMetricDefine",
    "Read",
    "RunExplainData",
    "SaveAs",
    "ShareView",
    "ViewComments",
    "ViewUnderlyingData",
    "WebAuthoring",
    "WebAuthoringForFlows",
    "Write",
    "APIAccess",
];

/// The content types a project can hold default rules for.
const DEFAULT_KINDS: &[&str] =
    &["workbooks", "datasources", "flows", "metrics", "lenses", "dataroles", "virtualconnections", "databases", "tables"];

fn rules_el(d: &Dataset, owner_el: El, rules: &[Rule]) -> Vec<El> {
    let grants = rules.iter().map(|r| {
        let grantee = match r.grantee {
            Grantee::User(u) => El::new("user").attr("id", &d.users[u as usize].id),
            Grantee::Group(g) => El::new("group").attr("id", &d.groups[g as usize].id),
        };
        El::new("granteeCapabilities").repeated().child(grantee).child(
            El::collection("capabilities").children(
                r.capabilities.iter().map(|(name, mode)| El::new("capability").attr("name", name).attr("mode", mode.as_str())),
            ),
        )
    });
    vec![El::new("permissions").child(owner_el).children(grants)]
}

fn owned(kind: &'static str, id: &str, name: &str, owner: &str) -> El {
    El::new(kind).attr("id", id).attr("name", name).child(El::new("owner").attr("id", owner))
}

/// What a permissions path names.
#[derive(Clone, Copy, Debug)]
enum Item {
    Project(u32),
    Workbook(u32),
    View(u32),
    Datasource(u32),
}

fn item(d: &Dataset, kind: &str, id: &str) -> Result<Item, ApiError> {
    Ok(match kind {
        "projects" => Item::Project(find_project(d, id)?),
        "workbooks" => Item::Workbook(find_workbook(d, id)?),
        "views" => Item::View(find_view(d, id)?),
        "datasources" => Item::Datasource(find_datasource(d, id)?),
        // This site has no flows, so no flow can be found.
        "flows" => return Err(ApiError::not_found(super::error::codes::FLOW, "Flow", id)),
        other => return Err(ApiError::unknown_resource(&format!("/{other}/{id}/permissions"))),
    })
}

fn owner_el(d: &Dataset, it: Item) -> El {
    let user = |u: u32| d.users[u as usize].id.as_str();
    match it {
        Item::Project(i) => {
            let p = &d.projects[i as usize];
            owned("project", &p.id, &p.name, user(p.owner))
        }
        Item::Workbook(i) => {
            let w = &d.workbooks[i as usize];
            owned("workbook", &w.id, &w.name, user(w.owner))
        }
        Item::View(i) => {
            let v = &d.views[i as usize];
            owned("view", &v.id, &v.name, user(d.workbooks[v.workbook as usize].owner))
        }
        Item::Datasource(i) => {
            let x = &d.datasources[i as usize];
            owned("datasource", &x.id, &x.name, user(x.owner))
        }
    }
}

fn current_rules(d: &Dataset, it: Item) -> Vec<Rule> {
    match it {
        Item::Project(i) => d.projects[i as usize].rules.clone(),
        Item::Workbook(i) => d.workbook_rules(i).to_vec(),
        Item::View(i) => d.view_rules(i),
        Item::Datasource(i) => d.datasource_rules(i).to_vec(),
    }
}

/// Path parameters of a permissions route; the content type comes from the
/// path itself (`…/sites/{site}/{kind}/{id}/permissions`).
type Params = Path<HashMap<String, String>>;

fn param<'a>(p: &'a HashMap<String, String>, key: &str) -> &'a str {
    p.get(key).map(String::as_str).unwrap_or_default()
}

/// `GET /api/{v}/sites/{site}/{projects|workbooks|views|datasources|flows}/{id}/permissions`
pub async fn get(ctx: Ctx, State(st): St, uri: Uri, Path(p): Params) -> Response {
    let d = &st.data();
    ctx.reply(item(d, resource_kind(&uri), param(&p, "id")).map(|it| rules_el(d, owner_el(d, it), &current_rules(d, it))))
}

#[derive(Deserialize)]
pub struct DefaultPath {
    id: String,
    kind: String,
}

fn default_rules<'a>(d: &'a Dataset, p: u32, kind: &str) -> Result<&'a [Rule], ApiError> {
    let project = &d.projects[p as usize];
    Ok(match kind {
        "workbooks" => &project.default_workbook_rules,
        "datasources" => &project.default_datasource_rules,
        k if DEFAULT_KINDS.contains(&k) => project.other_default_rules.get(k).map_or(&[][..], Vec::as_slice),
        other => return Err(ApiError::unknown_resource(&format!("default-permissions/{other}"))),
    })
}

fn default_rules_mut<'a>(d: &'a mut Dataset, p: u32, kind: &str) -> Result<&'a mut Vec<Rule>, ApiError> {
    let project = &mut d.projects[p as usize];
    Ok(match kind {
        "workbooks" => &mut project.default_workbook_rules,
        "datasources" => &mut project.default_datasource_rules,
        k if DEFAULT_KINDS.contains(&k) => project.other_default_rules.entry(k.to_string()).or_default(),
        other => return Err(ApiError::unknown_resource(&format!("default-permissions/{other}"))),
    })
}

/// `GET /api/{v}/sites/{site}/projects/{id}/default-permissions/{kind}`
pub async fn project_default(ctx: Ctx, State(st): St, Path(path): Path<DefaultPath>) -> Response {
    let d = &st.data();
    let result = find_project(d, &path.id).and_then(|i| {
        let rules = default_rules(d, i, &path.kind)?;
        Ok(rules_el(d, owner_el(d, Item::Project(i)), rules))
    });
    ctx.reply(result)
}

// --- writes -----------------------------------------------------------------

fn grantee(d: &Dataset, kind: &str, id: &str) -> Result<Grantee, ApiError> {
    match kind {
        "user" | "users" => find_user(d, id).map(Grantee::User),
        "group" | "groups" => find(d, id, super::error::codes::GROUP, "Group", |e| match e {
            Entity::Group(i) => Some(i),
            _ => None,
        })
        .map(Grantee::Group),
        other => Err(ApiError::unknown_resource(&format!("permissions/{other}"))),
    }
}

fn capability(name: &str) -> Result<&'static str, ApiError> {
    CAPABILITIES.iter().copied().find(|c| *c == name).ok_or_else(|| {
        ApiError::bad_request("400009", "Bad Request", format!("'{name}' is not a valid capability name."))
    })
}

fn mode(name: &str) -> Result<Mode, ApiError> {
    match name {
        "Allow" => Ok(Mode::Allow),
        "Deny" => Ok(Mode::Deny),
        other => Err(ApiError::bad_request(
            "400009",
            "Bad Request",
            format!("'{other}' is not a valid capability mode; use Allow or Deny."),
        )),
    }
}

/// The rules a PUT body asks for, checked before anything changes.
fn requested(d: &Dataset, headers: &HeaderMap, body: &[u8]) -> Result<Vec<Rule>, ApiError> {
    let req = request::parse(headers, body)?;
    let perms = req.require(&["permissions"])?;
    let mut rules = Vec::new();
    for gc in perms.all("granteeCapabilities") {
        let who = match (gc.child("user"), gc.child("group")) {
            (Some(u), _) => grantee(d, "user", u.need("id")?)?,
            (None, Some(g)) => grantee(d, "group", g.need("id")?)?,
            _ => return Err(ApiError::malformed_body("Each <granteeCapabilities> needs a <user> or <group>.")),
        };
        let caps = gc
            .require(&["capabilities"])?
            .all("capability")
            .map(|c| Ok((capability(c.need("name")?)?, mode(c.need("mode")?)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        rules.push(Rule { grantee: who, capabilities: caps });
    }
    if rules.is_empty() {
        return Err(ApiError::malformed_body("Payload is either malformed or incomplete: no <granteeCapabilities>."));
    }
    Ok(rules)
}

/// Adds `want` to `rules` the way Tableau does: capabilities a grantee
/// already has, in either mode, stay as they are.
fn add_rules(rules: &mut Vec<Rule>, want: &[Rule]) {
    for w in want {
        let at = match rules.iter().position(|r| r.grantee == w.grantee) {
            Some(i) => i,
            None => {
                rules.push(Rule { grantee: w.grantee, capabilities: Vec::new() });
                rules.len() - 1
            }
        };
        for &(cap, m) in &w.capabilities {
            if !rules[at].capabilities.iter().any(|(c, _)| *c == cap) {
                rules[at].capabilities.push((cap, m));
            }
        }
    }
}

/// Removes one capability; false when the grantee does not have it in that mode.
fn remove_rule(rules: &mut Vec<Rule>, who: Grantee, cap: &str, m: Mode) -> bool {
    let Some(i) = rules.iter().position(|r| r.grantee == who) else { return false };
    let before = rules[i].capabilities.len();
    rules[i].capabilities.retain(|(c, x)| !(*c == cap && *x == m));
    let removed = rules[i].capabilities.len() < before;
    if rules[i].capabilities.is_empty() {
        rules.remove(i);
    }
    removed
}

fn locked_content(d: &Dataset, it: Item) -> Option<&str> {
    let project = match it {
        Item::Project(_) => return None,
        Item::Workbook(w) => d.workbooks[w as usize].project,
        Item::View(v) => d.workbooks[d.views[v as usize].workbook as usize].project,
        Item::Datasource(x) => d.datasources[x as usize].project,
    };
    let p = &d.projects[project as usize];
    p.locked.then_some(p.name.as_str())
}

fn item_rules_mut(d: &mut Dataset, it: Item) -> &mut Vec<Rule> {
    match it {
        Item::Project(i) => &mut d.projects[i as usize].rules,
        Item::Workbook(i) => &mut d.workbooks[i as usize].rules,
        Item::View(i) => &mut d.views[i as usize].extra_rules,
        Item::Datasource(i) => &mut d.datasources[i as usize].rules,
    }
}

fn reject_locked(d: &Dataset, it: Item) -> Result<(), ApiError> {
    if let Item::View(v) = it {
        let w = &d.workbooks[d.views[v as usize].workbook as usize];
        if w.show_tabs {
            return Err(ApiError::forbidden(format!(
                "The view's workbook '{}' shows its sheets as tabs, so its views take the workbook's \
                 permissions: change the workbook's permissions, or hide its tabs first.",
                w.name
            )));
        }
    }
    match locked_content(d, it) {
        Some(project) => Err(ApiError::forbidden(format!(
            "Permissions on this content are locked to its project '{project}': change the project's default \
             permissions, or set the project's contentPermissions to ManagedByOwner first."
        ))),
        None => Ok(()),
    }
}

fn grantee_ids(d: &Dataset, rules: &[Rule]) -> Grantees {
    Grantees(
        rules
            .iter()
            .map(|r| match r.grantee {
                Grantee::User(u) => format!("user:{}", d.users[u as usize].id),
                Grantee::Group(g) => format!("group:{}", d.groups[g as usize].id),
            })
            .collect(),
    )
}

fn with_grantees(mut resp: Response, g: Grantees) -> Response {
    resp.extensions_mut().insert(g);
    resp
}

/// `PUT /api/{v}/sites/{site}/{kind}/{id}/permissions`
pub async fn add(ctx: Ctx, State(st): St, uri: Uri, Path(p): Params, headers: HeaderMap, body: Bytes) -> Response {
    let mut d = st.write();
    let result = (|| {
        let it = item(&d, resource_kind(&uri), param(&p, "id"))?;
        let want = requested(&d, &headers, &body)?;
        reject_locked(&d, it)?;
        add_rules(item_rules_mut(&mut d, it), &want);
        Ok((rules_el(&d, owner_el(&d, it), &want), grantee_ids(&d, &want)))
    })();
    drop(d);
    match result {
        Ok((els, g)) => with_grantees(ctx.ok(els), g),
        Err(e) => ctx.error(e),
    }
}


/// `DELETE /api/{v}/sites/{site}/{kind}/{id}/permissions/{users|groups}/{gid}/{capability}/{mode}`
pub async fn delete(ctx: Ctx, State(st): St, uri: Uri, Path(p): Params) -> Response {
    let mut d = st.write();
    let result = (|| {
        let it = item(&d, resource_kind(&uri), param(&p, "id"))?;
        let who = grantee(&d, param(&p, "grantee_kind"), param(&p, "grantee"))?;
        let cap = capability(param(&p, "capability"))?;
        let m = mode(param(&p, "mode"))?;
        reject_locked(&d, it)?;
        if !remove_rule(item_rules_mut(&mut d, it), who, cap, m) {
            return Err(missing_rule(param(&p, "grantee"), cap, m));
        }
        Ok(grantee_ids(&d, &[Rule { grantee: who, capabilities: Vec::new() }]))
    })();
    drop(d);
    match result {
        Ok(g) => with_grantees(StatusCode::NO_CONTENT.into_response(), g),
        Err(e) => ctx.error(e),
    }
}

fn missing_rule(grantee: &str, cap: &str, m: Mode) -> ApiError {
    ApiError::not_found_detail(
        "404004",
        format!("The grantee '{grantee}' has no {cap} capability set to {} here.", m.as_str()),
    )
}

#[derive(Deserialize)]
pub struct DefaultRulePath {
    id: String,
    kind: String,
    grantee_kind: String,
    grantee: String,
    capability: String,
    mode: String,
}

/// `PUT /api/{v}/sites/{site}/projects/{id}/default-permissions/{kind}`
pub async fn add_default(ctx: Ctx, State(st): St, Path(path): Path<DefaultPath>, headers: HeaderMap, body: Bytes) -> Response {
    let mut d = st.write();
    let result = (|| {
        let p = find_project(&d, &path.id)?;
        default_rules(&d, p, &path.kind)?;
        let want = requested(&d, &headers, &body)?;
        add_rules(default_rules_mut(&mut d, p, &path.kind)?, &want);
        Ok((rules_el(&d, owner_el(&d, Item::Project(p)), &want), grantee_ids(&d, &want)))
    })();
    drop(d);
    match result {
        Ok((els, g)) => with_grantees(ctx.ok(els), g),
        Err(e) => ctx.error(e),
    }
}

/// `DELETE /api/{v}/sites/{site}/projects/{id}/default-permissions/{kind}/{users|groups}/{gid}/{capability}/{mode}`
pub async fn delete_default(ctx: Ctx, State(st): St, Path(path): Path<DefaultRulePath>) -> Response {
    let mut d = st.write();
    let result = (|| {
        let p = find_project(&d, &path.id)?;
        default_rules(&d, p, &path.kind)?;
        let who = grantee(&d, &path.grantee_kind, &path.grantee)?;
        let cap = capability(&path.capability)?;
        let m = mode(&path.mode)?;
        if !remove_rule(default_rules_mut(&mut d, p, &path.kind)?, who, cap, m) {
            return Err(missing_rule(&path.grantee, cap, m));
        }
        Ok(grantee_ids(&d, &[Rule { grantee: who, capabilities: Vec::new() }]))
    })();
    drop(d);
    match result {
        Ok(g) => with_grantees(StatusCode::NO_CONTENT.into_response(), g),
        Err(e) => ctx.error(e),
    }
}
