//! `trm promote-content`: copying a project's published datasources and
//! workbooks from one site (a profile) to another, through the admin
//! engine.
//!
//! - [`mapping`]: the mapping file (connection rewrites per class, and
//!   credentials from the environment);
//! - [`rewrite`]: documents rewritten in the stream, byte for byte outside
//!   the rewritten attribute values;
//! - [`plan`]: reading both sites and deciding, per item, create / replace /
//!   leave alone, and why;
//! - [`run`]: applying the plan in two phases, the lineage check and the
//!   warehouse record;
//! - [`verify`]: the target's lineage against the source's, through each
//!   site's Metadata API.

pub mod mapping;
pub mod plan;
pub mod rewrite;
pub mod run;
pub mod verify;
