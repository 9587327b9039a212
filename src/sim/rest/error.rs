//! Tableau-style error responses: an HTTP status plus `<error code>` with a
//! summary and a detail, as the REST API documents them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{render, El, Format};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: &'static str,
    pub detail: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, summary: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, summary, detail: detail.into(), retry_after_secs: None }
    }

    pub fn bad_request(code: &'static str, summary: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, summary, detail)
    }

    pub fn malformed_body(detail: impl Into<String>) -> ApiError {
        ApiError::bad_request("400000", "Bad Request", detail)
    }

    pub fn sign_in_failed() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "401001", "Signin Error", "Error signing in to Tableau Server")
    }

    pub fn missing_credentials() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "401000",
            "Unauthorized Access",
            "No authentication credentials were provided",
        )
    }

    pub fn invalid_credentials() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "401002",
            "Unauthorized Access",
            "Invalid authentication credentials were provided.",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "403000", "Forbidden", detail)
    }

    pub fn not_found(code: &'static str, what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code,
            "Resource Not Found",
            format!("{what} '{id}' could not be found."),
        )
    }

    pub fn not_found_detail(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, "Resource Not Found", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unknown_resource(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "404003",
            "Resource Not Found",
            format!("Unknown resource '{path}' specified in URI."),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "405000",
            "Method Not Allowed",
            format!("The HTTP method '{method}' is not supported for '{path}'."),
        )
    }

    pub fn too_many_requests(limit: usize, retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "429000",
                "Too Many Requests",
                format!(
                    "This session already has {limit} requests in progress, the most the site allows. \
                     Retry after {retry_after_secs} seconds."
                ),
            )
        }
    }

    pub fn into_response(self, format: Format, api_minor: u32) -> Response {
        let body = El::new("error")
            .attr("code", self.code)
            .child(El::new("summary").text(self.summary))
            .child(El::new("detail").text(self.detail));
        let mut resp = (self.status, render(&[body], format, api_minor)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Not-found codes per resource. Kept in one table so a correction against
/// Tableau's reference is a one-line change.
pub mod codes {
    pub const SITE: &str = "404000";
    pub const USER: &str = "404002";
    pub const PROJECT: &str = "404005";
    pub const WORKBOOK: &str = "404006";
    pub const VIEW: &str = "404011";
    pub const DATASOURCE: &str = "404012";
    pub const GROUP: &str = "404013";
    pub const SCHEDULE: &str = "404016";
    pub const TASK: &str = "404017";
    pub const JOB: &str = "404031";
    pub const FLOW: &str = "404051";
}
