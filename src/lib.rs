//! TRM, the Tableau Resource Manager: builds an audit warehouse from a
//! Tableau site and answers what is used, what is broken, what depends on
//! what, and who may see what.
//!
//! Data flows one way through the stages, one module each:
//! Tableau APIs → extract → warehouse → lineage → findings → reports.
//! The simulated site ([`sim`]) stands in for a real Tableau site in tests
//! and the demo; it shares no parsing or serialization code with the clients.

pub mod cli;
pub mod config;
pub mod extract;
pub mod lineage;
pub mod audit;
pub mod access;
pub mod admin;
pub mod report;
pub mod search;
pub mod sim;
pub mod tableau;
pub mod time;
pub mod tls;
pub mod warehouse;
