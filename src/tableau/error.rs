//! Why a call to Tableau failed: one error type for the transport and the
//! API layers above it. Every message names what failed and where (method
//! and path, or the GraphQL operation); none carries a token or secret.

/// Why a call to Tableau failed.
#[derive(Debug, thiserror::Error)]
pub enum TableauError {
    /// Signing in was refused (e.g. 401001: wrong token name or secret, or
    /// no such site).
    #[error("cannot sign in to {server} ({}): {detail}", site_label(site))]
    SignIn { server: String, site: String, detail: String },
    /// Tableau answered with an error status (after retries, if it was
    /// retryable).
    #[error("{method} {path} failed: HTTP {status}{}", error_suffix(code, summary, detail))]
    Http {
        method: String,
        path: String,
        status: u16,
        code: Option<String>,
        summary: Option<String>,
        detail: Option<String>,
    },
    /// No complete response after every attempt.
    #[error("{method} {path} failed after {attempts} attempt(s): {message}")]
    Transport { method: String, path: String, message: String, attempts: u32 },
    /// A Metadata API page came back partial (over the node limit); its data
    /// was discarded. Ask again for fewer nodes.
    #[error("Metadata API query {query} exceeded the node limit{}; its partial results were discarded",
        node_limit.map(|n| format!(" of {n} nodes")).unwrap_or_default())]
    NodeLimitExceeded { query: String, node_limit: Option<u64> },
    /// A Metadata API query ran out of time or work budget.
    #[error("Metadata API query {query} timed out: {message}")]
    QueryTimeout { query: String, message: String },
    /// A Metadata API query was rejected (validation errors, invalid
    /// arguments, ...).
    #[error("Metadata API query {query} failed: {}", messages.join("; "))]
    GraphQL { query: String, messages: Vec<String> },
    /// A connection read in concurrent pages changed while it was read
    /// (its `totalCount` moved, or the pages no longer meet end to end);
    /// the pages were discarded.
    #[error("Metadata API query {query}: the connection changed while it was read ({message})")]
    Drift { query: String, message: String },
    /// A response arrived but is not what Tableau documents.
    #[error("cannot read the response of {path}: {message}")]
    Decode { path: String, message: String },
    /// The settings cannot work (e.g. a server URL that does not parse).
    #[error("{0}")]
    Config(String),
}

impl TableauError {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TableauError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Tableau's error code (e.g. `404003`), when the response had one.
    pub fn code(&self) -> Option<&str> {
        match self {
            TableauError::Http { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

fn site_label(site: &str) -> String {
    if site.is_empty() {
        "the Default site".to_string()
    } else {
        format!("site '{site}'")
    }
}

pub(crate) fn error_suffix(code: &Option<String>, summary: &Option<String>, detail: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(c) = code {
        out.push_str(&format!(" (code {c})"));
    }
    match (summary, detail) {
        (Some(s), Some(d)) => out.push_str(&format!(": {s}: {d}")),
        (Some(x), None) | (None, Some(x)) => out.push_str(&format!(": {x}")),
        (None, None) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_failed_and_where() {
        let e = TableauError::Http {
            method: "GET".into(),
            path: "/api/3.27/sites/s/workbooks?pageSize=1000&pageNumber=2".into(),
            status: 503,
            code: Some("503000".into()),
            summary: Some("Service Unavailable".into()),
            detail: Some("Try again later.".into()),
        };
        assert_eq!(
            e.to_string(),
            "GET /api/3.27/sites/s/workbooks?pageSize=1000&pageNumber=2 failed: HTTP 503 (code 503000): Service Unavailable: Try again later."
        );
        let e =
            TableauError::SignIn { server: "https://t.example.com".into(), site: "".into(), detail: "HTTP 401".into() };
        assert_eq!(e.to_string(), "cannot sign in to https://t.example.com (the Default site): HTTP 401");
        let e = TableauError::NodeLimitExceeded { query: "Fields".into(), node_limit: Some(20000) };
        assert!(e.to_string().contains("Fields exceeded the node limit of 20000 nodes"), "{e}");
    }
}
