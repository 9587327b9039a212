//! TRM's own clients for Tableau: the REST API and the Metadata API
//! (GraphQL), sharing one signed-in [`Client`]. Imports flow one way:
//! `error`, `retry` and `xml` at the bottom, `transport` on them, `rest` and
//! `metadata` on the transport, `queries` for `metadata`'s callers.
//!
//! - [`adaptive`]: the limiter under the transport: request priorities,
//!   adaptive concurrency (AIMD) and per-stream figures.
//! - [`error`]: [`TableauError`], what every layer fails with.
//! - [`retry`]: the pure retry policy and `Retry-After`.
//! - [`transport`]: sign-in, the session, the concurrency limiter, retries
//!   and re-authentication around every HTTP exchange.
//! - [`xml`]: Tableau's REST answers, asked for in XML (its native format),
//!   read into the tree its JSON form has.
//! - [`rest`]: REST reads (`Client::get_json`), writes (`Client::write_json`)
//!   and paged collections (`list_all`).
//! - [`metadata`]: GraphQL requests (`Client::graphql`), reading their
//!   answers (warnings vs. errors) and cursor paging with an adaptive page
//!   size (`paginate`).
//! - [`queries`]: the typed Metadata API queries from `queries/*.graphql`.
//!
//! Nothing here shares code with the simulated site (`crate::sim`): the
//! clients parse Tableau's wire formats on their own, so a bug on one side
//! cannot hide one on the other.

pub mod adaptive;
pub mod error;
pub mod metadata;
pub mod publish;
pub mod queries;
pub mod rest;
pub mod retry;
pub mod transport;
pub mod xml;

pub use error::TableauError;
pub use metadata::GraphqlReply;
pub use transport::{Client, RequestStats};
