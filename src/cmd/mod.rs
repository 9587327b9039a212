//! The `trm` commands, one module per command family. Each turns its flags
//! into configuration, does the work through the library and prints what a
//! person needs to see. Steps that several commands share (resolving
//! settings, extracting with progress bars, auditing then reporting, the
//! summaries they print) live in [`common`], so the families never import
//! one another.
//!
//! A new command family (the admin commands: `users`, `permissions`,
//! `refresh`, `tag`, `search`, `promote`) adds a module here, its arm in
//! [`dispatch`], and its flags in `trm::cli`.

mod access;
mod audit;
mod common;
mod demo;
mod extract;
mod lineage;
mod progress;
mod report;
mod run;
mod sim;

use trm::cli::{Command, SimCommand};

pub use common::FindingsFound;

/// Runs one command. `json`: the global `--json` flag.
pub async fn dispatch(command: Command, json: bool) -> anyhow::Result<()> {
    if let Some(timeout) = command.lock_timeout() {
        trm::warehouse::set_lock_timeout(timeout);
    }
    match command {
        Command::Extract(args) => extract::extract(args).await,
        Command::Audit(args) => audit::audit(args, json).await,
        Command::Lineage(args) => lineage::lineage(args, json).await,
        Command::Access(args) => access::access(args, json).await,
        Command::Report(args) => report::report(args).await,
        Command::ReportUsage(args) => report::report_usage(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Demo(args) => demo::demo(args).await,
        Command::Sim(SimCommand::Serve(args)) => sim::serve(args).await,
        Command::Sim(SimCommand::Manifest(args)) => sim::manifest(args).await,
        Command::Sim(SimCommand::Bench(args)) => sim::bench(args).await,
    }
}
