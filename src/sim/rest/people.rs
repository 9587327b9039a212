//! Users and groups, and the memberships between them.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_users_and_groups.htm>

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::body::El;
use super::content::ItemPath;
use super::error::codes;
use super::query::{self, ListParams, Val};
use super::{find, Ctx, St};
use crate::sim::dataset::{Dataset, Entity};
use crate::sim::manifest::iso;

fn user_el(d: &Dataset, i: u32) -> El {
    let u = &d.users[i as usize];
    El::new("user")
        .attr("id", &u.id)
        .attr("name", &u.name)
        .attr("siteRole", u.site_role.as_str())
        .attr_opt("lastLogin", u.last_login.map(iso))
        .attr("externalAuthUserId", "")
        .attr("authSetting", "ServerDefault")
        .attr("fullName", &u.full_name)
        .attr("email", &u.email)
        .child(El::new("domain").attr("name", "local"))
}

const USER_FIELDS: &[&str] = &["name", "siteRole", "lastLogin", "fullName", "email"];

fn user_field<'a>(d: &'a Dataset, i: u32, f: &str) -> Val<'a> {
    let u = &d.users[i as usize];
    match f {
        "name" => Val::Str(&u.name),
        "siteRole" => Val::Str(u.site_role.as_str()),
        "lastLogin" => Val::Time(u.last_login),
        "fullName" => Val::Str(&u.full_name),
        _ => Val::Str(&u.email),
    }
}

fn user_page(ctx: Ctx, d: &Dataset, ids: impl Iterator<Item = u32>, q: &ListParams) -> Response {
    let page = query::list(ids, q, USER_FIELDS, |i, f| user_field(d, i, f));
    ctx.reply(page.map(|p| vec![p.pagination, El::collection("users").children(p.items.into_iter().map(|i| user_el(d, i)))]))
}

/// `GET /api/{v}/sites/{site}/users`
pub async fn list_users(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    user_page(ctx, &st.data, 0..st.data.users.len() as u32, &q)
}

fn find_user(st: &crate::sim::SimState, id: &str) -> Result<u32, super::error::ApiError> {
    find(st, id, codes::USER, "User", |e| match e {
        Entity::User(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/users/{id}`
pub async fn get_user(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    ctx.reply(find_user(&st, &path.id).map(|i| vec![user_el(&st.data, i)]))
}

fn group_el(d: &Dataset, i: u32) -> El {
    let g = &d.groups[i as usize];
    El::new("group")
        .attr("id", &g.id)
        .attr("name", &g.name)
        .attr("userCount", g.members.len())
        .child(El::new("domain").attr("name", "local"))
}

fn group_page(ctx: Ctx, d: &Dataset, ids: impl Iterator<Item = u32>, q: &ListParams) -> Response {
    let page = query::list(ids, q, &["name", "domainName", "userCount"], |i, f| {
        let g = &d.groups[i as usize];
        match f {
            "name" => Val::Str(&g.name),
            "domainName" => Val::Str("local"),
            _ => Val::Num(g.members.len() as i64),
        }
    });
    ctx.reply(page.map(|p| vec![p.pagination, El::collection("groups").children(p.items.into_iter().map(|i| group_el(d, i)))]))
}

/// `GET /api/{v}/sites/{site}/users/{id}/groups`
pub async fn user_groups(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    match find_user(&st, &path.id) {
        Ok(u) => group_page(ctx, &st.data, st.data.users[u as usize].groups.iter().copied(), &q),
        Err(e) => ctx.error(e),
    }
}

/// `GET /api/{v}/sites/{site}/groups`
pub async fn list_groups(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    group_page(ctx, &st.data, 0..st.data.groups.len() as u32, &q)
}

/// `GET /api/{v}/sites/{site}/groups/{id}/users`
pub async fn group_users(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    let found = find(&st, &path.id, codes::GROUP, "Group", |e| match e {
        Entity::Group(i) => Some(i),
        _ => None,
    });
    match found {
        Ok(g) => user_page(ctx, &st.data, st.data.groups[g as usize].members.iter().copied(), &q),
        Err(e) => ctx.error(e),
    }
}
