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
mod permissions;
mod progress;
mod promote;
mod refresh;
mod report;
mod run;
mod search;
mod sim;
mod users;
mod tag;

use trm::cli::{Command, PermissionsCommand, SimCommand, UsersCommand};

pub use common::{FindingsFound, SomeFailed};

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
        Command::RefreshDatasource(args) => refresh::refresh_content("datasource", args, json).await,
        Command::RefreshWorkbook(args) => refresh::refresh_content("workbook", args, json).await,
        Command::Refresh(args) => refresh::refresh(args, json).await,
        Command::Reschedule(args) => refresh::reschedule(args, json).await,
        Command::Permissions(PermissionsCommand::Export(args)) => permissions::export(args).await,
        Command::Permissions(PermissionsCommand::Plan(args)) => permissions::plan(args, json).await,
        Command::Permissions(PermissionsCommand::Apply(args)) => permissions::apply(args, json).await,
        Command::Users(UsersCommand::Sync(args)) => users::sync(args, json).await,
        Command::Users(UsersCommand::Export(args)) => users::export(args).await,
        Command::AddUsers(args) => users::add_users(args, json).await,
        Command::Search(args) => search::search(args, json).await,
        Command::Tag(command) => tag::tag(command, json).await,
        Command::PromoteContent(args) => promote::promote(args, json).await,
    }
}
