//! Content resources: projects, workbooks, views and published datasources.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_projects.htm>,
//! <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_workbooks_and_views.htm>,
//! <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_data_sources.htm>

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::auth::Session;
use super::body::El;
use super::error::{codes, ApiError};
use super::request::{self, Node};
use super::query::{self, ListParams, Val};
use super::{find, Ctx, St};
use crate::sim::dataset::{Dataset, Entity, Project};
use crate::sim::manifest::iso;
use crate::sim::SimState;

#[derive(Deserialize)]
pub struct ItemPath {
    pub id: String,
}

pub(crate) fn tags_el(tags: &[String]) -> El {
    El::collection("tags").children(tags.iter().map(|t| El::new("tag").attr("label", t)))
}

fn project_el(d: &Dataset, i: u32) -> El {
    let p = &d.projects[i as usize];
    written_project_el(d, i).attr("createdAt", iso(p.created_at)).attr("updatedAt", iso(p.updated_at))
}

/// A project as create and update answer it: no timestamps.
fn written_project_el(d: &Dataset, i: u32) -> El {
    let p = &d.projects[i as usize];
    El::new("project")
        .attr("id", &p.id)
        .attr("name", &p.name)
        .attr("description", &p.description)
        .attr("contentPermissions", p.content_permissions())
        .attr_opt("parentProjectId", p.parent.map(|x| &d.projects[x as usize].id))
        .child(El::new("owner").attr("id", &d.users[p.owner as usize].id))
}

/// `GET /api/{v}/sites/{site}/projects`
pub async fn list_projects(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    let known = ["name", "createdAt", "updatedAt", "ownerName", "parentProjectId", "topLevelProject"];
    let page = query::list(d.live_projects(), &q, &known, |i, f| {
        let p = &d.projects[i as usize];
        match f {
            "name" => Val::Str(&p.name),
            "createdAt" => Val::Time(Some(p.created_at)),
            "updatedAt" => Val::Time(Some(p.updated_at)),
            "ownerName" => Val::Str(&d.users[p.owner as usize].name),
            "parentProjectId" => Val::Str(p.parent.map_or("", |x| &d.projects[x as usize].id)),
            _ => Val::Bool(p.parent.is_none()),
        }
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("projects").children(p.items.into_iter().map(|i| project_el(d, i)))]
    }))
}

fn workbook_el(st: &SimState, d: &Dataset, i: u32) -> El {
    let w = &d.workbooks[i as usize];
    let p = &d.projects[w.project as usize];
    let owner = &d.users[w.owner as usize];
    El::new("workbook")
        .attr("id", &w.id)
        .attr("name", &w.name)
        .attr("description", &w.description)
        .attr("contentUrl", &w.content_url)
        .attr("webpageUrl", format!("{}/#/site/{}/workbooks/{}", st.base_url(), d.site.content_url, i + 1))
        .attr("showTabs", w.show_tabs)
        .attr("size", w.size_mb)
        .attr("createdAt", iso(w.created_at))
        .attr("updatedAt", iso(w.updated_at))
        .attr("encryptExtracts", false)
        .attr("defaultViewId", &d.views[w.views.start as usize].id)
        .child(El::new("project").attr("id", &p.id).attr("name", &p.name))
        .child(El::new("owner").attr("id", &owner.id).attr("name", &owner.name))
        .child(tags_el(&w.tags))
}

const WORKBOOK_FIELDS: &[&str] =
    &["name", "contentUrl", "createdAt", "updatedAt", "ownerName", "ownerEmail", "projectName", "tags", "hasExtracts"];

fn workbook_field<'a>(d: &'a Dataset, i: u32, f: &str) -> Val<'a> {
    let w = &d.workbooks[i as usize];
    match f {
        "name" => Val::Str(&w.name),
        "contentUrl" => Val::Str(&w.content_url),
        "createdAt" => Val::Time(Some(w.created_at)),
        "updatedAt" => Val::Time(Some(w.updated_at)),
        "ownerName" => Val::Str(&d.users[w.owner as usize].name),
        "ownerEmail" => Val::Str(&d.users[w.owner as usize].email),
        "projectName" => Val::Str(&d.projects[w.project as usize].name),
        "tags" => Val::Tags(&w.tags),
        _ => Val::Bool(w.has_extracts),
    }
}

/// `GET /api/{v}/sites/{site}/workbooks`
pub async fn list_workbooks(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    let page = query::list(0..d.workbooks.len() as u32, &q, WORKBOOK_FIELDS, |i, f| workbook_field(d, i, f));
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("workbooks").children(p.items.into_iter().map(|i| workbook_el(&st, d, i)))]
    }))
}

pub(crate) fn find_workbook(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::WORKBOOK, "Workbook", |e| match e {
        Entity::Workbook(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/workbooks/{id}`: the workbook with its views.
pub async fn get_workbook(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let d = &st.data();
    ctx.reply(find_workbook(d, &path.id).map(|i| {
        let views = d.workbooks[i as usize].views.clone();
        let views_el = El::collection("views").children(views.map(|v| {
            let v = &d.views[v as usize];
            El::new("view").attr("id", &v.id).attr("name", &v.name).attr("contentUrl", view_content_url(d, v))
        }));
        vec![workbook_el(&st, d, i).child(views_el)]
    }))
}

fn view_content_url(d: &Dataset, v: &crate::sim::dataset::View) -> String {
    format!("{}/sheets/{}", d.workbooks[v.workbook as usize].content_url, v.url_name)
}

fn view_el(st: &SimState, d: &Dataset, i: u32, usage: bool) -> El {
    let v = &d.views[i as usize];
    let w = &d.workbooks[v.workbook as usize];
    let el = El::new("view")
        .attr("id", &v.id)
        .attr("name", &v.name)
        .attr("contentUrl", view_content_url(d, v))
        .attr("createdAt", iso(v.created_at))
        .attr("updatedAt", iso(v.updated_at))
        .attr("viewUrlName", &v.url_name)
        .attr("sheetType", v.sheet_type.as_str())
        .child(El::new("workbook").attr("id", &w.id))
        .child(El::new("owner").attr("id", &d.users[w.owner as usize].id))
        .child(El::new("project").attr("id", &d.projects[w.project as usize].id))
        .child(tags_el(&v.tags));
    if usage {
        el.child(El::new("usage").attr("totalViewCount", v.usage.total_at(st.day())))
    } else {
        el
    }
}

const VIEW_FIELDS: &[&str] = &[
    "name", "contentUrl", "viewUrlName", "createdAt", "updatedAt", "ownerName", "projectName", "workbookName",
    "tags", "sheetType", "hitsTotal",
];

fn list_view_page(ctx: Ctx, st: &SimState, d: &Dataset, ids: impl Iterator<Item = u32>, q: &ListParams) -> Response {
    let day = st.day();
    let page = query::list(ids, q, VIEW_FIELDS, |i, f| {
        let v = &d.views[i as usize];
        let w = &d.workbooks[v.workbook as usize];
        match f {
            "name" => Val::Str(&v.name),
            "viewUrlName" => Val::Str(&v.url_name),
            "createdAt" => Val::Time(Some(v.created_at)),
            "updatedAt" => Val::Time(Some(v.updated_at)),
            "ownerName" => Val::Str(&d.users[w.owner as usize].name),
            "projectName" => Val::Str(&d.projects[w.project as usize].name),
            "workbookName" => Val::Str(&w.name),
            "tags" => Val::Tags(&v.tags),
            "sheetType" => Val::Str(v.sheet_type.as_str()),
            "hitsTotal" => Val::Num(v.usage.total_at(day) as i64),
            // contentUrl is derived; compare on the stored parts instead.
            _ => Val::Str(&v.url_name),
        }
    });
    let usage = q.usage();
    ctx.reply(
        page.map(|p| vec![p.pagination, El::collection("views").children(p.items.into_iter().map(|i| view_el(st, d, i, usage)))]),
    )
}

/// `GET /api/{v}/sites/{site}/views[?includeUsageStatistics=true]`
pub async fn list_views(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    list_view_page(ctx, &st, d, 0..d.views.len() as u32, &q)
}

/// `GET /api/{v}/sites/{site}/workbooks/{id}/views[?includeUsageStatistics=true]`
pub async fn workbook_views(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    match find_workbook(d, &path.id) {
        Ok(i) => list_view_page(ctx, &st, d, d.workbooks[i as usize].views.clone(), &q),
        Err(e) => ctx.error(e),
    }
}

/// `GET /api/{v}/sites/{site}/views/{id}`
pub async fn get_view(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    ctx.reply(find_view(d, &path.id).map(|i| vec![view_el(&st, d, i, q.usage())]))
}

fn datasource_el(st: &SimState, d: &Dataset, i: u32) -> El {
    let x = &d.datasources[i as usize];
    let p = &d.projects[x.project as usize];
    El::new("datasource")
        .attr("id", &x.id)
        .attr("name", &x.name)
        .attr("description", &x.description)
        .attr("size", x.size_bytes)
        .attr("contentUrl", &x.content_url)
        .attr("type", x.db_type)
        .attr("createdAt", iso(x.created_at))
        .attr("updatedAt", iso(x.updated_at))
        .attr("encryptExtracts", x.encrypt_extracts)
        .attr("hasExtracts", x.has_extracts)
        .attr("isCertified", x.certified)
        .attr("useRemoteQueryAgent", false)
        .attr("webpageUrl", format!("{}/#/site/{}/datasources/{}", st.base_url(), d.site.content_url, i + 1))
        .child(El::new("project").attr("id", &p.id).attr("name", &p.name))
        .child(El::new("owner").attr("id", &d.users[x.owner as usize].id))
        .child(tags_el(&x.tags))
}

/// `GET /api/{v}/sites/{site}/datasources`
pub async fn list_datasources(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    let known = [
        "name", "contentUrl", "createdAt", "updatedAt", "ownerName", "projectName", "tags", "type", "hasExtracts",
        "isCertified",
    ];
    let page = query::list(0..d.datasources.len() as u32, &q, &known, |i, f| {
        let x = &d.datasources[i as usize];
        match f {
            "name" => Val::Str(&x.name),
            "contentUrl" => Val::Str(&x.content_url),
            "createdAt" => Val::Time(Some(x.created_at)),
            "updatedAt" => Val::Time(Some(x.updated_at)),
            "ownerName" => Val::Str(&d.users[x.owner as usize].name),
            "projectName" => Val::Str(&d.projects[x.project as usize].name),
            "tags" => Val::Tags(&x.tags),
            "type" => Val::Str(x.db_type),
            "hasExtracts" => Val::Bool(x.has_extracts),
            _ => Val::Bool(x.certified),
        }
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("datasources").children(p.items.into_iter().map(|i| datasource_el(&st, d, i)))]
    }))
}

/// `GET /api/{v}/sites/{site}/datasources/{id}`
pub async fn get_datasource(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let d = &st.data();
    ctx.reply(find_datasource(d, &path.id).map(|i| vec![datasource_el(&st, d, i)]))
}

pub(crate) fn find_view(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::VIEW, "View", |e| match e {
        Entity::View(i) => Some(i),
        _ => None,
    })
}

pub(crate) fn find_datasource(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::DATASOURCE, "Datasource", |e| match e {
        Entity::Datasource(i) => Some(i),
        _ => None,
    })
}

pub(crate) fn find_project(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::PROJECT, "Project", |e| match e {
        Entity::Project(i) => Some(i),
        _ => None,
    })
}

// --- writes -----------------------------------------------------------------

/// `contentPermissions` as (locked, without nested), or Tableau's 400.
fn content_permissions(value: &str) -> Result<(bool, bool), ApiError> {
    match value {
        "ManagedByOwner" => Ok((false, false)),
        "LockedToProject" => Ok((true, false)),
        "LockedToProjectWithoutNested" => Ok((true, true)),
        other => Err(ApiError::bad_request(
            "400000",
            "Bad Request",
            format!(
                "'{other}' is not a valid contentPermissions value; use ManagedByOwner, LockedToProject or \
                 LockedToProjectWithoutNested."
            ),
        )),
    }
}

fn check_project_name(d: &Dataset, name: &str, parent: Option<u32>, except: Option<u32>) -> Result<(), ApiError> {
    let clash = d.live_projects().any(|p| {
        let x = &d.projects[p as usize];
        Some(p) != except && x.parent == parent && x.name.eq_ignore_ascii_case(name)
    });
    if clash {
        return Err(ApiError::conflict("409006", format!("A project named '{name}' already exists in that parent project.")));
    }
    Ok(())
}

fn parent_of(d: &Dataset, node: &Node) -> Result<Option<Option<u32>>, ApiError> {
    match node.attr("parentProjectId") {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(id) => Ok(Some(Some(find_project(d, id)?))),
    }
}

/// `POST /api/{v}/sites/{site}/projects`: owned by the signed-in user.
pub async fn create_project(
    ctx: Ctx,
    State(st): St,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let node = req.require(&["project"])?;
        let name = node.need("name")?.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::malformed_body("The project name must not be empty."));
        }
        let (locked, without_nested) = content_permissions(node.attr("contentPermissions").unwrap_or("ManagedByOwner"))?;
        let mut d = st.write();
        let parent = parent_of(&d, node)?.flatten();
        check_project_name(&d, &name, parent, None)?;
        let id = new_item_id(&d, &format!("project {name}"));
        let i = d.projects.len() as u32;
        d.projects.push(Project {
            id: id.clone(),
            name,
            description: node.attr("description").unwrap_or_default().to_string(),
            parent,
            owner: session.user,
            locked,
            lock_without_nested: without_nested,
            deleted: false,
            created_at: st.now(),
            updated_at: st.now(),
            rules: Vec::new(),
            default_workbook_rules: Vec::new(),
            default_datasource_rules: Vec::new(),
            other_default_rules: Default::default(),
        });
        d.index_id(&id, Entity::Project(i));
        Ok(vec![written_project_el(&d, i)])
    })();
    ctx.created(result)
}

pub(crate) fn new_item_id(d: &Dataset, salt: &str) -> String {
    use crate::sim::dataset::rng::{mix, Rng};
    let mut key = salt.bytes().fold(mix(d.seed ^ d.version.rotate_left(17) ^ d.by_id_len() as u64), |h, b| mix(h ^ b as u64));
    loop {
        let id = Rng::new(key).uuid();
        if d.lookup(&id).is_none() {
            return id;
        }
        key = mix(key);
    }
}

/// `PUT /api/{v}/sites/{site}/projects/{id}`
pub async fn update_project(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let node = req.require(&["project"])?;
        let perms = node.attr("contentPermissions").map(content_permissions).transpose()?;
        let mut d = st.write();
        let i = find_project(&d, &path.id)?;
        let parent = match parent_of(&d, node)? {
            Some(p) => p,
            None => d.projects[i as usize].parent,
        };
        // A project cannot move below itself.
        let mut up = parent;
        while let Some(p) = up {
            if p == i {
                return Err(ApiError::bad_request("400000", "Bad Request", "A project cannot be moved into itself or one of its own nested projects."));
            }
            up = d.projects[p as usize].parent;
        }
        let name = node.attr("name").map(str::to_string).unwrap_or_else(|| d.projects[i as usize].name.clone());
        check_project_name(&d, &name, parent, Some(i))?;
        let owner = node.child("owner").map(|o| o.need("id").and_then(|id| super::people::find_user(&d, id))).transpose()?;
        let now = st.now();
        let p = &mut d.projects[i as usize];
        p.name = name;
        p.parent = parent;
        if let Some(desc) = node.attr("description") {
            p.description = desc.to_string();
        }
        if let Some((locked, without_nested)) = perms {
            p.locked = locked;
            p.lock_without_nested = without_nested;
        }
        if let Some(o) = owner {
            p.owner = o;
        }
        p.updated_at = now;
        Ok(vec![written_project_el(&d, i)])
    })();
    ctx.reply(result)
}

/// `DELETE /api/{v}/sites/{site}/projects/{id}`, with its nested projects.
/// Tableau deletes the content inside too; this site keeps its catalog
/// fixed, so a project holding workbooks or datasources is refused.
pub async fn delete_project(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let i = find_project(&d, &path.id)?;
        if i == 0 {
            return Err(ApiError::forbidden("The Default project cannot be deleted."));
        }
        let mut doomed = vec![i];
        let mut k = 0;
        while k < doomed.len() {
            let p = doomed[k];
            doomed.extend(d.live_projects().filter(|&c| d.projects[c as usize].parent == Some(p)));
            k += 1;
        }
        let holds = d.workbooks.iter().filter(|w| doomed.contains(&w.project)).count()
            + d.datasources.iter().filter(|x| doomed.contains(&x.project)).count();
        if holds > 0 {
            return Err(ApiError::conflict(
                "409000",
                format!("The project holds {holds} workbooks and datasources; the simulated site only deletes projects without content."),
            ));
        }
        for p in doomed {
            d.projects[p as usize].deleted = true;
            let id = d.projects[p as usize].id.clone();
            d.unindex_id(&id);
        }
        Ok(())
    })();
    ctx.no_content(result)
}
