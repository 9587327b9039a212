//! Content resources: projects, workbooks, views and published datasources.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_projects.htm>,
//! <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_workbooks_and_views.htm>,
//! <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_data_sources.htm>

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::body::El;
use super::error::codes;
use super::query::{self, ListParams, Val};
use super::{find, Ctx, St};
use crate::sim::dataset::{Dataset, Entity};
use crate::sim::manifest::iso;
use crate::sim::SimState;

#[derive(Deserialize)]
pub struct ItemPath {
    pub id: String,
}

fn tags_el(tags: &[&'static str]) -> El {
    El::collection("tags").children(tags.iter().map(|t| El::new("tag").attr("label", t)))
}

fn project_el(d: &Dataset, i: u32) -> El {
    let p = &d.projects[i as usize];
    El::new("project")
        .attr("id", &p.id)
        .attr("name", &p.name)
        .attr("description", &p.description)
        .attr("contentPermissions", if p.locked { "LockedToProject" } else { "ManagedByOwner" })
        .attr_opt("parentProjectId", p.parent.map(|x| &d.projects[x as usize].id))
        .attr("createdAt", iso(p.created_at))
        .attr("updatedAt", iso(p.updated_at))
        .child(El::new("owner").attr("id", &d.users[p.owner as usize].id))
}

/// `GET /api/{v}/sites/{site}/projects`
pub async fn list_projects(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data;
    let known = ["name", "createdAt", "updatedAt", "ownerName", "parentProjectId", "topLevelProject"];
    let page = query::list(0..d.projects.len() as u32, &q, &known, |i, f| {
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

fn workbook_el(st: &SimState, i: u32) -> El {
    let d = &st.data;
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
    let d = &st.data;
    let page = query::list(0..d.workbooks.len() as u32, &q, WORKBOOK_FIELDS, |i, f| workbook_field(d, i, f));
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("workbooks").children(p.items.into_iter().map(|i| workbook_el(&st, i)))]
    }))
}

fn find_workbook(st: &SimState, id: &str) -> Result<u32, super::error::ApiError> {
    find(st, id, codes::WORKBOOK, "Workbook", |e| match e {
        Entity::Workbook(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/workbooks/{id}`: the workbook with its views.
pub async fn get_workbook(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    ctx.reply(find_workbook(&st, &path.id).map(|i| {
        let views = st.data.workbooks[i as usize].views.clone();
        let views_el = El::collection("views").children(views.map(|v| {
            let v = &st.data.views[v as usize];
            El::new("view").attr("id", &v.id).attr("name", &v.name).attr("contentUrl", view_content_url(&st.data, v))
        }));
        vec![workbook_el(&st, i).child(views_el)]
    }))
}

fn view_content_url(d: &Dataset, v: &crate::sim::dataset::View) -> String {
    format!("{}/sheets/{}", d.workbooks[v.workbook as usize].content_url, v.url_name)
}

fn view_el(st: &SimState, i: u32, usage: bool) -> El {
    let d = &st.data;
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

fn list_view_page(ctx: Ctx, st: &SimState, ids: impl Iterator<Item = u32>, q: &ListParams) -> Response {
    let d = &st.data;
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
        page.map(|p| vec![p.pagination, El::collection("views").children(p.items.into_iter().map(|i| view_el(st, i, usage)))]),
    )
}

/// `GET /api/{v}/sites/{site}/views[?includeUsageStatistics=true]`
pub async fn list_views(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    list_view_page(ctx, &st, 0..st.data.views.len() as u32, &q)
}

/// `GET /api/{v}/sites/{site}/workbooks/{id}/views[?includeUsageStatistics=true]`
pub async fn workbook_views(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    match find_workbook(&st, &path.id) {
        Ok(i) => list_view_page(ctx, &st, st.data.workbooks[i as usize].views.clone(), &q),
        Err(e) => ctx.error(e),
    }
}

/// `GET /api/{v}/sites/{site}/views/{id}`
pub async fn get_view(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    let found = find(&st, &path.id, codes::VIEW, "View", |e| match e {
        Entity::View(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| vec![view_el(&st, i, q.usage())]))
}

fn datasource_el(st: &SimState, i: u32) -> El {
    let d = &st.data;
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
    let d = &st.data;
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
        vec![p.pagination, El::collection("datasources").children(p.items.into_iter().map(|i| datasource_el(&st, i)))]
    }))
}

/// `GET /api/{v}/sites/{site}/datasources/{id}`
pub async fn get_datasource(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let found = find(&st, &path.id, codes::DATASOURCE, "Datasource", |e| match e {
        Entity::Datasource(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| vec![datasource_el(&st, i)]))
}
