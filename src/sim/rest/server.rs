//! Server-level resources: `serverinfo` and `sites`.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_server.htm>
//! and <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_site.htm>

use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;

use super::body::El;
use super::error::{codes, ApiError};
use super::query::{self, ListParams, Val};
use super::{Ctx, St, MAX_MINOR, PRODUCT_BUILD, PRODUCT_VERSION};
use crate::sim::dataset::Dataset;

/// `GET /api/{v}/serverinfo` (no sign-in needed).
pub async fn server_info(ctx: Ctx) -> Response {
    ctx.ok(vec![El::new("serverInfo")
        .child(El::new("productVersion").attr("build", PRODUCT_BUILD).text(PRODUCT_VERSION))
        .child(El::new("restApiVersion").text(format!("3.{MAX_MINOR}")))])
}

fn site_el(d: &Dataset) -> El {
    El::new("site")
        .attr("id", &d.site.id)
        .attr("name", &d.site.name)
        .attr("contentUrl", &d.site.content_url)
        .attr("adminMode", "ContentAndUsers")
        .attr("state", "Active")
        .attr("revisionHistoryEnabled", "true")
        .attr("revisionLimit", 25)
        .attr("subscribeOthersEnabled", "true")
        .attr("catalogingEnabled", "true")
        .attr("userQuota", -1)
        .attr("numUsers", d.live_users().count())
        .attr("timeZone", "UTC")
}

/// `GET /api/{v}/sites`: every site of the server for a server
/// administrator (the site's user 0, whose credentials the simulator
/// prints), only the session's own site for anyone else.
pub async fn list_sites(
    ctx: Ctx,
    State(st): St,
    Extension(session): Extension<super::auth::Session>,
    Query(q): Query<ListParams>,
) -> Response {
    let sites = if session.user == 0 { st.sites() } else { Vec::new() };
    let sites = if sites.is_empty() { vec![st.clone()] } else { sites };
    let guards: Vec<_> = sites.iter().map(|s| s.data()).collect();
    let page = query::list(guards.iter().map(|g| &**g), &q, &["name", "contentUrl"], |s, f| match f {
        "name" => Val::Str(&s.site.name),
        _ => Val::Str(&s.site.content_url),
    });
    ctx.reply(page.map(|p| vec![p.pagination, El::collection("sites").children(p.items.iter().map(|s| site_el(s)))]))
}

/// `GET /api/{v}/sites/{site}`; `?key=name|contentUrl` looks up by those.
pub async fn get_site(
    ctx: Ctx,
    State(st): St,
    Path((_, site)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let d = &st.data();
    let found = match q.get("key").map(String::as_str) {
        Some("name") => site.eq_ignore_ascii_case(&d.site.name),
        Some("contentUrl") => site.eq_ignore_ascii_case(&d.site.content_url),
        _ => site == d.site.id,
    };
    if found {
        ctx.ok(vec![site_el(d)])
    } else {
        ctx.error(ApiError::not_found(codes::SITE, "Site", &site))
    }
}
