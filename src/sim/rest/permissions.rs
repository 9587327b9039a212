//! Permissions: explicit rules on projects, workbooks, views and
//! datasources, and a project's default rules for its content.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_permissions.htm>
//! In a locked project (`LockedToProject`) content reports the project's
//! default rules; views report their workbook's rules narrowed to view
//! capabilities, plus any view-level grants.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::body::El;
use super::content::ItemPath;
use super::error::{codes, ApiError};
use super::{find, Ctx, St};
use crate::sim::dataset::{Entity, Grantee, Rule};
use crate::sim::SimState;

fn rules_el(st: &SimState, owner_el: El, rules: &[Rule]) -> Vec<El> {
    let d = &st.data;
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

fn find_project(st: &SimState, id: &str) -> Result<u32, ApiError> {
    find(st, id, codes::PROJECT, "Project", |e| match e {
        Entity::Project(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/projects/{id}/permissions`
pub async fn project(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    ctx.reply(find_project(&st, &path.id).map(|i| {
        let p = &st.data.projects[i as usize];
        rules_el(&st, owned("project", &p.id, &p.name, &st.data.users[p.owner as usize].id), &p.rules)
    }))
}

#[derive(Deserialize)]
pub struct DefaultPath {
    id: String,
    kind: String,
}

/// `GET /api/{v}/sites/{site}/projects/{id}/default-permissions/{workbooks|datasources}`
pub async fn project_default(ctx: Ctx, State(st): St, Path(path): Path<DefaultPath>) -> Response {
    let result = find_project(&st, &path.id).and_then(|i| {
        let p = &st.data.projects[i as usize];
        let rules: &[Rule] = match path.kind.as_str() {
            "workbooks" => &p.default_workbook_rules,
            "datasources" => &p.default_datasource_rules,
            // Kinds a real server knows but this site has no content of.
            "flows" | "metrics" | "lenses" | "dataroles" | "virtualconnections" | "databases" | "tables" => &[],
            other => return Err(ApiError::unknown_resource(&format!("default-permissions/{other}"))),
        };
        Ok(rules_el(&st, owned("project", &p.id, &p.name, &st.data.users[p.owner as usize].id), rules))
    });
    ctx.reply(result)
}

/// `GET /api/{v}/sites/{site}/workbooks/{id}/permissions`
pub async fn workbook(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let found = find(&st, &path.id, codes::WORKBOOK, "Workbook", |e| match e {
        Entity::Workbook(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| {
        let w = &st.data.workbooks[i as usize];
        let owner = owned("workbook", &w.id, &w.name, &st.data.users[w.owner as usize].id);
        rules_el(&st, owner, st.data.workbook_rules(i))
    }))
}

/// `GET /api/{v}/sites/{site}/views/{id}/permissions`
pub async fn view(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let found = find(&st, &path.id, codes::VIEW, "View", |e| match e {
        Entity::View(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| {
        let v = &st.data.views[i as usize];
        let w = &st.data.workbooks[v.workbook as usize];
        let owner = owned("view", &v.id, &v.name, &st.data.users[w.owner as usize].id);
        rules_el(&st, owner, &st.data.view_rules(i))
    }))
}

/// `GET /api/{v}/sites/{site}/datasources/{id}/permissions`
pub async fn datasource(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let found = find(&st, &path.id, codes::DATASOURCE, "Datasource", |e| match e {
        Entity::Datasource(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| {
        let x = &st.data.datasources[i as usize];
        let owner = owned("datasource", &x.id, &x.name, &st.data.users[x.owner as usize].id);
        rules_el(&st, owner, st.data.datasource_rules(i))
    }))
}
