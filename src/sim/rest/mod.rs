//! The REST API of the simulated site, under `/api/{version}/` for versions
//! 3.0 through 3.27. Like a real server it also answers the 2.x versions
//! that clients use before they learn the server's version (the Python
//! `tableauserverclient` signs in at 2.4 first); other versions get 400.
//!
//! One module per Tableau resource, each with the handlers for the endpoints
//! Tableau documents for it. [`Ctx`] carries what every handler needs from
//! the request (response format and API version) and turns results into
//! responses, so handlers only build element trees.

pub mod auth;
pub mod body;
pub mod content;
pub mod error;
pub mod jwt;
pub mod people;
pub mod permissions;
pub mod publish;
pub mod query;
pub mod refresh;
pub mod request;
pub mod server;
pub mod tags;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;

use body::{render, El, Format};
use error::ApiError;

use super::SimState;

pub const MIN_MINOR: u32 = 0;
pub const MAX_MINOR: u32 = 27;
pub const PRODUCT_VERSION: &str = "2025.3.0";
pub const PRODUCT_BUILD: &str = "20253.25.1010.1043";

/// Per-request facts every handler needs: how to encode the response.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub format: Format,
    pub api_minor: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let wants_json = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        Ok(Ctx {
            format: if wants_json { Format::Json } else { Format::Xml },
            api_minor: parse_version(parts.uri.path()).ok().unwrap_or(MAX_MINOR),
        })
    }
}

impl Ctx {
    pub fn ok(&self, body: Vec<El>) -> Response {
        let mut resp = render(&body, self.format, self.api_minor).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(self.format.content_type()));
        resp
    }

    pub fn error(&self, err: ApiError) -> Response {
        err.into_response(self.format, self.api_minor)
    }

    pub fn reply(&self, result: Result<Vec<El>, ApiError>) -> Response {
        match result {
            Ok(body) => self.ok(body),
            Err(e) => self.error(e),
        }
    }

    /// A create's answer: 201 with the new item.
    pub fn created(&self, result: Result<Vec<El>, ApiError>) -> Response {
        let mut resp = self.reply(result);
        if resp.status() == axum::http::StatusCode::OK {
            *resp.status_mut() = axum::http::StatusCode::CREATED;
        }
        resp
    }

    /// A delete's answer: 204 and no body.
    pub fn no_content(&self, result: Result<(), ApiError>) -> Response {
        match result {
            Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
            Err(e) => self.error(e),
        }
    }
}

/// The minor version in `/api/3.N/...`, or the error Tableau would return.
fn parse_version(path: &str) -> Result<u32, Option<String>> {
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next() != Some("api") {
        return Err(None);
    }
    let v = parts.next().unwrap_or_default();
    let (major, minor) = v.split_once('.').unwrap_or((v, ""));
    match (major, minor.parse::<u32>()) {
        ("3", Ok(minor)) if (MIN_MINOR..=MAX_MINOR).contains(&minor) => Ok(minor),
        // 2.x responses are written with the 3.0 schema location.
        ("2", Ok(minor)) if minor <= 8 => Ok(0),
        _ => Err(Some(v.to_string())),
    }
}

fn unsupported_version(v: &str) -> ApiError {
    ApiError::bad_request(
        "400000",
        "Bad Request",
        format!("REST API version '{v}' is not supported by this server; use 3.{MIN_MINOR} through 3.{MAX_MINOR} (2.0 through 2.8 are accepted for sign-in compatibility)."),
    )
}

async fn check_version(ctx: Ctx, req: Request, next: Next) -> Response {
    match parse_version(req.uri().path()) {
        Ok(_) => next.run(req).await,
        Err(Some(v)) => ctx.error(unsupported_version(&v)),
        Err(None) => ctx.error(ApiError::unknown_resource(req.uri().path())),
    }
}

/// Path relative to `/api`, as Tableau quotes it in 404003 details.
fn api_relative(uri: &Uri) -> &str {
    uri.path().strip_prefix("/api").unwrap_or(uri.path())
}

async fn unknown_path(ctx: Ctx, uri: Uri) -> Response {
    match parse_version(uri.path()) {
        Err(Some(v)) => ctx.error(unsupported_version(&v)),
        _ => ctx.error(ApiError::unknown_resource(api_relative(&uri))),
    }
}

async fn wrong_method(ctx: Ctx, method: Method, uri: Uri) -> Response {
    ctx.error(ApiError::method_not_allowed(method.as_str(), api_relative(&uri)))
}

pub fn router(state: Arc<SimState>) -> Router {
    let site = "/api/{v}/sites/{site}";
    let grant = "{grantee_kind}/{grantee}/{capability}/{mode}";
    let mut authed = Router::new()
        .route("/api/{v}/sites", get(server::list_sites))
        .route("/api/{v}/sites/{site}", get(server::get_site))
        .route("/api/{v}/schedules", get(refresh::list_schedules))
        .route("/api/{v}/schedules/{id}", get(refresh::get_schedule).put(refresh::update_schedule))
        .route(&format!("{site}/schedules/{{id}}/{{kind}}"), put(refresh::add_to_schedule))
        .route(&format!("{site}/projects"), get(content::list_projects).post(content::create_project))
        .route(&format!("{site}/projects/{{id}}"), put(content::update_project).delete(content::delete_project))
        .route(
            &format!("{site}/projects/{{id}}/default-permissions/{{kind}}"),
            get(permissions::project_default).put(permissions::add_default),
        )
        .route(&format!("{site}/projects/{{id}}/default-permissions/{{kind}}/{grant}"), delete(permissions::delete_default))
        .route(&format!("{site}/workbooks"), get(content::list_workbooks).post(publish::publish))
        .route(&format!("{site}/workbooks/{{id}}"), get(content::get_workbook))
        .route(&format!("{site}/workbooks/{{id}}/views"), get(content::workbook_views))
        .route(&format!("{site}/workbooks/{{id}}/refresh"), post(refresh::refresh_workbook))
        .route(&format!("{site}/views"), get(content::list_views))
        .route(&format!("{site}/views/{{id}}"), get(content::get_view))
        .route(&format!("{site}/datasources"), get(content::list_datasources).post(publish::publish))
        .route(&format!("{site}/datasources/{{id}}"), get(content::get_datasource))
        .route(&format!("{site}/datasources/{{id}}/refresh"), post(refresh::refresh_datasource))
        .route(&format!("{site}/tags:batchCreate"), put(tags::batch_create))
        .route(&format!("{site}/tags:batchDelete"), put(tags::batch_delete))
        .route(&format!("{site}/users"), get(people::list_users).post(people::add_user))
        .route(&format!("{site}/users/{{id}}"), get(people::get_user).put(people::update_user).delete(people::remove_user))
        .route(&format!("{site}/users/{{id}}/groups"), get(people::user_groups))
        .route(&format!("{site}/groups"), get(people::list_groups).post(people::create_group))
        .route(&format!("{site}/groups/{{id}}"), put(people::update_group).delete(people::delete_group))
        .route(&format!("{site}/groups/{{id}}/users"), get(people::group_users).post(people::add_members))
        .route(&format!("{site}/groups/{{id}}/users/remove"), put(people::remove_members))
        .route(&format!("{site}/groups/{{id}}/users/{{user}}"), delete(people::remove_member))
        .route(&format!("{site}/jobs"), get(refresh::list_jobs))
        .route(&format!("{site}/jobs/{{id}}"), get(refresh::get_job).put(refresh::cancel_job))
        .route(&format!("{site}/tasks/extractRefreshes"), get(refresh::list_tasks))
        .route(&format!("{site}/tasks/extractRefreshes/{{id}}"), get(refresh::get_task).post(refresh::update_task).delete(refresh::delete_task))
        .route(&format!("{site}/tasks/extractRefreshes/{{id}}/runNow"), post(refresh::run_now));
    for kind in ["projects", "workbooks", "views", "datasources", "flows"] {
        authed = authed
            .route(&format!("{site}/{kind}/{{id}}/permissions"), get(permissions::get).put(permissions::add))
            .route(&format!("{site}/{kind}/{{id}}/permissions/{grant}"), delete(permissions::delete));
    }
    for kind in ["workbooks", "datasources"] {
        authed = authed
            .route(&format!("{site}/{kind}/{{id}}/content"), get(publish::download))
            .route(&format!("{site}/{kind}/{{id}}/connections"), get(publish::list_connections))
            .route(&format!("{site}/{kind}/{{id}}/connections/{{conn}}"), put(publish::update_connection));
    }
    authed = authed
        .route(&format!("{site}/fileUploads"), post(publish::start_upload))
        .route(&format!("{site}/fileUploads/{{id}}"), put(publish::append_upload));
    for kind in ["workbooks", "views", "datasources"] {
        authed = authed
            .route(&format!("{site}/{kind}/{{id}}/tags"), put(tags::add))
            .route(&format!("{site}/{kind}/{{id}}/tags/{{tag}}"), delete(tags::delete));
    }
    let authed = authed
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_session))
        .route_layer(middleware::from_fn(check_version));
    let public = Router::new()
        .route("/api/{v}/serverinfo", get(server::server_info))
        .route("/api/{v}/serverInfo", get(server::server_info))
        .route("/api/{v}/auth/signin", post(auth::sign_in))
        .route("/api/{v}/auth/signout", post(auth::sign_out))
        .route("/api/{v}/auth/switchSite", post(auth::switch_site))
        .route_layer(middleware::from_fn(check_version));
    public
        .merge(authed)
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// The content type a site-level path names: `workbooks` in
/// `/api/{v}/sites/{site}/workbooks/{id}/…`.
pub(crate) fn resource_kind(uri: &Uri) -> &str {
    uri.path().trim_start_matches('/').split('/').nth(4).unwrap_or_default()
}

/// Shared look-up of an entity by LUID for handlers.
pub(crate) fn find<T>(
    d: &super::dataset::Dataset,
    id: &str,
    code: &'static str,
    what: &str,
    pick: impl Fn(super::dataset::Entity) -> Option<T>,
) -> Result<T, ApiError> {
    d.lookup(id).and_then(pick).ok_or_else(|| ApiError::not_found(code, what, id))
}

pub(crate) type St = State<Arc<SimState>>;
