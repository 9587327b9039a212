//! Users and groups, and the memberships between them: reads and writes.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_users_and_groups.htm>
//! - Every new user joins `All Users`, as on Tableau.
//! - Removing a user who still owns content without `mapAssetsTo` leaves
//!   them on the site as `Unlicensed` and answers 409, as Tableau does.
//! - Adding several users to a group, or removing several, takes 3.21.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::body::El;
use super::content::{new_item_id, ItemPath};
use super::error::{codes, ApiError};
use super::query::{self, ListParams, Val};
use super::request::{self, Node};
use super::{find, Ctx, St};
use crate::sim::dataset::{Dataset, Entity, Grantee, SiteRole, User};
use crate::sim::manifest::iso;
use crate::sim::Flavor;

fn user_el(d: &Dataset, i: u32) -> El {
    let u = &d.users[i as usize];
    El::new("user")
        .attr("id", &u.id)
        .attr("name", &u.name)
        .attr("siteRole", u.site_role.as_str())
        .attr_opt("lastLogin", u.last_login.map(iso))
        .attr("externalAuthUserId", "")
        .attr("authSetting", &u.auth_setting)
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
    let d = &st.data();
    user_page(ctx, d, d.live_users(), &q)
}

pub(crate) fn find_user(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::USER, "User", |e| match e {
        Entity::User(i) => Some(i),
        _ => None,
    })
}

fn find_group(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::GROUP, "Group", |e| match e {
        Entity::Group(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/users/{id}`
pub async fn get_user(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let d = &st.data();
    ctx.reply(find_user(d, &path.id).map(|i| vec![user_el(d, i)]))
}

fn group_el(d: &Dataset, i: u32) -> El {
    let g = &d.groups[i as usize];
    El::new("group")
        .attr("id", &g.id)
        .attr("name", &g.name)
        .attr("userCount", g.members.len())
        .child(El::new("domain").attr("name", "local"))
        .children(import_el(g))
}

/// The license-on-sign-in setting, as Tableau writes it.
fn import_el(g: &crate::sim::dataset::Group) -> Option<El> {
    let role = g.minimum_site_role?;
    Some(El::new("import").attr("domainName", "local").attr("siteRole", role.as_str()).attr("grantLicenseMode", "onLogin"))
}

/// A group as create and update answer it: no counts.
fn written_group_el(d: &Dataset, i: u32, created: bool) -> El {
    let g = &d.groups[i as usize];
    let el = El::new("group").attr("id", &g.id).attr("name", &g.name);
    match (created, g.minimum_site_role) {
        (true, Some(role)) => el.attr("siteRole", role.as_str()).attr("grantLicenseMode", "onLogin"),
        (true, None) => el,
        (false, _) => el.children(import_el(g)),
    }
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
    let d = &st.data();
    match find_user(d, &path.id) {
        Ok(u) => group_page(ctx, d, d.users[u as usize].groups.iter().copied(), &q),
        Err(e) => ctx.error(e),
    }
}

/// `GET /api/{v}/sites/{site}/groups`
pub async fn list_groups(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    group_page(ctx, d, d.live_groups(), &q)
}

/// `GET /api/{v}/sites/{site}/groups/{id}/users`
pub async fn group_users(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    match find_group(d, &path.id) {
        Ok(g) => user_page(ctx, d, d.groups[g as usize].members.iter().copied(), &q),
        Err(e) => ctx.error(e),
    }
}

// --- writes -----------------------------------------------------------------

fn site_role(name: &str) -> Result<SiteRole, ApiError> {
    SiteRole::parse(name).ok_or_else(|| {
        ApiError::bad_request(
            "400013",
            "Bad Request",
            format!(
                "Invalid site role: '{name}'. Use one of {}.",
                SiteRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// `POST /api/{v}/sites/{site}/users`: add a user to the site.
pub async fn add_user(ctx: Ctx, State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let u = req.require(&["user"])?;
        let name = u.need("name")?.trim().to_string();
        let role = site_role(u.need("siteRole")?)?;
        if name.is_empty() {
            return Err(ApiError::malformed_body("The user name must not be empty."));
        }
        if st.config.flavor == Flavor::Cloud && !looks_like_email(&name) {
            return Err(ApiError::bad_request(
                "400000",
                "Bad Request",
                format!("On Tableau Cloud a user name is an email address; '{name}' is not one."),
            ));
        }
        let mut d = st.write();
        check_user_name(&d, &name, None)?;
        let id = new_item_id(&d, &name);
        let i = d.users.len() as u32;
        let meta_id = new_item_id(&d, &format!("metadata {name}"));
        let email = if looks_like_email(&name) { name.clone() } else { String::new() };
        d.users.push(User {
            id: id.clone(),
            full_name: String::new(),
            email,
            name,
            site_role: role,
            created_at: st.now(),
            last_login: None,
            groups: Vec::new(),
            auth_setting: u.attr("authSetting").unwrap_or("ServerDefault").to_string(),
            deleted: false,
        });
        d.lineage.user_ids.push(meta_id);
        d.index_id(&id, Entity::User(i));
        let all_users = d.live_groups().find(|&g| d.groups[g as usize].name == "All Users");
        if let Some(all) = all_users {
            join(&mut d, i, all);
        }
        let user = &d.users[i as usize];
        Ok(vec![El::new("user")
            .attr("id", &user.id)
            .attr("name", &user.name)
            .attr("siteRole", user.site_role.as_str())
            .attr("authSetting", &user.auth_setting)
            .attr("externalAuthUserId", "")])
    })();
    ctx.created(result)
}

/// User names are unique on a site, ignoring case.
fn check_user_name(d: &Dataset, name: &str, except: Option<u32>) -> Result<(), ApiError> {
    if d.live_users().any(|u| Some(u) != except && d.users[u as usize].name.eq_ignore_ascii_case(name)) {
        return Err(ApiError::conflict("409000", format!("A user with the name '{name}' is already on this site.")));
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
}

/// `PUT /api/{v}/sites/{site}/users/{id}`
pub async fn update_user(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let u = req.require(&["user"])?;
        let role = u.attr("siteRole").map(site_role).transpose()?;
        let mut d = st.write();
        let i = find_user(&d, &path.id)?;
        if let Some(name) = u.attr("name") {
            check_user_name(&d, name, Some(i))?;
        }
        let user = &mut d.users[i as usize];
        if let Some(name) = u.attr("name") {
            user.name = name.to_string();
        }
        if let Some(v) = u.attr("fullName") {
            user.full_name = v.to_string();
        }
        if let Some(v) = u.attr("email") {
            user.email = v.to_string();
        }
        if let Some(r) = role {
            user.site_role = r;
        }
        if let Some(v) = u.attr("authSetting") {
            user.auth_setting = v.to_string();
        }
        Ok(vec![El::new("user")
            .attr("name", &user.name)
            .attr("fullName", &user.full_name)
            .attr("email", &user.email)
            .attr("siteRole", user.site_role.as_str())
            .attr("authSetting", &user.auth_setting)])
    })();
    ctx.reply(result)
}

#[derive(Deserialize)]
pub struct RemoveParams {
    #[serde(rename = "mapAssetsTo")]
    map_assets_to: Option<String>,
}

/// `DELETE /api/{v}/sites/{site}/users/{id}[?mapAssetsTo=…]`
pub async fn remove_user(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, Query(p): Query<RemoveParams>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let i = find_user(&d, &path.id)?;
        let heir = p.map_assets_to.as_deref().filter(|s| !s.is_empty()).map(|id| find_user(&d, id)).transpose()?;
        if heir == Some(i) {
            return Err(ApiError::malformed_body("mapAssetsTo names the user being removed."));
        }
        let owns = d.owned_by(i);
        match (owns, heir) {
            (0, _) => {}
            (_, Some(h)) => d.transfer_ownership(i, h),
            (n, None) => {
                d.users[i as usize].site_role = SiteRole::Unlicensed;
                return Err(ApiError::conflict(
                    "409003",
                    format!(
                        "The user owns {n} items of content, so they were not removed: their site role is now \
                         Unlicensed. Remove them with mapAssetsTo to give their content to another user."
                    ),
                ));
            }
        }
        let groups = std::mem::take(&mut d.users[i as usize].groups);
        for g in groups {
            d.groups[g as usize].members.retain(|&m| m != i);
        }
        d.drop_grantee(Grantee::User(i));
        d.users[i as usize].deleted = true;
        let id = d.users[i as usize].id.clone();
        d.unindex_id(&id);
        Ok(())
    })();
    ctx.no_content(result)
}

/// `POST /api/{v}/sites/{site}/groups`
pub async fn create_group(ctx: Ctx, State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let g = req.require(&["group"])?;
        let name = g.need("name")?.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::malformed_body("The group name must not be empty."));
        }
        let role = group_role(g)?;
        let mut d = st.write();
        check_group_name(&d, &name, None)?;
        let id = new_item_id(&d, &format!("group {name}"));
        let i = d.groups.len() as u32;
        d.groups.push(crate::sim::dataset::Group { id: id.clone(), name, members: Vec::new(), minimum_site_role: role, deleted: false });
        d.index_id(&id, Entity::Group(i));
        Ok(vec![written_group_el(&d, i, true)])
    })();
    ctx.created(result)
}

/// A group's minimum site role: `minimumSiteRole`, or the older `<import siteRole>`.
fn group_role(g: &Node) -> Result<Option<SiteRole>, ApiError> {
    g.attr("minimumSiteRole").or_else(|| g.child("import").and_then(|i| i.attr("siteRole"))).map(site_role).transpose()
}

fn check_group_name(d: &Dataset, name: &str, except: Option<u32>) -> Result<(), ApiError> {
    if d.live_groups().any(|g| Some(g) != except && d.groups[g as usize].name.eq_ignore_ascii_case(name)) {
        return Err(ApiError::conflict("409009", format!("A group with the name '{name}' already exists on this site.")));
    }
    Ok(())
}

/// `PUT /api/{v}/sites/{site}/groups/{id}`
pub async fn update_group(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let g = req.require(&["group"])?;
        let role = group_role(g)?;
        let mut d = st.write();
        let i = find_group(&d, &path.id)?;
        if let Some(name) = g.attr("name") {
            check_group_name(&d, name, Some(i))?;
            d.groups[i as usize].name = name.to_string();
        }
        if role.is_some() {
            d.groups[i as usize].minimum_site_role = role;
        }
        Ok(vec![written_group_el(&d, i, false)])
    })();
    ctx.reply(result)
}

/// `DELETE /api/{v}/sites/{site}/groups/{id}`
pub async fn delete_group(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let g = find_group(&d, &path.id)?;
        if d.groups[g as usize].name == "All Users" {
            return Err(ApiError::forbidden("The All Users group cannot be deleted."));
        }
        for m in std::mem::take(&mut d.groups[g as usize].members) {
            d.users[m as usize].groups.retain(|&x| x != g);
        }
        d.drop_grantee(Grantee::Group(g));
        d.groups[g as usize].deleted = true;
        let id = d.groups[g as usize].id.clone();
        d.unindex_id(&id);
        Ok(())
    })();
    ctx.no_content(result)
}

fn join(d: &mut Dataset, u: u32, g: u32) {
    let members = &mut d.groups[g as usize].members;
    if let Err(at) = members.binary_search(&u) {
        members.insert(at, u);
    }
    let groups = &mut d.users[u as usize].groups;
    if let Err(at) = groups.binary_search(&g) {
        groups.insert(at, g);
    }
}

fn leave(d: &mut Dataset, u: u32, g: u32) {
    d.groups[g as usize].members.retain(|&m| m != u);
    d.users[u as usize].groups.retain(|&x| x != g);
}

/// A user as adding members answers: one user carries `externalAuthUserId`,
/// a list does not (as Tableau's samples show).
fn member_el(d: &Dataset, u: u32, alone: bool) -> El {
    let user = &d.users[u as usize];
    let el = El::new("user").attr("id", &user.id).attr("name", &user.name).attr("siteRole", user.site_role.as_str());
    if alone {
        el.attr("externalAuthUserId", "")
    } else {
        el
    }
}

/// `POST /api/{v}/sites/{site}/groups/{id}/users`: one `<user id>`, or from
/// 3.21 a `<users>` list, all or nothing.
pub async fn add_members(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let (ids, many): (Vec<&str>, bool) = match (req.child("users"), req.child("user")) {
            (Some(list), _) => {
                require_minor(ctx, 21, "Adding several users to a group")?;
                (list.all("user").map(|u| u.need("id")).collect::<Result<_, _>>()?, true)
            }
            (None, Some(u)) => (vec![u.need("id")?], false),
            (None, None) => return Err(ApiError::malformed_body("Payload is either malformed or incomplete: the request needs a <user> element.")),
        };
        let mut d = st.write();
        let g = find_group(&d, &path.id)?;
        let users = ids.iter().map(|id| find_user(&d, id)).collect::<Result<Vec<u32>, _>>()?;
        for &u in &users {
            if d.groups[g as usize].members.binary_search(&u).is_ok() {
                return Err(ApiError::conflict(
                    "409011",
                    format!("User '{}' is already a member of group '{}'.", d.users[u as usize].id, d.groups[g as usize].name),
                ));
            }
        }
        for &u in &users {
            join(&mut d, u, g);
        }
        Ok(if many {
            vec![El::collection("users").children(users.iter().map(|&u| member_el(&d, u, false)))]
        } else {
            vec![member_el(&d, users[0], true)]
        })
    })();
    ctx.reply(result)
}

fn require_minor(ctx: Ctx, minor: u32, what: &str) -> Result<(), ApiError> {
    if ctx.api_minor < minor {
        return Err(ApiError::bad_request(
            "400000",
            "Bad Request",
            format!("{what} needs REST API version 3.{minor} or later; this request used 3.{}.", ctx.api_minor),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct MemberPath {
    id: String,
    user: String,
}

fn check_member(d: &Dataset, g: u32, u: u32) -> Result<(), ApiError> {
    if d.groups[g as usize].members.binary_search(&u).is_err() {
        return Err(ApiError::not_found(
            codes::USER,
            &format!("User in group '{}'", d.groups[g as usize].name),
            &d.users[u as usize].id,
        ));
    }
    Ok(())
}

/// `DELETE /api/{v}/sites/{site}/groups/{id}/users/{user}`
pub async fn remove_member(ctx: Ctx, State(st): St, Path(path): Path<MemberPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let g = find_group(&d, &path.id)?;
        let u = find_user(&d, &path.user)?;
        check_member(&d, g, u)?;
        leave(&mut d, u, g);
        Ok(())
    })();
    ctx.no_content(result)
}

/// `PUT /api/{v}/sites/{site}/groups/{id}/users/remove` (3.21): several at
/// once, all or nothing.
pub async fn remove_members(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        require_minor(ctx, 21, "Removing several users from a group")?;
        let req = request::parse(&headers, &body)?;
        let ids: Vec<&str> = req.require(&["users"])?.all("user").map(|u| u.need("id")).collect::<Result<_, _>>()?;
        let mut d = st.write();
        let g = find_group(&d, &path.id)?;
        let users = ids.iter().map(|id| find_user(&d, id)).collect::<Result<Vec<u32>, _>>()?;
        for &u in &users {
            check_member(&d, g, u)?;
        }
        for u in users {
            leave(&mut d, u, g);
        }
        Ok(())
    })();
    ctx.no_content(result)
}
