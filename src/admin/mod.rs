//! The admin engine: what every command that changes a site shares.
//!
//! Each admin command follows one pattern:
//! 1. read the site's current state ([`site`]);
//! 2. compute a [`Plan`], the minimal list of REST calls that reaches the
//!    desired state (a site already there plans 0 calls);
//! 3. show it (`--dry-run` stops here);
//! 4. [`apply`] it with bounded concurrency, and report per call what was
//!    and was not applied.
//!
//! The command modules (users, refresh, tags, permissions, …) only read
//! state and build plans; none of them sends a write itself.

pub mod apply;
pub mod permissions;
pub mod plan;
pub mod promote;
pub mod refresh;
pub mod site;
pub mod users;
pub mod tags;

pub use apply::{apply, OnError, Options, Report, Status};
pub use plan::{Call, Plan, Scope, WriteMethod};
