//! TRM's own clients for Tableau: the REST API and the Metadata API
//! (GraphQL), sharing one signed-in [`Client`].
//!
//! - [`client`]: sign-in, the session, the concurrency limiter, retries and
//!   re-authentication around every HTTP exchange; `get_json` and `graphql`.
//! - [`rest`]: paged REST collections (`list_all`).
//! - [`metadata`]: reading GraphQL answers (warnings vs. errors) and cursor
//!   paging with an adaptive page size (`paginate`).
//! - [`queries`]: the typed Metadata API queries from `queries/*.graphql`.
//! - [`retry`]: the pure retry policy.
//!
//! Nothing here shares code with the simulated site (`crate::sim`): the
//! clients parse Tableau's wire formats on their own, so a bug on one side
//! cannot hide one on the other.

pub mod client;
pub mod metadata;
pub mod queries;
pub mod rest;
pub mod retry;

pub use client::{Client, GraphqlReply, RequestStats, TableauError};
